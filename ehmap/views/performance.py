"""Which services help most, for either audience: the team's exact outcomes and funnel, or the released ones.

The team sees every count exactly (small ones flagged), shares with intervals and every group on the funnel, for
any referral period and by service, referral source or locality. A released view is for a financial year (or all
years), by service or referral source across the whole council: its outcome table is read from the release gate,
its funnel points are the released (rounded) figures, and each group's position against the limits is worked out
on the true counts but shared as a label only (within / above / below the expected range: no ratio, no score).

API (stable; the board report calls it):

- `team_performance(cases, by, measure, adjusted, start, end, idaci_decile, method, overdispersion,
  lsoa_to_locality) -> PerformanceView`
- `released_performance(release, cases, by, period, measure, adjusted, idaci_decile) -> PerformanceView`

Each view carries `reading` (one or two sentences for a meeting: who does better or worse than expected, with the
figure, its 95% interval and how sure, and what to try next) and `glance` (every group ranked best first with its
value and 95% interval and a result: clearly better / better / as expected / worse / clearly worse than expected).
Released glance intervals come from the released (rounded) counts; a group with a hidden count is not ranked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ehmap import funnel
from ehmap.audience import Audience, marking
from ehmap.performance import (
    COLUMN_TITLES,
    GROUPINGS,
    LOWER_IS_BETTER,
    MEASURES,
    NOTHING_EXPECTED,
    Comparison,
    category_check,
    compare,
    outcome_table,
    wilson_interval,
)
from ehmap.release.gate import Release
from ehmap.release.protect import HIDDEN
from ehmap.release.tables import GROUP_TITLES, fixed_period, method_statement, released_groups
from ehmap.release.universe import COUNCIL

GROUP_NOUNS = {"service": ("service", "services"), "referral_source": ("referral source", "referral sources"),
               "locality": ("locality", "localities")}
RELEASED_GROUPINGS = ("service", "referral_source")
LOCALITY_TEAM_ONLY = ("Comparing localities is for the team only: shared views compare services and referral "
                      "sources across the whole council, never within an area.")
RELEASED_FUNNEL_NOTE = ("Points are the released (rounded) figures. Each group's result is worked out from the true "
                        "counts and shared as a label only (no ratio or score), so it cannot be worked back to a "
                        "count; a group with a hidden count is not compared.")
RELEASED_ADJUSTED_NOTE = ("Results allow for case mix; the points show the raw released shares, so a group whose "
                          "share looks high may still be within the expected range for its case mix.")
RELEASED_LIMITS_NOTE = ("Lines are the 95% and 99.8% limits (exact binomial) around the council's released "
                        "percentage; shared views use no overdispersion adjustment.")
NOT_COMPARED_HIDDEN = "not compared: a count behind it is hidden"
NOT_COMPARED_NONE = "not compared: none to compare"
# measure -> (released numerator column, released denominator column)
RELEASED_COUNTS = {"step_up": ("step_up_csc", "closed"), "needs_met": ("needs_met", "closed"),
                   "disengaged": ("disengaged", "closed"), "rereferral": ("rereferred", "rereferral_eligible")}
DOWNLOAD_TITLES = {"outcomes": "the outcome table", "funnel": "the funnel results", "glance": "services at a glance"}
GLANCE_COLUMNS = {"rank": "Rank (1 = best)", "group": "", "value": "", "lower": "95% interval from",
                  "upper": "95% interval to", "events": "Events", "volume": "", "result": "Result", "note": "Note"}
RELEASED_INTERVAL_NOTE = ("Shared shares and their 95% intervals (Wilson) are worked out from the released (rounded) "
                          "counts, so they are approximate; a group with a hidden count is not ranked.")
AS_EXPECTED = "as expected"
NEXT_STEPS = {  # grouping -> (next step for the group doing worse, for the group doing better)
    "service": ("look at {group}'s cases with its managers before drawing conclusions",
                "ask what {group} does differently"),
    "referral_source": ("look at the families referred by {group} before drawing conclusions",
                        "ask what differs about referrals from {group}"),
    "locality": ("look at {group}'s families and local services before drawing conclusions",
                 "ask what works in {group}"),
}


@dataclass(frozen=True)
class FunnelChart:
    """A funnel plot ready to draw: one point per group, the limit lines (if any) and what to say about it.

    `points` always has group, x, y (a share 0-1, or observed / expected), label (where it lies against the limits)
    and reading (a sentence); `columns` maps the columns to show in its table to their titles."""

    points: pd.DataFrame
    columns: dict[str, str]
    curve: pd.DataFrame | None  # volume, lower_95, upper_95, lower_998, upper_998; None: no limits drawn
    target: float | None  # the centre line (None: not drawn)
    x_title: str
    y_title: str
    share: bool  # y is a share (format as %), else a ratio
    notes: tuple[str, ...] = ()

    @property
    def readings(self) -> list[str]:
        return list(self.points["reading"])

    @property
    def y_domain(self) -> tuple[float, float]:
        """The y-axis range that fits the points and the centre line (the limits are cut at its edge): the funnel's
        mouth at tiny volumes would otherwise squash every point into a thin band."""
        values = pd.to_numeric(self.points["y"], errors="coerce").dropna().to_numpy(dtype=float)
        top = max([*values, self.target or 0.0]) if len(values) or self.target else 1.0
        centre = self.target or 0.0
        return 0.0, float(max(top * 1.15, centre * 1.6, 0.01))

    def shown_table(self) -> pd.DataFrame:
        """The funnel's table as a reader sees it: shares in % to 1 decimal, ratios to 2 decimals, titled columns."""
        table = self.points[list(self.columns)].copy()
        for column in ("y", "value_lower", "value_upper"):
            if column in table:
                values = pd.to_numeric(table[column], errors="coerce")
                table[column] = (values * 100).round(1) if self.share else values.round(2)
        titles = dict(self.columns)
        if self.share:
            titles |= {c: f"{titles[c]} (%)" for c in ("y", "value_lower", "value_upper") if c in titles}
        return table.rename(columns=titles)


