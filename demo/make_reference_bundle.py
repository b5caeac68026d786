"""Make demo/reference/: the official reference rows the demo council (Croydon, E09000008) needs, so a fresh
install shows every page on the demo with no data folder set.

Each file keeps the official file's name, header and rows, byte for byte, restricted to Croydon (the ward
boundaries are the Croydon features of the official GeoJSON, rewritten compactly). ehmap reads this folder only when
EHMAP_DATA_DIR is not set (ehmap.config.data_dir), and then only for Croydon: another council is told which
national file to add. demo/reference/README.md gives each file's source, licence, attribution, the SHA-256 of the
official file it was cut from, and the rows kept.

Run from the repository root (deterministic: the same official files give byte-identical output):
    EHMAP_DATA_DIR=../shared/data python demo/make_reference_bundle.py
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo" / "reference"
LA_CODE = "E09000008"  # Croydon
OGL = "Open Government Licence v3.0"
ONS = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0."
PSI = "Contains public sector information licensed under the Open Government Licence v3.0."
OS = "Contains OS data © Crown copyright and database right 2024."
OS21 = "Contains OS data © Crown copyright and database right 2021."


def rows_where(column: str, keep: Callable[[str], bool]) -> Callable[[bytes], tuple[bytes, int, int]]:
    """A CSV filter keeping the header and the lines whose `column` passes `keep`, as the official bytes."""
    def cut(data: bytes) -> tuple[bytes, int, int]:
        lines = data.splitlines(keepends=True)
        header = next(csv.reader(io.StringIO(lines[0].decode("utf-8-sig"))))
        index = header.index(column)
        kept = [line for line in lines[1:] if keep(next(csv.reader(io.StringIO(line.decode("utf-8"))))[index])]
        return lines[0] + b"".join(kept), len(lines) - 1, len(kept)
    return cut


def croydon_wards(data: bytes) -> tuple[bytes, int, int]:
    """The official ward (May 2024) GeoJSON's Croydon features, compactly rewritten (keys and coordinates
    unchanged)."""
    collection = json.loads(data)
    features = collection["features"]
    collection["features"] = [f for f in features if f["properties"].get("LAD24CD") == LA_CODE]
    text = json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n"
    return text.encode("utf-8"), len(features), len(collection["features"])


def croydon_lsoa21_boundaries(data_dir: Path) -> Callable[[bytes], tuple[bytes, int, int]]:
    """A cut of the official LSOA 2021 GeoJSON (it names no council) to Croydon's LSOAs 2021 in the ONS ward lookup,
    compactly rewritten (keys and coordinates unchanged)."""
    with open(data_dir / "lookup_lsoa21_ward24_lad24.csv", encoding="utf-8-sig", newline="") as handle:
        codes = {row["LSOA21CD"] for row in csv.DictReader(handle) if row["LAD24CD"] == LA_CODE}

    def cut(data: bytes) -> tuple[bytes, int, int]:
        collection = json.loads(data)
        features = collection["features"]
        collection["features"] = [f for f in features if f["properties"]["LSOA21CD"] in codes]
        text = json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n"
        return text.encode("utf-8"), len(features), len(collection["features"])
    return cut


def croydon_lsoa11(data_dir: Path) -> set[str]:
    """Croydon's LSOA 2011 codes, from the ONS LSOA 2011 to ward 2019 lookup."""
    with open(data_dir / "lookup_lsoa11_ward19_lad19.csv", encoding="utf-8-sig", newline="") as handle:
        return {row["LSOA11CD"] for row in csv.DictReader(handle) if row["LAD19CD"] == LA_CODE}


