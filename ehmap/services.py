"""Read a council's services file (family hubs, schools, DA services...): validate, locate, link to cases.

A services file is a CSV or XLSX (read with `ehmap.exports.read_export`; headers matched the same
way) with a name, a type, a location given as a postcode, as an easting and northing (British
National Grid, metres) or as a latitude and longitude (WGS84), the needs it serves, and optionally
opening hours, capacity and the team name case records use for it. Every row is accepted or
rejected with one reason, the first that applies in REJECT_REASONS order, so
`rows_read == accepted + rejected` always holds, as for case exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from ehmap.exports import ColumnSchema, ExportError, match_columns, reconciliation
from ehmap.geocode import PostcodeDirectory
from ehmap.postcodes import is_valid_postcode, normalise_postcodes
from ehmap.taxonomy import NEED_BITS, NEED_KEYS, needs_text, parse_needs

SERVICE_FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("Name", "Service Name", "Site Name", "Site", "Venue", "Service"),
    "type": ("Type", "Service Type", "Site Type", "Category", "Kind"),
    "postcode": ("Postcode", "Post Code", "Site Postcode", "Address Postcode"),
    "easting": ("Easting", "OS Easting", "X", "Grid Easting"),
    "northing": ("Northing", "OS Northing", "Y", "Grid Northing"),
    "latitude": ("Latitude", "Lat"),
    "longitude": ("Longitude", "Lon", "Long", "Lng"),
    "needs": ("Needs", "Needs Served", "Needs Met", "Presenting Needs"),
    "opening_hours": ("Opening Hours", "Hours", "Opening Times"),
    "capacity": ("Capacity", "Places", "Caseload Capacity"),
    "team": ("Team", "Case Team", "Team Name", "Allocated Team", "Case Service"),
}
SERVICE_FIELD_LABELS = {
    "name": "name",
    "type": "type",
    "postcode": "postcode",
    "easting": "easting",
    "northing": "northing",
    "latitude": "latitude",
    "longitude": "longitude",
    "needs": "needs served",
    "opening_hours": "opening hours",
    "capacity": "capacity",
    "team": "team",
}
REQUIRED_SERVICE_FIELDS = ("name", "type")
SERVICES_FILE = ColumnSchema(SERVICE_FIELD_SYNONYMS, REQUIRED_SERVICE_FIELDS, SERVICE_FIELD_LABELS)

# Service types: key -> label; a type cell matches a key, a label or an alias (case and punctuation ignored).
SERVICE_TYPES: dict[str, str] = {
    "family_hub": "Family hub",
    "childrens_centre": "Children's centre",
    "school": "School",
    "domestic_abuse": "Domestic abuse service",
    "parenting": "Parenting programme",
    "youth": "Youth service",
    "health": "Health",
    "vcs": "Voluntary and community sector (VCS)",
    "other": "Other",
}
_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "family_hub": ("hub", "family centre", "family support"),
    "childrens_centre": ("children centre", "childrens center", "sure start", "sure start centre"),
    "school": ("academy", "primary school", "secondary school", "college", "school early help"),
    "domestic_abuse": ("da service", "domestic abuse", "domestic violence service", "refuge"),
    "parenting": ("parenting", "parenting group", "parenting service"),
    "youth": ("youth", "youth club", "youth centre", "youth support"),
    "health": ("health visiting", "health centre", "clinic", "gp", "camhs", "nhs"),
    "vcs": ("voluntary", "community", "charity", "voluntary sector", "voluntary and community sector"),
}

REJECT_REASONS: dict[str, str] = {
    "missing_name": "The service name is blank.",
    "duplicate": "Same service name as an earlier row.",
    "invalid_type": "The type is blank or not a known service type.",
    "invalid_needs": "The needs served include a value that is not a need.",
    "invalid_capacity": "The capacity is not a whole number of 0 or more.",
    "missing_location": "No postcode, easting/northing or latitude/longitude is given.",
    "invalid_location": "The location is not a UK postcode format or not a valid grid reference or latitude/longitude.",
    "unknown_postcode": "The postcode is not in the ONS Postcode Directory, or has no grid reference there.",
    "outside_area": "The location is too far outside the council to serve its residents.",
}
FIRST_DATA_ROW = 2  # spreadsheet numbering: the header is row 1
MAX_OUTSIDE_M = 5_000.0  # services up to this far outside the council's boundary still serve it
ALL_NEEDS_MASK = sum(NEED_BITS.values())
SERVICE_COLUMNS = [
    "name",
    "type",
    "easting",
    "northing",
    "located_by",
    "needs_mask",
    "opening_hours",
    "capacity",
    "team",
]
# Great Britain's extent on the National Grid (metres), generously: anything outside is a typo.
_GRID_EXTENT = (0.0, 0.0, 700_000.0, 1_300_000.0)


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


_TYPE_LOOKUP: dict[str, str] = {}
for _key, _label in SERVICE_TYPES.items():
    for _name in (_key, _label, *_TYPE_ALIASES.get(_key, ())):
        _TYPE_LOOKUP[_plain(_name)] = _key
_TYPE_LOOKUP[_plain("Children's centre")] = "childrens_centre"


def parse_service_type(text: str) -> str | None:
    """The service type key for a type cell ('Family Hub' -> 'family_hub'), None if unknown or blank."""
    return _TYPE_LOOKUP.get(_plain(text or "")) if _plain(text or "") else None


def match_service_columns(headers: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Field -> header for a services file; raises ExportError naming what is missing."""
    matched = match_columns(headers, mapping, schema=SERVICES_FILE)
    has_grid = "easting" in matched and "northing" in matched
    has_latlon = "latitude" in matched and "longitude" in matched
    if not ("postcode" in matched or has_grid or has_latlon):
        raise ExportError(
            "No location columns: expected a Postcode column, Easting and Northing columns, or Latitude and "
            f"Longitude columns; the columns found are {headers}."
        )
    return matched


