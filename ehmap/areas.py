"""Geographies to count cases in: LSOA 2011 and 2021, electoral wards, and a council's own localities.

Cases keep only their LSOA 2011 and LSOA 2021, never a point, so every geography is an assignment of the
council's LSOAs to areas, plus polygons (EPSG:27700) to draw and to find neighbours with:

- **lsoa11**: each LSOA is its own area.
- **lsoa21**: each LSOA 2021 is its own area, counted from the LSOA 2021 ingest placed each episode in.
- **ward** (May 2024): each LSOA goes to one ward through the ONS best-fit lookups LSOA 2011 -> LSOA 2021
  -> ward 2024 (`indicators/lookup_lsoa11_lsoa21_best_fit.yaml`, `indicators/lookup_lsoa21_ward24.yaml`),
  keeping the council's own wards. Wards are drawn with the ONS ward boundaries (`boundaries/wards_may2024.yaml`)
  when loaded, otherwise as the union of their LSOAs; their neighbours always come from the LSOAs counted.
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
from ehmap.catalogue import boundary_set, indicator_source
from ehmap.config import cache_dir
from ehmap.geography import WORKING_CRS, content_hash, council_lsoas
from ehmap.indicators import SourceMissing, locate, read_indicator
from ehmap.text import file_label, one_line

LSOA21_LOOKUP = "lookup_lsoa11_lsoa21_best_fit"  # indicators/: LSOA 2011 -> LSOA 2021
WARD_LOOKUP = "lookup_lsoa21_ward24"  # indicators/: LSOA 2021 -> ward (May 2024) and its council
WARD_BOUNDARY_SET = "wards_may2024"  # boundaries/
WARD_TITLE = "Electoral ward (May 2024)"
LOCALITY_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
POSTCODE_CREDIT = ("Postcodes: ONS Postcode Directory; contains Royal Mail data © Royal Mail copyright and database "
                   "right.")
LSOA_RULE = "Each case counts in the LSOA (2011) of its postcode."
WARD_RULE = (
    "Each case counts in the ward (May 2024) of its LSOA (2011), through the ONS best-fit lookups LSOA 2011 to "
    "LSOA 2021 to ward: an LSOA that straddles a ward boundary goes wholly to one ward, and a ward's neighbours are "
    "the wards whose counted LSOAs touch it."
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
    title: str  # e.g. "Electoral ward (May 2024)"
    areas: gpd.GeoDataFrame  # code, name, geometry (EPSG:27700), one row per area, sorted by code
    lsoa_to_area: pd.Series  # index lsoa11cd (every LSOA of the council) -> area code, <NA> = none
    rule: str  # how cases are assigned, in plain English
    source_note: str  # where the polygons come from
    counted: gpd.GeoDataFrame | None = None  # code, name, the union of each area's counted LSOAs; None = `areas`
    lsoa_column: str = "lsoa11cd"  # the episodes' column `lsoa_to_area` is keyed by ('lsoa21cd' for LSOA 2021)
    drawn_with: str = "lsoa11"  # the declared boundary set (boundaries/*.yaml) the areas' outlines come from

    @property
    def attribution(self) -> str:
        """The map's source and licence line: the boundaries drawn, with their own copyright year, and the postcodes
        that placed the cases."""
        return f"{boundary_set(self.drawn_with).attribution} {POSTCODE_CREDIT}"

    @property
    def neighbour_areas(self) -> gpd.GeoDataFrame:
        """The polygons spatial statistics find neighbours with: the LSOAs each area counts, not its drawn outline,
        so a ward's neighbours are those its cases' areas touch."""
        return self.areas if self.counted is None else self.counted

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


def ward_lookup(lsoa_codes: pd.Index | list[str], folder: Path | None = None) -> pd.DataFrame:
    """The council's LSOAs 2011 in its wards (May 2024): `lsoa11cd`, `ward_code`, `ward_name`, `lad_code`.

    Chains the ONS best-fit lookups LSOA 2011 -> LSOA 2021 -> ward 2024, keeping the wards of the council that
    holds most of the LSOAs (matched by the LSOAs, not by a council code, which the ONS changed for Barnsley and
    Sheffield after 2024): an LSOA whose best fit lies in another council's ward is in none."""
    try:
        to_lsoa21 = read_indicator(LSOA21_LOOKUP, folder)[["lsoa11cd", "lsoa21cd"]].astype(str)
        to_ward = read_indicator(WARD_LOOKUP, folder).astype(str)
    except SourceMissing as missing:
        raise FileNotFoundError(f"Wards need the ONS lookups: {missing}") from None
    mine = to_lsoa21[to_lsoa21["lsoa11cd"].isin(set(lsoa_codes))].drop_duplicates("lsoa11cd")
    chained = mine.merge(to_ward, on="lsoa21cd", how="inner")
    if chained.empty:
        return chained[["lsoa11cd", "ward_code", "ward_name", "lad_code"]]
    council = chained["lad_code"].mode().iloc[0]
    return chained.loc[chained["lad_code"] == council, ["lsoa11cd", "ward_code", "ward_name", "lad_code"]]


def uncounted_wards(lookup: pd.DataFrame, folder: Path | None = None) -> list[str]:
    """Names of the council's wards that no LSOA 2011 reaches by best fit (their cases count in a neighbour).

    `lookup` is `ward_lookup`'s answer for the council."""
    if lookup.empty:
        return []
    every = read_indicator(WARD_LOOKUP, folder).astype(str)
    every = every[every["lad_code"] == lookup["lad_code"].iloc[0]]
    return sorted(set(every["ward_name"]) - set(lookup["ward_name"]))


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
    """ONS ward (May 2024) polygons in EPSG:27700 (`code`, `name`), or None when the file is not present."""
    try:
        path = locate(boundary_set(WARD_BOUNDARY_SET), folder).path
    except SourceMissing:
        return None
    return _ward_boundaries_cached(path, content_hash(path))


