"""Trends over time: referrals, open caseload and closure outcomes per month or quarter, by need or service.

These are the team's own figures: every count is exact and a count from 1 to 5 is flagged "fewer than 6:
interpret with care" in the row's note; shares are worked out on the true counts. Quarters are financial quarters
(Q1 is April to June), labelled as released views label them (2023-24 Q1). What is shared beyond the team is read
from the release gate (`ehmap.views.trends`).

Definitions: referrals are episodes referred in the period; closures are episodes closed in it (whenever they were
referred); the open caseload is every episode referred by the end of the period and not closed by then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehmap.audience import SMALL_FLAG, small
from ehmap.release.periods import financial_year_start
from ehmap.taxonomy import NEED_BITS, NEED_BY_KEY

FREQUENCIES = {"month": "M", "quarter": "Q"}
SPLITS = ("none", "service", "need")
ALL_EPISODES = "All episodes"
NOT_RECORDED = "Not recorded"
COUNTS = ("referrals", "open_caseload", "closures", "needs_met", "step_up")
COUNT_TITLES = {"referrals": "referrals", "open_caseload": "open caseload", "closures": "closures",
                "needs_met": "needs met", "step_up": "stepped up"}
PART_PERIOD = "part of the period only"
DEFINITIONS = (
    "Referrals are episodes referred in the period; closures are episodes closed in it, whenever referred; the open "
    "caseload is every episode referred by the end of the period and not yet closed. An episode with several needs "
    "counts under each."
)
SMALL_NOTE = (f"Counts are exact; a row with a count from 1 to 5 is marked \u201c{SMALL_FLAG}\u201d (the note names "
              "the counts).")


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got '{value}'.")


def _split(cases: pd.DataFrame, by: str) -> list[tuple[str, pd.DataFrame]]:
    """(label, episodes) per group; by need, an episode counts under each of its needs."""
    if by == "none":
        return [(ALL_EPISODES, cases)]
    if by == "service":
        labels = cases["service"].astype(object).where(cases["service"].notna(), NOT_RECORDED).astype(str)
        return [(str(name), part) for name, part in cases.groupby(labels.to_numpy(), sort=True)]
    masks = cases["needs_mask"].to_numpy()
    return [(NEED_BY_KEY[key].headline, cases[(masks & bit) != 0]) for key, bit in NEED_BITS.items()]


def period_label(period: pd.Period) -> str:
    """A month as 2023-04; a quarter as its financial quarter, 2023-24 Q1 (April to June)."""
    if period.freqstr.startswith("M"):
        return str(period)
    start = period.start_time
    year = financial_year_start(start)
    return f"{year}-{(year + 1) % 100:02d} Q{(start.month - 4) % 12 // 3 + 1}"


def trend_table(
    cases: pd.DataFrame,
    frequency: str = "month",
    by: str = "none",
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per period and group: exact referrals, open caseload at period end, closures, needs met and step-ups among
    the closures with their shares (%), `part` (the dates cut the period short) and a note flagging counts from 1
    to 5 and part periods.

    Periods run from the one holding `start` to the one holding `end` (default: the first referral and the last
    date in the data); referrals and closures are counted from `start` to `end` only."""
    _check("frequency", frequency, FREQUENCIES)
    _check("by", by, SPLITS)
    last_date = max(cases["referral_date"].max(), cases["end_date"].max()) if cases["end_date"].notna().any() \
        else cases["referral_date"].max()
    first = pd.Timestamp(start) if start is not None else cases["referral_date"].min()
    last = pd.Timestamp(end) if end is not None else last_date
    if last < first:
        raise ValueError(f"The period ends ({last:%d/%m/%Y}) before it starts ({first:%d/%m/%Y}).")
    periods = pd.period_range(first, last, freq=FREQUENCIES[frequency])
    starts = periods.to_timestamp(how="start")
    ends = periods.to_timestamp(how="end").normalize()
    counted_to = np.minimum(ends, last)  # the last period may be cut short by `end`
    part = (starts < first) | (ends > last)
    rows = []
    for label, episodes in _split(cases, by):
        ref, fin = episodes["referral_date"], episodes["end_date"]
        referred = ref[(ref >= first) & (ref <= last)].dt.to_period(FREQUENCIES[frequency])
        closing = (fin >= first) & (fin <= last)
        closed_in = fin[closing].dt.to_period(FREQUENCIES[frequency])
        outcome = episodes["outcome"].astype(object)[closing]
        ref_days, fin_days = ref.to_numpy(), fin.to_numpy()
        rows.append(pd.DataFrame({
            "period": [period_label(p) for p in periods],
            "period_start": starts,
            "group": label,
            "referrals": referred.value_counts().reindex(periods, fill_value=0).to_numpy(),
            "open_caseload": [int(((ref_days <= e) & (np.isnat(fin_days) | (fin_days > e))).sum())
                              for e in counted_to.to_numpy()],
            "closures": closed_in.value_counts().reindex(periods, fill_value=0).to_numpy(),
            "needs_met": closed_in[outcome == "needs_met"].value_counts().reindex(periods, fill_value=0).to_numpy(),
            "step_up": closed_in[outcome == "step_up_csc"].value_counts().reindex(periods, fill_value=0).to_numpy(),
            "part": part,
        }))
    table = pd.concat(rows, ignore_index=True)
    for column in COUNTS:
        table[column] = table[column].astype(int)
    closures = table["closures"].to_numpy(dtype=float)
    for share in ("needs_met", "step_up"):
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"{share}_pct"] = np.where(closures > 0, np.round(table[share] / closures * 100, 1), np.nan)
    table["note"] = [_note(row) for row in table.to_dict("records")]
    return table


def _note(row: dict) -> str:
    """The care flag naming a row's counts from 1 to 5, and whether the dates cut the period short."""
    flagged = [COUNT_TITLES[c] for c in COUNTS if small(row[c])]
    parts = [f"{SMALL_FLAG} ({', '.join(flagged)})"] if flagged else []
    if row["part"]:
        parts.append(PART_PERIOD)
    return "; ".join(parts)


def shown_trend_table(table: pd.DataFrame) -> pd.DataFrame:
    """The trend table as the team sees it: every column but the period's start date and the part-period flag."""
    return table.drop(columns=["period_start", "part"])
