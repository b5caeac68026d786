"""Released output outside the app: the release of an ingested export, fixed periods and released files.

A released CSV keeps the team table's columns; cells a release does not publish are the GSS symbols (`c` for a
hidden count, `x` for a value not released), and the method is written beside it as `FILE.release.txt`. What
cannot be released safely is refused with one line naming what to use instead.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ehmap.areas import AreaSet, area_set
from ehmap.ingest import IngestResult
from ehmap.release.gate import GEOGRAPHY_TITLES, Release, ReleaseInputs, build_release
from ehmap.release.protect import NOT_AVAILABLE
from ehmap.safe_output import write_csv

SIDECAR_SUFFIX = ".release.txt"


class ReleaseRefused(ValueError):
    """A release that cannot be made safely; the message says why and what to use instead, in one line."""


def imd_deciles() -> pd.Series | None:
    """National IMD decile (IoD2019) per LSOA 2011, or None when the file is not loaded."""
    from ehmap.context import load_on_lsoa11
    from ehmap.indicators import SourceMissing

    try:
        values = load_on_lsoa11("iod2019").values
    except (SourceMissing, ValueError):
        return None
    return values.set_index("lsoa11cd")["imd_decile"] if "imd_decile" in values else None


def release_of(result: IngestResult, localities: AreaSet | None = None) -> Release:
    """The protected release of an ingested export: on LSOAs, wards (when the lookup is there) and localities."""
    geographies = {"lsoa11": area_set("lsoa11", result.la_code)}
    try:
        geographies["ward"] = area_set("ward", result.la_code)
    except FileNotFoundError:
        pass
    if localities is not None:
        geographies["custom"] = localities
    return build_release(ReleaseInputs(result.cases, result.la_code, geographies, imd_deciles()))


def period_key(release: Release, wanted: str | None) -> str:
    """A fixed period of the release: `wanted` ('2024-25' or 'all'), else the latest financial year."""
    keys = [p.key for p in release.periods]
    if wanted is None:
        return release.calendar.years[-1].key
    if wanted not in keys:
        raise ReleaseRefused(f"'{wanted}' is not a period this release can show; choose one of {keys} "
                             "(financial years April to March, or all years).")
    return wanted


def check_geography(release: Release, need: str | None, wanted: str | None) -> None:
    """Refuse a released table on any geography but the one the release shows the need on."""
    kind = release.geography[need or "all"]
    if wanted is None or wanted == kind:
        return
    asked = GEOGRAPHY_TITLES.get(wanted, str(wanted))
    option = {"custom": "your locality file"}.get(kind, kind)
    raise ReleaseRefused(f"{release.geography_sentence(need)[:-1]}, so it cannot be released by {asked}; "
                         f"use --geography {option}.")


def released_columns(team_columns: list[str], released: pd.DataFrame) -> pd.DataFrame:
    """The team table's columns in order, filled from the released table; the rest, and any blank, 'x'."""
    out = pd.DataFrame(index=released.index)
    for column in team_columns:
        out[column] = released[column].astype(object).where(released[column].notna(), NOT_AVAILABLE) \
            if column in released else NOT_AVAILABLE
    return out


def write_released(table: pd.DataFrame, out: Path, method: str) -> Path:
    """Write a released table (formula-safe CSV) and its method beside it; returns the method file's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, out)
    sidecar = out.with_name(out.name + SIDECAR_SUFFIX)
    sidecar.write_text(method + "\n", encoding="utf-8")
    return sidecar
