"""Hostile and mistaken inputs (issue 13): each is refused with its own message within 5 s and 500 MB, or shown
as text; every CSV written for a payload-laden export holds no live formula. Files are built by tests/hostile.py."""

from __future__ import annotations

import csv
import io
import logging
import re
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import folium
import pytest
from streamlit.testing.v1 import AppTest

from tests import hostile
from tests.conftest import CROYDON

MAX_SECONDS = 5.0
MAX_GROWTH_MB = 500.0
MB = hostile.MB


# ------------------------------------------------------------------------------------------- refusals


def _export_cases() -> list[tuple[str, str, object, str, str]]:
    """(id, kind, builder, file name, expected message as a regular expression)."""
    return [
        ("xlsx-zip-bomb", "export", lambda tmp: hostile.zip_bomb_xlsx(), "cases.xlsx",
         r"The workbook expands to 400 MB; the limit is 160 MB\."),
        ("xlsx-ratio-bomb", "export", lambda tmp: hostile.zip_bomb_xlsx(150 * MB), "cases.xlsx",
         r"The workbook holds a part that expands [\d,]+ times \(0\.\d MB to 150 MB\); parts expanding over 100 "
         r"times are refused as a possible zip bomb\."),
        ("xlsx-lying-sizes", "export", lambda tmp: hostile.lying_size_xlsx(), "cases.xlsx",
         r"The file could not be read as an Excel workbook \(\.xlsx\): BadZipFile\."),
        ("xlsx-billion-laughs", "export", lambda tmp: hostile.dtd_xlsx(), "cases.xlsx",
         r"The workbook holds an XML document type declaration \(DTD\), which Excel never writes; it is refused\. "
         r"Save the sheet again from Excel\."),
        ("xlsx-sparse-rows", "export", lambda tmp: hostile.sparse_rows_xlsx(), "cases.xlsx",
         r"The file has more than 750,000 rows of 4 columns, over the limit of 3,000,000 cells for an Excel "
         r"workbook; export it as CSV, or split it by year\."),
        ("xlsx-many-cells", "export", lambda tmp: hostile.many_cells_xlsx(760_000), "cases.xlsx",
         r"A worksheet has more than 3,000,000 cells, the limit for an Excel workbook; export it as CSV, or split "
         r"it by year\."),
        ("xlsx-many-rows", "export", lambda tmp: hostile.many_cells_xlsx(1_050_000, 1), "cases.xlsx",
         r"A worksheet has more than 1,048,576 rows after its header, the limit \(split the export by year\)\."),
        ("xlsx-wide", "export", lambda tmp: hostile.wide_xlsx(1_001), "cases.xlsx",
         r"The workbook's first sheet has more than 1,000 columns, the limit; export only the columns the analysis "
         r"needs\."),
        ("csv-utf16-bom", "export", lambda tmp: hostile.utf16_csv(bom=True), "cases.csv",
         r"The file is UTF-16 text \(Excel's 'Unicode Text'\), not UTF-8 or Windows CSV; save it as 'CSV UTF-8 "
         r"\(Comma delimited\)' and upload that\."),
        ("csv-utf16-no-bom", "export", lambda tmp: hostile.utf16_csv(bom=False), "cases.csv",
         r"The file is UTF-16 text \(Excel's 'Unicode Text'\), not UTF-8 or Windows CSV; .*"),
        ("csv-nul", "export", lambda tmp: hostile.nul_csv(), "cases.csv",
         r"The file contains NUL bytes \(the first on line 3\), so it is not a text CSV; export it again as CSV, "
         r"or upload the Excel workbook itself\."),
        ("csv-long-line", "export", lambda tmp: hostile.long_line_csv(), "cases.csv",
         r"Line 2 is 0\.3 MB long; lines over 256 KB are refused \(is this a CSV export\?\)\."),
        ("csv-many-rows", "export", lambda tmp: hostile.many_rows_csv(1_048_577), "cases.csv",
         r"The file has 1,048,577 lines after the header; the limit is 1,048,576 rows \(split the export by year\)\."),
        ("csv-wide", "export", lambda tmp: hostile.wide_csv(1_001), "cases.csv",
         r"The header has 1,001 columns; the limit is 1,000\."),
        ("csv-many-cells", "export", lambda tmp: hostile.wide_csv(500, 100_001), "cases.csv",
         r"The file has 100,001 rows of 500 columns, over the limit of 50,000,000 cells; leave out the columns the "
         r"analysis does not use\."),
        ("csv-too-big", "export", lambda tmp: hostile.oversized_csv(201 * MB), "cases.csv",
         r"The file is 201 MB; the limit is 200 MB \(split the export by year, or leave out columns the analysis "
         r"does not use\)\."),
        ("yaml-billion-laughs", "mapping", lambda tmp: hostile.billion_laughs_yaml(), "columns.yaml",
         r"The column mapping columns\.yaml uses YAML anchors or aliases \(& or \*\), which are refused; write each "
         r"field on its own line, e\.g\. 'postcode: Home PC'\."),
        ("yaml-anchor", "mapping", lambda tmp: hostile.anchored_yaml(), "columns.yaml",
         r"The column mapping columns\.yaml uses YAML anchors or aliases .*"),
        ("mapping-too-big", "mapping", lambda tmp: b"postcode: Home Postcode\n" + b"# padding\n" * 7_000,
         "columns.yaml", r"The column mapping columns\.yaml is over 64 KB, the limit; a mapping file is a few lines\."),
        ("json-mapping-deep", "mapping", lambda tmp: hostile.deep_json(), "columns.json",
         r"The column mapping columns\.json is nested too deeply to map fields to headers\."),
    ]


