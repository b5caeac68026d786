"""Your data, run headless (AppTest) against a store of each test's own: saving, listing and choosing datasets,
renaming, replacing and deleting them, what a viewer may do, a services file saved with a dataset, and a West
Berkshire export uploaded while Croydon is chosen."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from store_support import CROYDON, WEST_BERKSHIRE, council_postcodes, export_at, west_berkshire_export
from streamlit.testing.v1 import AppTest

from ehmap.access import Role, User
from ehmap.text import plain

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGE = "pages/your_data.py"
PAGES = ["need_map", "hotspots", "coverage", "deprivation", "need_deprivation", "poverty", "performance", "trends",
         "business_case", "report", "your_data", "data_sources", "about"]
ANALYST = User("ann@example.org", "Ann Analyst", Role.ANALYST, mode="oidc")
VIEWER = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")


@pytest.fixture()
def store(monkeypatch, tmp_path):
    """The app's store for this test only: a SQLite file in a fresh state directory."""
    from ehmap.store import default_store

    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    return default_store()


def croydon_csv(directory, rows: int, first_day: str = "2024-04-01") -> bytes:
    """A Croydon export: `rows` fictional episodes at real Croydon postcodes."""
    postcodes = list(council_postcodes(directory, CROYDON, "C")[:: 97][:rows])
    return export_at(postcodes, "CR", first_day).to_csv(index=False).encode("utf-8")


def save(store, directory, data: bytes, name: str, la_code: str = CROYDON) -> int:
    from ehmap.config import pseudonymisation_key
    from ehmap.exports import read_export
    from ehmap.geography import councils
    from ehmap.ingest import ingest
    from ehmap.store import content_hash

    names = {council.code: council.name for council in councils()}
    result = ingest(read_export(data, f"{name}.csv"), la_code, directory, names, pseudonymisation_key())
    return store.save_dataset(result, name, f"{name}.csv", content_hash(data), ANALYST).id


