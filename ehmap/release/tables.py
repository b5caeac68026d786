"""Released tables read from a `Release`: what a viewer, a workshop screen, the board paper or a partner's CSV shows.

Every count comes from the release's protected counts (rounded to 5, small ones 'c'); percentages are the whole
percentages it checked; rates use the rounded counts, so they tell a reader nothing the counts do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ehmap.areas import AreaSet
from ehmap.ranking import children_by_area
from ehmap.release.gate import GEOGRAPHY_TITLES, Release
from ehmap.release.linked import Key
from ehmap.release.periods import Period
from ehmap.release.protect import HIDDEN
from ehmap.release.universe import ALL_NEEDS, CLOSED_CATEGORIES, COUNCIL, OPEN, POVERTY
from ehmap.taxonomy import NEED_BY_KEY, OUTCOMES

PER_CHILDREN = 1000


def method_statement(release: Release, need: str | None = None) -> str:
    """How a released output was protected, in plain English (printed on every released output)."""
    protected = release.protected
    text = (
        f"How these figures were protected: {protected.rule.describe()} Percentages are worked out from the true "
        "counts and shown as whole numbers; rates per 1,000 children use the rounded counts. Periods are whole "
        "financial years (April to March) or their quarters, never free dates. Services and referral sources are "
        "shown for the whole council only, never within an area. "
    )
    if need is not None or ALL_NEEDS in release.geography:
        text += release.geography_sentence(need) + " "
    text += (
        f"Every table this release can show was checked together by linear programming: none of its "
        f"{len(protected.hidden):,} hidden counts can be worked out from the others"
        + (f" ({protected.secondary:,} were hidden only to protect others)." if protected.secondary else ".")
    )
    return text


def need_title(need: str | None) -> str:
    if need in (None, ALL_NEEDS):
        return "All needs"
    if need == POVERTY:
        return "Financial stability or secure housing"
    return NEED_BY_KEY[need].headline


def area_counts(release: Release, need: str | None, period: str) -> tuple[AreaSet, pd.DataFrame]:
    """The released episodes per area for a need and period, on the need's released geography.

    Returns the areas and a table: code, name, episodes (text: rounded or 'c'), episodes_value (NaN where hidden).
    """
    need = need or ALL_NEEDS
    if period not in {p.key for p in release.periods}:
        raise ValueError(f"Areas are released for whole financial years or all years only; got '{period}'. "
                         f"Choose from {[p.key for p in release.periods]}.")
    kind = release.geography[need]
    areas = release.areas[kind]
    codes = areas.areas["code"].astype(str)
    keys = [("episodes", need, kind, code, period) for code in codes]
    table = pd.DataFrame({
        "code": codes.to_numpy(),
        "name": areas.areas["name"].astype(str).to_numpy(),
        "episodes": [release.text(k) for k in keys],
        "episodes_value": [release.value(k) for k in keys],
    })
    return areas, table


def released_rates(episodes_value: pd.Series, children: pd.Series) -> pd.Series:
    """Rate per 1,000 children from the rounded counts, to 1 decimal; NaN where the count is hidden."""
    rate = episodes_value.to_numpy(dtype=float) / children.to_numpy(dtype=float) * PER_CHILDREN
    return pd.Series(np.where(children.to_numpy() > 0, np.round(rate, 1), np.nan), index=episodes_value.index)


def released_need_areas(release: Release, need: str | None, period: str,
                        population: pd.DataFrame | None) -> tuple[AreaSet, pd.DataFrame]:
    """Area counts with children and the rate per 1,000 from the rounded counts (blank where hidden)."""
    areas, table = area_counts(release, need, period)
    if population is not None:
        children = children_by_area(areas, population)
        table["children"] = children.to_numpy()
        table["rate"] = released_rates(table["episodes_value"], children.reset_index(drop=True)).to_numpy()
    return areas, table


GROUP_COLUMNS = ("episodes", "open", "closed", *CLOSED_CATEGORIES, "rereferral_eligible", "rereferred")


def released_groups(release: Release, by: str, period: str) -> pd.DataFrame:
    """Per service (or referral source) and for the council: episodes, every outcome, shares of closed episodes."""
    release.period(period)
    rows = []
    for group in [*release.groups[by], None]:
        owner = ("outcome", by, group) if group is not None else ("outcome", COUNCIL, "")
        whole = ("group", by, group, period) if group is not None else ("episodes", ALL_NEEDS, COUNCIL, "", period)
        row: dict[str, object] = {"group": group if group is not None else "All", "episodes": release.text(whole)}
        for c in (OPEN, "closed", *CLOSED_CATEGORIES, "rereferral_eligible", "rereferred"):
            row[c] = release.text((*owner, c, period))
        for c in ("needs_met", "step_up_csc", "disengaged"):
            row[f"{c}_pct"] = release.share((*owner, c, period), (*owner, "closed", period))
        row["rereferral_pct"] = release.share((*owner, "rereferred", period), (*owner, "rereferral_eligible", period))
        rows.append(row)
    return pd.DataFrame(rows)


GROUP_TITLES = {
    "group": "Group", "episodes": "Episodes", OPEN: "Still open", "closed": "Closed",
    **{c: OUTCOMES[c] for c in CLOSED_CATEGORIES},
    "needs_met_pct": "Needs met % of closed", "step_up_csc_pct": "Stepped up % of closed",
    "disengaged_pct": "Disengaged % of closed", "rereferral_eligible": "Closed 12+ months before the data ends",
    "rereferred": "Re-referred within 12 months", "rereferral_pct": "Re-referral %",
}


def released_trends(release: Release, split: str = "none") -> pd.DataFrame:
    """Per quarter and group: referrals, closures, open caseload at the quarter's end, % of closures met or up."""
    if split == "none":
        groups = [("All episodes", lambda q: ("episodes", ALL_NEEDS, COUNCIL, "", q))]
    elif split == "service":
        groups = [(s, lambda q, s=s: ("group", "service", s, q)) for s in release.groups["service"]]
    elif split == "need":
        groups = [(n, lambda q, n=n: ("episodes", n, COUNCIL, "", q))
                  for n in release.geography if n not in (ALL_NEEDS, POVERTY)]
    else:
        raise ValueError(f"split must be one of none, service, need; got '{split}'.")
    rows = []
    for group, referrals in groups:
        for quarter in release.calendar.quarters:
            closures = ("closures", split, group, quarter.key)
            rows.append({
                "period": quarter.key,
                "period_start": pd.Timestamp(quarter.start),
                "group": need_title(group) if split == "need" else group,
                "referrals": release.value(referrals(quarter.key)),
                "open_caseload": release.value(("open", split, group, quarter.key)),
                "closures": release.value(closures),
                "needs_met_pct": release.share((*closures, "needs_met"), closures),
                "step_up_pct": release.share((*closures, "step_up_csc"), closures),
            })
    return pd.DataFrame(rows)


