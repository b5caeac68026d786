"""Your data: upload a case export, map its columns, and see every row accounted for."""

import json

import streamlit as st

from ehmap.config import pseudonymisation_key
from ehmap.exports import FIELD_LABELS, FIELD_SYNONYMS, REQUIRED_FIELDS, ExportError, match_columns, read_export
from ehmap.ingest import REJECT_REASONS, ingest
from ehmap.safe_output import csv_bytes
from ui.state import SWITCH_TO_UPLOAD_KEY, UPLOAD_KEY, UploadedDataset, council_names, postcode_directory, selected_council

la_code = selected_council()
council = council_names()[la_code]
st.title("Your data")
st.markdown(
    f"Upload a case export (CSV or Excel .xlsx) for **{council}**. It is processed on this server and kept "
    "only in your browser session: identifiers are pseudonymised, dates of birth become age at referral, "
    "and postcodes are dropped once each case has its LSOA."
)

upload = st.file_uploader("Case export", type=["csv", "xlsx"], key="export_file")
if upload is None:
    st.stop()

try:
    table = read_export(upload.getvalue(), upload.name)
except ExportError as error:
    st.error(str(error))
    st.stop()

headers = list(table.columns)
automatic = match_columns(headers, require=False)
try:
    match_columns(headers)
    problem = None
except ExportError as error:
    problem = str(error)

with st.expander("Columns", expanded=problem is not None):
    if problem:
        st.error(problem)
    st.caption("Which column of your export holds each field. Required fields are marked *.")
    mapping = {}
    options = [None, *headers]
    for field in FIELD_SYNONYMS:
        label = FIELD_LABELS[field] + (" *" if field in REQUIRED_FIELDS else "")
        default = automatic.get(field)
        chosen = st.selectbox(label, options, index=options.index(default) if default in options else 0,
                              format_func=lambda h: h or "(none)", key=f"map_{field}")
        if chosen:
            mapping[field] = chosen

ingest_key = (upload.file_id, tuple(sorted(mapping.items())), la_code)
if st.session_state.get("ingested") != ingest_key:  # ingest once per file, mapping and council
    try:
        result = ingest(table, la_code, postcode_directory(), council_names(), pseudonymisation_key(), mapping)
    except ExportError as error:
        st.error(str(error))
        st.stop()
    st.session_state[UPLOAD_KEY] = UploadedDataset(upload.name, result)
    st.session_state["ingested"] = ingest_key
    st.session_state[SWITCH_TO_UPLOAD_KEY] = True
    st.rerun()  # so the sidebar offers, and selects, the upload
result = st.session_state[UPLOAD_KEY].result
summary = result.summary()

cols = st.columns(3)
cols[0].metric("Rows read", f"{result.rows_read:,}")
cols[1].metric("Accepted", f"{result.accepted:,}")
cols[2].metric("Rejected", f"{result.rejected:,}")
st.success(f"Every row is accounted for: {result.rows_read:,} read = {result.accepted:,} accepted + {result.rejected:,} rejected. "
           "The need map now uses this upload.")

if result.rejected:
    st.subheader("Rejected rows")
    reasons = summary["rejected_by_reason"]
    st.dataframe(
        [{"Reason": code, "Rows": count, "Meaning": REJECT_REASONS[code]} for code, count in reasons.items()],
        hide_index=True, width="stretch",
    )
    st.dataframe(result.rejects.rename(columns={"row": "Row", "reason": "Reason", "message": "Message"}),
                 hide_index=True, width="stretch")
    st.download_button("Download the rejects report (CSV)", csv_bytes(result.rejects),
                       file_name="rejects.csv", mime="text/csv")
if summary["warnings"]:
    st.subheader("Values kept but not recognised")
    st.json(summary["warnings"])
st.download_button("Download the reconciliation (JSON)", json.dumps(summary, indent=2).encode("utf-8"),
                   file_name="summary.json", mime="application/json")
