"""Share links: a view's choices (council, dataset, need, period, map, geography, measure, statistic) as URL query
parameters, and back. No Streamlit here: `ui.share` restores and writes them.

A link carries choices only: option keys the app offers, dates as ISO dates and a dataset's id as an integer; never
a figure, a name or other free text. Decoding never raises: a value that is unknown, malformed or not offered is
left out and named (never echoed) in one line. Whoever opens a link still needs the same sign-in and role, and gets
their own audience: a viewer following an analyst's link sees the released view.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ehmap.audience import Audience

DateRange = tuple[dt.date, dt.date]
LinkPeriod = DateRange | str  # the team's referral dates, or a released period: a financial year key or "all"

COUNCIL, DATASET, NEED, PERIOD, MAP, GEOGRAPHY, MEASURE, STATISTIC = (
    "council", "dataset", "need", "period", "map", "geography", "measure", "statistic")
FIELDS = (COUNCIL, DATASET, NEED, PERIOD, MAP, GEOGRAPHY, MEASURE, STATISTIC)  # the order parameters are written in
ALL = "all"  # all needs (a need widget's None), or all years (a released period)
DEMO = "demo"  # the built-in demo dataset
TEAM, RELEASE = Audience.TEAM, Audience.RELEASE

_COUNCIL = re.compile(r"E0[6-9]\d{6}")
_DATASET = re.compile(r"[1-9]\d{0,11}")
_YEAR = re.compile(r"(\d{4})-(\d{2})")
_DATES = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
_FIRST_YEAR, _LAST_YEAR = 1990, 2100  # referral dates outside these years are not a period anyone chose


def _need_keys() -> tuple[str, ...]:
    from ehmap.taxonomy import NEEDS

    return (ALL, *(need.key for need in NEEDS))


def _deprivation_keys() -> tuple[str, ...]:
    from ehmap.context import column_name

    return tuple(column_name(source, column) for source in ("iod2019", "iod2025")
                 for column in ("imd_score", "idaci_score", "imd_rank", "idaci_rank"))


@dataclass(frozen=True)
class Choice:
    """One widget of a page's view for one audience: its session-state key and the option keys it offers."""

    key: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class PageView:
    """What a page's view is made of: its choices per audience and, for a page filtered by the shared period, the
    prefix of its period pickers' keys ('need_map': need_map_period for the team, need_map_release_period)."""

    choices: dict[str, dict[Audience, Choice]] = field(default_factory=dict)
    period_prefix: str | None = None

    @property
    def period(self) -> bool:
        return self.period_prefix is not None

    def choice(self, name: str, audience: Audience) -> Choice | None:
        return self.choices.get(name, {}).get(audience)


def _both(key: str, options: tuple[str, ...]) -> dict[Audience, Choice]:
    return {TEAM: Choice(key, options), RELEASE: Choice(key, options)}


@functools.cache
def page_views() -> dict[str, PageView]:
    """Each page's view by its URL path (as app.py routes them; "" is the need map)."""
    needs = _need_keys()
    statistics = ("gi_star", "local_moran", "local_moran_rate")
    return {
        "": PageView({
            NEED: _both("need_map_need", needs),
            MEASURE: {TEAM: Choice("need_map_measure_team", ("smoothed_rate", "rate", "episodes")),
                      RELEASE: Choice("need_map_measure_release", ("rate", "episodes"))},
            MAP: {TEAM: Choice("need_map_geography_team", ("lsoa21", "lsoa11", "ward")),  # 'Map by'
                  RELEASE: Choice("need_map_geography_release", ("lsoa11", "ward"))},
            GEOGRAPHY: {TEAM: Choice("need_map_rank_team_ward_lsoa11", ("ward", "lsoa11"))},  # the ranking
        }, period_prefix="need_map"),
        "hot-spots": PageView({
            NEED: _both("hotspots_need", needs),
            STATISTIC: _both("hotspots_statistic", statistics),
            GEOGRAPHY: {TEAM: Choice("hotspots_geography", ("lsoa21", "lsoa11", "ward"))},  # never "custom": an upload
            MEASURE: {TEAM: Choice("hotspots_measure", ("smoothed_rate", "rate", "count"))},
        }, period_prefix="hotspots"),
        "need-and-deprivation": PageView({
            NEED: _both("bivariate_need", needs),
            MEASURE: _both("bivariate_measure", _deprivation_keys()),
        }, period_prefix="bivariate"),
        "service-coverage": PageView({NEED: _both("coverage_need", needs)}, period_prefix="coverage"),
        "destabilised-by-poverty": PageView({
            MAP: {TEAM: Choice("poverty_geography_team", ("lsoa11", "ward")),
                  RELEASE: Choice("poverty_geography_release", ("lsoa11", "ward"))},
        }, period_prefix="poverty"),
        "which-services-help": PageView(period_prefix="performance"),
        "trends-over-time": PageView(period_prefix="trends"),
        "business-case": PageView(period_prefix="business_case"),
        "board-report": PageView(period_prefix="report"),
    }


