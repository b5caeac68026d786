"""Resource limits on every file a user gives ehmap, checked before the file is parsed.

Each limit is well above what a council's real files need and low enough that the check, and the refusal,
take under 5 s and under 500 MB of memory whatever the file holds (tests/test_hostile_inputs.py measures
both). A refused file raises the module's usual error (`ExportError`, `LocalityFileError`) with one sentence
that names the limit. Parsing an accepted file near a limit can take longer (see each value's note).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile

MB = 1024 * 1024

# Case exports and services files (CSV or XLSX), ehmap.exports.read_export.
MAX_UPLOAD_BYTES = 200 * MB  # a 1M-row CSV export is about 100 MB
MAX_ROWS = 1_048_576  # Excel's own row limit; counted as lines (CSV) or <row> elements (XLSX) before parsing
MAX_COLUMNS = 1_000  # real exports have 10-150 columns
MAX_LINE_BYTES = 256 * 1024  # one CSV line (record); pyarrow's 1 MB read block stays above it
MAX_CSV_CELLS = 50_000_000  # rows x header columns of a CSV (about 1M rows x 50 columns; ingest ~2 s)
# XLSX is parsed by openpyxl at roughly 30,000-100,000 cells a second on a 2-core machine, so an XLSX is
# held to fewer cells than a CSV: 3M cells is, e.g., 150,000 episodes x 20 columns (one to two minutes).
MAX_XLSX_CELLS = 3_000_000
# All parts of a workbook together, from the zip directory: a sheet of 3M cells is 100-130 MB of XML, and the
# pre-scan inflates and counts about 60 MB a second on a busy 2-core machine.
MAX_XLSX_UNCOMPRESSED_BYTES = 160 * MB
MAX_COMPRESSION_RATIO = 100  # per zip part over RATIO_CHECKED_FROM_BYTES; real XLSX sheets are 5-30x
RATIO_CHECKED_FROM_BYTES = 1 * MB  # small parts (styles, themes) can compress further and do no harm
MAX_ZIP_ENTRIES = 1_000  # an XLSX has 10-50 parts; a zipped Shapefile 4-10 files
MAX_ZIP_DIRECTORY_BYTES = 1 * MB  # the zip's central directory, read before the entries

# Column mapping files (YAML or JSON), ehmap.exports.load_mapping. YAML anchors and aliases are refused.
MAX_MAPPING_BYTES = 64 * 1024  # a mapping of ten fields is under 1 KB

# Locality files (GeoJSON, GeoPackage, zipped Shapefile), ehmap.areas.
MAX_LOCALITY_BYTES = 20 * MB  # a council's full-resolution ward boundaries are 1-5 MB
MAX_LOCALITY_UNCOMPRESSED_BYTES = 100 * MB  # the parts of a zipped Shapefile together
MAX_LOCALITY_FEATURES = 5_000  # a council has 10-100 localities (and 100-1,000 LSOAs)
MAX_LOCALITY_VERTICES = 1_000_000  # all polygon vertices; full-resolution wards of a council: ~50,000-300,000
MAX_GEOJSON_DEPTH = 32  # nesting of a GeoJSON's objects and arrays; a MultiPolygon feature collection needs 9

# Reference files uploaded on Data sources (CSV), ehmap.download.save_upload: the national IoD and ONS tables
# ehmap reads are 2-10 MB.
MAX_REFERENCE_BYTES = 100 * MB


def megabytes(size: int) -> str:
    """A size in MB for a message, e.g. '200 MB' or '0.3 MB'."""
    value = size / MB
    return f"{value:,.0f} MB" if value >= 10 else f"{value:,.1f} MB"


class LimitError(ValueError):
    """A file goes beyond a limit; callers re-raise it as their own error type with the same sentence."""


def unsafe_member(name: str) -> bool:
    """True for a zip entry whose path is absolute, names a drive, or climbs out with '..' (zip slip)."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return True
    return ".." in re.split(r"[\\/]", name)


def _directory_size(data: bytes) -> tuple[int, int] | None:
    """(entries, central directory bytes) from a zip's end records (zip64 too), or None when there are none."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) - end < 22:
        return None
    entries, size = struct.unpack_from("<HI", data, end + 10)
    locator = end - 20
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if record + 56 <= len(data) and data[record:record + 4] == b"PK\x06\x06":
            entries, size = struct.unpack_from("<QQ", data, record + 32)
    return entries, size


def zip_members(data: bytes, what: str, max_total_bytes: int) -> list[zipfile.ZipInfo]:
    """The entries of a zip after checking its directory against the limits, before anything is inflated.

    Refuses (LimitError) too many entries, a directory over MAX_ZIP_DIRECTORY_BYTES, entries that together
    inflate beyond `max_total_bytes`, an entry over RATIO_CHECKED_FROM_BYTES that inflates more than
    MAX_COMPRESSION_RATIO times, and zip-slip paths. Python's zipfile never inflates an entry beyond the size
    its directory declares, so these checks bound the work done by whatever reads the entries afterwards.
    Raises zipfile.BadZipFile when `data` is not a zip.
    """
    directory = _directory_size(data)
    if directory is None:
        raise zipfile.BadZipFile("no end of central directory record")
    entries, size = directory
    if entries > MAX_ZIP_ENTRIES or size > MAX_ZIP_DIRECTORY_BYTES:
        raise LimitError(f"{what} holds {entries:,} entries ({megabytes(size)} of directory); "
                         f"the limit is {MAX_ZIP_ENTRIES:,} entries.")
    members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    if any(unsafe_member(member.filename) for member in members):
        raise LimitError(f"{what} holds a path that leaves the archive ('../' or an absolute path), "
                         "which is refused; zip the files themselves, without folders above them.")
    total = sum(member.file_size for member in members)
    if total > max_total_bytes:
        raise LimitError(f"{what} expands to {megabytes(total)}; the limit is {megabytes(max_total_bytes)}.")
    for member in members:
        if member.file_size > RATIO_CHECKED_FROM_BYTES and \
                member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1):
            ratio = member.file_size / max(member.compress_size, 1)
            raise LimitError(f"{what} holds a part that expands {ratio:,.0f} times ({megabytes(member.compress_size)} "
                             f"to {megabytes(member.file_size)}); parts expanding over {MAX_COMPRESSION_RATIO} times "
                             "are refused as a possible zip bomb.")
    return members
