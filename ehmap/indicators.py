"""Indicator tables (population denominators, deprivation, lookups) read from where they are kept.

What each source is and which columns it holds is declared in `indicators/`; this module finds the
file (the data folder `EHMAP_DATA_DIR`, else the cache of uploaded and downloaded sources), reads
the declared columns by header, checks the required ones, and renames them to their ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ehmap.catalogue import IndicatorSource, ReferenceFile, indicator_source
from ehmap.config import DEMO_REFERENCE_COUNCIL, cache_dir, data_dir, demo_reference_dir

AREA_KEYS = {"lsoa11": "lsoa11cd", "lsoa21": "lsoa21cd"}
SOURCES_SUBDIR = "sources"  # uploaded and downloaded reference files, inside the cache folder
FROM_DATA_DIR = "data folder (EHMAP_DATA_DIR)"
FROM_CACHE = "uploaded or downloaded copy"
FROM_DEMO = "built-in demo rows (Croydon only)"
ADD_IT = "an admin can add it on the Data sources page"  # how a missing reference file is added, in the app

log = logging.getLogger(__name__)


class SourceMissing(LookupError):
    """An indicator file is not available; the message names the file and how to add it, never a server path
    (pages show it). The folder looked in, if any, is `folder`, for logs and the command line."""

    def __init__(self, message: str, folder: Path | None = None) -> None:
        super().__init__(message)
        self.folder = folder


def _missing(source: ReferenceFile, where: str, folder: Path | None) -> SourceMissing:
    """The SourceMissing for a source's absent file: what is missing, where it was not found (no path), how to add
    it and who publishes it; the folder looked in is logged (not shown)."""
    log.debug("%s: %s is not in %s", source.id, source.file, folder or "any folder")
    return SourceMissing(
        f"{source.title} is not loaded: {source.file} is {where}; {ADD_IT} "
        f"(published by {source.publisher} at {source.url}).",
        folder,
    )


@dataclass(frozen=True)
class Located:
    """Where a source's file was found and how it got there."""

    path: Path
    origin: str  # FROM_DATA_DIR, FROM_CACHE or FROM_DEMO


def sources_dir() -> Path:
    """The folder holding reference files that were uploaded or downloaded (inside the cache)."""
    path = cache_dir() / SOURCES_SUBDIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def locate(source: ReferenceFile, folder: Path | None = None) -> Located:
    """Find a source's file: an explicit folder only, else the data folder, then uploads and downloads, then (no
    data folder set) the demo council's rows."""
    if folder is not None:
        path = folder / source.file
        if not path.exists():
            raise _missing(source, "not in the folder given", folder)
        return Located(path, FROM_DATA_DIR)
    configured = data_dir()
    if configured is not None and (configured / source.file).exists():
        return Located(configured / source.file, FROM_DATA_DIR)
    cached = sources_dir() / source.file
    if cached.exists():
        return Located(cached, FROM_CACHE)
    demo = demo_reference_dir()
    if demo is not None and (demo / source.file).exists():
        return Located(demo / source.file, FROM_DEMO)
    if configured is None:
        raise _missing(source, "not added yet and no data folder is set (EHMAP_DATA_DIR)", None)
    raise _missing(source, "neither in the data folder (EHMAP_DATA_DIR) nor added yet", configured)


def demo_rows_only(source: IndicatorSource, la_code: str) -> str | None:
    """Why a source read from the demo council's built-in rows cannot serve another council; None when it can
    (another copy is in use, the council is the demo's, or the file is missing, which says so itself)."""
    if la_code == DEMO_REFERENCE_COUNCIL:
        return None
    try:
        if locate(source).origin != FROM_DEMO:
            return None
    except SourceMissing:
        return None
    return (f"{source.title} is not loaded for this council: the built-in rows cover the demo council (Croydon) "
            f"only; put {source.file} in the data folder (EHMAP_DATA_DIR), fetch it with "
            f"`python -m ehmap reference fetch`, or {ADD_IT} (published by {source.publisher} at {source.url}).")


def source_path(source: IndicatorSource, folder: Path | None = None) -> Path:
    """Where the source's file is; raises SourceMissing with how to provide it."""
    return locate(source, folder).path


def missing_required(source: IndicatorSource, header: list[str] | pd.Index) -> list[str]:
    """The required headers (key and required columns) that a file's header lacks."""
    present = set(header)
    return [column for column in source.required_headers() if column not in present]


def read_source(source: IndicatorSource, path: Path) -> pd.DataFrame:
    """The declared columns present in `path`, renamed to their ids and the key to the area code.

    A missing required column raises ValueError naming it; optional columns may be absent.
    """
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    missing = missing_required(source, header)
    if missing:
        raise ValueError(f"{path.name} lacks the column(s) {missing} that indicators/{source.id}.yaml declares.")
    present = {source.header_of(c): c for c in source.columns if source.header_of(c) in set(header)}
    table = pd.read_csv(
        path, usecols=[source.key_column, *present], dtype={source.key_column: "string"}, encoding="utf-8-sig"
    )
    ordered = [source.key_column, *(source.header_of(c) for c in source.columns if source.header_of(c) in present)]
    return table[ordered].rename(columns={source.key_column: AREA_KEYS[source.geography], **present})


def read_indicator(source_id: str, folder: Path | None = None) -> pd.DataFrame:
    """The declared columns of an indicator file, keyed by area code (e.g. `lsoa11cd`)."""
    source = indicator_source(source_id)
    return read_source(source, source_path(source, folder))


def child_population(folder: Path | None = None) -> pd.DataFrame:
    """Children aged 0-17 per LSOA 2011 (ONS mid-2020): `lsoa11cd`, `children`, `all_ages`."""
    table = read_indicator("population_mid2020", folder)
    return table.rename(columns={"age_0_17": "children"})


def deprivation(source_id: str, folder: Path | None = None) -> pd.DataFrame:
    """An Indices of Deprivation table keyed by its own LSOA vintage, one row per LSOA (checked)."""
    table = read_indicator(source_id, folder)
    key = table.columns[0]
    duplicated = table[key][table[key].duplicated()]
    if len(duplicated):
        raise ValueError(f"indicators/{source_id}: the file repeats LSOA code(s) {sorted(duplicated.unique())[:5]}.")
    return table
