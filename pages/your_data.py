"""Your data: the council's saved datasets (choose, rename, replace, delete) and adding a new case export."""

import json

import pandas as pd
import streamlit as st

from ehmap import limits
from ehmap.config import pseudonymisation_key
from ehmap.exports import FIELD_LABELS, FIELD_SYNONYMS, REQUIRED_FIELDS, ExportError, match_columns, read_export
from ehmap.ingest import REJECT_REASONS, IngestResult, council_of_export, ingest, wrong_council_message
from ehmap.safe_output import csv_bytes
from ehmap.store import DuplicateDataset, StoreError, content_hash, name_from_file, retention_days
from ehmap.text import file_label, plain
from ui.datasets import (
    delete_dataset,
    forget,
    may_save,
    remember,
    saved_result,
    session_user,
    team_store,
)
from ui.state import (
    COUNCIL_KEY,
    SWITCH_TO_DATASET_KEY,
    council_names,
    current_dataset,
    postcode_directory,
    saved_label,
    selected_council,
)

FLASH_KEY = "your_data_flash"  # (kind, message) shown once after the rerun that follows a change
ROUND_KEY = "your_data_round"  # bumped after each save: a new uploader, so the uploaded file is dropped
CONFIRM_KEY = "your_data_confirm_delete"  # id of the dataset whose deletion awaits confirmation

la_code = selected_council()
names = council_names()
council = names[la_code]
user = session_user()
team = may_save(user)
st.title(f"Your data: {council}")
if not user.may_see(la_code):
    st.warning(f"You have no access to {council}'s data.")
    st.stop()
if FLASH_KEY in st.session_state:
    kind, message = st.session_state.pop(FLASH_KEY)
    getattr(st, kind)(message)


def uploader_key(name: str) -> str:
    """The uploader's key for this round: 'export_file', then 'export_file_1'..."""
    round_ = st.session_state.get(ROUND_KEY, 0)
    return name if round_ == 0 else f"{name}_{round_}"


def done(message: str, dataset_id: int | None = None, kind: str = "success") -> None:
    """After a change: drop the uploaded file, select `dataset_id` in the sidebar, and rerun showing `message`."""
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
    st.session_state[FLASH_KEY] = (kind, message)
    if dataset_id is not None:
        st.session_state[SWITCH_TO_DATASET_KEY] = dataset_id  # the sidebar selects it on the next run
        remember(user, la_code, dataset_id)  # and this user's next visit starts with it
    st.rerun()


def switch_council(code: str) -> None:
    st.session_state[COUNCIL_KEY] = code


def reconciliation(result: IngestResult, exact: bool) -> None:
    """Rows read = accepted + rejected, and (for the team) every rejected row with its reason."""
    summary = result.summary()
    cols = st.columns(3)
    cols[0].metric("Rows read", f"{result.rows_read:,}")
    cols[1].metric("Accepted", f"{result.accepted:,}")
    cols[2].metric("Rejected", f"{result.rejected:,}")
    st.caption(f"Every row is accounted for: {result.rows_read:,} read = {result.accepted:,} accepted + "
               f"{result.rejected:,} rejected.")
    if not exact:
        return
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


def ingested(upload, prefix: str, offer_switch: bool) -> tuple[IngestResult, str] | None:
    """Read, map, check the council of, and ingest an uploaded export: (result, content hash of the file), or
    None after showing why not. The file's bytes live only in this call."""
    data = upload.getvalue()
    try:
        table = read_export(data, upload.name)
    except ExportError as error:
        st.error(plain(error))
        return None
    headers = list(table.columns)
    automatic = match_columns(headers, require=False)
    try:
        match_columns(headers)
        problem = None
    except ExportError as error:
        problem = str(error)
    with st.expander("Columns", expanded=problem is not None):
        if problem:
            st.error(plain(problem))
        st.caption("Which column of your export holds each field. Required fields are marked *.")
        mapping = {}
        options = [None, *headers]
        for field in FIELD_SYNONYMS:
            label = FIELD_LABELS[field] + (" *" if field in REQUIRED_FIELDS else "")
            default = automatic.get(field)
            chosen = st.selectbox(label, options, index=options.index(default) if default in options else 0,
                                  format_func=lambda h: h or "(none)", key=f"{prefix}map_{field}")
            if chosen:
                mapping[field] = chosen
    try:
        match_columns(headers, mapping)
    except ExportError:
        return None  # the columns step says what is missing
    found = council_of_export(table, mapping, postcode_directory())
    wrong = wrong_council_message(found, la_code, names)
    if wrong:  # before ingest: it would reject nearly every row as outside the area
        st.warning(wrong)
        if offer_switch and found.la_code in names and user.may_see(found.la_code):
            st.button(f"Switch to {names[found.la_code]} and save it there", key=f"{prefix}switch_council",
                      on_click=switch_council, args=(found.la_code,), type="primary")
        return None
    with st.spinner("Checking every row..."):
        result = ingest(table, la_code, postcode_directory(), names, pseudonymisation_key(), mapping)
    if result.accepted == 0:
        st.error("No row of this file could be used, so it was not saved: see the rejected rows.")
        reconciliation(result, exact=True)
        return None
    return result, content_hash(data)


# ------------------------------------------------------------------------------ the council's saved datasets

try:
    saved = team_store().datasets(la_code)
except StoreError as error:
    st.error(str(error))
    st.stop()
in_use = current_dataset()

st.subheader("Saved datasets")
if not saved:
    st.info(f"No dataset is saved for {council} yet."
            + (" Add one below." if team else " An analyst or admin of your team can add one."))