def released_deciles(release: Release, period: str) -> pd.DataFrame | None:
    """Episodes with a poverty need, and all episodes, per national IMD decile (None without deprivation data)."""
    if not release.has_deciles:
        return None
    release.period(period)
    deciles = [k[3] for k in release.protected.shown.keys() | release.protected.hidden.keys()
               if k[:3] == ("episodes", ALL_NEEDS, "decile") and k[4] == period]
    rows = []
    for d in sorted(set(deciles), key=int):
        rows.append({
            "decile": int(d),
            "episodes": release.text(("episodes", POVERTY, "decile", d, period)),
            "all_episodes": release.text(("episodes", ALL_NEEDS, "decile", d, period)),
        })
    return pd.DataFrame(rows)


def released_families(release: Release, period: str, poverty_title: str) -> pd.DataFrame | None:
    """Families with poverty needs and all families, and the share living in the most deprived fifth of areas."""
    if not release.has_deciles:
        return None
    rows = []
    for group, title in ((POVERTY, poverty_title), ("all", "All Early Help families")):
        total, fifth = ("families", group, "total", period), ("families", group, "most_deprived_fifth", period)
        rows.append({"group": title, "families": release.text(total),
                     "in_most_deprived_fifth": release.text(fifth), "share_percent": release.share(fifth, total)})
    return pd.DataFrame(rows)


def council_totals(release: Release) -> pd.DataFrame:
    """Episodes per need for the whole council, per year, quarter and all years."""
    periods = [*release.calendar.years, *release.calendar.quarters, release.calendar.all_years]
    return pd.DataFrame([{"need": need_title(need), "period": p.key, "episodes": release.council_count(need, p.key)}
                         for need in release.geography for p in periods])


def release_tables(release: Release) -> dict[str, pd.DataFrame]:
    """Every table the release can show, by a file-safe name: the released pack (and what attacks are tested on)."""
    tables = {"council_totals": council_totals(release)}
    for need, kind in release.geography.items():
        for period in release.periods:
            _, table = area_counts(release, need, period.key)
            tables[f"episodes_{need}_by_{kind}_{period.key}"] = table[["code", "name", "episodes"]]
    for by in release.groups:
        for period in release.periods:
            tables[f"outcomes_by_{by}_{period.key}"] = released_groups(release, by, period.key)
    for split in ("none", "service", "need"):
        tables[f"trends_by_{split}"] = released_trends(release, split).drop(columns="period_start")
    for period in release.periods:
        deciles = released_deciles(release, period.key)
        if deciles is not None:
            tables[f"episodes_by_imd_decile_{period.key}"] = deciles
            tables[f"families_{period.key}"] = released_families(release, period.key, need_title(POVERTY))
    return tables


def hidden_text(value: float) -> str:
    """A released number for display: the value, or 'c' where hidden."""
    return HIDDEN if pd.isna(value) else f"{value:,.0f}"


__all__ = ["GEOGRAPHY_TITLES", "method_statement", "area_counts", "released_need_areas", "released_groups",
           "released_trends", "released_deciles", "released_families"]


# ------------------------------------------------------- added for the performance, trends and business case views


def fixed_period(release: Release, period: str) -> Period:
    """One of the release's fixed periods (a financial year, or all years); a free period is refused."""
    keys = [p.key for p in release.periods]
    if period not in keys:
        raise ValueError(f"Shared figures are for whole financial years or all years only; got '{period}'. "
                         f"Choose from {', '.join(keys)}.")
    return release.period(period)


BUSINESS_COUNTS = {"closed": "Closed episodes", "step_ups": "Stepped up to children's social care",
                   "da_needs_met": "Closed with needs met, domestic abuse need",
                   "education_needs_met": "Closed with needs met, education need"}


def business_count_keys(period: str) -> dict[str, Key]:
    """The release's keys of the council counts the business case starts from."""
    return {"closed": ("outcome", COUNCIL, "", "closed", period),
            "step_ups": ("outcome", COUNCIL, "", "step_up_csc", period),
            "da_needs_met": ("needs_met", "domestic_abuse", COUNCIL, period),
            "education_needs_met": ("needs_met", "education", COUNCIL, period)}


def released_business_counts(release: Release, period: str) -> pd.DataFrame:
    """The released council counts behind the business case: count, title, text (rounded or 'c'), value."""
    fixed_period(release, period)
    return pd.DataFrame([{"count": name, "title": BUSINESS_COUNTS[name], "text": release.text(key),
                          "value": release.value(key)} for name, key in business_count_keys(period).items()])
