"""Trends over time: referrals, open caseload and closure outcomes per month or quarter, by need or service.

Tables returned here are safe to show: counts of 1-5 are `c` and a share is blank wherever its numerator
or denominator is. Split by service or need, the other counts are also rounded to the nearest 5: open caseload
moves by referrals minus closures, so exact neighbouring counts would give a hidden one away.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehmap.disclosure import SMALLEST_SHOWN, round_to_base
from ehmap.taxonomy import NEED_BITS, NEED_BY_KEY

FREQUENCIES = {"month": "M", "quarter": "Q"}
SPLITS = ("none", "service", "need")
ROUNDED_SMALLEST_SHOWN = 8  # rounded to 5, 6 and 7 would show as 5: hidden as well
ALL_EPISODES = "All episodes"


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got '{value}'.")


def _split(cases: pd.DataFrame, by: str) -> list[tuple[str, pd.DataFrame]]:
    """(label, episodes) per group; by need, an episode counts under each of its needs."""
    if by == "none":
        return [(ALL_EPISODES, cases)]
    if by == "service":
        return [(str(name), part) for name, part in cases.groupby(cases["service"].astype(object), sort=True)]
    masks = cases["needs_mask"].to_numpy()
    return [(NEED_BY_KEY[key].headline, cases[(masks & bit) != 0]) for key, bit in NEED_BITS.items()]


def trend_table(
    cases: pd.DataFrame,
    frequency: str = "month",
    by: str = "none",
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per period and group: referrals, open caseload at period end, closures, % of closures needs met / stepped up."""
    _check("frequency", frequency, FREQUENCIES)
    _check("by", by, SPLITS)
    first = pd.Timestamp(start) if start is not None else cases["referral_date"].min()
    last = pd.Timestamp(end) if end is not None else max(cases["referral_date"].max(), cases["end_date"].max())
    periods = pd.period_range(first, last, freq=FREQUENCIES[frequency])
    period_end = periods.to_timestamp(how="end").normalize()
    rows = []
    for label, part in _split(cases, by):
        referred = part["referral_date"].dt.to_period(FREQUENCIES[frequency])
        closed_in = part["end_date"].dt.to_period(FREQUENCIES[frequency])
        referrals = referred.value_counts().reindex(periods, fill_value=0).to_numpy()
        closures = closed_in.value_counts().reindex(periods, fill_value=0).to_numpy()
        outcome = part["outcome"].astype(object)
        met = closed_in[outcome == "needs_met"].value_counts().reindex(periods, fill_value=0).to_numpy()
        up = closed_in[outcome == "step_up_csc"].value_counts().reindex(periods, fill_value=0).to_numpy()
        ref = part["referral_date"].to_numpy()
        fin = part["end_date"].to_numpy()
        open_at = np.array([int(((ref <= e) & (np.isnat(fin) | (fin > e))).sum()) for e in period_end.to_numpy()])
        rows.append(
            pd.DataFrame(
                {
                    "period": periods.astype(str),
                    "period_start": periods.to_timestamp(),
                    "group": label,
                    "referrals": referrals,
                    "open_caseload": open_at,
                    "closures": closures,
                    "needs_met": met,
                    "step_up": up,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    return _safe(table, rounded=by != "none")


def _safe(table: pd.DataFrame, rounded: bool) -> pd.DataFrame:
    """Counts 1-5 blanked (shown as 'c'), the rest rounded to 5 when `rounded` (6 and 7, which would show as 5,
    are hidden too); shares hidden with their counts."""
    out = table[["period", "period_start", "group"]].copy()
    limit = ROUNDED_SMALLEST_SHOWN if rounded else SMALLEST_SHOWN
    counts = ("referrals", "open_caseload", "closures", "needs_met", "step_up")
    hidden = {c: (table[c] > 0) & (table[c] < limit) for c in counts}
    for column in ("referrals", "open_caseload", "closures"):
        values = round_to_base(table[column]).astype(float) if rounded else table[column].astype(float)
        out[column] = values.mask(hidden[column])
    for share in ("needs_met", "step_up"):
        hide = (hidden[share] | hidden["closures"] | (table["closures"] == 0)).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.round(table[share].to_numpy() / table["closures"].to_numpy() * 100, 1)
        out[f"{share}_pct"] = np.where(hide, np.nan, pct)
    return out


def shown_trend_table(table: pd.DataFrame) -> pd.DataFrame:
    """The trend table with counts as text ('c' for a hidden count) for display and download."""
    shown = table.drop(columns="period_start").copy()
    for column in ("referrals", "open_caseload", "closures"):
        shown[column] = table[column].astype("Int64").astype("string").fillna("c")
    return shown
