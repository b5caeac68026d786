"""Declarative definitions of boundary sets (`boundaries/`) and indicator sources (`indicators/`).

Each definition is a small YAML file validated strictly on load: an unknown or missing key fails
with a message naming the file and the key, so a typo never silently changes what is mapped.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOUNDARIES_DIR = ROOT / "boundaries"
INDICATORS_DIR = ROOT / "indicators"

POLARITIES = ("count", "higher_is_more_deprived", "rank_1_most_deprived", "decile_1_most_deprived")


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


@dataclass(frozen=True)
class IndicatorColumn:
    """One value column of an indicator source, with how to read its direction."""

    title: str
    polarity: str


@dataclass(frozen=True)
class IndicatorSource:
    """A published table of values keyed on an area code (e.g. population by LSOA)."""

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


def _checked_mapping(raw: Any, cls: type, where: str) -> dict[str, Any]:
    """Check that `raw` is a mapping with exactly the fields of `cls`; name what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping of keys to values, got {type(raw).__name__}.")
    expected = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - expected)
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown}; valid keys are {sorted(expected)}.")
    missing = sorted(expected - set(raw))
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
    columns = {}
    for name, column in (raw["columns"] or {}).items():
        checked = _checked_mapping(column, IndicatorColumn, f"{path} column '{name}'")
        if checked["polarity"] not in POLARITIES:
            raise ValueError(
                f"{path} column '{name}' has polarity '{checked['polarity']}'; valid polarities are {list(POLARITIES)}."
            )
        columns[str(name)] = IndicatorColumn(**checked)
    raw["columns"] = columns
    return IndicatorSource(**{key: value if key == "columns" else str(value) for key, value in raw.items()})


def boundary_set(set_id: str) -> BoundarySet:
    """The boundary set declared in `boundaries/<set_id>.yaml`."""
    path = BOUNDARIES_DIR / f"{set_id}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in BOUNDARIES_DIR.glob("*.yaml"))
        raise ValueError(f"Unknown boundary set '{set_id}'; known sets are {known}.")
    return load_boundary_set(path)


def indicator_source(source_id: str) -> IndicatorSource:
    """The indicator source declared in `indicators/<source_id>.yaml`."""
    path = INDICATORS_DIR / f"{source_id}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in INDICATORS_DIR.glob("*.yaml"))
        raise ValueError(f"Unknown indicator '{source_id}'; known indicators are {known}.")
    return load_indicator_source(path)