def bundle(data_dir: Path, out: Path = OUT) -> list[dict[str, str]]:
    """Cut every official file into `out` (demo/reference/), with its README.md; return what it says of each."""
    lsoas = croydon_lsoa11(data_dir)
    in_croydon = LA_CODE.__eq__
    files = [  # file, how it is cut, title, publisher, attribution
        ("iod2019_lsoa11_file7_columns.csv", rows_where("Local Authority District code (2019)", in_croydon),
         "English Indices of Deprivation 2019, File 7", "Ministry of Housing, Communities and Local Government", PSI),
        ("iod2025_lsoa21_file7_columns.csv", rows_where("Local Authority District code (2024)", in_croydon),
         "English Indices of Deprivation 2025, File 7", "Ministry of Housing, Communities and Local Government", PSI),
        ("population_mid2020_lsoa11_children_0_17.csv", rows_where("LSOA11CD", lsoas.__contains__),
         "Population estimates, mid-2020, by single year of age, LSOA 2011", "Office for National Statistics", PSI),
        ("lookup_lsoa11_ward19_lad19.csv", rows_where("LAD19CD", in_croydon),  # the demo generator's ward names
         "LSOA (2011) to Ward (2019) to LAD (2019) lookup (best fit)", "Office for National Statistics", ONS),
        ("lookup_lsoa21_ward24_lad24.csv", rows_where("LAD24CD", in_croydon),
         "LSOA (2021) to Ward (2024) to LAD (2024) lookup (best fit)", "Office for National Statistics", ONS),
        ("lookup_lsoa11_lsoa21_lad22_exact_fit.csv", rows_where("LAD22CD", in_croydon),
         "LSOA (2011) to LSOA (2021) to LAD (2022) exact fit lookup", "Office for National Statistics", ONS),
        ("lookup_lsoa11_lsoa21_lad22_best_fit.csv", rows_where("LAD22CD", in_croydon),
         "LSOA (2011) to LSOA (2021) to LAD (2022) best fit lookup", "Office for National Statistics", ONS),
        ("wards_may2024_england.geojson", croydon_wards,
         "Wards (May 2024) Boundaries UK BSC", "Office for National Statistics", f"{ONS} {OS}"),
        ("lsoa21_boundaries_england.geojson", croydon_lsoa21_boundaries(data_dir),
         "LSOA (December 2021) Boundaries EW BSC (V4)", "Office for National Statistics", f"{ONS} {OS21}"),
    ]
    out.mkdir(parents=True, exist_ok=True)
    said = []
    for name, cut, title, publisher, attribution in files:
        data = (data_dir / name).read_bytes()
        kept, read, rows = cut(data)
        (out / name).write_bytes(kept)
        said.append({"file": name, "title": title, "publisher": publisher, "attribution": attribution,
                     "sha256": hashlib.sha256(data).hexdigest(), "read": f"{read:,}", "kept": f"{rows:,}"})
    (out / "README.md").write_text(readme(said), encoding="utf-8")
    return said


def readme(said: list[dict[str, str]]) -> str:
    """demo/reference/README.md: what each file is, where it came from, under which licence."""
    lines = [
        "# Reference rows for the demo council (Croydon, E09000008)",
        "",
        "Made by `demo/make_reference_bundle.py` from the official national files (see `../shared/data/README.md`",
        "and the declarations in `indicators/` and `boundaries/` for each file's publisher page). Each file keeps the",
        "official name, header and rows, restricted to Croydon. ehmap reads this folder only when `EHMAP_DATA_DIR` is",
        f"not set, and only for Croydon. All files: {OGL}.",
        "",
        "| file | source | rows kept of | SHA-256 of the official file |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s['file']}` | {s['title']} ({s['publisher']}) | {s['kept']} of {s['read']} | `{s['sha256']}` |"
              for s in said]
    lines += ["", "## Attribution", ""]
    lines += sorted({f"- {s['attribution']}" for s in said})
    return "\n".join(lines) + "\n"


def main() -> int:
    folder = os.environ.get("EHMAP_DATA_DIR")
    if not folder or not Path(folder).is_dir():
        print("Set EHMAP_DATA_DIR to the folder of official reference files.", file=sys.stderr)
        return 2
    said = bundle(Path(folder))
    for s in said:
        print(f"{s['file']}: {s['kept']} of {s['read']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