@dataclass(frozen=True)
class PerformanceView:
    """Outcomes per group and the funnel comparison of one measure, for one audience."""

    audience: Audience
    by: str
    measure: str
    adjusted: bool
    table: pd.DataFrame  # one row per group, then the council ('All')
    columns: dict[str, str]  # table column -> title shown
    funnel: FunnelChart | None  # None when the measure cannot be compared (the finding says why)
    finding: str  # one plain sentence: what was found, how sure, what to try next
    notes: tuple[str, ...] = ()
    method: str | None = None  # how a release was protected (release only)
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)  # file stem -> released table (release only)
    glance: pd.DataFrame = field(default_factory=pd.DataFrame)  # ranked: rank, group, value, lower, upper, result...
    glance_columns: dict[str, str] = field(default_factory=dict)  # glance column -> title shown
    reading: str = ""  # one or two plain sentences for a meeting: what stands out, how sure, what to try next
    categories: str = ""  # every outcome category counted, adding up to the closed episodes (team only)

    @property
    def marking(self) -> str:
        return marking(self.audience)

    def shown_table(self) -> pd.DataFrame:
        """The outcome table as a reader sees it: titled columns."""
        return self.table[list(self.columns)].rename(columns=self.columns)

    def shown_glance(self) -> pd.DataFrame:
        """Services at a glance as a reader sees it: ranked, titled columns."""
        if self.glance.empty:
            return self.glance
        return self.glance[list(self.glance_columns)].rename(columns=self.glance_columns)


def download_title(stem: str) -> str:
    """What a download holds, for its button ('the outcome table', 'the funnel results')."""
    return next((title for key, title in DOWNLOAD_TITLES.items() if f"_{key}_" in stem), "this table")


