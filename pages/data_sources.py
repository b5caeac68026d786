"""Data sources: each catalogue entry, whether it is loaded and from where; upload or download what is missing."""

import streamlit as st

from ehmap.catalogue import indicator_sources
from ehmap.download import DownloadError, download_source, provenance, save_upload
from ehmap.indicators import FROM_CACHE, SourceMissing, locate
from ui.frame import require_frame

require_frame()

st.title("Data sources")
st.markdown(
    "Reference tables come from the data folder (`EHMAP_DATA_DIR`), an upload here, or a download from the "
    "publisher. Uploaded and downloaded files are checked (size, a CSV header with the required columns) and kept "
    "in ehmap's cache folder; these are public tables, not case data."
)

sources = indicator_sources()
rows = []
for source in sources:
    try:
        located = locate(source)
        note = provenance(located.path) if located.origin == FROM_CACHE else None
        status = f"loaded from {located.origin}: {located.path}" + (
            f" ({note.origin}, {note.fetched_at})" if note else ""
        )
    except SourceMissing as missing:
        status = f"not loaded: {missing}"
    rows.append(
        {
            "Source": source.title,
            "Id": source.id,
            "Vintage": source.vintage,
            "Geography": {"lsoa11": "LSOA 2011", "lsoa21": "LSOA 2021"}[source.geography],
            "Status": status,
            "Attribution": f"{source.publisher}. {source.attribution}",
        }
    )
st.dataframe(rows, hide_index=True, width="stretch")

st.subheader("Add a file")
names = {source.id: source for source in sources}
chosen = st.selectbox("Source", options=list(names), format_func=lambda i: names[i].title, key="sources_choice")
source = names[chosen]
optional = [source.header_of(c) for c, column in source.columns.items() if not column.required]
st.caption(
    f"Expected: a CSV named like `{source.file}` with the key column `{source.key_column}` and "
    f"{len(source.required_headers()) - 1} required column(s); {len(optional)} more are read when present."
)
upload = st.file_uploader(f"Upload {source.file}", type=["csv"], key="sources_upload")
if upload is not None and st.session_state.get("sources_saved", (None,))[0] != (chosen, upload.file_id):
    try:  # saved once per uploaded file, not on every rerun
        fetched = save_upload(source, upload.getvalue(), upload.name)
        outcome = (
            "success",
            f"{source.title} loaded from your upload ({fetched.size:,} bytes, SHA-256 {fetched.sha256[:12]}...).",
        )
    except DownloadError as problem:
        outcome = ("error", str(problem))
    st.session_state["sources_saved"] = ((chosen, upload.file_id), outcome)
if upload is not None:
    kind, message = st.session_state["sources_saved"][1]
    (st.success if kind == "success" else st.error)(message)

if source.url.lower().endswith(".csv"):
    if st.button(f"Download from {source.publisher}", key="sources_download"):
        bar = st.progress(0.0, text=f"Downloading {source.url}")

        def report(done: int, total: int | None) -> None:
            bar.progress(
                min(done / total, 1.0) if total else 0.0,
                text=f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""),
            )

        try:
            fetched = download_source(source, progress=report)
            st.success(f"{source.title} downloaded ({fetched.size:,} bytes, SHA-256 {fetched.sha256[:12]}...).")
        except DownloadError as problem:
            st.error(str(problem))
else:
    st.caption(
        f"The publisher offers this table as a web page, not a single CSV: get it from {source.url} and upload it."
    )