else:
    st.dataframe(pd.DataFrame({
        "Name": [info.name for info in saved],
        "Period": [info.period for info in saved],
        "Rows read": [info.rows_read for info in saved],
        "Accepted": [info.accepted for info in saved],
        "Rejected": [info.rejected for info in saved],
        "Uploaded by": [info.uploaded_by for info in saved],
        "Uploaded (UTC)": [f"{info.uploaded_at:%d/%m/%Y %H:%M}" for info in saved],
        "File": [info.file_name for info in saved],
        "In use": ["yes" if info.id == in_use.id else "" for info in saved],
    }), hide_index=True, width="stretch")
    st.caption(f"Each dataset is deleted {retention_days()} days after its upload (the retention period). "
               "Only the pseudonymised episodes, the rejects report and the reconciliation are kept, never the file.")
    by_id = {info.id: info for info in saved}
    ids = list(by_id)
    if st.session_state.get("your_data_in_use") != in_use.id:  # a new dataset in use (just saved, say): show it
        st.session_state.pop("your_data_dataset", None)
        st.session_state["your_data_in_use"] = in_use.id
    chosen_id = st.selectbox("Saved dataset", ids, index=ids.index(in_use.id) if in_use.id in by_id else 0,
                             format_func=lambda i: f"{by_id[i].name} ({by_id[i].period or 'no episodes'})",
                             key="your_data_dataset")
    info = by_id[chosen_id]
    if info.id == in_use.id:
        st.caption("Every page uses this dataset.")
    elif st.button("Use this dataset", key="use_dataset", type="primary"):
        done(f"Every page now uses {plain(saved_label(info))}.", info.id)
    try:
        reconciliation(saved_result(info.id, info.content_hash), exact=user.sees_exact)
    except StoreError as error:
        st.error(str(error))

    if team:
        with st.container(border=True):
            st.markdown("**Rename, replace or delete this dataset**")
            new_name = st.text_input("New name", value=info.name, max_chars=120, key="rename_to")
            if st.button("Rename", key="rename"):
                try:
                    renamed = team_store().rename_dataset(info.id, new_name, user)
                except StoreError as error:
                    st.error(str(error))
                else:
                    done(f"Renamed to {plain(renamed.name)}.")
            st.markdown("**Replace with a newer export** (same council; the name stays, the retention period "
                        "starts again)")
            newer = st.file_uploader("Newer export", type=["csv", "xlsx"], key=uploader_key("replace_file"),
                                     max_upload_size=limits.MAX_UPLOAD_BYTES // limits.MB)
            if newer is not None and (done_ingest := ingested(newer, "replace_", offer_switch=False)):
                result, digest = done_ingest
                try:
                    replaced = team_store().replace_dataset(info.id, result, newer.name, digest, user)
                except StoreError as error:
                    st.error(str(error))
                else:
                    forget(info)
                    done(f"{plain(replaced.name)} now holds {plain(file_label(newer.name))}: "
                         f"{replaced.rows_read:,} rows read, {replaced.accepted:,} accepted, "
                         f"{replaced.rejected:,} rejected.", replaced.id)
            if st.session_state.get(CONFIRM_KEY) != info.id:
                if st.button("Delete this dataset", key="delete_dataset"):
                    st.session_state[CONFIRM_KEY] = info.id
                    st.rerun()
            else:
                st.warning(f"Delete {plain(info.name)} for everyone in {council}? Its episodes, rejects report and the "
                           "services and locality files saved with it are removed from the store and every page; "
                           "the audit log records the deletion.")
                yes, no = st.columns(2)
                if yes.button("Yes, delete it", key="confirm_delete", type="primary"):
                    st.session_state.pop(CONFIRM_KEY, None)
                    try:
                        delete_dataset(info, user)
                    except StoreError as error:
                        st.error(str(error))
                    else:
                        done(f"Deleted {plain(info.name)}.")
                if no.button("Cancel", key="cancel_delete"):
                    st.session_state.pop(CONFIRM_KEY, None)
                    st.rerun()

# ------------------------------------------------------------------------------ adding a dataset

st.subheader("Add a dataset")
if not team:
    st.caption("Analysts and admins add datasets; you can choose among the saved ones above or in the sidebar.")
    st.stop()
st.markdown(
    f"Upload a case export (CSV or Excel .xlsx) for **{council}**. It is processed on this server and saved for "
    "your team: identifiers are pseudonymised, dates of birth become age at referral, and postcodes are dropped "
    "once each case has its LSOA. The file itself is not kept."
)
name = st.text_input("Name (optional)", max_chars=120, key="dataset_name",
                     placeholder="e.g. EHM export April 2024 to March 2025")
upload = st.file_uploader("Case export", type=["csv", "xlsx"], key=uploader_key("export_file"),
                          max_upload_size=limits.MAX_UPLOAD_BYTES // limits.MB)
if upload is None:
    st.stop()
if (done_ingest := ingested(upload, "", offer_switch=True)) is None:
    st.stop()
result, digest = done_ingest
try:
    info = team_store().save_dataset(result, name or name_from_file(upload.name), upload.name, digest, user, council)
except DuplicateDataset as duplicate:
    same = duplicate.existing
    done(f"This export is already saved for {council} as {plain(same.name)} (uploaded {same.uploaded_at:%d/%m/%Y} by "
         f"{plain(same.uploaded_by)}); it is now in use.", same.id, kind="info")
except StoreError as error:
    st.error(str(error))
    st.stop()
done(f"Saved {plain(info.name)} for {council}: every row is accounted for ({info.rows_read:,} read = {info.accepted:,} "
     f"accepted + {info.rejected:,} rejected), and every page now uses it.", info.id)
