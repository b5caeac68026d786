"""The ONS population workbook is read into exactly the children's table ehmap uses: from a file, a ZIP, an upload
and a download; a workbook ehmap cannot read gets one line saying what is wrong."""

from __future__ import annotations

import hashlib

import pytest
from reference_support import SHEET, children_csv_as_workbook, same_table, zipped

from ehmap.catalogue import indicator_source
from ehmap.download import DownloadError, save_upload
from ehmap.indicators import FROM_CACHE, locate
from ehmap.ons_workbook import WorkbookError, workbook_to_children_csv

CHILDREN = "population_mid2020_lsoa11_children_0_17.csv"


@pytest.fixture(scope="module")
def workbook(data_dir, tmp_path_factory):
    """The real published values in the ONS workbook's layout (tests/workbook_support.py)."""
    return children_csv_as_workbook(data_dir / CHILDREN, tmp_path_factory.mktemp("ons") / "sape23dt2.xlsx")


def test_the_workbook_is_read_into_the_published_table_cell_for_cell(workbook, data_dir, tmp_path):
    out = tmp_path / CHILDREN
    rows = workbook_to_children_csv(workbook, SHEET, out)
    assert rows == (data_dir / CHILDREN).read_bytes().count(b"\n") - 1
    assert same_table(out, data_dir / CHILDREN)  # 0-15 and 0-17 are the sums of the single years, as in the README


def test_a_zipped_workbook_reads_the_same(workbook, data_dir, tmp_path):
    out = tmp_path / CHILDREN
    workbook_to_children_csv(zipped(workbook, tmp_path / "sape.zip"), SHEET, out)
    assert same_table(out, data_dir / CHILDREN)


def test_an_uploaded_workbook_becomes_the_table_the_pages_read(workbook, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EHMAP_DATA_DIR", str(tmp_path))  # a data folder without the population file
    source = indicator_source("population_mid2020")
    fetched = save_upload(source, workbook.read_bytes(), "sape23dt2.xlsx")
    kept = locate(source)
    assert kept.origin == FROM_CACHE and same_table(kept.path, data_dir / CHILDREN)
    assert fetched.sha256 == hashlib.sha256(kept.path.read_bytes()).hexdigest()  # the version listed is what is read
    assert f"sheet '{SHEET}'" in fetched.origin


def _one_line(problem: Exception) -> str:
    text = str(problem)
    assert "\n" not in text and len(text) < 300
    return text


def test_the_wrong_sheet_is_named(workbook, tmp_path):
    with pytest.raises(WorkbookError) as problem:
        workbook_to_children_csv(workbook, "Mid-2021 Persons", tmp_path / "out.csv")
    assert "no sheet 'Mid-2021 Persons'" in _one_line(problem.value) and SHEET in str(problem.value)


def test_a_missing_age_column_is_named(data_dir, tmp_path):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    sheet.append(["LSOA Code", "LSOA Name", "All Ages", *(str(age) for age in range(17))])
    book.save(tmp_path / "short.xlsx")
    with pytest.raises(WorkbookError) as problem:
        workbook_to_children_csv(tmp_path / "short.xlsx", SHEET, tmp_path / "out.csv")
    assert "lacks the column(s) ['17']" in _one_line(problem.value)


def test_a_count_that_is_not_a_number_names_the_lsoa(tmp_path):
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    sheet.append(["LSOA Code", "LSOA Name", "All Ages", *(str(age) for age in range(18))])
    sheet.append(["E01000001", "City of London 001A", 1749, *([3] * 17), "=1+1"])
    book.save(tmp_path / "formula.xlsx")
    with pytest.raises(WorkbookError) as problem:
        workbook_to_children_csv(tmp_path / "formula.xlsx", SHEET, tmp_path / "out.csv")
    assert "E01000001" in _one_line(problem.value) and "age 17" in str(problem.value)


def test_a_damaged_workbook_upload_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EHMAP_CACHE_DIR", str(tmp_path / "cache"))
    damaged = b"PK\x03\x04" + b"\x00" * 1000
    with pytest.raises(DownloadError) as problem:
        save_upload(indicator_source("population_mid2020"), damaged, "sape.xlsx")
    assert "not the ONS population workbook" in _one_line(problem.value)
    assert not (tmp_path / "cache" / "sources" / CHILDREN).exists()


def test_a_zip_whose_workbook_unpacks_too_large_is_refused_unread(tmp_path, monkeypatch):
    import zipfile

    import ehmap.ons_workbook

    monkeypatch.setattr(ehmap.ons_workbook, "MAX_UNZIPPED", 1 << 20)  # 1 MB instead of 400 MB, to keep the test small
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sape.xlsx", b"\0" * (2 << 20))  # 2 MB of zeros, a few KB zipped
    with pytest.raises(WorkbookError) as problem:
        workbook_to_children_csv(tmp_path / "bomb.zip", SHEET, tmp_path / "out.csv")
    assert "unpacks to more than 1 MB" in _one_line(problem.value)


def test_a_sheet_with_more_rows_than_there_are_lsoas_is_refused(tmp_path, monkeypatch):
    from openpyxl import Workbook

    import ehmap.ons_workbook

    monkeypatch.setattr(ehmap.ons_workbook, "MAX_ROWS", 50)  # 50 instead of 100,000, to keep the test small
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    sheet.append(["LSOA Code", "LSOA Name", "All Ages", *(str(age) for age in range(18))])
    for i in range(60):
        sheet.append([f"E01{i:06d}", f"Area {i}", 1000, *([10] * 18)])
    book.save(tmp_path / "long.xlsx")
    with pytest.raises(WorkbookError) as problem:
        workbook_to_children_csv(tmp_path / "long.xlsx", SHEET, tmp_path / "out.csv")
    assert "more than 50 rows" in _one_line(problem.value)
