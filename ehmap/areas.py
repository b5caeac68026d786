"""Geographies to count cases in: LSOA 2011, electoral wards, and a council's own localities.

Cases keep only their LSOA 2011, so every geography is an assignment of the council's LSOAs to
areas, plus polygons (EPSG:27700) to draw and to find neighbours with:

- **lsoa11**: each LSOA is its own area.
- **ward**: each LSOA goes to its ward in the ONS LSOA (2011) to Ward (2019) best-fit lookup,
  joined on the LSOA code (the lookup's council is LAD 2019, so the council's LSOAs come from
  `ehmap.geography.council_lsoas`). Wards are drawn with the ONS ward boundaries (`boundaries/
  wards_dec2022.yaml`) when every ward code is in that file, otherwise as the union of their LSOAs.
- **custom localities** (an uploaded GeoJSON, GeoPackage or zipped Shapefile): each LSOA goes
  wholly to the locality that covers the largest share of its area (`LOCALITY_RULE`).
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ehmap import limits
from ehmap.cache import atomic_write
from ehmap.catalogue import boundary_set
from ehmap.config import cache_dir, reference_folder
from ehmap.geography import WORKING_CRS, content_hash, council_lsoas
from ehmap.text import file_label, one_line

WARD_LOOKUP_FILE = "lookup_lsoa11_ward19_lad19.csv"
WARD_LOOKUP_TITLE = "ONS LSOA (2011) to Ward (2019) to LAD (2019) lookup (best fit)"
WARD_BOUNDARY_SET = "wards_dec2022"
WARD_BOUNDARY_FALLBACK = "wards_dec2022_bsc_5la.geojson"  # the five pilot councils, same source
LOCALITY_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
LSOA_RULE = "Each case counts in the LSOA (2011) of its postcode."
WARD_RULE = (
    "Each case counts in the ward its LSOA (2011) belongs to in the ONS LSOA-to-ward (2019) best-fit lookup; "
    "an LSOA that straddles a ward boundary goes wholly to one ward."
)
LOCALITY_RULE = (
    "Each case counts in the locality that covers the largest share of its LSOA's area (cases keep only their "
    "LSOA, never a point location); LSOAs that no locality overlaps are counted as outside the localities."
)


class LocalityFileError(ValueError):
    """An uploaded locality file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class AreaSet:
    """A council's areas for one geography: polygons and the LSOA -> area assignment."""

    kind: str  # "lsoa11", "ward" or "custom"
    title: str  # e.g. "Electoral ward (2019)"
    areas: gpd.GeoDataFrame  # code, name, geometry (EPSG:27700), one row per area, sorted by code
    lsoa_to_area: pd.Series  # index lsoa11cd (every LSOA of the council) -> area code, <NA> = none
    rule: str  # how cases are assigned, in plain English
    source_note: str  # where the polygons come from

    @property
    def unassigned_lsoas(self) -> list[str]:
        """Council LSOAs that count towards no area."""
        return sorted(self.lsoa_to_area.index[self.lsoa_to_area.isna()])

    def lsoa_table(self, prefix: str) -> pd.DataFrame:
        """Each LSOA 2011 of the council (index lsoa11cd) with its area's code and name as `<prefix>_code` and
        `<prefix>_name` (<NA> where none), e.g. prefix 'ward'."""
        return pd.DataFrame({f"{prefix}_code": self.lsoa_to_area, f"{prefix}_name": self.area_names()})

    def area_names(self) -> pd.Series:
        """LSOA 2011 code -> the name of its area (<NA> where none), e.g. the localities services are compared by."""
        return self.lsoa_to_area.map(self.areas.set_index("code")["name"])


def lsoa_area_set(la_code: str) -> AreaSet:
    """The council's LSOAs as areas."""
    lsoas = council_lsoas(la_code)
    areas = gpd.GeoDataFrame(
        {"code": lsoas["lsoa11cd"].astype(str), "name": lsoas["lsoa11nm"].astype(str)}, geometry=lsoas.geometry.values,
        crs=WORKING_CRS,
    ).sort_values("code", ignore_index=True)
    mapping = pd.Series(areas["code"].to_numpy(), index=pd.Index(areas["code"], name="lsoa11cd"), dtype="string")
    return AreaSet("lsoa11", "LSOA (2011)", areas, mapping, LSOA_RULE, "ONS LSOA (Dec 2011) super-generalised boundaries")