@dataclass
class ServicesResult:
    """Accepted services (located in EPSG:27700), rejected rows with reasons, and the reconciliation."""

    services: pd.DataFrame  # SERVICE_COLUMNS
    rejects: pd.DataFrame  # row, reason, message
    rows_read: int
    la_code: str
    columns_used: dict[str, str]

    @property
    def accepted(self) -> int:
        return len(self.services)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def summary(self) -> dict[str, object]:
        """The reconciliation (reason codes with no rows omitted)."""
        return {
            **reconciliation(self.rows_read, self.accepted, self.rejects, REJECT_REASONS),
            "la_code": self.la_code,
            "columns_used": self.columns_used,
        }

    def for_display(self) -> pd.DataFrame:
        """Accepted services with type labels and needs as keys joined by ';' (blank = all needs)."""
        out = self.services.copy()
        out["type"] = out["type"].map(SERVICE_TYPES)
        out["needs"] = [
            "all needs" if int(mask) == ALL_NEEDS_MASK else needs_text(int(mask)) for mask in out["needs_mask"]
        ]
        return out.drop(columns="needs_mask")


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _coordinates(cell: dict[str, str]) -> tuple[str, tuple[float, float] | None, str]:
    """Which location a row gives ('postcode', 'grid', 'latlon' or '') and, for coordinates, E/N or why not."""
    if cell["postcode"]:
        return "postcode", None, ""
    if cell["easting"] or cell["northing"]:
        easting, northing = _number(cell["easting"]), _number(cell["northing"])
        if easting is None or northing is None:
            return "grid", None, "The easting and northing must both be numbers (metres on the British National Grid)."
        x0, y0, x1, y1 = _GRID_EXTENT
        if not (x0 <= easting <= x1 and y0 <= northing <= y1):
            return (
                "grid",
                None,
                f"The easting/northing {easting:.0f}, {northing:.0f} is outside Great Britain's National Grid.",
            )
        return "grid", (easting, northing), ""
    if cell["latitude"] or cell["longitude"]:
        lat, lon = _number(cell["latitude"]), _number(cell["longitude"])
        if lat is None or lon is None:
            return "latlon", None, "The latitude and longitude must both be numbers (WGS84 degrees)."
        if not (49.0 <= lat <= 61.5 and -9.0 <= lon <= 2.5):
            return "latlon", None, f"The latitude/longitude {lat}, {lon} is not in Great Britain (are they swapped?)."
        return "latlon", (lat, lon), ""
    return "", None, ""