def period_keys() -> tuple[list[str], list[str]]:
    """Every page's period picker keys: the team's (dates) and the released view's (a fixed period)."""
    prefixes = [view.period_prefix for view in page_views().values() if view.period_prefix]
    return [f"{p}_period" for p in prefixes], [f"{p}_release_period" for p in prefixes]


def page_view(url_path: str) -> PageView:
    """The view of the page at `url_path`; a page without choices of its own has an empty one."""
    return page_views().get(url_path, PageView())


# ----------------------------------------------------------------------------------------------- values


def financial_year_key(text: str) -> str | None:
    """`text` when it is a financial year key such as 2024-25 (the second year follows the first), else None."""
    match = _YEAR.fullmatch(text)
    if match and _FIRST_YEAR <= int(match[1]) <= _LAST_YEAR and int(match[2]) == (int(match[1]) + 1) % 100:
        return text
    return None


def parse_period(text: str) -> LinkPeriod | None:
    """A link's period: 'all', a financial year ('2024-25') or ISO dates 'start..end'; None when invalid."""
    if text == ALL or financial_year_key(text):
        return text
    match = _DATES.fullmatch(text)
    if not match:
        return None
    try:
        start, end = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
    except ValueError:
        return None
    if start > end or start.year < _FIRST_YEAR or end.year > _LAST_YEAR:
        return None
    return start, end


def period_text(period: LinkPeriod) -> str:
    """A period as a link writes it."""
    if isinstance(period, tuple):
        return f"{period[0].isoformat()}..{period[1].isoformat()}"
    return period


def parse_dataset(text: str) -> int | str | None:
    """A dataset id (a positive integer) or 'demo'; None when invalid."""
    if text == DEMO:
        return DEMO
    return int(text) if _DATASET.fullmatch(text) else None


# ----------------------------------------------------------------------------------------------- decode / encode


@dataclass(frozen=True)
class Decoded:
    """The valid choices of a link (field -> value as the app holds it) and the fields it left out, with why."""

    values: dict[str, object]
    ignored: dict[str, str]  # field -> why, e.g. {"measure": "not offered in this view"}

    def note(self) -> str | None:
        """One line naming what was not used (never the values themselves), or None."""
        if not self.ignored:
            return None
        parts = [f"{name} ({why})" for name, why in self.ignored.items()]
        return f"Not used from the link: {', '.join(parts)}."