def ward_lookup(folder: Path | None = None) -> pd.DataFrame:
    """The ONS LSOA11 -> ward 2019 lookup: `lsoa11cd`, `ward_code`, `ward_name`."""
    folder = folder or reference_folder()
    path = folder / WARD_LOOKUP_FILE if folder else None
    if path is None or not path.exists():
        raise FileNotFoundError(
            f"Wards need the {WARD_LOOKUP_TITLE}: put {WARD_LOOKUP_FILE} in the folder EHMAP_DATA_DIR names "
            "(ONS Open Geography Portal)."
        )
    table = pd.read_csv(path, usecols=["LSOA11CD", "WD19CD", "WD19NM"], dtype="string")
    return table.rename(columns={"LSOA11CD": "lsoa11cd", "WD19CD": "ward_code", "WD19NM": "ward_name"})


@functools.lru_cache(maxsize=2)
def _ward_boundaries_cached(path: Path, digest: str) -> gpd.GeoDataFrame:
    cached = cache_dir() / f"wards_{digest}.parquet"
    if cached.exists():
        return gpd.read_parquet(cached)
    definition = boundary_set(WARD_BOUNDARY_SET)
    raw = gpd.read_file(path, columns=[definition.code_column, definition.name_column])
    if raw.crs is None:
        raise ValueError(f"{path.name} declares no CRS; expected {definition.crs}.")  # the file's name, never its path
    wards = raw.rename(columns={definition.code_column: "code", definition.name_column: "name"}).to_crs(WORKING_CRS)
    wards["geometry"] = shapely.make_valid(wards.geometry.values)
    atomic_write(cached, lambda tmp: wards.to_parquet(tmp, index=False))
    return wards


def ward_boundaries(folder: Path | None = None) -> gpd.GeoDataFrame | None:
    """ONS ward (Dec 2022) polygons in EPSG:27700 (`code`, `name`), or None when no file is present."""
    folder = folder or reference_folder()
    if folder is None:
        return None
    for name in (boundary_set(WARD_BOUNDARY_SET).source_resource, WARD_BOUNDARY_FALLBACK):
        if (folder / name).exists():
            return _ward_boundaries_cached(folder / name, content_hash(folder / name))
    return None


def ward_area_set(la_code: str, folder: Path | None = None) -> AreaSet:
    """The council's electoral wards, aggregated from its LSOAs through the ONS lookup."""
    lsoas = council_lsoas(la_code)[["lsoa11cd", "geometry"]]
    lookup = ward_lookup(folder)
    joined = lsoas.merge(lookup, on="lsoa11cd", how="left", validate="one_to_one")
    if joined["ward_code"].isna().all():  # e.g. the demo council's built-in rows, asked for another council
        raise FileNotFoundError(
            f"Wards need the {WARD_LOOKUP_TITLE} for this council: the file read holds none of its LSOAs; put the "
            f"national {WARD_LOOKUP_FILE} in the folder EHMAP_DATA_DIR names (ONS Open Geography Portal)."
        )
    mapping = pd.Series(joined["ward_code"].to_numpy(), index=pd.Index(joined["lsoa11cd"].astype(str), name="lsoa11cd"), dtype="string")
    names = joined.dropna(subset=["ward_code"]).groupby("ward_code")["ward_name"].first()
    dissolved = joined.dropna(subset=["ward_code"]).dissolve(by="ward_code").geometry
    boundaries = ward_boundaries(folder)
    if boundaries is not None and set(names.index) <= set(boundaries["code"]):
        drawn = boundaries[boundaries["code"].isin(set(names.index))].dissolve(by="code").geometry.reindex(names.index)
        note = f"ONS Wards (December 2022) boundaries ({boundary_set(WARD_BOUNDARY_SET).title})"
    else:
        drawn = dissolved.reindex(names.index)
        note = "Wards drawn as the union of their LSOAs (no ward boundary file holds every 2019 ward code of this council)"
    areas = gpd.GeoDataFrame(
        {"code": names.index.astype(str), "name": names.to_numpy().astype(str)}, geometry=drawn.to_numpy(), crs=WORKING_CRS
    ).sort_values("code", ignore_index=True)
    return AreaSet("ward", "Electoral ward (2019)", areas, mapping, WARD_RULE, note)