def _locality_cases() -> list[tuple[str, str, object, str, str]]:
    def strips(tmp: Path):
        return hostile.croydon_localities(["North", "South"])

    def folder(tmp: Path, name: str) -> Path:
        path = tmp / name
        path.mkdir()
        return path

    return [
        ("geojson-too-big", "locality", lambda tmp: hostile.huge_geojson(21 * MB), "areas.geojson",
         r"'areas\.geojson' is 21 MB; the limit for a locality file is 20 MB \(simplify the boundaries\)\."),
        ("geojson-deep", "locality", lambda tmp: hostile.deep_geojson(), "areas.geojson",
         r"'areas\.geojson' nests its objects and arrays 100,00\d deep; GeoJSON needs at most 9 and over 32 is "
         r"refused\."),
        ("geojson-many-features", "locality", lambda tmp: hostile.many_features_geojson(5_001), "areas.json",
         r"'areas\.json' has 5,001 features; the limit is 5,000 localities\."),
        ("geojson-many-vertices", "locality", lambda tmp: hostile.many_vertices_geojson(1_000_001), "areas.geojson",
         r"'areas\.geojson' has 1,000,001 vertices; the limit is 1,000,000 \(simplify the boundaries, or use ONS's "
         r"generalised ones\)\."),
        ("vrt-disguised-as-geojson", "locality", lambda tmp: hostile.vrt_as_geojson(), "areas.geojson",
         r"'areas\.geojson' is not GeoJSON: a GeoJSON file is one JSON object, starting with '\{'\."),
        ("gpkg-not-sqlite", "locality", lambda tmp: hostile.vrt_as_geojson(), "areas.gpkg",
         r"'areas\.gpkg' is not a GeoPackage \(it is not an SQLite database\)\."),
        ("gpkg-many-features", "locality", lambda tmp: hostile.many_features_gpkg(5_001, tmp), "areas.gpkg",
         r"'areas\.gpkg' has 5,001 features; the limit is 5,000 localities\."),
        ("shapefile-many-features", "locality",
         lambda tmp: hostile.many_features_shapefile(5_001, folder(tmp, "many")), "areas.zip",
         r"'areas\.zip' has 5,00\d features; the limit is 5,000 localities\."),
        ("zip-slip-dotdot", "locality",
         lambda tmp: hostile.shapefile_zip(strips(tmp), folder(tmp, "slip"), {"areas.shp": "../../areas.shp"}),
         "areas.zip",
         r"'areas\.zip' holds a path that leaves the archive \('\.\./' or an absolute path\), which is refused; zip "
         r"the files themselves, without folders above them\."),
        ("zip-slip-absolute", "locality",
         lambda tmp: hostile.shapefile_zip(strips(tmp), folder(tmp, "abs"), {"areas.dbf": "/tmp/areas.dbf"}),
         "areas.zip", r"'areas\.zip' holds a path that leaves the archive .*"),
        ("zip-slip-windows", "locality",
         lambda tmp: hostile.shapefile_zip(strips(tmp), folder(tmp, "win"), {"areas.prj": "..\\areas.prj"}),
         "areas.zip", r"'areas\.zip' holds a path that leaves the archive .*"),
        ("shapefile-zip-bomb", "locality", lambda tmp: hostile.bomb_shapefile(strips(tmp), folder(tmp, "bomb")),
         "areas.zip", r"'areas\.zip' expands to 200 MB; the limit is 100 MB\."),
    ]


