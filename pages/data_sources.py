"""Data sources: each reference file, whether it is loaded, from where and which version. Only an admin adds or
replaces one (upload or download), and each change is audited with the file's hash; others see the list."""

from functools import partial

import streamlit as st

from ehmap import limits
from ehmap.access import User
from ehmap.audit import record
from ehmap.catalogue import BoundarySet, IndicatorSource, ReferenceFile, boundary_sets, indicator_sources
from ehmap.config import reference_mirror
from ehmap.download import (
    NOT_AUDITED,
    DownloadError,
    Fetched,
    copy_in_use,
    download_source,
    fetch_address,
    fetch_reference,
    reference_files,
    save_upload,
)
from ehmap.indicators import FROM_DATA_DIR, SourceMissing, locate
from ehmap.store import StoreError
from ehmap.text import file_label, plain
from ui.audience import forget_releases
from ui.datasets import session_user
from ui.frame import require_frame
from ui.state import children_table, coverage_idaci

ONLY_ADMINS = "Only an admin can change reference files: ask your ehmap admin to add or replace one."
DOWNLOADED_KEY = "sources_downloaded"  # the last download's outcome, shown once after the rerun that follows it
FETCHED_ALL_KEY = "sources_fetched_all"  # the outcomes of the last "fetch every file", shown after its rerun
SAVED_KEY = "sources_saved"  # ((source, upload id), (kind, message)): an upload is saved once, not on every rerun

require_frame()
user = session_user()

st.title("Data sources")
st.markdown(
    "Reference tables and boundaries come from the data folder (`EHMAP_DATA_DIR`), which comes first, or from a file "
    "an admin uploaded or downloaded from the publisher here. Uploaded and downloaded files are checked (size, a CSV "
    "header with the required columns, or a boundary layer with its code and name columns and CRS) and kept in "
    "ehmap's cache folder; these are public files, not case data. *Version* says which copy every page uses."
)


def version(source: ReferenceFile) -> dict[str, str]:
    """Status, version (size, date, hash prefix) and origin of the copy of a source the pages use; no server path."""
    try:
        copy = copy_in_use(source)
    except SourceMissing as missing:
        return {"Status": f"not loaded: {missing}", "Version": "", "From": ""}
    return {"Status": copy.status, "Version": copy.version, "From": copy.came_from}


sources: list[ReferenceFile] = [*indicator_sources(), *(b for b in boundary_sets() if not b.installed)]
rows = []
for source in sources:
    rows.append(
        {  # which copy is in use first: the reader should not have to scroll to it
            "Source": source.title,
            **version(source),
            "Id": source.id,
            "Vintage": source.vintage,
            "Geography": "boundaries" if isinstance(source, BoundarySet) else
                         {"lsoa11": "LSOA 2011", "lsoa21": "LSOA 2021"}[source.geography],
            "File": source.file,
            "Attribution": f"{source.publisher}. {source.attribution}",
        }
    )
st.dataframe(rows, hide_index=True, width="stretch")

if not user.is_admin:
    st.info(ONLY_ADMINS)
    st.stop()


def audit(user: User, source: ReferenceFile, file: str, how: str, fetched: Fetched) -> None:
    """The change's audit entry, written before the file replaces the cached copy (no entry, no change)."""
    record("reference_change", user, None, {"source": source.id, "file": file, "sha256": fetched.sha256, "how": how})


def forget_reference_tables() -> None:
    """Drop this server's cached tables read from reference files, so every page reads the new copies."""
    children_table.clear()
    coverage_idaci.clear()
    forget_releases()


def in_use_note(source: ReferenceFile) -> str:
    """Drop the cached reference tables, and say whether the saved copy is the one in use: a copy in the data
    folder comes first."""
    forget_reference_tables()
    if locate(source).origin == FROM_DATA_DIR:
        return " The data folder's copy stays in use: the data folder comes before uploads and downloads."
    return " Every page now uses it."


def progress_bar(bar, name: str):
    """A download's progress shown on `bar`: the share received, and megabytes."""
    def report(done: int, total: int | None) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0,
                     text=f"{name}: {done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))
    return report