def _titles(measure: str, adjusted: bool) -> tuple[str, str]:
    label = MEASURES[measure][0]
    if adjusted:
        return "Expected events for the case mix", "Observed / expected"
    base = "Closed 12+ months before the data ends" if measure == "rereferral" else "Closed episodes"
    return base, label[0].upper() + label[1:]


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def finding(labels: pd.Series, by: str, measure: str, adjusted: bool, strong: set[str] | None = None) -> str:
    """One plain sentence: which groups lie outside the expected range, how sure that is, and what to try next.

    `labels` maps group -> broad label (within / above / below the expected range, or not compared); `strong` holds
    the groups beyond the 99.8% limits (team only: released labels do not say)."""
    one, many = GROUP_NOUNS[by]
    label = MEASURES[measure][0]
    context = " allowing for case mix" if adjusted else ""
    above = [str(g) for g, v in labels.items() if v == funnel.BROAD_LABELS["above 95%"]]
    below = [str(g) for g, v in labels.items() if v == funnel.BROAD_LABELS["below 95%"]]
    compared = sum(v in funnel.BROAD_LABELS.values() for v in labels)
    if not above and not below:
        other = ("turn case-mix adjustment off to see the raw differences" if adjusted
                 else "turn case-mix adjustment on to allow for the families each sees")
        return (f"No {one} stands out: the {label} of all {compared} {many} compared is within the expected "
                f"range{context} (95% limits); try another measure, a longer period, or {other}.")
    parts = []
    if above:
        parts.append(f"{_listed(above)} {'is' if len(above) == 1 else 'are'} above")
    if below:
        parts.append(f"{_listed(below)} {'is' if len(below) == 1 else 'are'} below")
    outside = above + below
    if strong is None:
        sure = "outside the 95% limits, worth a look though it could be chance"
    elif strong & set(outside):
        sure = (f"for {_listed(sorted(strong & set(outside)))} this is outside the 99.8% limits and very unlikely to "
                "be chance")
    else:
        sure = "outside the 95% limits only, so it could be chance"
    nxt = ("look at their cases before drawing conclusions" if adjusted
           else "turn case-mix adjustment on to see whether the families they see explain it")
    within = compared - len(outside)
    return (f"On the {label}, {' and '.join(parts)} the expected range{context} ({sure}); of {compared} {many} "
            f"compared, {within} {'is' if within == 1 else 'are'} within it; {nxt}.")


# --------------------------------------------------------------------------- services at a glance


def result_label(label: str, strong: bool | None, lower_is_better: bool) -> str:
    """A group's result in plain words from its broad label: 'clearly worse than expected' (beyond the 99.8% limits),
    'better than expected (could be chance)' (beyond 95% only), 'as expected', or why it is not compared.

    `strong` is None for released views, which do not say how far outside the limits a group lies."""
    if label == funnel.BROAD_LABELS["within"]:
        return AS_EXPECTED
    if label not in funnel.BROAD_LABELS.values():
        return label
    word = "worse" if (label == funnel.BROAD_LABELS["above 95%"]) == lower_is_better else "better"
    if strong is None:
        return f"{word} than expected (outside the 95% limits)"
    return f"clearly {word} than expected" if strong else f"{word} than expected (could be chance)"


def glance_table(points: pd.DataFrame, measure: str, share: bool) -> pd.DataFrame:
    """Groups ranked best first (rank 1), each with its value, 95% interval, events, volume and result; groups not
    compared come last, unranked.

    `points` has group, value, lower, upper (shares 0-1 or O/E ratios), events, volume, label (broad), strong
    (bool, or None when released) and note. Shares are shown in % to 1 decimal, ratios to 2 decimals."""
    lower_is_better = LOWER_IS_BETTER[measure]
    table = points.copy()
    table["result"] = [result_label(label, strong, lower_is_better)
                       for label, strong in zip(table["label"], table["strong"], strict=True)]
    scale, decimals = (100, 1) if share else (1, 2)
    for column in ("value", "lower", "upper"):
        table[column] = (pd.to_numeric(table[column], errors="coerce") * scale).round(decimals)
    compared = table["value"].notna() & table["label"].isin(set(funnel.BROAD_LABELS.values()))
    ranked = table[compared].sort_values(["value", "group"], ascending=[lower_is_better, True])
    ranked["rank"] = ranked["value"].rank(method="min", ascending=lower_is_better).astype(int)
    rest = table[~compared].sort_values("group").assign(rank=pd.NA)
    glance = pd.concat([ranked, rest], ignore_index=True)
    glance["rank"] = glance["rank"].astype("Int64")
    return glance[["rank", "group", "value", "lower", "upper", "events", "volume", "result", "note"]]


def glance_columns(by: str, measure: str, adjusted: bool, share: bool, released: bool) -> dict[str, str]:
    """Titles of the glance table's columns for this grouping and measure."""
    label = MEASURES[measure][0]
    value = f"{label[0].upper() + label[1:]} (%)" if share else "Observed / expected (1 = as expected)"
    volume = ("Expected events for the case mix" if adjusted and not share else
              "Closed 12+ months before the data ends" if measure == "rereferral" else "Closed episodes")
    result = "Result" + (" (for its case mix)" if adjusted else "")
    return GLANCE_COLUMNS | {"group": GROUPINGS[by], "value": value, "volume": volume, "result": result} | (
        {"rank": "Rank (1 = best)"} if not released else {"rank": "Rank (1 = best, released figures)"})


