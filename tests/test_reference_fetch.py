"""`python -m ehmap reference fetch`: the official reference files, downloaded end to end from a real HTTP server on
127.0.0.1 serving real copies (a mirror of the national files), leave files the app loads."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from reference_support import mirror_site, same_table, served

from ehmap.catalogue import indicator_source, indicator_sources
from ehmap.cli import main
from ehmap.indicators import FROM_CACHE, locate

CROYDON = "E09000008"
FILES = sorted({source.file for source in indicator_sources()})


@pytest.fixture()
def mirror(tmp_path, data_dir):
    """A real HTTP server serving real copies of every catalogued reference file."""
    with served(mirror_site(tmp_path / "site", data_dir)) as address:
        yield address


@pytest.fixture(autouse=True)
def empty_machine(tmp_path, monkeypatch):
    """An empty data folder, cache and store: nothing is loaded until it is fetched."""
    import streamlit as st

    for variable, folder in (("EHMAP_DATA_DIR", "data"), ("EHMAP_CACHE_DIR", "cache"), ("EHMAP_STATE_DIR", "state")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.delenv("EHMAP_DATABASE_URL", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_fetch_all_leaves_every_file_checked_audited_and_loaded(mirror, data_dir, capsys):
    from ehmap.context import council_context
    from ehmap.geography import council_lsoas
    from ehmap.store import default_store

    assert main(["reference", "fetch", "--mirror", mirror]) == 0
    out, err = capsys.readouterr()
    assert f"{len(FILES)} of {len(FILES)} reference file(s) fetched" in out
    assert "MB" in err  # progress
    for source in indicator_sources():
        located = locate(source)
        assert located.origin == FROM_CACHE
        if source.workbook:  # read from the ONS workbook into the same table
            assert same_table(located.path, data_dir / source.file)
        else:
            assert hashlib.sha256(located.path.read_bytes()).digest() == hashlib.sha256(
                (data_dir / source.file).read_bytes()).digest()
    croydon = council_context(CROYDON, ["iod2019", "iod2025"])  # from the fetched files: the data folder is empty
    official = pd.read_csv(data_dir / "iod2019_lsoa11_file7_columns.csv", dtype=str).set_index("LSOA code (2011)")
    assert len(croydon.areas) == len(council_lsoas(CROYDON)) == 220
    shown = croydon.areas.set_index("lsoa11cd")["iod2019_imd_decile"]
    imd_decile = official.columns[5]
    assert (shown.astype(int).astype(str) == official.loc[shown.index, imd_decile]).all()
    audited = [e for e in default_store().audit_entries() if e["event"] == "reference_change"]
    assert {e["detail"]["file"] for e in audited} == set(FILES)


def test_a_missing_file_is_one_line_and_exit_2_and_leaves_nothing(tmp_path, capsys):
    empty = tmp_path / "empty_site"
    empty.mkdir()
    with served(empty) as address:
        code = main(["reference", "fetch", "iod2019", "--mirror", address])
    out = capsys.readouterr().out
    assert code == 2
    line = next(line for line in out.splitlines() if line.startswith("iod2019: not fetched:"))
    assert "404" in line and "iod2019_lsoa11_file7_columns.csv" in line
    assert "0 of 1 reference file(s) fetched" in out
    with pytest.raises(LookupError):
        locate(indicator_source("iod2019"))


def test_an_unknown_source_is_named(capsys):
    assert main(["reference", "fetch", "iod2031"]) == 2
    assert "iod2031" in capsys.readouterr().err


def test_a_file_offered_only_on_a_web_page_is_named_without_going_online(monkeypatch):
    from ehmap.download import fetch_reference

    monkeypatch.delenv("EHMAP_REFERENCE_MIRROR", raising=False)
    [outcome] = fetch_reference([indicator_source("lookup_lsoa11_lsoa21")])
    assert outcome.fetched is None
    assert outcome.problem.startswith("Office for National Statistics offers") and "upload it" in outcome.problem
