"""Trends for either audience: the team's exact counts per month or quarter, or the released ones per quarter.

The team chooses any referral period, months or quarters, and sees exact counts (small ones flagged). A released
view shows the release gate's quarters of one financial year (or all years), split by nothing, service or need:
referrals, closures and the open caseload rounded and protected together (the caseload moves by referrals minus
closures, so they are checked as one), and the shares of closures with needs met or stepped up as whole
percentages. Months and free periods are for the team only.

API (stable; the board report calls it):

- `team_trends(cases, frequency, split, start, end) -> TrendView`
- `released_trends(release, split, period, data_end) -> TrendView`
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ehmap.audience import Audience, marking
from ehmap.release import tables as release_tables
from ehmap.release.gate import Release
from ehmap.release.tables import fixed_period, hidden_text, method_statement
from ehmap.trends import ALL_EPISODES, DEFINITIONS, FREQUENCIES, SMALL_NOTE, SPLITS, trend_table

SERIES = {
    "referrals": "Referrals",
    "open_caseload": "Open caseload (end of period)",
    "closures": "Closures",
    "needs_met_pct": "% of closures with needs met",
    "step_up_pct": "% of closures stepped up",
}
SPLIT_TITLES = {"none": "Nothing", "service": "Service", "need": "Need"}
TEAM_COLUMNS = {"period": "Period", "group": "Group", "referrals": "Referrals",
                "open_caseload": "Open caseload (end of period)", "closures": "Closures",
                "needs_met": "Closed with needs met", "step_up": "Stepped up", "needs_met_pct": SERIES["needs_met_pct"],
                "step_up_pct": SERIES["step_up_pct"], "note": "Note"}
RELEASED_COLUMNS = {"period": "Quarter", "group": "Group", "referrals": "Referrals",
                    "open_caseload": "Open caseload (end of quarter)", "closures": "Closures",
                    "needs_met_pct": SERIES["needs_met_pct"], "step_up_pct": SERIES["step_up_pct"]}
RELEASED_NOTE = ("Shared trends are per financial quarter (Q1 is April to June); months and free dates are for the "
                 "team only. Hidden counts are gaps in the lines.")
PERIODS_PER_YEAR = {"month": 12, "quarter": 4}


@dataclass(frozen=True)
class TrendView:
    """Counts and shares per period and group, ready to chart and table, with what the reader must be told."""

    audience: Audience
    split: str
    frequency: str
    table: pd.DataFrame  # period, period_start, group, referrals, open_caseload, closures, needs_met_pct, step_up_pct
    columns: dict[str, str]  # table column -> title shown
    finding: str  # one plain sentence: what changed, how sure, what to try next
    notes: tuple[str, ...] = ()
    method: str | None = None
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def marking(self) -> str:
        return marking(self.audience)

    @property
    def series(self) -> dict[str, str]:
        """The columns a chart can draw, with their titles."""
        return dict(SERIES)

    def shown_table(self) -> pd.DataFrame:
        """The table as a reader sees it: titled columns; released counts as text ('c' where hidden)."""
        table = self.table.copy()
        if self.audience is Audience.RELEASE:
            for column in ("referrals", "open_caseload", "closures"):
                table[column] = table[column].map(hidden_text)
        return table[list(self.columns)].rename(columns=self.columns)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def change_range(a: int, b: int) -> tuple[float, float]:
    """A 95% range for the ratio of two counts (latest / earlier), exact: a Clopper-Pearson interval for a's share
    of a + b, which is binomial given the total when both are Poisson counts. The upper end is inf when b is 0."""
    interval = binomtest(a, a + b, 0.5).proportion_ci(0.95, method="exact")
    low, high = interval.low, interval.high
    return low / (1 - low), (high / (1 - high) if high < 1 else math.inf)


def _range_words(low: float, high: float) -> str:
    """'between 21% lower and 7% higher, so it may be no real change' from a ratio's range."""
    def pct(ratio: float) -> str:
        return f"{abs(ratio - 1):.0%}"

    if low > 1:
        end = "more than doubled" if math.isinf(high) else f"{pct(high)} higher"
        return f"between {pct(low)} and {end}, so the rise is likely real"
    if high < 1:
        return f"between {pct(high)} and {pct(low)} lower, so the fall is likely real"
    return (f"anywhere from {pct(low)} lower to {pct(high) if not math.isinf(high) else 'far'} higher, so it may be "
            "no real change")


def _spoken(label: str, frequency: str) -> str:
    """A period as said aloud: a month '2025-03' as 'March 2025'; a quarter as labelled ('2024-25 Q4')."""
    return pd.Period(label, freq="M").strftime("%B %Y") if frequency == "month" else label