def _first(value: object) -> str | None:
    """A parameter's value as one string (the first of a repeated one); None when it is not text."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def decode(params: Mapping[str, object], url_path: str, audience: Audience, councils: set[str] | frozenset[str]
           ) -> Decoded:
    """The choices a link's query parameters make for this page and audience; everything else is ignored. Widget
    values are returned as the page holds them (a need of 'all' is None). Parameters the app does not write
    (e.g. Streamlit's `embed`) are not mentioned."""
    values: dict[str, object] = {}
    ignored: dict[str, str] = {}
    view = page_view(url_path)
    for name in FIELDS:
        if name not in params:
            continue
        text = _first(params[name])
        if text is None or len(text) > 40:
            ignored[name] = "not readable"
            continue
        value, why = _decode_one(name, text, view, audience, councils)
        if why is None:
            values[name] = value
        else:
            ignored[name] = why
    return Decoded(values, ignored)


def _decode_one(name: str, text: str, view: PageView, audience: Audience,
                councils: set[str] | frozenset[str]) -> tuple[object, str | None]:
    """One parameter's value as the app holds it, or why it is not used."""
    if name == COUNCIL:
        if not _COUNCIL.fullmatch(text):
            return None, "not a council code"
        return (text, None) if text in councils else (None, "not one of your councils")
    if name == DATASET:
        value = parse_dataset(text)
        return (value, None) if value is not None else (None, "not a dataset id")
    if name == PERIOD:
        period = parse_period(text)
        if period is None:
            return None, "not a financial year or a date range"
        return (period, None) if view.period else (None, "not used on this page")
    choice = view.choice(name, audience)
    if choice is None:
        return None, "not offered in this view"
    if text not in choice.options:
        return None, "not one of its options"
    return (None if name == NEED and text == ALL else text), None


def encode(values: Mapping[str, object]) -> dict[str, str]:
    """Query parameters for a view's choices, in a fixed order; a value that is not a valid choice is left out."""
    params: dict[str, str] = {}
    for name in FIELDS:
        if name not in values:
            continue
        text = _encode_one(name, values[name])
        if text is not None:
            params[name] = text
    return params


def _encode_one(name: str, value: object) -> str | None:
    if name == NEED and value is None:
        return ALL
    if name == PERIOD:
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(d, dt.date) for d in value):
            value = period_text((_as_date(value[0]), _as_date(value[1])))
        return value if isinstance(value, str) and parse_period(value) is not None else None
    if name == DATASET:
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        return value if isinstance(value, str) and parse_dataset(value) is not None else None
    if not isinstance(value, str):
        return None
    if name == COUNCIL:
        return value if _COUNCIL.fullmatch(value) else None
    known = {option for view in page_views().values() for by_audience in view.choices.get(name, {}).values()
             for option in by_audience.options}
    return value if value in known else None


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# ----------------------------------------------------------------------------------------------- periods


def _fy_start(date: dt.date) -> int:
    return date.year if date.month >= 4 else date.year - 1


def _fy_dates(start_year: int) -> DateRange:
    """1 April `start_year` to 31 March the year after."""
    return dt.date(start_year, 4, 1), dt.date(start_year + 1, 3, 31)


def _dates(start: dt.date, end: dt.date) -> str:
    return f"{start:%d/%m/%Y} to {end:%d/%m/%Y}"


def link_dates(start: dt.date, end: dt.date, first: dt.date, last: dt.date) -> LinkPeriod:
    """How a link writes the team's period on a dataset referred `first` to `last`, never giving away those two
    dates (a referral's): the whole span is 'all'; an end at the data's edge becomes its financial year's edge
    (`team_dates` keeps dates within the data, so the link opens on the same period)."""
    if start <= first and end >= last:
        return ALL
    if start <= first:
        start = _fy_dates(_fy_start(first))[0]
    if end >= last:
        end = _fy_dates(_fy_start(last))[1]
    return start, end


def team_dates(period: LinkPeriod, first: dt.date, last: dt.date) -> tuple[DateRange, str | None]:
    """The team's referral dates for a link's period on a dataset referred `first` to `last` (kept within them),
    and one line when a financial year becomes dates or the period has no referrals in this dataset."""
    if period == ALL:
        return (first, last), None
    wanted = period if isinstance(period, tuple) else _fy_dates(int(period[:4]))
    start, end = max(wanted[0], first), min(wanted[1], last)
    if start > end:
        return (first, last), (f"The link's period has no referrals in this dataset; showing all of them, "
                               f"{_dates(first, last)}.")
    if isinstance(period, str):
        return (start, end), f"The link's financial year {period} is shown as referrals {_dates(start, end)}."
    return (start, end), None


def release_key(period: LinkPeriod, years: list[str]) -> tuple[str, str | None]:
    """The released period for a link's period, given the release's financial years (oldest first), and one line
    when it differs: dates within one financial year become that year, dates over every year become all years,
    anything else the latest year."""
    latest = years[-1] if years else ALL
    if period == ALL or period in years:
        return str(period), None
    if isinstance(period, tuple):
        first, last = (f"{_fy_start(d)}-{(_fy_start(d) + 1) % 100:02d}" for d in period)
        shared = "shared figures are for whole financial years"
        if first == last and first in years:
            return first, f"The link's referrals {_dates(*period)} are shown as the financial year {first}: {shared}."
        if years and first <= years[0] and last >= years[-1]:
            return ALL, f"The link's referrals {_dates(*period)} are shown as all years: {shared}."
        return latest, f"The link's referrals {_dates(*period)} are shown as the latest financial year: {shared}."
    return latest, f"The link's financial year {period} is not in this dataset; showing the latest one."
