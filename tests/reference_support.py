"""A local mirror of the publishers' reference files, served over real HTTP, and the ONS population workbook's layout
filled with the real published values the test data holds.

No real copy of the ONS SAPE workbook (40-85 MB) is on this machine; the children's CSV beside the other reference
files was read from it (see the data folder's README). This writes those real values back into the workbook's layout
(title rows, then a header row "LSOA Code, LSOA Name, LA Code ..., All Ages, 0, 1, ...", one row per LSOA), so the
reader is tested on the layout the ONS publishes. Ages 18 to 90+ are not in the CSV, so the workbook stops at 17.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

SHEET = "Mid-2020 Persons"
TITLE_ROWS = [
    ["Mid-2020 Population Estimates for Lower Layer Super Output Areas in England and Wales by Single Year of Age "
     "and Sex - National Statistics"],
    ["Persons"],
    ["All Ages and single year of age"],
    [],
]
ID_HEADERS = ["LSOA Code", "LSOA Name", "LA Code (2018 boundaries)", "LA name (2018 boundaries)",
              "LA Code (2021 boundaries)", "LA name (2021 boundaries)"]


def children_csv_as_workbook(children_csv: Path, out: Path, sheet: str = SHEET) -> Path:
    """Write the CSV's real values (code, name, all ages, single years 0-17) into an .xlsx in the ONS layout."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.create_sheet("Contents").append(["Contents"])
    rows = book.create_sheet(sheet)
    for title in TITLE_ROWS:
        rows.append(title)
    rows.append([*ID_HEADERS, "All Ages", *(str(age) for age in range(18))])
    with open(children_csv, newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            rows.append([record["LSOA11CD"], record["LSOA11NM"], None, None, None, None, int(record["all_ages"]),
                         *(int(record[f"age_{age}"]) for age in range(18))])
    book.save(out)
    return out


def same_table(path: Path, published: Path) -> bool:
    """Whether two CSV files hold the same table, cell for cell as text (line ends aside)."""
    import pandas as pd

    read = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in (path, published)]
    return read[0].equals(read[1])


def zipped(workbook: Path, out: Path) -> Path:
    """The workbook inside a ZIP, as the ONS also publishes it."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(workbook, workbook.name)
    return out


def mirror_site(site: Path, data_dir: Path) -> Path:
    """Fill `site` as a mirror of the publishers' files: real copies under their published names, and the population
    table as the ONS publishes it, a workbook (`children_csv_as_workbook`)."""
    from ehmap.download import reference_files

    site.mkdir()
    for source in reference_files():
        if source.workbook:
            children_csv_as_workbook(data_dir / source.file, site / source.published_name, source.workbook)
        else:
            (site / source.published_name).symlink_to(data_dir / source.file)
    return site


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving `folder`; its address, ending in '/'."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
