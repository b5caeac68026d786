"""Reference files are an admin's change (issue 17), run headless (AppTest) through the real frame and sign-in:
an admin's upload or download is checked, audited with its SHA-256 before it replaces anything, used by every page
and listed with its version; viewers and analysts see the list read-only; every uploader tells the browser its
size limit."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ehmap import limits
from ehmap.text import plain

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGE = "pages/data_sources.py"
CROYDON = "E09000008"
IOD2019 = "iod2019_lsoa11_file7_columns.csv"
ONLY_ADMINS = "Only an admin can change reference files: ask your ehmap admin to add or replace one."
ROLES = """\
users:
  - email: vic@example.org
    role: viewer
    councils: [E09000008]
  - email: ann@example.org
    role: analyst
"""
AUTH = {  # [auth] secrets as a deployment has them; AppTest signs the user in itself (AppTest.user)
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-string-identical-on-every-replica",
    "client_id": "ehmap",
    "client_secret": "not-used-headless",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.fixture()
def store(monkeypatch, tmp_path):
    """The app's store (and audit log) for this test only: a SQLite file in a fresh state directory."""
    from ehmap.store import default_store

    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    return default_store()


@pytest.fixture()
def sources(directory, monkeypatch, tmp_path) -> Path:
    """A data folder holding no reference file, and a cache folder of this test's own (the shared cache's converted
    boundaries and postcodes linked in), so the reference files this test adds are seen by no other test.
    Returns the folder uploads and downloads are kept in."""
    from ehmap.config import cache_dir

    shared = cache_dir()
    mine = tmp_path / "cache"
    mine.mkdir()
    for path in shared.iterdir():
        if path.is_file():
            (mine / path.name).symlink_to(path)
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(mine))
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path / "data"))
    st.cache_data.clear()
    yield mine / "sources"
    st.cache_data.clear()


@pytest.fixture(scope="module")
def croydon_iod(data_dir) -> bytes:
    """The published IoD2019 File 7, Croydon's rows only, as published text."""
    lines = (data_dir / IOD2019).read_bytes().splitlines(keepends=True)
    return lines[0] + b"".join(line for line in lines[1:] if b",E09000008,Croydon," in line)


def run(page: str = PAGE, user: dict | None = None) -> AppTest:
    """The frame, then `page`; signed in through [auth] secrets as `user` when given (else laptop mode's admin)."""
    at = AppTest.from_file(APP, default_timeout=180)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, **user}
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value.set_index("Id")


def changes(store) -> list[dict]:
    return [entry for entry in store.audit_entries() if entry["event"] == "reference_change"]