def _figure(row: pd.Series, share: bool, released: bool) -> str:
    if share:
        value = f"{row['value']:.0f}%" if released else f"{row['value']:.1f}%"
        return f"{value}, 95% interval {row['lower']:.1f}% to {row['upper']:.1f}%"
    return f"{row['value']:.2f} times the expected number, 95% interval {row['lower']:.2f} to {row['upper']:.2f}"


def _sure(result: str) -> str:
    if result.startswith("clearly"):
        return "very unlikely to be chance"
    return "could be chance" if "could be chance" in result else "outside the 95% limits"


def _headline(rows: pd.DataFrame, pick: int) -> pd.Series:
    """The group a reading quotes on one side: the most extreme of those clearly better (or worse) than expected,
    else the most extreme of them all (`pick` 0: first in rank order, -1: last)."""
    clearly = rows[rows["result"].str.startswith("clearly")]
    return (clearly if len(clearly) else rows).iloc[pick]


def services_reading(glance: pd.DataFrame, by: str, measure: str, adjusted: bool, share: bool,
                     released: bool) -> str:
    """One or two sentences for a meeting from the ranked glance table: which groups do better or worse than
    expected on the measure (with the figure, its 95% interval and how sure), and what to try next."""
    one, many = GROUP_NOUNS[by]
    label = MEASURES[measure][0]
    context = ", allowing for case mix," if adjusted else ","
    ranked = glance[glance["rank"].notna()]
    if ranked.empty:
        return f"No {one} can be compared on the {label} for this period; try another measure or period."
    better = ranked[ranked["result"].str.contains("better")]
    worse = ranked[ranked["result"].str.contains("worse")]
    unranked = len(glance) - len(ranked)
    missing = f" ({unranked} more not compared: see the table)" if unranked else ""
    if better.empty and worse.empty:
        best = ranked.iloc[0]
        return (f"No {one} stands out on the {label}{context.rstrip(',')}: all {len(ranked)} {many} compared are "
                f"within the expected range{missing}. {best['group']} has the best figure "
                f"({_figure(best, share, released)}), but that could be chance; try another measure, a longer period"
                + (", or turning case-mix adjustment off." if adjusted else ", or turning case-mix adjustment on."))
    parts, figures, quoted = [], [], {}
    for side, rows, pick in (("better", better, 0), ("worse", worse, -1)):
        if rows.empty:
            continue
        names = [str(g) for g in rows["group"]]
        parts.append(f"{_listed(names)} {'does' if len(names) == 1 else 'do'} {side} than expected")
        row = quoted[side] = _headline(rows, pick)
        figures.append(f"{row['group']} {_figure(row, share, released)}: {_sure(str(row['result']))}")
    others = len(ranked) - len(better) - len(worse)
    look, ask = NEXT_STEPS[by]
    nxt = []
    if "worse" in quoted:
        nxt.append(look.format(group=quoted["worse"]["group"]))
    if "better" in quoted:
        nxt.append(ask.format(group=quoted["better"]["group"]))
    return (f"On the {label}{context} {' and '.join(parts)} ({'; '.join(figures)}); the other {others} "
            f"{one if others == 1 else many} {'is' if others == 1 else 'are'} as expected{missing}. Next: "
            f"{' and '.join(nxt)}.")


# --------------------------------------------------------------------------- team


def _team_funnel(comparison: Comparison) -> FunnelChart:
    x_title, y_title = _titles(comparison.measure, comparison.adjusted)
    columns = {"group": GROUPINGS[comparison.by], "x": x_title, "episodes": "Episodes in the measure",
               "events": "Events"}
    if comparison.adjusted:
        columns["expected"] = "Expected"
    columns |= {"y": y_title, "value_lower": "95% CI lower", "value_upper": "95% CI upper",
                "label": "Against the limits", "note": "Note"}
    notes = [*comparison.notes, comparison.strata] if comparison.adjusted else list(comparison.notes)
    return FunnelChart(comparison.points.rename(columns={"volume": "x", "value": "y", "position": "label"}),
                       columns, comparison.curve, comparison.target, x_title, y_title, not comparison.adjusted,
                       tuple(n for n in notes if n))