def _to_grid(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 latitude/longitude to British National Grid metres (PROJ's Helmert fallback, metre-level)."""
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    return transformer.transform(lon, lat)


def ingest_services(
    table: pd.DataFrame,
    la_code: str,
    directory: PostcodeDirectory,
    council_area: shapely.Geometry,
    mapping: Mapping[str, str] | None = None,
    max_outside_m: float = MAX_OUTSIDE_M,
) -> ServicesResult:
    """Validate and locate a services file read by `ehmap.exports.read_export`.

    `council_area` is the council's area in EPSG:27700; services more than `max_outside_m` metres
    outside it are rejected as `outside_area`. Blank needs mean the service serves every need.
    """
    if max_outside_m < 0:
        raise ValueError(f"max_outside_m must be 0 or more metres; got {max_outside_m}.")
    columns = match_service_columns(list(table.columns), mapping)
    n = len(table)
    cells = {
        field: (
            table[columns[field]].astype("string").fillna("").str.strip().to_numpy(dtype=object)
            if field in columns
            else np.full(n, "", dtype=object)
        )
        for field in SERVICE_FIELD_SYNONYMS
    }
    reasons: list[str] = [""] * n
    messages: list[str] = [""] * n
    rows: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    postcodes = normalise_postcodes(pd.Series(cells["postcode"], dtype="string"))
    valid_postcode = is_valid_postcode(postcodes).to_numpy()
    matches = directory.lookup(postcodes.fillna("").to_numpy(dtype=object))

    def reject(i: int, reason: str, message: str = "") -> None:
        reasons[i], messages[i] = reason, message or REJECT_REASONS[reason]

    located: list[tuple[int, str, float, float]] = []
    for i in range(n):
        cell = {field: str(cells[field][i]) for field in SERVICE_FIELD_SYNONYMS}
        name = re.sub(r"\s+", " ", cell["name"])
        if not name:
            blank = not any(cell.values())
            reject(i, "missing_name", "The row is blank." if blank else "")
            continue
        name_key = _plain(name)
        if name_key in seen:
            reject(i, "duplicate", f"Same service name as row {seen[name_key] + FIRST_DATA_ROW}.")
            continue
        seen[name_key] = i
        kind = parse_service_type(cell["type"])
        if kind is None:
            shown = f"'{cell['type']}' is not" if cell["type"] else "The type is blank, not"
            reject(i, "invalid_type", f"{shown} a known service type; use one of {', '.join(SERVICE_TYPES.values())}.")
            continue
        mask, unknown = parse_needs(cell["needs"])
        if unknown:
            reject(
                i,
                "invalid_needs",
                f"Needs served: {', '.join(repr(u) for u in unknown)} is not a need; "
                f"use need keys such as {', '.join(NEED_KEYS[:3])}.",
            )
            continue
        capacity: int | None = None
        if cell["capacity"]:
            number = _number(cell["capacity"])
            if number is None or number < 0 or not float(number).is_integer():
                reject(i, "invalid_capacity", f"The capacity '{cell['capacity']}' is not a whole number of 0 or more.")
                continue
            capacity = int(number)
        kind_of_location, coordinates, problem = _coordinates(cell)
        if not kind_of_location:
            reject(i, "missing_location")
            continue
        if problem:
            reject(i, "invalid_location", problem)
            continue
        if kind_of_location == "postcode":
            if not valid_postcode[i]:
                reject(i, "invalid_location", "The postcode is not in a UK postcode format.")
                continue
            if not matches.has_grid[i]:
                reject(i, "unknown_postcode")
                continue
            easting, northing = float(matches.easting[i]), float(matches.northing[i])
        elif kind_of_location == "grid":
            easting, northing = coordinates
        else:
            grid_x, grid_y = _to_grid(np.array([coordinates[0]]), np.array([coordinates[1]]))
            easting, northing = float(np.ravel(grid_x)[0]), float(np.ravel(grid_y)[0])
        located.append((i, kind_of_location, easting, northing))
        rows.append(
            {
                "name": name,
                "type": kind,
                "easting": easting,
                "northing": northing,
                "located_by": kind_of_location,
                "needs_mask": mask or ALL_NEEDS_MASK,
                "opening_hours": cell["opening_hours"],
                "capacity": capacity,
                "team": re.sub(r"\s+", " ", cell["team"]),
                "_row": i,
            }
        )
    accepted = pd.DataFrame(rows, columns=[*SERVICE_COLUMNS, "_row"])
    if len(accepted):
        points = shapely.points(accepted["easting"].to_numpy(), accepted["northing"].to_numpy())
        outside = shapely.distance(points, council_area)
        for row_index, metres in zip(accepted["_row"].to_numpy(), outside, strict=False):
            if metres > max_outside_m:
                reject(
                    int(row_index),
                    "outside_area",
                    f"The location is {metres / 1000:.1f} km outside the council; services more than "
                    f"{max_outside_m / 1000:g} km outside are not counted.",
                )
        accepted = accepted[[reasons[int(r)] == "" for r in accepted["_row"]]]
    services = accepted.drop(columns="_row").reset_index(drop=True)
    services["capacity"] = services["capacity"].astype("Int64")
    services["needs_mask"] = services["needs_mask"].astype(np.uint16)
    rejected = [i for i in range(n) if reasons[i]]
    rejects = pd.DataFrame(
        {
            "row": np.array(rejected, dtype=np.int64) + FIRST_DATA_ROW,
            "reason": [reasons[i] for i in rejected],
            "message": [messages[i] for i in rejected],
        }
    )
    return ServicesResult(services, rejects, n, la_code, dict(columns))


def services_serving(services: pd.DataFrame, need: str | None = None, types: list[str] | None = None) -> pd.DataFrame:
    """The services that serve `need` (None: any) and are of one of `types` (None: any)."""
    keep = np.ones(len(services), dtype=bool)
    if need is not None:
        if need not in NEED_BITS:
            raise ValueError(f"Unknown need '{need}'; valid needs are {sorted(NEED_BITS)}.")
        keep &= (services["needs_mask"].to_numpy().astype(np.int64) & NEED_BITS[need]) != 0
    if types is not None:
        unknown = sorted(set(types) - set(SERVICE_TYPES))
        if unknown:
            raise ValueError(f"Unknown service type(s) {unknown}; valid types are {list(SERVICE_TYPES)}.")
        keep &= services["type"].isin(types).to_numpy()
    return services[keep].reset_index(drop=True)


@dataclass(frozen=True)
class ServiceLinks:
    """Each episode's linked service (by name), and each case-record service value with its match."""

    episode_service: pd.Series  # per episode: the services file's name, <NA> when unmatched
    values: pd.DataFrame  # case_service, episodes, linked_to (blank when unmatched)

    def shown_values(self) -> pd.DataFrame:
        """The case-record service values with their episode counts and links, for the team (exact counts)."""
        out = self.values.copy()
        out["episodes"] = out["episodes"].astype("int64")
        return out.rename(
            columns={"case_service": "Service in case records", "episodes": "Episodes", "linked_to": "Linked to"}
        )

    @property
    def linked_share(self) -> float:
        """Share of episodes linked to a service in the file."""
        return float(self.episode_service.notna().mean()) if len(self.episode_service) else 0.0


def link_cases(cases: pd.DataFrame, services: pd.DataFrame) -> ServiceLinks:
    """Link episodes to services whose name or team equals the episode's `service` (case and punctuation ignored).

    A team shared by several sites (e.g. 'School Early Help' at many schools) links to the first of them
    in file order; the link is about who delivered the work, not which building.
    """
    lookup: dict[str, str] = {}
    for name, team in zip(services["name"], services["team"], strict=False):
        for text in (team, name):  # a team name given explicitly wins over a coincidental site name
            if text and _plain(text) not in lookup:
                lookup[_plain(text)] = name
    raw = cases["service"].astype("string")
    linked = raw.map(lambda value: lookup.get(_plain(value)) if isinstance(value, str) else None)
    linked = linked.astype("string")
    counts = raw.value_counts()
    values = pd.DataFrame(
        {
            "case_service": counts.index.astype(str),
            "episodes": counts.to_numpy(),
            "linked_to": [lookup.get(_plain(v), "") for v in counts.index],
        }
    )
    return ServiceLinks(linked.reset_index(drop=True), values)
