"""LSOA 2021: a council's areas as the ONS and the Indices of Deprivation 2025 draw them, with IoD2025 on its own
areas (no carrying between vintages) and each area's ward (May 2024).

A council's LSOAs 2021 and their wards are its rows of the ONS LSOA (2021) to ward (2024) lookup (found through
the LSOAs 2011 of the council list ehmap already uses). Boundaries come from the declared set `boundaries/lsoa21.yaml` in the data folder, converted once to GeoParquet.
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import shapely

from ehmap.cache import atomic_write
from ehmap.catalogue import boundary_set, indicator_source
from ehmap.config import cache_dir, reference_folder
from ehmap.geography import WORKING_CRS, content_hash, council_lsoas
from ehmap.indicators import SourceMissing, deprivation, read_indicator

BOUNDARY_SET = "lsoa21"
EXACT_FIT = "lookup_lsoa11_lsoa21"
WARD_LOOKUP = "lookup_lsoa21_ward24"


class Lsoa21Missing(LookupError):
    """A file LSOA 2021 views need is not loaded; the message names it and how to add it (never a path)."""


@functools.lru_cache(maxsize=2)
def _boundaries_cached(path: Path, digest: str) -> gpd.GeoDataFrame:
    cached = cache_dir() / f"lsoa21_{digest}.parquet"
    if cached.exists():
        return gpd.read_parquet(cached)
    definition = boundary_set(BOUNDARY_SET)
    raw = gpd.read_file(path, columns=[definition.code_column, definition.name_column])
    if raw.crs is None:
        raise ValueError(f"{path.name} declares no CRS; expected {definition.crs}.")  # the file's name, never its path
    areas = raw.rename(columns={definition.code_column: "lsoa21cd", definition.name_column: "lsoa21nm"})
    areas = areas.to_crs(WORKING_CRS).sort_values("lsoa21cd", ignore_index=True)
    areas["geometry"] = shapely.make_valid(areas.geometry.values)
    atomic_write(cached, lambda tmp: areas.to_parquet(tmp, index=False))
    return areas


def lsoa21_boundaries(folder: Path | None = None) -> gpd.GeoDataFrame:
    """LSOA 2021 polygons in EPSG:27700 (`lsoa21cd`, `lsoa21nm`, geometry); raises Lsoa21Missing without the file."""
    definition = boundary_set(BOUNDARY_SET)
    folder = folder or reference_folder()
    path = folder / definition.source_resource if folder else None
    if path is None or not path.exists():
        raise Lsoa21Missing(f"LSOA 2021 maps need the ONS {definition.title}: put {definition.source_resource} in the "
                            f"folder EHMAP_DATA_DIR names (published at {definition.url}).")
    return _boundaries_cached(path, content_hash(path))


def council_lsoa21_codes(la_code: str, folder: Path | None = None) -> list[str]:
    """The council's LSOA 2021 codes, as the ONS LSOA (2021) to ward (2024) lookup gives its council's.

    The council's 2024 code is the one most of the LSOAs 2021 linked to its LSOAs 2011 (exact-fit lookup) carry,
    so councils the ONS re-coded (Barnsley, Sheffield) are found, and LSOAs that moved council in 2021 follow."""
    lsoa11 = set(council_lsoas(la_code)["lsoa11cd"].astype(str))
    try:
        lookup = read_indicator(EXACT_FIT, folder).astype({"lsoa11cd": str, "lsoa21cd": str})
        wards = read_indicator(WARD_LOOKUP, folder).astype(str)
    except SourceMissing as missing:
        raise Lsoa21Missing(str(missing)) from None
    linked = wards[wards["lsoa21cd"].isin(set(lookup.loc[lookup["lsoa11cd"].isin(lsoa11), "lsoa21cd"]))]
    if linked.empty:
        raise Lsoa21Missing(f"The ONS lookups read hold none of this council's LSOAs: put the national "
                            f"{indicator_source(EXACT_FIT).file} and {indicator_source(WARD_LOOKUP).file} in the "
                            "folder EHMAP_DATA_DIR names.")
    council = linked["lad_code"].mode().iloc[0]
    return sorted(wards.loc[wards["lad_code"] == council, "lsoa21cd"])


def council_lsoa21s(la_code: str, folder: Path | None = None) -> gpd.GeoDataFrame:
    """The council's LSOA 2021 polygons (EPSG:27700) with names and wards (May 2024): `lsoa21cd`, `lsoa21nm`,
    geometry, `ward_code`, `ward_name`."""
    codes = council_lsoa21_codes(la_code, folder)
    areas = lsoa21_boundaries(folder)
    areas = areas[areas["lsoa21cd"].isin(codes)].reset_index(drop=True)
    absent = sorted(set(codes) - set(areas["lsoa21cd"]))
    if absent:
        raise Lsoa21Missing(f"The LSOA 2021 boundaries read lack {len(absent)} of this council's LSOAs (e.g. "
                            f"{absent[0]}): put the national {boundary_set(BOUNDARY_SET).source_resource} in the "
                            "folder EHMAP_DATA_DIR names.")
    wards = read_indicator(WARD_LOOKUP, folder)[["lsoa21cd", "ward_code", "ward_name"]].astype(str)
    return areas.merge(wards, on="lsoa21cd", how="left", validate="one_to_one")


def indicator_on_lsoa21(la_code: str, source_id: str, folder: Path | None = None) -> gpd.GeoDataFrame:
    """An LSOA 2021 index (IoD2025) on the council's LSOAs 2021, joined by code as published: the areas of
    `council_lsoa21s` with the source's columns (by id)."""
    source = indicator_source(source_id)
    if source.geography != "lsoa21":
        raise ValueError(f"'{source.id}' is published on {source.geography}, not LSOA 2021.")
    values = deprivation(source_id, folder).astype({"lsoa21cd": str})
    return council_lsoa21s(la_code, folder).merge(values, on="lsoa21cd", how="left", validate="one_to_one")