def test_an_admins_upload_is_audited_with_its_hash_listed_with_its_version_and_used_by_every_page(
        store, sources, croydon_iod):
    at = run()
    assert table(at).loc["iod2019", "Status"].startswith("not loaded: English Indices of Deprivation 2019 is not "
                                                         "loaded: iod2019_lsoa11_file7_columns.csv is neither in")
    digest = hashlib.sha256(croydon_iod).hexdigest()
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    at.file_uploader(key="sources_upload").set_value(("File_7 (Croydon).csv", croydon_iod, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success] == [
        f"English Indices of Deprivation 2019: {plain('File_7 (Croydon).csv')} saved ({len(croydon_iod):,} bytes, "
        f"SHA-256 {digest[:12]}...). Every page now uses it."
    ]
    [entry] = changes(store)
    assert (entry["user"], entry["role"], entry["dataset"]) == ("local", "admin", None)
    assert entry["detail"] == {"source": "iod2019", "file": "File_7 (Croydon).csv", "sha256": digest, "how": "upload"}
    assert (sources / IOD2019).read_bytes() == croydon_iod
    # the table shows which copy is in use: where it came from, its size, date and hash, and no server path
    row = table(at).loc["iod2019"]
    assert row["Status"] == "loaded from an upload" and row["From"] == "upload of File_7 (Croydon).csv"
    assert row["Version"].startswith(f"{len(croydon_iod) / limits.MB:,.1f} MB, ")
    assert row["Version"].endswith(f" UTC, SHA-256 {digest[:12]}") and row["File"] == IOD2019
    assert not table(at).astype(str).apply(lambda column: column.str.contains(str(sources.parent))).any().any()
    # a rerun shows the outcome again without saving or auditing again
    at.run()
    assert len(changes(store)) == 1 and len(at.success) == 1
    # the deprivation page now maps IoD2019 from the upload, on every Croydon LSOA
    deprivation = run("pages/deprivation.py")
    assert deprivation.selectbox(key="context_indicator").value == "iod2019_imd_decile"
    assert "LSOAs: 220; with a value: 220." in [c.value for c in deprivation.caption]


def test_each_data_folder_file_is_listed_with_its_size_date_and_hash_and_no_path(store, data_dir, data_folder_set):
    import datetime as dt

    listed = table(run())
    for source_id in ("iod2019", "iod2025", "population_mid2020", "lookup_lsoa11_lsoa21"):
        row = listed.loc[source_id]
        path = data_dir / row["File"]
        stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        assert (row["Status"], row["From"]) == ("loaded from data folder (EHMAP_DATA_DIR)", "the data folder")
        assert row["Version"] == (f"{path.stat().st_size / 1024 / 1024:,.1f} MB, {stamp:%d/%m/%Y %H:%M} UTC, "
                                  f"SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()[:12]}")
    assert not listed.astype(str).apply(lambda column: column.str.contains(str(data_dir))).any().any()


def test_a_refused_upload_says_why_and_changes_nothing(store, sources, croydon_iod):
    at = run()
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    header_only = croydon_iod.split(b"\n", 1)[0].replace(b"Index of Multiple Deprivation (IMD) Score", b"Score")
    at.file_uploader(key="sources_upload").set_value(("[click](javascript:alert(1)).csv",
                                                      header_only + b"\n" + b"E01001001,x\n" * 40, "text/csv")).run()
    assert [e.value for e in at.error] == [plain(  # the file name shows as the characters it holds, not as a link
        "[click](javascript:alert(1)).csv lacks the column(s) ['Index of Multiple Deprivation (IMD) Score'] "
        "that indicators/iod2019.yaml requires.")]
    assert changes(store) == [] and not (sources / IOD2019).exists()


def test_a_reference_file_over_the_limit_is_refused(store, sources):
    at = run()
    uploader = at.file_uploader(key="sources_upload")
    assert uploader.proto.max_upload_size_mb == 100  # the browser refuses a larger file before sending it
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    big = b"x" * (limits.MAX_REFERENCE_BYTES + limits.MB)
    at.file_uploader(key="sources_upload").set_value(("big.csv", big, "text/csv")).run()
    assert [e.value for e in at.error] == [plain("big.csv is 101 MB; a reference file can be at most 100 MB.")]
    assert changes(store) == [] and not (sources / IOD2019).exists()


def test_a_change_the_audit_log_cannot_record_does_not_happen(sources, croydon_iod, monkeypatch):
    monkeypatch.setenv("EHMAP_DATABASE_URL", "postgresql://ehmap@127.0.0.1:9/ehmap")  # nothing listens there
    at = run()
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    at.file_uploader(key="sources_upload").set_value(("File_7.csv", croydon_iod, "text/csv")).run()
    assert not at.exception, [e.message for e in at.exception]
    [error] = [e.value for e in at.error if e.value.startswith("Not saved")]
    assert error.startswith("Not saved, because the audit log could not record the change: " + plain(
        "The team store cannot be reached: connection failed: "))  # where the store is goes to the log only
    assert not (sources / IOD2019).exists() and [p for p in sources.iterdir() if p.name.endswith(".part")] == []
    assert table(at).loc["iod2019", "Status"].startswith("not loaded: ")


@pytest.fixture()
def publisher(tmp_path, monkeypatch, croydon_iod):
    """A real HTTP server on 127.0.0.1 serving Croydon's IoD2019 rows, and a catalogue (a copy of indicators/) whose
    IoD2019 entry names it as the publisher's address."""
    import ehmap.catalogue

    site = tmp_path / "site"
    site.mkdir()
    (site / "File_7.csv").write_bytes(croydon_iod)
    handler = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/File_7.csv"
    catalogue = tmp_path / "indicators"
    catalogue.mkdir()
    for entry in ehmap.catalogue.INDICATORS_DIR.glob("*.yaml"):
        text = entry.read_text(encoding="utf-8")
        if entry.stem == "iod2019":
            [line] = [line for line in text.splitlines() if line.startswith("url: ")]
            text = text.replace(line, f"url: {url}")
        (catalogue / entry.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(ehmap.catalogue, "INDICATORS_DIR", catalogue)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_an_admins_download_is_audited_with_its_hash(store, sources, publisher, croydon_iod):
    at = run()
    at.selectbox(key="sources_choice").set_value("iod2019").run()
    at.button(key="sources_download").click().run()
    assert not at.exception, [e.message for e in at.exception]
    digest = hashlib.sha256(croydon_iod).hexdigest()
    assert [s.value for s in at.success] == [
        f"English Indices of Deprivation 2019 downloaded ({len(croydon_iod):,} bytes, SHA-256 {digest[:12]}...). "
        "Every page now uses it."
    ]
    [entry] = changes(store)
    assert entry["detail"] == {"source": "iod2019", "file": IOD2019, "sha256": digest, "how": "download"}
    row = table(at).loc["iod2019"]
    assert (row["Status"], row["From"]) == ("loaded from a download", publisher)
    assert row["Version"].endswith(f"SHA-256 {digest[:12]}")


@pytest.mark.parametrize("who", [{"email": "vic@example.org", "name": "Vic Viewer"},
                                 {"email": "ann@example.org", "name": "Ann Analyst"}], ids=["viewer", "analyst"])
def test_only_an_admin_can_change_reference_files(store, sources, monkeypatch, tmp_path, who):
    roles = tmp_path / "roles.yaml"
    roles.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("EHMAP_ROLES_FILE", str(roles))
    at = run(user=who)
    assert at.session_state["la_code"] == CROYDON
    listed = table(at)  # the list, statuses and versions, as an admin sees them
    assert {"iod2019", "iod2025", "population_mid2020"} <= set(listed.index)
    assert {"Status", "Version", "From"} <= set(listed.columns)
    assert [i.value for i in at.info][-1] == ONLY_ADMINS
    assert at.get("file_uploader") == [] and [b for b in at.button if b.key == "sources_download"] == []
    assert changes(store) == []
    assert [entry["user"] for entry in store.audit_entries() if entry["event"] == "sign_in"] == [who["email"]]


def test_every_uploader_tells_the_browser_its_size_limit(store, directory):
    """Streamlit's uploader refuses a larger file in the browser, before sending it (max_upload_size)."""
    def limit(at: AppTest, key: str) -> int:
        return at.file_uploader(key=key).proto.max_upload_size_mb

    assert limit(run("pages/your_data.py"), "export_file") == 200
    assert limit(run("pages/coverage.py"), "coverage_services_file") == 200
    hotspots = run("pages/hotspots.py")
    hotspots.selectbox(key="hotspots_geography").set_value("custom").run()
    assert limit(hotspots, "hotspots_localities") == 20


def test_a_download_the_audit_log_cannot_record_leaves_nothing(sources, publisher, monkeypatch):
    from ehmap.access import laptop_user
    from ehmap.audit import record
    from ehmap.catalogue import indicator_source
    from ehmap.download import download_source
    from ehmap.store import StoreError

    monkeypatch.setenv("EHMAP_DATABASE_URL", "postgresql://ehmap@127.0.0.1:9/ehmap")  # nothing listens there
    with pytest.raises(StoreError, match=r"cannot be reached"):
        download_source(indicator_source("iod2019"), approve=lambda fetched: record(
            "reference_change", laptop_user(), None, {"source": "iod2019", "file": IOD2019,
                                                      "sha256": fetched.sha256, "how": "download"}))
    assert list(sources.iterdir()) == []  # neither the file, its note nor a .part file


def test_an_unreachable_store_is_reported_without_its_path(tmp_path, caplog):
    from ehmap.store import StoreError
    from ehmap.store.store import Store

    where = tmp_path / "no such folder" / "ehmap.sqlite3"
    with pytest.raises(StoreError) as error:
        Store(f"sqlite:///{where}")
    assert str(error.value) == "The team store cannot be reached: unable to open database file"
    assert str(where) in caplog.text  # the log says where the store is; the page does not


def test_an_admin_fetches_every_file_in_one_click_from_the_councils_mirror(store, sources, data_dir, tmp_path,
                                                                           monkeypatch):
    from reference_support import mirror_site, same_table, served

    from ehmap.download import reference_files

    every = reference_files()
    with served(mirror_site(tmp_path / "site", data_dir)) as mirror:
        monkeypatch.setenv("EHMAP_REFERENCE_MIRROR", mirror)
        at = run()
        assert "mirror of the publishers' files" in " ".join(c.value for c in at.caption)
        at.button(key="sources_fetch_all").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [s.value for s in at.success] == [f"{len(every)} of {len(every)} files fetched."]
    shown = table(at)
    fetched = shown.loc[[source.id for source in every]]  # boundaries are added by hand: the ONS has no one address
    assert (fetched["Status"] == "loaded from a download").all(), shown["Status"].to_dict()
    population = shown.loc["population_mid2020"]
    assert population["From"].startswith(f"{mirror}sape23dt2") and "ONS workbook" in population["From"]
    assert {entry["detail"]["file"] for entry in changes(store)} == {source.file for source in every}
    for source in every:  # the population workbook was read back into exactly the published table
        if source.workbook:
            assert same_table(sources / source.file, data_dir / source.file)
        else:
            assert (sources / source.file).read_bytes() == (data_dir / source.file).read_bytes()


def test_an_admin_adds_the_lsoa_2021_boundaries_and_the_pages_draw_them(store, sources, data_dir, tmp_path):
    """Boundaries are added like tables: a file that is not a boundary layer, or lacks the declared columns, is
    refused in one line; the ONS file (Croydon's LSOAs cut from it) is audited, listed and drawn at once."""
    import geopandas as gpd

    folder = tmp_path / "data"  # the data folder: the lookups and IoD2025, not the boundaries
    for name in ("lookup_lsoa11_lsoa21_lad22_exact_fit.csv", "lookup_lsoa21_ward24_lad24.csv",
                 "iod2025_lsoa21_file7_columns.csv"):
        (folder / name).symlink_to(data_dir / name)
    lookup = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    croydon = set(lookup.loc[lookup["LAD24CD"] == "E09000008", "LSOA21CD"])
    national = gpd.read_file(data_dir / "lsoa21_boundaries_england.geojson")
    ons = national[national["LSOA21CD"].isin(croydon)].to_json().encode()
    renamed = national[national["LSOA21CD"].isin(croydon)].rename(columns={"LSOA21CD": "code"}).to_json().encode()

    at = run()
    row = table(at).loc["lsoa21"]
    assert row["Geography"] == "boundaries" and row["Status"].startswith("not loaded: ")
    at.selectbox(key="sources_choice").set_value("lsoa21").run()
    for name, data, problem in (("notes.geojson", b"These are not boundaries. " * 20, "is not a boundary file GDAL "
                                 "can read; ehmap needs the GeoJSON lsoa21_boundaries_england.geojson."),
                                ("renamed.geojson", renamed, "lacks the column(s) ['LSOA21CD'] that "
                                 "boundaries/lsoa21.yaml declares.")):
        at.file_uploader(key="sources_upload").set_value((name, data, "application/geo+json")).run()
        assert not at.exception, [e.message for e in at.exception]
        assert [e.value for e in at.error] == [plain(f"{name} {problem}")]
    assert changes(store) == [] and not (sources / "lsoa21_boundaries_england.geojson").exists()
    at.file_uploader(key="sources_upload").set_value(("LSOA_2021_BSC.geojson", ons, "application/geo+json")).run()
    assert not at.exception, [e.message for e in at.exception]
    [entry] = changes(store)
    assert entry["detail"] == {"source": "lsoa21", "file": "LSOA_2021_BSC.geojson",
                               "sha256": hashlib.sha256(ons).hexdigest(), "how": "upload"}
    assert table(at).loc["lsoa21", "Status"] == "loaded from an upload"
    deprivation = run("pages/deprivation.py")  # IoD2025 on its own areas, drawn from the uploaded boundaries
    assert deprivation.radio(key="context_areas").value == "lsoa21"
    assert not [w.value for w in deprivation.warning if "Shown on LSOA 2011 instead" in w.value]
    assert sorted(deprivation.dataframe[0].value["LSOA code"]) == sorted(croydon)