def team_performance(cases: pd.DataFrame, by: str, measure: str, adjusted: bool, start: dt.date | None,
                     end: dt.date | None, idaci_decile: pd.Series | None = None, method: str = "exact",
                     overdispersion: str = "none", lsoa_to_locality: pd.Series | None = None,
                     unrecognised_outcomes: dict[str, int] | None = None) -> PerformanceView:
    """Exact outcomes per group and the funnel of every group on the true counts, for any referral period.

    `unrecognised_outcomes` (the ingest's warnings: closure text counted as Other) is named under the outcomes."""
    table = outcome_table(cases, by, lsoa_to_locality, start=start, end=end)
    columns = {c: COLUMN_TITLES[c] for c in table.shown.columns} | {"group": GROUPINGS[by]}
    try:
        comparison = compare(cases, measure, by, adjusted, idaci_decile, method, overdispersion, lsoa_to_locality,
                             start=start, end=end)
    except ValueError as problem:
        message = f"{problem} Try another measure or a longer period."
        return PerformanceView(Audience.TEAM, by, measure, adjusted, table.shown, columns, None, message,
                               tuple(table.notes), reading=message,
                               categories=category_check(table.shown, unrecognised_outcomes))
    points = comparison.points.set_index("group")
    labels = points["position"].map(lambda p: funnel.BROAD_LABELS.get(p, p))
    strong = set(points.index[points["position"].str.endswith("99.8%")])
    share = not adjusted
    glance = glance_table(_team_glance_points(comparison), measure, share)
    return PerformanceView(Audience.TEAM, by, measure, adjusted, table.shown, columns, _team_funnel(comparison),
                           finding(labels, by, measure, adjusted, strong), tuple(table.notes), glance=glance,
                           glance_columns=glance_columns(by, measure, adjusted, share, False),
                           reading=services_reading(glance, by, measure, adjusted, share, False),
                           categories=category_check(table.shown, unrecognised_outcomes))


def _team_glance_points(comparison: Comparison) -> pd.DataFrame:
    """The comparison's points in the glance table's terms (values on the true counts)."""
    points = comparison.points
    return pd.DataFrame({"group": points["group"], "value": points["value"], "lower": points["value_lower"],
                         "upper": points["value_upper"], "events": points["events"], "volume": points["volume"],
                         "label": points["position"].map(lambda p: funnel.BROAD_LABELS.get(p, p)),
                         "strong": points["position"].str.endswith("99.8%"), "note": points["note"]})


# --------------------------------------------------------------------------- release


def _released_funnel(release: Release, cases: pd.DataFrame, by: str, period: str, measure: str, adjusted: bool,
                     idaci_decile: pd.Series | None) -> tuple[FunnelChart, pd.Series]:
    """Released points with labels from the true counts, and the limits around the council's released share."""
    chosen = release.period(period)
    true = compare(cases, measure, by, adjusted, idaci_decile, "exact", "none", start=chosen.start, end=chosen.end)
    positions = true.points.set_index("group")["position"]
    numerator, denominator = RELEASED_COUNTS[measure]
    label_measure = MEASURES[measure][0]
    context = " for its case mix" if adjusted else " for its number of episodes"
    rows = []
    for group in release.groups[by]:
        num, den = ("outcome", by, group, numerator, period), ("outcome", by, group, denominator, period)
        volume, events = release.text(den), release.text(num)
        if HIDDEN in (volume, events):
            label = NOT_COMPARED_HIDDEN
        elif group not in positions.index or volume == "0":
            label = NOT_COMPARED_NONE
        elif positions[group] == NOTHING_EXPECTED:
            label = NOTHING_EXPECTED
        else:
            label = funnel.broad_label(positions[group])
        if label in funnel.BROAD_LABELS.values():
            reading = f"{group}'s {label_measure} is {label}{context}."
        else:
            reading = f"{group}: {label}."
        rows.append({"group": group, "volume": volume, "events": events, "x": release.value(den),
                     "events_value": release.value(num), "percent": release.share(num, den), "label": label,
                     "reading": reading})
    points = pd.DataFrame(rows)
    points["y"] = points["percent"] / 100
    x_title, y_title = _titles(measure, False)
    council = ("outcome", COUNCIL, "")
    p0 = release.share((*council, numerator, period), (*council, denominator, period)) / 100
    curve, target, notes = None, None, [RELEASED_FUNNEL_NOTE]
    if adjusted:
        notes += [RELEASED_ADJUSTED_NOTE, true.strata]
    elif 0 < p0 < 1:
        top = max(float(np.nanmax(np.append(points["x"].to_numpy(dtype=float), 0.0))) * 1.1, 10.0)
        grid = np.unique(np.round(np.concatenate([np.linspace(5, top, 200), np.geomspace(1, top, 100)])))
        limits = {c: funnel.proportion_limits(p0, grid, c, "exact") for c in funnel.LIMITS}
        curve = pd.DataFrame({"volume": grid, "lower_95": limits[0.95][0], "upper_95": limits[0.95][1],
                              "lower_998": limits[0.998][0], "upper_998": limits[0.998][1]})
        target = p0
        notes.append(RELEASED_LIMITS_NOTE)
    if measure == "rereferral":
        notes.append(true.notes[-1])
    columns = {"group": GROUPINGS[by], "volume": x_title, "events": "Events", "percent": f"{y_title} (%)",
               "label": "Result" + (" (for its case mix)" if adjusted else "")}
    chart = FunnelChart(points, columns, curve, target, x_title, y_title, True, tuple(notes))
    return chart, points.set_index("group")["label"]