def ward_area_set(la_code: str, folder: Path | None = None) -> AreaSet:
    """The council's electoral wards (May 2024), each the sum of its LSOAs through the ONS best-fit lookups."""
    lsoas = council_lsoas(la_code)[["lsoa11cd", "geometry"]]
    lookup = ward_lookup(lsoas["lsoa11cd"], folder)
    joined = lsoas.merge(lookup.drop(columns="lad_code"), on="lsoa11cd", how="left", validate="one_to_one")
    if joined["ward_code"].isna().all():  # e.g. the demo council's built-in rows, asked for another council
        raise FileNotFoundError(
            f"Wards need the ONS LSOA (2021) to Ward (2024) lookup for this council: the file read holds none of its "
            f"wards; put the national {indicator_source(WARD_LOOKUP).file} in the folder EHMAP_DATA_DIR names, or add "
            "it on the Data sources page."
        )
    mapping = pd.Series(joined["ward_code"].to_numpy(), index=pd.Index(joined["lsoa11cd"].astype(str), name="lsoa11cd"),
                        dtype="string")
    counted = joined.dropna(subset=["ward_code"]).dissolve(by="ward_code")
    names = counted["ward_name"].astype(str)
    boundaries = ward_boundaries(folder)
    drawn_with = "lsoa11"
    if boundaries is not None and set(names.index) <= set(boundaries["code"]):
        drawn = boundaries[boundaries["code"].isin(set(names.index))].dissolve(by="code").geometry.reindex(names.index)
        note, drawn_with = f"ONS {boundary_set(WARD_BOUNDARY_SET).title}", WARD_BOUNDARY_SET
    else:
        drawn = counted.geometry
        note = "Wards drawn as the union of the LSOAs counted in them (the ONS ward (May 2024) boundaries are not loaded)"
    uncounted = uncounted_wards(lookup, folder)
    if uncounted:
        note += (f"; {len(uncounted)} ward(s) hold no LSOA 2011 by best fit (often new-build areas that became LSOAs "
                 f"in 2021), so their cases count in a neighbouring ward: {', '.join(uncounted)}")
    frame = {"code": names.index.astype(str), "name": names.to_numpy()}
    areas = gpd.GeoDataFrame(frame, geometry=drawn.to_numpy(), crs=WORKING_CRS).sort_values("code", ignore_index=True)
    neighbours = gpd.GeoDataFrame(frame, geometry=counted.geometry.to_numpy(), crs=WORKING_CRS)
    return AreaSet("ward", WARD_TITLE, areas, mapping, WARD_RULE, note,
                   neighbours.sort_values("code", ignore_index=True), drawn_with=drawn_with)


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


def lsoa21_area_set(la_code: str) -> AreaSet:
    """The council's LSOAs 2021 as areas, counted from the LSOA 2021 each episode was placed in at ingest; areas
    carry their ward (May 2024) as `ward`. Raises ehmap.lsoa21.Lsoa21Missing without the files."""
    from ehmap.lsoa21 import PLACEMENT_NOTE, council_lsoa21s

    lsoas = council_lsoa21s(la_code).sort_values("lsoa21cd", ignore_index=True)
    areas = gpd.GeoDataFrame({"code": lsoas["lsoa21cd"].astype(str), "name": lsoas["lsoa21nm"].astype(str),
                              "ward": lsoas["ward_name"].astype(str)}, geometry=lsoas.geometry.values, crs=WORKING_CRS)
    mapping = pd.Series(areas["code"].to_numpy(), index=pd.Index(areas["code"], name="lsoa21cd"), dtype="string")
    return AreaSet("lsoa21", "LSOA (2021)", areas, mapping, PLACEMENT_NOTE,
                   f"ONS {boundary_set('lsoa21').title}", lsoa_column="lsoa21cd", drawn_with="lsoa21")


GEOGRAPHIES = {"lsoa11": lsoa_area_set, "lsoa21": lsoa21_area_set, "ward": ward_area_set}


def small_area_wards(kind: str, la_code: str) -> pd.DataFrame | None:
    """Each LSOA of the council (index: its code, of `kind`'s vintage) with its ward (May 2024) as `ward_code` and
    `ward_name`, for tables and CSVs; None for other areas or when the ward lookup holds none of the council."""
    try:
        if kind == "lsoa11":
            return ward_area_set(la_code).lsoa_table("ward")
        if kind == "lsoa21":
            from ehmap.lsoa21 import council_lsoa21s

            return council_lsoa21s(la_code).set_index("lsoa21cd")[["ward_code", "ward_name"]]
    except (FileNotFoundError, SourceMissing):
        return None
    return None


def with_ward_columns(table: pd.DataFrame, wards: pd.DataFrame | None, after: str = "name",
                      code: str = "code") -> pd.DataFrame:
    """`table` with `ward_code` and `ward_name` inserted after its `after` column, looked up by its `code` column
    in `small_area_wards`' table; unchanged when the wards are not known."""
    if wards is None:
        return table
    table = table.copy()
    at = table.columns.get_loc(after) + 1
    for offset, column in enumerate(("ward_code", "ward_name")):
        table.insert(at + offset, column, table[code].astype(str).map(wards[column]).astype(object).to_numpy())
    return table


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
