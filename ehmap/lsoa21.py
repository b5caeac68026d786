"""LSOA 2021: a council's areas as the ONS and the Indices of Deprivation 2025 draw them, with IoD2025 on its own
areas (no carrying between vintages), each area's ward (May 2024), postcodes placed in them, and children on them.

Postcodes are placed by point-in-polygon in EPSG:27700 on the council's own LSOAs 2021 (a point on no polygon of the
council, on a coast or an edge, goes to the nearest), so each lands in exactly one. The boundaries are the ONS
super-generalised ones: a postcode within about 200 m of an LSOA edge can land in the neighbouring LSOA.

A council's LSOAs 2021 and their wards are its rows of the ONS LSOA (2021) to ward (2024) lookup (found through
the LSOAs 2011 of the council list ehmap already uses). Boundaries come from the declared set `boundaries/lsoa21.yaml` in the data folder, converted once to GeoParquet.
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ehmap.cache import atomic_write
from ehmap.catalogue import boundary_set, indicator_source
from ehmap.config import cache_dir
from ehmap.geography import WORKING_CRS, content_hash, council_lsoas
from ehmap.indicators import SourceMissing, deprivation, locate, read_indicator

BOUNDARY_SET = "lsoa21"
EXACT_FIT = "lookup_lsoa11_lsoa21"
WARD_LOOKUP = "lookup_lsoa21_ward24"
PLACEMENT_NOTE = ("Cases are placed in LSOAs 2021 by their postcode's grid reference on the ONS super-generalised "
                  "boundaries, which can misplace a postcode within about 200 m of an LSOA edge.")
POPULATION = "population_mid2020"  # its declaration says how its children are carried onto LSOA 2021


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
    try:
        path = locate(boundary_set(BOUNDARY_SET), folder).path
    except SourceMissing as missing:
        raise Lsoa21Missing(f"LSOA 2021 maps need the ONS boundaries. {missing}") from None
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


def indicator_on_lsoa21(la_code: str, source_id: str, folder: Path | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """An index on the council's LSOAs 2021 (the areas of `council_lsoa21s` with the source's columns, by id) and a
    sentence saying how: an LSOA 2021 index (IoD2025) joined by code as published; an LSOA 2011 index (IoD2019)
    carried forward through the ONS exact-fit lookup (`ehmap.vintages.carry_to_lsoa21`)."""
    from ehmap.vintages import carry_to_lsoa21

    source = indicator_source(source_id)
    values = deprivation(source_id, folder)
    if source.geography == "lsoa21":
        note = (f"{source.title} is published on LSOA 2021: these are the published values on the published areas, "
                "with nothing carried between vintages.")
    else:
        carried = carry_to_lsoa21(values, source, read_indicator(EXACT_FIT, folder))
        values, note = carried.values.drop(columns=["change", "parts"]), carried.method_note()
    areas = council_lsoa21s(la_code, folder).merge(values.astype({"lsoa21cd": str}), on="lsoa21cd", how="left",
                                                   validate="one_to_one")
    return areas, note


def _placement_stamp(folder: Path | None) -> tuple:
    """What council polygons are built from (file, size and modification time of each): the cache key."""
    paths = []
    for source in (boundary_set(BOUNDARY_SET), indicator_source(EXACT_FIT), indicator_source(WARD_LOOKUP)):
        try:
            paths.append(locate(source, folder).path)
        except SourceMissing:
            pass
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.exists())


@functools.lru_cache(maxsize=8)
def _council_tree(la_code: str, folder: Path | None, stamp: tuple) -> tuple[np.ndarray, shapely.STRtree]:
    areas = council_lsoa21s(la_code, folder)
    return areas["lsoa21cd"].to_numpy(dtype=object), shapely.STRtree(areas.geometry.values)


def place_on_lsoa21(easting: np.ndarray, northing: np.ndarray, la_code: str, folder: Path | None = None) -> pd.Series:
    """Each point's LSOA 2021 among the council's (<NA> where the point has no grid reference): the one containing
    it, the first by code on a shared edge, else the nearest. Raises Lsoa21Missing without the files."""
    codes, tree = _council_tree(la_code, folder, _placement_stamp(folder))
    placed = pd.Series(pd.NA, index=range(len(easting)), dtype="string")
    known = np.flatnonzero(~(np.isnan(easting) | np.isnan(northing)))
    points = shapely.points(easting[known], northing[known])
    point, polygon = tree.query(points, predicate="intersects")
    order = np.lexsort((codes[polygon], point))  # per point, its polygons by code: keep the first
    point, polygon = point[order], polygon[order]
    first = np.r_[True, point[1:] != point[:-1]] if len(point) else np.array([], dtype=bool)
    chosen = np.full(len(known), -1)
    chosen[point[first]] = polygon[first]
    outside = np.flatnonzero(chosen < 0)
    if len(outside):
        nearest_point, nearest_polygon = tree.query_nearest(points[outside], all_matches=False)
        chosen[outside[nearest_point]] = nearest_polygon
    placed.iloc[known] = codes[chosen]
    return placed


def lsoa21_of_postcodes(easting: np.ndarray, northing: np.ndarray, in_council: np.ndarray, la_code: str) -> pd.Series:
    """The LSOA 2021 of each postcode in the council (<NA> for the others, and for all when the LSOA 2021 files are
    not loaded, so ingest never fails for want of them)."""
    placed = pd.Series(pd.NA, index=range(len(easting)), dtype="string")
    inside = np.flatnonzero(in_council)
    if not len(inside):
        return placed
    try:
        placed.iloc[inside] = place_on_lsoa21(easting[inside], northing[inside], la_code).to_numpy()
    except Lsoa21Missing:
        pass
    return placed


def children_note() -> str:
    """The note every rate on LSOA 2021 carries: how its children were carried there (declared with the source)."""
    return indicator_source(POPULATION).carried_to[BOUNDARY_SET].note


def population_sources(geography: str) -> tuple[str, ...]:
    """The reference files behind children on `geography`: the population estimates, and for LSOA 2021 the lookup
    they are carried through (for the page's 'Reference files used' line)."""
    if geography != BOUNDARY_SET:
        return (POPULATION,)
    return POPULATION, indicator_source(POPULATION).carried_to[BOUNDARY_SET].through


def children_on_lsoa21(population: pd.DataFrame, lookup: pd.DataFrame) -> pd.DataFrame:
    """Children per LSOA 2021 (`lsoa21cd`, `children`) from children per LSOA 2011 (`lsoa11cd`, `children`) through
    the exact-fit lookup (`lsoa11cd`, `lsoa21cd`) by the declared rule, equal shares (`children_note`): each LSOA
    2011 shares its children equally between its LSOAs 2021."""
    pairs = lookup[["lsoa11cd", "lsoa21cd"]].astype(str).drop_duplicates()
    parts = pairs.groupby("lsoa11cd")["lsoa21cd"].transform("size")
    children = pairs["lsoa11cd"].map(population.astype({"lsoa11cd": str}).set_index("lsoa11cd")["children"])
    shares = pd.DataFrame({"lsoa21cd": pairs["lsoa21cd"], "children": children / parts}).dropna()
    return shares.groupby("lsoa21cd", as_index=False)["children"].sum()


def children_on(geography: str, population: pd.DataFrame, folder: Path | None = None) -> pd.DataFrame:
    """Children on the areas episodes are counted by: `population` (per LSOA 2011) as it is, or carried onto LSOA
    2021 through the lookup `indicators/population_mid2020.yaml` declares (`children_on_lsoa21`)."""
    if geography != BOUNDARY_SET:
        return population
    carried = indicator_source(POPULATION).carried_to[BOUNDARY_SET]
    return children_on_lsoa21(population, read_indicator(carried.through, folder))