def released_performance(release: Release, cases: pd.DataFrame, by: str, period: str, measure: str = "step_up",
                         adjusted: bool = True, idaci_decile: pd.Series | None = None) -> PerformanceView:
    """The released outcome table and funnel for a financial year (or all years), by service or referral source."""
    fixed_period(release, period)
    if by == "locality":
        raise ValueError(LOCALITY_TEAM_ONLY)
    if by not in RELEASED_GROUPINGS:
        raise ValueError(f"Shared views compare {' or '.join(RELEASED_GROUPINGS)}; got '{by}'.")
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}; got '{measure}'.")
    table = released_groups(release, by, period)
    columns = dict(GROUP_TITLES) | {"group": GROUPINGS[by]}
    shown = table[list(columns)].rename(columns=columns)
    stem = f"ehmap_released_{release.la_code}_outcomes_{by}_{period}"
    downloads = {stem: shown}
    notes = (LOCALITY_TEAM_ONLY,)
    method = method_statement(release)
    try:
        chart, labels = _released_funnel(release, cases, by, period, measure, adjusted, idaci_decile)
    except ValueError as problem:
        message = f"{problem} Try another measure or another period."
        return PerformanceView(Audience.RELEASE, by, measure, adjusted, table, columns, None, message, notes, method,
                               downloads, reading=message)
    funnel_table = chart.points[list(chart.columns)].rename(columns=chart.columns)
    downloads[f"ehmap_released_{release.la_code}_funnel_{by}_{measure}_{period}"] = funnel_table
    glance = glance_table(_released_glance_points(chart.points), measure, True)
    titles = glance_columns(by, measure, adjusted, True, True)
    downloads[f"ehmap_released_{release.la_code}_glance_{by}_{measure}_{period}"] = \
        glance[list(titles)].rename(columns=titles)
    return PerformanceView(Audience.RELEASE, by, measure, adjusted, table, columns, chart,
                           finding(labels, by, measure, adjusted), (*notes, RELEASED_INTERVAL_NOTE), method, downloads,
                           glance=glance, glance_columns=titles,
                           reading=services_reading(glance, by, measure, adjusted, True, True))


def _released_glance_points(points: pd.DataFrame) -> pd.DataFrame:
    """Released funnel points in the glance table's terms: the released whole percentage, and its Wilson interval
    from the released (rounded) counts; nothing where a count is hidden."""
    events = pd.to_numeric(points["events_value"], errors="coerce").to_numpy(dtype=float)
    volume = pd.to_numeric(points["x"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(events) & np.isfinite(volume) & (volume > 0)
    low, high = wilson_interval(np.where(known, events, 0), np.where(known, volume, 0))
    return pd.DataFrame({"group": points["group"], "value": points["percent"] / 100,
                         "lower": np.where(known, low, np.nan), "upper": np.where(known, high, np.nan),
                         "events": points["events"], "volume": points["volume"], "label": points["label"],
                         "strong": None, "note": ""})