_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_POLYGON_SHAPES = {5, 15, 25}  # Polygon, PolygonZ, PolygonM in a .shp
_BRACKETS_ONLY = bytes(c for c in range(256) if c not in b"[]{}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_GEOJSON_FEATURE = re.compile(rb'"type"\s*:\s*"Feature"')
_SPACE = b" \t\r\n"


def _json_depth(skeleton: bytes) -> int:
    """The deepest nesting of objects and arrays, from the brackets outside strings, in chunks."""
    depth = deepest = 0
    for offset in range(0, len(skeleton), 1 << 22):
        chunk = np.frombuffer(skeleton, dtype=np.uint8, count=min(1 << 22, len(skeleton) - offset), offset=offset)
        levels = np.cumsum(np.where((chunk == ord("[")) | (chunk == ord("{")), 1, -1).astype(np.int32)) + depth
        if len(levels):
            deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def _refuse_too_many(label: str, features: int, vertices: int) -> None:
    """Refuse more features or polygon vertices than `ehmap.limits` allows."""
    if features > limits.MAX_LOCALITY_FEATURES:
        raise LocalityFileError(f"'{label}' has {features:,} features; the limit is {limits.MAX_LOCALITY_FEATURES:,} "
                                "localities.")
    if vertices > limits.MAX_LOCALITY_VERTICES:
        raise LocalityFileError(f"'{label}' has {vertices:,} vertices; the limit is {limits.MAX_LOCALITY_VERTICES:,} "
                                "(simplify the boundaries, or use ONS's generalised ones).")


def _check_geojson(data: bytes, label: str) -> None:
    """GeoJSON checked from its bytes before GDAL parses it: an object, not too deep, not too many features or
    vertices (each coordinate pair is a '[' followed by a number)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not body.lstrip(_SPACE).startswith(b"{"):
        raise LocalityFileError(f"'{label}' is not GeoJSON: a GeoJSON file is one JSON object, starting with '{{'.")
    outside_strings = _JSON_STRING.sub(b'""', body)
    depth = _json_depth(outside_strings.translate(None, _BRACKETS_ONLY))
    if depth > limits.MAX_GEOJSON_DEPTH:
        raise LocalityFileError(f"'{label}' nests its objects and arrays {depth:,} deep; GeoJSON needs at most 9 and "
                                f"over {limits.MAX_GEOJSON_DEPTH} is refused.")
    compact = outside_strings.translate(None, _SPACE)
    vertices = compact.count(b"[-") + sum(compact.count(b"[" + bytes([digit])) for digit in b"0123456789.")
    _refuse_too_many(label, len(_GEOJSON_FEATURE.findall(body)), vertices)


def _shapefile_counts(shp: bytes) -> tuple[int, int]:
    """(records, polygon vertices) of a .shp, read from its record headers (each record gives its point count)."""
    records = vertices = 0
    offset = 100
    while offset + 8 <= len(shp) and records <= limits.MAX_LOCALITY_FEATURES:
        (length,) = struct.unpack_from(">i", shp, offset + 4)
        records += 1
        if offset + 8 + 44 <= len(shp):
            shape, points = struct.unpack_from("<i", shp, offset + 8)[0], struct.unpack_from("<i", shp, offset + 48)[0]
            if shape in _POLYGON_SHAPES:
                vertices += max(points, 0)
        offset += 8 + 2 * max(length, 0)
    return records, vertices


def _shapefile_zip(data: bytes, label: str) -> bytes:
    """A zipped Shapefile checked (limits, zip slip, one .shp with its .prj, counts) and rebuilt in memory with
    only its own parts under fixed names, so GDAL reads nothing else and no name from the upload is a path."""
    try:
        members = limits.zip_members(data, f"'{label}'", limits.MAX_LOCALITY_UNCOMPRESSED_BYTES)
    except limits.LimitError as error:
        raise LocalityFileError(str(error)) from None
    except (zipfile.BadZipFile, ValueError, struct.error):
        raise LocalityFileError(f"'{label}' is not a valid zip file.") from None
    names = [member.filename for member in members if not member.is_dir()]
    shapefiles = [name for name in names if name.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        raise LocalityFileError(
            f"'{label}' must hold exactly one .shp file (with its .shx, .dbf and .prj); it holds {len(shapefiles)}."
        )
    stem = shapefiles[0][:-4]
    if not any(name.lower() == f"{stem.lower()}.prj" for name in names):
        raise LocalityFileError(f"'{label}' has no .prj file beside {file_label(shapefiles[0])}, so its coordinate "
                                "reference system (CRS) is unknown; add the .prj.")
    archive = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as rebuilt:
            for name in names:
                part = name[len(stem):].lower()
                if name[: len(stem)].lower() == stem.lower() and part in _SHAPEFILE_PARTS:
                    content = archive.read(name)  # zipfile never inflates past the size the directory declares
                    if part == ".shp":
                        _refuse_too_many(label, *_shapefile_counts(content))
                    rebuilt.writestr(f"localities{part}", content)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError):
        raise LocalityFileError(f"'{label}' is not a valid zip file.") from None
    return buffer.getvalue()


def _read_geodata(data: bytes, filename: str) -> gpd.GeoDataFrame:
    """An uploaded locality file read by GDAL after the checks of `ehmap.limits` (size, zip parts and paths,
    GeoJSON depth, features and vertices); `filename` only picks the format and names the file in messages."""
    label = file_label(filename)
    suffix = Path(label).suffix.lower()
    if suffix not in LOCALITY_SUFFIXES:
        raise LocalityFileError(
            f"'{label}' is not a GeoJSON (.geojson/.json), GeoPackage (.gpkg) or zipped Shapefile (.zip)."
        )
    if not data:
        raise LocalityFileError(f"'{label}' is empty (0 bytes).")
    if len(data) > limits.MAX_LOCALITY_BYTES:
        raise LocalityFileError(f"'{label}' is {limits.megabytes(len(data))}; the limit for a locality file is "
                                f"{limits.megabytes(limits.MAX_LOCALITY_BYTES)} (simplify the boundaries).")
    if suffix == ".zip":
        data = _shapefile_zip(data, label)
    elif suffix == ".gpkg":
        if not data.startswith(b"SQLite format 3\x00"):
            raise LocalityFileError(f"'{label}' is not a GeoPackage (it is not an SQLite database).")
    else:
        _check_geojson(data, label)
    try:
        if suffix == ".gpkg":
            _refuse_too_many(label, int(pyogrio.read_info(io.BytesIO(data))["features"]), 0)
        frame = gpd.read_file(io.BytesIO(data))
    except LocalityFileError:
        raise
    except Exception as error:  # pyogrio raises several error types for unreadable data
        raise LocalityFileError(
            f"'{label}' could not be read as geographic data ({type(error).__name__}: {one_line(error)[:200]})."
        ) from None
    _refuse_too_many(label, len(frame), int(shapely.get_num_coordinates(frame.geometry.values).sum()))
    return frame


def locality_columns(data: bytes, filename: str) -> list[str]:
    """The text columns of an uploaded locality file that could name the localities."""
    frame = _read_geodata(data, filename)
    return [c for c in frame.columns if c != frame.geometry.name]


def read_localities(data: bytes, filename: str, name_column: str) -> gpd.GeoDataFrame:
    """An uploaded locality file as `code`, `name`, geometry in EPSG:27700; raises LocalityFileError."""
    frame = _read_geodata(data, filename)
    label = file_label(filename)
    if frame.empty:
        raise LocalityFileError(f"'{label}' has no features.")
    if frame.crs is None:
        raise LocalityFileError(
            f"'{label}' declares no coordinate reference system (CRS); save it with its CRS (e.g. EPSG:27700 or EPSG:4326)."
        )
    if name_column not in frame.columns:
        options = [c for c in frame.columns if c != frame.geometry.name]
        raise LocalityFileError(f"'{label}' has no column '{name_column}'; its columns are {options}.")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.any():
        kinds = sorted(set(frame.geometry.geom_type)) or ["none"]
        raise LocalityFileError(f"'{label}' has no polygons (found {', '.join(kinds)}); localities must be areas.")
    frame = frame[polygonal]
    names = frame[name_column].astype("string").str.strip()
    if names.isna().any() or (names == "").any():
        raise LocalityFileError(f"{int((names.isna() | (names == '')).sum())} locality(ies) in '{label}' have no {name_column}.")
    duplicated = sorted(set(names[names.duplicated()]))
    if duplicated:
        raise LocalityFileError(f"Locality names in '{label}' must be unique; repeated: {duplicated[:5]}.")
    localities = gpd.GeoDataFrame({"code": names.to_numpy(), "name": names.to_numpy()}, geometry=frame.geometry.values, crs=frame.crs)
    localities = localities.to_crs(WORKING_CRS)
    localities["geometry"] = shapely.make_valid(localities.geometry.values)
    return localities.sort_values("code", ignore_index=True)


def locality_area_set(la_code: str, localities: gpd.GeoDataFrame, label: str = "Your localities") -> AreaSet:
    """The council's LSOAs assigned to uploaded localities by largest overlap (`LOCALITY_RULE`)."""
    if localities.crs is None or localities.crs != WORKING_CRS:
        raise ValueError(f"Localities must be in {WORKING_CRS}; read them with read_localities().")
    lsoas = council_lsoas(la_code)[["lsoa11cd", "lad_name", "geometry"]]
    pieces = gpd.overlay(lsoas[["lsoa11cd", "geometry"]], localities[["code", "geometry"]], how="intersection", keep_geom_type=True)
    pieces["overlap"] = pieces.geometry.area
    pieces = pieces[pieces["overlap"] > 0]
    if pieces.empty:
        raise LocalityFileError(
            f"None of the {len(localities)} localities overlaps {lsoas['lad_name'].iloc[0]}: check that the file is for "
            "this council and that its declared CRS is right."
        )
    best = pieces.sort_values(["lsoa11cd", "overlap", "code"], ascending=[True, False, True]).drop_duplicates("lsoa11cd")
    mapping = best.set_index("lsoa11cd")["code"].reindex(pd.Index(lsoas["lsoa11cd"].astype(str), name="lsoa11cd")).astype("string")
    used = localities[localities["code"].isin(set(mapping.dropna()))].reset_index(drop=True)
    return AreaSet("custom", label, used, mapping, LOCALITY_RULE, f"{label} (uploaded; reprojected to {WORKING_CRS})")


GEOGRAPHIES = {"lsoa11": lsoa_area_set, "ward": ward_area_set}


def area_set(geography: str | Path, la_code: str, name_column: str | None = None) -> AreaSet:
    """The front door: 'lsoa11', 'ward', or a locality file path (with its name column)."""
    if str(geography) in GEOGRAPHIES:
        return GEOGRAPHIES[str(geography)](la_code)
    path = Path(geography)
    if path.suffix.lower() not in LOCALITY_SUFFIXES:
        raise ValueError(f"Unknown geography '{geography}'; valid geographies are {sorted(GEOGRAPHIES)} or a locality file "
                         "(.geojson, .json, .gpkg, zipped Shapefile .zip).")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LocalityFileError(f"{path} could not be opened ({error.strerror}).") from None
    if name_column is None:
        columns = locality_columns(data, path.name)
        text = [c for c in columns if "name" in c.lower()] or columns
        if not text:
            raise LocalityFileError(f"'{path.name}' has no attribute columns to name the localities.")
        name_column = text[0]
    return locality_area_set(la_code, read_localities(data, path.name, name_column),
                             f"Localities from {file_label(path.name)}")