REFUSALS = _export_cases() + _locality_cases()


@pytest.mark.parametrize("case_id, kind, build, name, expected", REFUSALS, ids=[case[0] for case in REFUSALS])
def test_hostile_file_is_refused_quickly_with_its_own_message(case_id, kind, build, name, expected, tmp_path):
    outcome = hostile.measure_refusal(kind, build(tmp_path), name, tmp_path)
    print(f"{case_id}: {outcome['seconds']:.2f} s, +{outcome['growth_mb']:.0f} MB peak")  # shown with pytest -s
    assert outcome["error"] in ("ExportError", "LocalityFileError"), outcome
    assert re.fullmatch(expected, outcome["message"]), outcome["message"]
    assert outcome["seconds"] < MAX_SECONDS, outcome
    assert outcome["growth_mb"] < MAX_GROWTH_MB, outcome


def test_the_zip_bomb_is_the_one_the_issue_describes():
    data = hostile.zip_bomb_xlsx()
    sheet = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml")
    assert len(data) < 1_000_000 and sheet.file_size > 400_000_000  # about 1 MB inflating to 400 MB


def test_an_ordinary_workbook_and_csv_still_read(tmp_path):
    """The limits leave real files alone: the payload export reads as CSV and as XLSX, the same either way."""
    from ehmap.exports import read_export

    from_csv = read_export(hostile.payload_cases(), "cases.csv")
    from_xlsx = read_export(hostile.payload_xlsx(), "cases.xlsx")
    # XLSX cells are read stripped, and XML reads a CR as a line feed
    assert from_csv.apply(lambda column: column.str.replace("\r", "\n").str.strip()).equals(from_xlsx)
    assert len(from_csv) == 8 * len(hostile.PAYLOADS)


def test_a_sheet_whose_dimension_claims_every_cell_is_read_by_its_real_rows(tmp_path):
    from ehmap.exports import read_export

    rows = b'<row r="2"><c r="A2" t="inlineStr"><is><t>C1</t></is></c></row>'
    sheet = hostile.SHEET_START.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
    table = read_export(hostile.workbook([sheet, hostile.HEADER_ROW, rows, hostile.SHEET_END]), "cases.xlsx")
    assert table.columns.tolist() == ["Case ID", "Postcode", "Referral Date", "Needs"]
    assert table["Case ID"].tolist() == ["C1"]


# ------------------------------------------------------------------------------------------- file names