def finding(totals: pd.DataFrame, complete: np.ndarray, frequency: str, split: str, table: pd.DataFrame,
            rounded: bool) -> str:
    """The page's reading: referrals in the latest complete period against a year before (or the period before),
    how sure (a 95% range for the change, from `change_range`, on the figures this audience sees) and where to
    look next.

    `totals` holds the council's referrals per period (period, referrals) in order; `complete` marks the periods the
    data covers fully."""
    done = np.flatnonzero(complete & totals["referrals"].notna().to_numpy())
    if len(done) < 2:
        return (f"There are too few complete {frequency}s to compare referrals; choose a longer period"
                + (" or months." if frequency == "quarter" and not rounded else "."))
    latest = done[-1]
    back = latest - PERIODS_PER_YEAR[frequency]
    earlier = back if back in set(done) else done[-2]
    a, b = int(totals["referrals"].iloc[latest]), int(totals["referrals"].iloc[earlier])
    when, before = (_spoken(totals["period"].iloc[i], frequency) for i in (latest, earlier))
    about = "about " if rounded else ""
    if a + b == 0:
        return f"There were no referrals in {when} or {before}; choose another period."
    if b == 0:
        return (f"Referrals in {when} ({about}{a:,}) were up from none in {before}; choose a longer period to see "
                "whether that lasts.")
    if a == b:
        change = "the same as"
    else:
        change = f"{abs(a - b) / b:.0%} {'higher' if a > b else 'lower'} than"
    sure = _range_words(*change_range(a, b))
    sentence = (f"Referrals in {when} ({about}{a:,}) were {change} in {before} ({about}{b:,}); allowing for chance, "
                f"the true change is {sure}")
    if split == "none":
        return sentence + ": split by service or need to see where it comes from."
    moved = _largest_change(table, totals["period"].iloc[latest], totals["period"].iloc[earlier])
    if moved is None:
        return sentence + "."
    group, then, now = moved
    return sentence + (f": the largest change is in {group} ({about}{then:,} to {about}{now:,}), so look there "
                       "first.")


def _largest_change(table: pd.DataFrame, latest: str, earlier: str) -> tuple[str, int, int] | None:
    wide = table.pivot_table(index="group", columns="period", values="referrals", aggfunc="first", dropna=False)
    if latest not in wide or earlier not in wide:
        return None
    change = (wide[latest] - wide[earlier]).dropna()
    if change.empty or (change == 0).all():
        return None
    group = change.abs().idxmax()
    return str(group), int(wide.loc[group, earlier]), int(wide.loc[group, latest])


# --------------------------------------------------------------------------- team


def team_trends(cases: pd.DataFrame, frequency: str = "quarter", split: str = "none",
                start: dt.date | None = None, end: dt.date | None = None) -> TrendView:
    """Exact referrals, open caseload, closures and outcome shares per month or quarter, for any referral period."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got '{split}'.")
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}; got '{frequency}'.")
    start = pd.Timestamp(start) if start is not None else None
    end = pd.Timestamp(end) if end is not None else None
    table = trend_table(cases, frequency, split, start, end)
    totals = table if split == "none" else trend_table(cases, frequency, "none", start, end)
    last_referral = cases["referral_date"].max()
    ends = totals["period_start"] + pd.offsets.MonthEnd(1 if frequency == "month" else 3)
    complete = (~totals["part"]).to_numpy() & (ends <= last_referral).to_numpy()
    text = finding(totals[["period", "referrals"]], complete, frequency, split, table, rounded=False)
    return TrendView(Audience.TEAM, split, frequency, table, dict(TEAM_COLUMNS), text, (DEFINITIONS, SMALL_NOTE))


# --------------------------------------------------------------------------- release


def released_trends(release: Release, split: str = "none", period: str = "all",
                    data_end: dt.date | None = None) -> TrendView:
    """The release's quarters of a financial year (or all years), by nothing, service or need.

    `data_end` (the last referral date) marks the quarters the data covers fully, for the finding; without it
    every quarter counts as complete."""
    chosen = fixed_period(release, period)
    every = release_tables.released_trends(release, split)
    keys = [q.key for q in release.calendar.quarters if chosen.start <= q.start and q.end <= chosen.end]
    table = every[every["period"].isin(keys)].reset_index(drop=True)
    totals = every if split == "none" else release_tables.released_trends(release, "none")
    # the latest complete quarter of the period, against the same quarter a year before (released too)
    complete = np.array([(data_end is None or q.end <= data_end) and q.end <= chosen.end
                         for q in release.calendar.quarters])
    text = finding(totals[["period", "referrals"]], complete, "quarter", split, every, rounded=True)
    shown = table.copy()
    for column in ("referrals", "open_caseload", "closures"):
        shown[column] = shown[column].map(hidden_text)
    download = shown[list(RELEASED_COLUMNS)].rename(columns=RELEASED_COLUMNS)
    stem = f"ehmap_released_{release.la_code}_trends_{split}_{period}"
    return TrendView(Audience.RELEASE, split, "quarter", table, dict(RELEASED_COLUMNS), text,
                     (DEFINITIONS, RELEASED_NOTE), method_statement(release), {stem: download})


__all__ = ["ALL_EPISODES", "SERIES", "SPLIT_TITLES", "TrendView", "released_trends", "team_trends"]