def run(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_an_upload_is_saved_listed_and_used_by_a_new_session(directory, store):
    data = croydon_csv(directory, 60)
    at = run(PAGE)
    assert "No dataset is saved for Croydon yet. Add one below." in texts(at.info)
    at.text_input(key="dataset_name").set_value("Q1 2024")
    at.file_uploader(key="export_file").set_value(("q1.csv", data, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert texts(at.success) == ["Saved Q1 2024 for Croydon: every row is accounted for (60 read = 60 accepted + "
                                 "0 rejected), and every page now uses it."]
    [info] = store.datasets(CROYDON)
    listed = at.dataframe[0].value
    assert list(listed["Name"]) == ["Q1 2024"] and list(listed["Period"]) == [info.period]
    assert list(listed["Rows read"]) == [60] and list(listed["Uploaded by"]) == ["local"]
    assert list(listed["File"]) == ["q1.csv"]
    # the raw file is dropped: nothing in the session holds bytes, and the uploader is a new, empty one
    assert not [key for key, value in at.session_state.items() if isinstance(value, bytes | bytearray)]
    assert sorted(u.key for u in at.get("file_uploader")) == ["export_file_1", "replace_file_1"]
    assert at.file_uploader(key="export_file_1").value is None
    # a new session (a refresh, another browser, a restarted server) starts with it
    again = run()
    assert again.session_state["dataset"] == info.id
    assert not any("Synthetic demo data" in text for text in texts(again.info))
    areas = [frame.value for frame in again.dataframe if "Episodes" in frame.value.columns][0]
    assert pd.to_numeric(areas["Episodes"], errors="coerce").sum() == 60  # the need map counts its episodes
    chooser = again.sidebar.selectbox(key="dataset")
    assert chooser.options == ["Synthetic demo (fictional families)", "Q1 2024 (60 episodes)"]


def test_a_second_upload_in_the_same_session_shows_its_own_reconciliation(directory, store):
    """The saved-dataset chooser follows the dataset in use: after a save it shows the new one, not the last."""
    at = run(PAGE)
    at.text_input(key="dataset_name").set_value("First")
    at.file_uploader(key="export_file").set_value(("first.csv", croydon_csv(directory, 30), "text/csv")).run()
    assert at.metric[0].value == "30"
    at.text_input(key="dataset_name").set_value("Second")
    at.file_uploader(key="export_file_1").set_value(("second.csv", croydon_csv(directory, 45), "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    second = next(info for info in store.datasets(CROYDON) if info.name == "Second")
    assert at.session_state["your_data_dataset"] == second.id
    assert [m.value for m in at.metric][:3] == ["45", "45", "0"]  # rows read, accepted, rejected of the new one


def test_rename_replace_and_delete_with_confirmation(directory, store):
    from ehmap.store import DatasetNotFound
    from ui.datasets import saved_result

    at = run(PAGE)
    at.text_input(key="dataset_name").set_value("Spring")
    at.file_uploader(key="export_file").set_value(("spring.csv", croydon_csv(directory, 40), "text/csv")).run()
    [info] = store.datasets(CROYDON)
    at.text_input(key="rename_to").set_value("Spring 2024").run()
    at.button(key="rename").click().run()
    assert texts(at.success) == ["Renamed to Spring 2024."] and store.dataset(info.id).name == "Spring 2024"
    at.text_input(key="rename_to").set_value("![x](http://example.org/x.png)").run()
    at.button(key="rename").click().run()
    assert any(e.startswith("A dataset name needs 1 to 120 letters, digits, spaces or") for e in texts(at.error))
    # replace with a newer export: same id and name, new episodes
    newer = croydon_csv(directory, 80, "2024-07-01")
    at.file_uploader(key="replace_file_2").set_value(("newer.csv", newer, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert texts(at.success) == [f"Spring 2024 now holds {plain('newer.csv')}: 80 rows read, 80 accepted, "
                                 "0 rejected."]
    replaced = store.dataset(info.id)
    assert (replaced.name, replaced.rows_read, replaced.file_name) == ("Spring 2024", 80, "newer.csv")
    assert len(saved_result(replaced.id, replaced.content_hash).cases) == 80  # cached, as the pages hold it
    # delete: asked first, cancel keeps it
    at.button(key="delete_dataset").click().run()
    assert texts(at.warning) == ["Delete Spring 2024 for everyone in Croydon? Its episodes, rejects report and the "
                                 "services and locality files saved with it are removed from the store and every "
                                 "page; the audit log records the deletion."]
    at.button(key="cancel_delete").click().run()
    assert store.datasets(CROYDON) == [replaced]
    at.button(key="delete_dataset").click().run()
    at.button(key="confirm_delete").click().run()
    assert texts(at.success) == ["Deleted Spring 2024."] and store.datasets() == []
    with pytest.raises(DatasetNotFound):  # the cached copy went with it: the store is asked, and has none
        saved_result(replaced.id, replaced.content_hash)
    entry = store.audit_entries()[-1]
    assert (entry["event"], entry["user"], entry["dataset"]) == ("delete", "local", str(info.id))
    assert entry["detail"] == {"council": CROYDON, "file": "newer.csv", "rows_read": 80}
    assert "CR1" not in json.dumps(store.audit_entries())  # no case ID, hashed or not, in the log
    assert "No dataset is saved for Croydon yet. Add one below." in texts(at.info)
    # and a new session no longer offers it
    assert run().sidebar.selectbox(key="dataset").options == ["Synthetic demo (fictional families)"]


def test_a_viewer_sees_the_list_and_can_choose_but_not_add_or_change(directory, store, monkeypatch):
    first = save(store, directory, croydon_csv(directory, 30), "First")
    second = save(store, directory, croydon_csv(directory, 50, "2024-09-01"), "Second")
    monkeypatch.setattr("ui.datasets._signed_in_user", lambda: VIEWER)
    at = run(PAGE)
    assert list(at.dataframe[0].value["Name"]) == ["Second", "First"]
    assert at.get("file_uploader") == [] and not [b for b in at.button if b.key in {"rename", "delete_dataset"}]
    assert ("Analysts and admins add datasets; you can choose among the saved ones above or in the sidebar."
            in texts(at.caption))
    assert not [frame for frame in at.dataframe if "Row" in frame.value.columns]  # no row-level rejects
    shown = at.session_state["your_data_dataset"]
    other = first if shown == second else second
    at.selectbox(key="your_data_dataset").set_value(other).run()
    at.button(key="use_dataset").click().run()
    assert texts(at.success)[0].startswith("Every page now uses ")
    assert store.chosen_dataset(VIEWER.id, CROYDON) == other
    assert run().session_state["dataset"] == other


def test_a_saved_dataset_uses_only_the_services_file_saved_with_it(directory, store, monkeypatch):
    from ui.datasets import _signed_in_user as signed_in

    dataset = save(store, directory, croydon_csv(directory, 60), "Q1")
    at = run("pages/coverage.py", dataset=dataset)
    assert "Upload Croydon's services file above to see coverage." in texts(at.info)
    assert not any("demo services" in text for text in texts(at.caption))  # the fictional services never join
    services = (REPO / "demo" / "croydon_services.csv").read_text().splitlines()
    hubs = "\n".join(services[:4]).encode("utf-8")
    at.file_uploader(key="coverage_services_file").set_value(("hubs.csv", hubs, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert f"Services from {plain('hubs.csv')}: 3 rows read, 3 accepted, 0 rejected." in texts(at.caption)
    stored = store.file("services", dataset)
    assert (stored.file_name, stored.data, stored.la_code) == ("hubs.csv", hubs, CROYDON)
    later = run()  # a new session: the remembered dataset brings its services file
    assert later.session_state["dataset"] == dataset
    later.switch_page("pages/coverage.py").run()
    day = f"{stored.uploaded_at:%d/%m/%Y}"
    assert f"Using {plain('hubs.csv')}, saved with this dataset by local on {day}." in texts(later.caption)
    report = run("pages/report.py")  # AppTest runs a switched-to page without the frame: a session of its own
    assert f"Service coverage: the services from {plain('hubs.csv')}." in " ".join(texts(report.caption))
    monkeypatch.setattr("ui.datasets._signed_in_user", lambda: VIEWER)
    viewer = run("pages/coverage.py", dataset=dataset)
    assert not [b for b in viewer.button if b.key == "coverage_forget_services"]  # a viewer cannot drop it
    assert viewer.get("file_uploader") == []  # nor save another
    assert store.file("services", dataset).file_name == "hubs.csv"
    monkeypatch.setattr("ui.datasets._signed_in_user", signed_in)
    admin = run("pages/coverage.py", dataset=dataset)
    admin.button(key="coverage_forget_services").click().run()
    assert store.file("services", dataset) is None
    assert "Upload Croydon's services file above to see coverage." in texts(admin.info)


def test_a_west_berkshire_export_for_croydon_is_recognised_and_saved_there(directory, store):
    data = west_berkshire_export(directory)
    at = run(PAGE)
    at.file_uploader(key="export_file").set_value(("west_berkshire.csv", data, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert texts(at.warning) == ["Most postcodes in this file (940 of 960) are in West Berkshire, not Croydon."]
    assert store.datasets() == [] and texts(at.success) == []  # nothing is saved for Croydon
    switch = at.button(key="switch_council")
    assert switch.label == "Switch to West Berkshire and save it there"
    switch.click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["la_code"] == WEST_BERKSHIRE
    assert texts(at.success) == ["Saved west berkshire for West Berkshire: every row is accounted for (960 read = "
                                 "940 accepted + 20 rejected), and every page now uses it."]
    [info] = store.datasets()
    assert (info.la_code, info.accepted) == (WEST_BERKSHIRE, 940)
    # the next session starts in West Berkshire with it, and no page shows an error or covers another council
    later = run()
    assert (later.session_state["la_code"], later.session_state["dataset"]) == (WEST_BERKSHIRE, info.id)
    for page in PAGES:
        later.switch_page(f"pages/{page}.py").run()
        assert not later.exception, (page, [e.message for e in later.exception])
        assert not any("covers" in text for text in texts(later.warning)), page
        assert not texts(later.error), (page, texts(later.error))


def test_an_export_with_no_usable_row_is_not_saved(directory, store):
    data = b"Case ID,Postcode,Referral Date,Needs\nA1,ZZ99 9ZZ,01/02/2024,housing\nA2,,01/02/2024,housing\n"
    at = run(PAGE)
    at.file_uploader(key="export_file").set_value(("bad.csv", data, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "No row of this file could be used, so it was not saved: see the rejected rows." in texts(at.error)
    assert store.datasets() == []