def test_uploaded_file_names_are_labels_never_paths(tmp_path):
    from ehmap.areas import read_localities
    from ehmap.exports import ExportError, read_export
    from ehmap.text import file_label

    assert file_label("../../etc/passwd.geojson") == "passwd.geojson"
    assert file_label("C:\\Users\\x\\<img src=x>cases.csv") == "<img src=x>cases.csv"
    assert file_label("a\nb\rc.csv") == "a b c.csv"
    assert file_label("x" * 200 + ".csv") == "x" * 79 + "…"
    # A name like a server path only picks the format: the bytes given are read, nothing is opened.
    localities = read_localities(hostile.geojson(hostile.croydon_localities(["A", "B"])), "/etc/passwd.geojson", "name")
    assert localities["name"].tolist() == ["A", "B"]
    table = read_export(b"Case ID,Postcode\nC1,CR0 1AA\n", "../../../etc/shadow.csv")
    assert table["Case ID"].tolist() == ["C1"]
    with pytest.raises(ExportError) as error:
        read_export(b"%PDF", "../../<img src=x onerror=alert(1)>.pdf")
    assert str(error.value) == ("'<img src=x onerror=alert(1)>.pdf' is not a CSV or XLSX file; export the cases as "
                                "CSV or Excel (.xlsx).")


# ------------------------------------------------------------------------------------------- text, not markup


def test_plain_escapes_every_markdown_and_html_character():
    from ehmap.text import one_line, plain

    for payload in hostile.PAYLOADS + ["**bold** _it_ # h ~x~ $x$ :red[x] www.example.invalid http://x.invalid"]:
        shown = plain(payload)
        assert "\n" not in shown and "\r" not in shown
        unescaped = re.sub(r"\\.", "", shown)  # what is left once every escaped character is taken out
        assert not re.search(r"[!-/:-@\[-`{-~]", unescaped), (payload, shown)
        assert re.sub(r"\\(.)", r"\1", shown) == one_line(payload)  # the same characters, on one line


def test_html_text_is_safe_in_html_and_in_a_javascript_template_literal():
    from ehmap.text import html_text

    for payload in hostile.PAYLOADS:
        shown = html_text(payload)
        assert not set("<>\"'`$\\{}") & set(shown), shown
    assert html_text("`${alert(5)}`") == "&#96;&#36;&#123;alert(5)&#125;&#96;"
    assert html_text("Broad Green & Selhurst") == "Broad Green &amp; Selhurst"


def _area_map_html(names: list[str]) -> tuple[str, list[dict]]:
    from ehmap.areas import locality_area_set, read_localities
    from ehmap.maps import area_map

    localities = read_localities(hostile.geojson(hostile.croydon_localities(names)), "areas.geojson", "name")
    areas = locality_area_set(CROYDON, localities).areas
    fmap = area_map(areas, areas["code"].map(lambda _: "#fd8d3c"), {"name": "Area", "code": "Code"})
    layers = [child for child in fmap._children.values() if isinstance(child, folium.GeoJson)]
    return fmap.get_root().render(), [feature["properties"] for feature in layers[0].data["features"]]


# Pieces of the markup payloads that would be live if they reached an HTML page (or a template literal) raw.
LIVE = ["<img src=x", "<img src=y", "<script>alert", "<svg onload", "<iframe src=javascript", "${alert(5)}", "`${",
        "<b>bold</b>", "<style>*{display:none}"]


def _live_markup(page: str) -> list[str]:
    return [piece for piece in LIVE if piece in page]


def test_locality_names_in_the_map_tooltip_are_escaped():
    from ehmap.text import html_text

    page, properties = _area_map_html(hostile.MARKUP)
    assert _live_markup(page) == []
    assert sorted(p["name"] for p in properties) == sorted(html_text(name) for name in hostile.MARKUP)


def test_service_names_in_markers_catchments_and_site_are_escaped():
    from ehmap.coverage import add_catchments, add_services, add_site, catchments
    from ehmap.exports import read_export
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import council_lsoas
    from ehmap.services import ingest_services
    from ehmap.text import html_text

    lsoas = council_lsoas(CROYDON)
    services = ingest_services(read_export(hostile.payload_services(), "services.csv"), CROYDON,
                               PostcodeDirectory.load(), lsoas.union_all())
    assert len(services.services) == len(hostile.PAYLOADS) - 1  # the row whose type is markup is rejected
    assert services.rejects["reason"].tolist() == ["invalid_type"]
    fmap = folium.Map(location=[51.37, -0.1], tiles=None)
    add_services(fmap, services.services)
    from ehmap.coverage import council_centres, lsoa_centres

    centres = council_centres(lsoas, lsoa_centres(PostcodeDirectory.load()))
    add_catchments(fmap, catchments(lsoas, centres, services.services))
    add_site(fmap, 532_000, 165_000, 1609.0, hostile.MARKUP[5])
    page = fmap.get_root().render()
    assert _live_markup(page) == []
    for name in services.services["name"]:
        assert html_text(name) in page  # shown, as text


