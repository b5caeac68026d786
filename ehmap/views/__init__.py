"""What each page shows, for either audience: the team's exact figures or the released ones.

A page asks a view for what to offer (`period_choice`) and what to draw; the view decides, from the audience,
whether figures come from the team's own analysis or from the release gate. Pages never decide that themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ehmap.areas import AreaSet
from ehmap.audience import Audience, marking
from ehmap.release.gate import Release
from ehmap.release.periods import Period

LSOA_KINDS = ("lsoa11", "lsoa21")  # small areas: named with their ward, counted from the LSOA placed at ingest
AREA_WORDS = {"lsoa11": ("LSOA", "LSOAs"), "lsoa21": ("LSOA 2021", "LSOAs 2021"), "ward": ("ward", "wards"),
              "custom": ("locality", "localities")}


def area_words(kind: str) -> tuple[str, str]:
    """The noun for an area kind, singular and plural ('ward', 'wards'); an uploaded file's areas are localities."""
    return AREA_WORDS.get(kind, AREA_WORDS["custom"])


def listed(names: list[str], limit: int = 4) -> str:
    """Names for a sentence: 'A', 'A and B', 'A, B and C', or the first `limit` and 'N more'."""
    names = [str(name) for name in names]
    if len(names) > limit:
        names = [*names[:limit], f"{len(names) - limit} more"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class PeriodChoice:
    """The periods a view offers: any dates for the team, fixed periods (financial years, all years) for a release."""

    fixed: tuple[Period, ...]  # empty: any dates between first and last
    first: dt.date
    last: dt.date

    @property
    def free(self) -> bool:
        return not self.fixed


def period_choice(cases: pd.DataFrame, audience: Audience, release: Release | None = None) -> PeriodChoice:
    """Free referral dates for the team; the release's fixed periods, latest year first, for everyone else."""
    first, last = cases["referral_date"].min().date(), cases["referral_date"].max().date()
    if audience is Audience.TEAM:
        return PeriodChoice((), first, last)
    if release is None:
        raise ValueError("A released view needs the dataset's release.")
    years = list(release.calendar.years)
    return PeriodChoice((*reversed(years), release.calendar.all_years), first, last)


@dataclass(frozen=True)
class AreaView:
    """Values per area ready to map and table, with what the reader must be told."""

    audience: Audience
    areas: AreaSet  # the polygons drawn
    table: pd.DataFrame  # code, name, episodes (text), value (float: what colours the map), then display columns
    columns: dict[str, str]  # table column -> title shown
    value_title: str
    decimals: int
    council_total: str
    notes: tuple[str, ...] = ()
    method: str | None = None  # how a release was protected (release only)
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)  # file stem -> released table (release only)

    @property
    def marking(self) -> str:
        return marking(self.audience)

    def shown_table(self) -> pd.DataFrame:
        """The table as a reader sees it: titled columns, sorted by the mapped value (largest first; hidden and
        missing values last)."""
        ordered = self.table.sort_values(["value", "code"], ascending=[False, True], na_position="last")
        return ordered[list(self.columns)].rename(columns=self.columns)
