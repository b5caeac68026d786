"""Indicator tables (population denominators, deprivation) read from the configured data folder.

What each source is and which columns it holds is declared in `indicators/`; this module finds the
file, reads just the declared columns, checks them, and renames the key to the area code.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ehmap.catalogue import IndicatorSource, indicator_source
from ehmap.config import data_dir

AREA_KEYS = {"lsoa11": "lsoa11cd", "lsoa21": "lsoa21cd"}


class SourceMissing(LookupError):
    """An indicator file is not available; the message says how to add it."""


def source_path(source: IndicatorSource, folder: Path | None = None) -> Path:
    """Where the source's file is expected; raises SourceMissing with how to provide it."""
    folder = folder or data_dir()
    if folder is None:
        raise SourceMissing(
            f"{source.title} is not loaded: set EHMAP_DATA_DIR to a folder holding {source.file} "
            f"(published by {source.publisher} at {source.url})."
        )
    path = folder / source.file
    if not path.exists():
        raise SourceMissing(f"{source.title} is not loaded: {source.file} is not in {folder} (get it from {source.url}).")
    return path


def read_indicator(source_id: str, folder: Path | None = None) -> pd.DataFrame:
    """The declared columns of an indicator file, keyed by area code (e.g. `lsoa11cd`)."""
    source = indicator_source(source_id)
    path = source_path(source, folder)
    header = pd.read_csv(path, nrows=0).columns
    wanted = [source.key_column, *source.columns]
    missing = [column for column in wanted if column not in header]
    if missing:
        raise ValueError(f"{path.name} lacks the column(s) {missing} that indicators/{source.id}.yaml declares.")
    table = pd.read_csv(path, usecols=wanted, dtype={source.key_column: "string"})
    return table.rename(columns={source.key_column: AREA_KEYS[source.geography]})


def child_population(folder: Path | None = None) -> pd.DataFrame:
    """Children aged 0-17 per LSOA 2011 (ONS mid-2020): `lsoa11cd`, `children`, `all_ages`."""
    table = read_indicator("population_mid2020", folder)
    return table.rename(columns={"age_0_17": "children"})