def test_legend_text_is_escaped_and_colours_are_hex_only():
    def script():
        from ehmap.maps import LegendEntry
        from ui.widgets import legend

        legend("<img src=x onerror=alert(1)>", [LegendEntry("#fd8d3c", "<script>alert(2)</script>"),
                                                 LegendEntry("red;background:url(http://x.invalid)", "a\n\n![x](y)")])

    at = AppTest.from_function(script).run()
    value = at.markdown[0].value
    assert "<img" not in value and "<script" not in value and "url(" not in value and "\n" not in value
    assert "&lt;img src=x onerror=alert(1)&gt;" in value and "&lt;script&gt;alert(2)&lt;/script&gt;" in value
    assert "background:#999999" in value


class _Elements(HTMLParser):
    """Every element and attribute of an HTML page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_board_report_html_shows_payload_service_names_as_text(tmp_path):
    from ehmap.cli import main

    export = tmp_path / "cases.csv"
    export.write_bytes(hostile.payload_cases())
    out = tmp_path / "paper.html"
    assert main(["report", str(export), "--la", CROYDON, "--section", "performance", "--by", "service",
                 "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    parsed = _Elements()
    parsed.feed(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "p", "h1", "h2", "section", "ul", "li", "figure",
               "img", "figcaption", "table", "caption", "thead", "tbody", "tr", "th", "td"}
    assert set(parsed.tags) <= allowed, set(parsed.tags) - allowed
    assert parsed.tags.count("style") == 1
    assert not [name for name, _ in parsed.attributes if name.startswith("on")]
    assert all(value.startswith("data:image/png;base64,") for name, value in parsed.attributes if name == "src")
    text = "".join(parsed.text)
    for payload in hostile.MARKUP:
        assert payload in text  # the service name, shown as the characters it is
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


# ------------------------------------------------------------------------------------------- formulas


def _spreadsheet_would_evaluate(cell: str) -> bool:
    triggers = ("=", "+", "-", "@", "\t", "\r", "\n")
    return cell.startswith(triggers) and re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cell) is None


def _live_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as file:
        return [cell for row in csv.reader(file) for cell in row if _spreadsheet_would_evaluate(cell)]


def test_cli_ingest_writes_no_live_formula_and_reads_back_to_the_original_text(tmp_path):
    from ehmap.cli import main
    from ehmap.exports import read_export

    export = tmp_path / "cases.csv"
    export.write_bytes(hostile.payload_cases())
    out = tmp_path / "out"
    assert main(["ingest", str(export), "--la", CROYDON, "--out", str(out)]) == 0
    cases = out / "cases.csv"
    raw = cases.read_text(encoding="utf-8")
    assert sum(raw.count(f"'{formula}") for formula in ("=HYPERLINK", "+cmd", "@SUM", "-2+3+cmd")) > 0
    assert _live_cells(cases) == [] and _live_cells(out / "rejects.csv") == []
    assert stat.S_IMODE(cases.stat().st_mode) == 0o600 and stat.S_IMODE((out / "rejects.csv").stat().st_mode) == 0o600
    back = read_export(cases.read_bytes(), "cases.csv")
    expected = [value.strip() for value in hostile.PAYLOADS for _ in range(8)]  # cells are read stripped
    assert sorted(back["service"]) == sorted(expected)  # every episode accepted, its team as it was written
    assert sorted(back["referral_source"]) == sorted(expected)


def test_every_csv_the_cli_writes_for_a_payload_export_is_formula_safe(tmp_path):
    from ehmap.cli import main
    from ehmap.exports import read_export

    export = tmp_path / "cases.csv"
    export.write_bytes(hostile.payload_cases())
    services = tmp_path / "services.csv"
    services.write_bytes(hostile.payload_services())
    localities = tmp_path / "areas.geojson"
    localities.write_bytes(hostile.geojson(hostile.croydon_localities(hostile.PAYLOADS)))
    outputs = {
        "performance_service.csv": ["performance", str(export), "--by", "service", "--la", CROYDON],
        "performance_source.csv": ["performance", str(export), "--by", "referral_source", "--la", CROYDON],
        "coverage.csv": ["coverage", str(export), "--services", str(services), "--la", CROYDON],
        "hotspots.csv": ["hotspots", str(export), "--la", CROYDON, "--geography", str(localities),
                         "--name-column", "name", "--measure", "count", "--permutations", "99"],
        "business_case.csv": ["business-case", str(export), "--la", CROYDON],
    }
    for name, command in outputs.items():
        assert main([*command, "--out", str(tmp_path / name)]) == 0, name
    written = sorted(tmp_path.glob("*.csv"))
    assert {path.name for path in written} >= {*outputs, "coverage_service_rejects.csv"}
    for path in written:
        if path.name not in ("cases.csv", "services.csv"):
            assert _live_cells(path) == [], path.name
    groups = set(read_export((tmp_path / "performance_service.csv").read_bytes(), "p.csv").iloc[:, 0])
    assert {value.strip() for value in hostile.PAYLOADS} <= groups  # every payload service listed, as its text
    areas = set(read_export((tmp_path / "hotspots.csv").read_bytes(), "h.csv")["name"])
    assert areas <= {value.strip() for value in hostile.PAYLOADS} and len(areas) > 5


def test_services_rejects_name_the_markup_type_as_text():
    from ehmap.exports import read_export
    from ehmap.geocode import PostcodeDirectory
    from ehmap.geography import council_lsoas
    from ehmap.safe_output import csv_bytes
    from ehmap.services import ingest_services

    lsoas = council_lsoas(CROYDON)
    result = ingest_services(read_export(hostile.payload_services(), "services.csv"), CROYDON,
                             PostcodeDirectory.load(), lsoas.union_all())
    message = result.rejects["message"].iloc[0]
    assert message.startswith("'<img src=x onerror=alert(1)>' is not a known service type")
    assert read_export(csv_bytes(result.rejects), "r.csv")["message"].tolist() == [message]


# ------------------------------------------------------------------------------------------- the page guard


def test_a_failing_page_says_why_in_one_sentence_and_logs_nothing_personal(caplog):
    def script():
        import streamlit as st

        from ehmap.exports import ExportError
        from ui.errors import run_page

        def broken():
            st.write("drawn before the failure")
            raise KeyError("EH100024 CR0 1AA <img src=x onerror=alert(1)>")

        def refused():
            raise ExportError("The column mapping maps postcode to '<img src=x onerror=alert(1)>', which is not a "
                              "column.")

        def stopped():
            st.write("stopped on purpose")
            st.stop()

        pages = {"broken": broken, "refused": refused, "stopped": stopped}
        run_page(st.navigation([st.Page(pages[st.session_state.get("which", "broken")], title="P")]))

    with caplog.at_level(logging.INFO):
        at = AppTest.from_function(script).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "This page could not be shown for the chosen council and data (KeyError); the other pages still work, "
        "and choosing another dataset or council may help."
    ]
    assert "drawn before the failure" in at.markdown[0].value
    logged = caplog.text
    assert "Page 'P' failed: KeyError at" in logged
    assert "EH100024" not in logged and "CR0 1AA" not in logged and "<img" not in logged

    at.session_state["which"] = "refused"
    at.run()
    assert not at.exception
    shown = at.error[0].value
    assert len(at.error) == 1 and "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in shown
    assert not re.search(r"(?<!\\)[<>\[\]()!]", shown)  # every Markdown and HTML character escaped

    at.session_state["which"] = "stopped"
    at.run()
    assert not at.exception and not at.error and at.markdown[0].value == "stopped on purpose"