st.subheader("Fetch every file")
mirror = reference_mirror()
every = reference_files()
st.caption(
    f"Downloads the {len(every)} national files from "
    + ("this council's mirror of the publishers' files (EHMAP_REFERENCE_MIRROR)" if mirror else "their publishers")
    + ", checks each (size, required columns; the ONS population workbook is read into its table) and puts it in "
    "place. Files a publisher offers only on a web page are listed to download by hand and upload below. A file in "
    "the data folder still comes first."
)
if st.button("Fetch every file", key="sources_fetch_all"):
    bar = st.progress(0.0, text="Starting")
    outcomes = fetch_reference(every, progress=lambda source: progress_bar(bar, source.published_name),
                               approve=lambda source: partial(audit, user, source, source.file, "download"))
    forget_reference_tables()
    st.session_state[FETCHED_ALL_KEY] = [
        (outcome.fetched is not None, f"{plain(outcome.source.title)}: " + (
            f"saved ({outcome.fetched.size:,} bytes, SHA-256 {outcome.fetched.sha256[:12]}...)."
            if outcome.fetched is not None else plain(outcome.problem)))
        for outcome in outcomes
    ]
    st.rerun()  # the table above then shows the new versions
if FETCHED_ALL_KEY in st.session_state:
    results = st.session_state.pop(FETCHED_ALL_KEY)
    saved = sum(ok for ok, _ in results)
    (st.success if saved == len(results) else st.warning)(f"{saved} of {len(results)} files fetched.")
    for ok, message in results:
        (st.markdown if ok else st.error)(("- " if ok else "") + message)

st.subheader("Add or replace a file")
names = {source.id: source for source in sources}
chosen = st.selectbox("Source", options=list(names), format_func=lambda i: names[i].title, key="sources_choice")
source = names[chosen]
if isinstance(source, BoundarySet):
    st.caption(f"Expected: the ONS GeoJSON named like `{source.file}` with the columns `{source.code_column}` and "
               f"`{source.name_column}` and its CRS ({source.crs}); converted once to a fast format when first used.")
else:
    optional = [source.header_of(c) for c, column in source.columns.items() if not column.required]
    st.caption(
        f"Expected: a CSV named like `{source.file}` with the key column `{source.key_column}` and "
        f"{len(source.required_headers()) - 1} required column(s); {len(optional)} more are read when present."
    )
if isinstance(source, IndicatorSource) and source.workbook:
    st.caption(f"The ONS publishes it as a workbook: upload the workbook itself (.xlsx, or the .zip holding it) and "
               f"ehmap reads its '{source.workbook}' sheet.")
kinds = (["geojson", "json"] if isinstance(source, BoundarySet)
         else ["csv", "xlsx", "zip"] if source.workbook else ["csv"])
upload = st.file_uploader(f"Upload {source.file}", type=kinds,
                          key="sources_upload",
                          max_upload_size=limits.MAX_REFERENCE_BYTES // limits.MB)
if upload is not None and st.session_state.get(SAVED_KEY, (None,))[0] != (chosen, upload.file_id):
    label = file_label(upload.name)
    try:  # saved once per uploaded file, not on every rerun
        if upload.size > limits.MAX_REFERENCE_BYTES:
            raise DownloadError(f"{label} is {limits.megabytes(upload.size)}; a reference file can be at most "
                                f"{limits.megabytes(limits.MAX_REFERENCE_BYTES)}.")
        fetched = save_upload(source, upload.getvalue(), label, partial(audit, user, source, label, "upload"))
        outcome = ("success", f"{plain(source.title)}: {plain(label)} saved ({fetched.size:,} bytes, SHA-256 "
                              f"{fetched.sha256[:12]}...).{in_use_note(source)}")
    except DownloadError as problem:
        outcome = ("error", plain(problem))
    except StoreError as problem:
        outcome = ("error", f"{NOT_AUDITED} {plain(problem)}")
    st.session_state[SAVED_KEY] = ((chosen, upload.file_id), outcome)
    if outcome[0] == "success":
        st.rerun()  # the table above then shows the new version
if upload is not None:
    kind, message = st.session_state[SAVED_KEY][1]
    (st.success if kind == "success" else st.error)(message)

if isinstance(source, IndicatorSource) and (source.downloadable or mirror):
    address = fetch_address(source)
    if st.button(f"Download from {'the mirror' if mirror else source.publisher}", key="sources_download"):
        bar = st.progress(0.0, text=f"Downloading {address}")
        try:
            fetched = download_source(source, address, progress=progress_bar(bar, source.published_name),
                                      approve=partial(audit, user, source, source.file, "download"))
        except DownloadError as problem:
            st.error(plain(problem))
        except StoreError as problem:
            st.error(f"{NOT_AUDITED} {plain(problem)}")
        else:
            st.session_state[DOWNLOADED_KEY] = (f"{plain(source.title)} downloaded ({fetched.size:,} bytes, SHA-256 "
                                                f"{fetched.sha256[:12]}...).{in_use_note(source)}")
            st.rerun()  # the table above then shows the new version
    if DOWNLOADED_KEY in st.session_state:
        st.success(st.session_state.pop(DOWNLOADED_KEY))
else:
    st.caption(
        f"The publisher offers this file through a web page, not one address: get it from {source.url} and upload it."
    )
