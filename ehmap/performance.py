"""Outcomes per service (or team, locality, referral source) and their fair comparison: the team's exact figures.

These are the team's own figures: every count is exact, and a count from 1 to 5 is kept and flagged "fewer than
6: interpret with care" in the row's note; shares, intervals, medians and funnel positions are worked out on the
true counts. What is shared beyond the team is read from the release gate instead (`ehmap.views.performance`).

Definitions (stated on screen by the pages):

- every episode referred in the period is counted once: still open, or closed with one outcome category
  (`ehmap.taxonomy.OUTCOMES`; a closed episode with no outcome recorded counts as 'other');
- proportions (needs met, step-up, disengagement) are of *closed* episodes (an end date);
- re-referral: see REREFERRAL_RULE; it looks for returns across the whole export, not only the period;
- intervals are 95%: Wilson score for proportions, distribution-free (binomial order statistics)
  for the median duration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ehmap import funnel
from ehmap.audience import SMALL_FLAG, small
from ehmap.taxonomy import NEED_BITS, OUTCOMES

REREFERRAL_MONTHS = 12
REREFERRAL_RULE = (
    "A closed episode counts as re-referred when the same child (the same pseudonymised case ID; or the same "
    "family ID when every case ID in the export is different, i.e. the export numbers episodes, not children) "
    f"has a new episode referred after the closure date and within {REREFERRAL_MONTHS} months of it. Only "
    f"episodes closed at least {REREFERRAL_MONTHS} months before the latest date in the data are counted, so "
    "every one has had a full year in which to return."
)
PROPORTION_NOTE = (
    "Needs met, step-up and disengagement are shares of closed episodes; intervals are 95% (Wilson for "
    "shares, binomial order statistics for the median)."
)
SMALL_NOTE = (
    f"Counts are exact. A row with a count from 1 to 5 is marked \u201c{SMALL_FLAG}\u201d (the note names the "
    "counts): shares and positions from so few episodes move a lot by chance."
)
CATEGORY_NOTE = (
    "Every episode referred in the period is counted once: still open, or closed with one outcome. A closed "
    "episode with no outcome recorded counts as Other."
)
ALL = "All"  # the council-level total row
OPEN = "open"  # the outcome 'category' of an episode not yet closed
NOT_RECORDED = "Not recorded"

# measure key -> (label used in sentences, outcome category counted; None = re-referral)
MEASURES: dict[str, tuple[str, str | None]] = {
    "step_up": ("step-up rate to children's social care", "step_up_csc"),
    "needs_met": ("share closed with needs met", "needs_met"),
    "disengaged": ("disengagement rate", "disengaged"),
    "rereferral": (f"re-referral rate within {REREFERRAL_MONTHS} months", None),
}
# measure key -> which way is better: a lower step-up, disengagement or re-referral rate; a higher share of needs met
LOWER_IS_BETTER: dict[str, bool] = {"step_up": True, "needs_met": False, "disengaged": True, "rereferral": True}
GROUPINGS = {"service": "Service (team)", "referral_source": "Referral source", "locality": "Locality"}
# outcome category (ehmap.taxonomy.OUTCOMES) -> its count column: the measure key where a measure counts it
CATEGORY_COLUMNS: dict[str, str] = {key: ("step_up" if key == "step_up_csc" else key) for key in OUTCOMES}
NOTHING_EXPECTED = "not compared: no events expected for its case mix"


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got '{value}'.")


def wilson_interval(events, trials, coverage: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for events/trials (blank where trials is 0)."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    from scipy.stats import norm  # here, not at the top: slow to import, and the need map never needs it

    z = norm.ppf(0.5 + coverage / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def median_interval(values, coverage: float = 0.95) -> tuple[float, float, float]:
    """Median and its distribution-free interval from binomial(n, 1/2) order statistics (NaN when empty)."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if n == 0:
        return np.nan, np.nan, np.nan
    from scipy.stats import binom  # here, not at the top (see wilson_interval)

    j = int(binom.ppf((1 - coverage) / 2, n, 0.5))  # 1-based rank of the lower limit
    j = max(j, 1)
    k = n - j + 1
    return float(np.median(v)), float(v[j - 1]), float(v[k - 1])


def rereferral_key(cases: pd.DataFrame) -> str:
    """Which column identifies a child for re-referral: case_id, or family_id when case IDs are per episode."""
    ids = cases["case_id"]
    if ids.duplicated().any() or "family_id" not in cases or cases["family_id"].isna().all():
        return "case_id"
    return "family_id"


def data_date(cases: pd.DataFrame) -> pd.Timestamp:
    """The latest referral or closure date in the data: the follow-up cut-off."""
    return max(
        cases["referral_date"].max(),
        cases["end_date"].max() if cases["end_date"].notna().any() else cases["referral_date"].max(),
    )


def episode_flags(cases: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per episode: closed, outcome category, outcome flags, duration in days, re-referral eligibility and result."""
    as_of = pd.Timestamp(as_of) if as_of is not None else data_date(cases)
    end = cases["end_date"]
    closed = end.notna().to_numpy()
    outcome = cases["outcome"].astype(object).to_numpy()
    flags = pd.DataFrame(index=cases.index)
    flags["closed"] = closed
    recorded = pd.Series(outcome, index=cases.index).where(lambda o: o.notna(), "other").to_numpy()
    flags["category"] = np.where(closed, recorded, OPEN)
    for key, (_, category) in MEASURES.items():
        if category is not None:
            flags[key] = closed & (outcome == category)
    flags["duration"] = np.where(
        closed, (end - cases["referral_date"]).dt.days.to_numpy(dtype=float, na_value=np.nan), np.nan
    )
    window_end = end + pd.DateOffset(months=REREFERRAL_MONTHS)
    eligible = closed & (window_end <= as_of).to_numpy()
    flags["rereferral_eligible"] = eligible
    flags["rereferral"] = _rereferred(cases, window_end) & eligible
    return flags


def _rereferred(cases: pd.DataFrame, window_end: pd.Series) -> np.ndarray:
    """Per episode: a later episode of the same child is referred after its end and by `window_end`."""
    key = rereferral_key(cases)
    frame = pd.DataFrame(
        {
            "who": cases[key].astype(object).to_numpy(),
            "ref": cases["referral_date"].to_numpy(),
            "end": cases["end_date"].to_numpy(),
            "limit": window_end.to_numpy(),
            "row": np.arange(len(cases)),
        }
    )
    frame = frame[frame["who"].notna()]
    result = np.zeros(len(cases), dtype=bool)
    closed = frame[frame["end"].notna()]
    pairs = closed.merge(frame[["who", "ref"]].rename(columns={"ref": "next_ref"}), on="who")
    hit = pairs[(pairs["next_ref"] > pairs["end"]) & (pairs["next_ref"] <= pairs["limit"])]
    result[hit["row"].unique()] = True
    return result


def group_labels(cases: pd.DataFrame, by: str, lsoa_to_locality: pd.Series | None = None) -> pd.Series:
    """The group of each episode for `by` ('service', 'referral_source' or 'locality'); missing = 'Not recorded'."""
    _check("by", by, GROUPINGS)
    if by == "locality":
        if lsoa_to_locality is None:
            raise ValueError("by='locality' needs lsoa_to_locality (LSOA code -> locality name).")
        labels = cases["lsoa11cd"].astype(object).map(lsoa_to_locality)
    else:
        labels = cases[by].astype(object)
    return labels.where(labels.notna(), NOT_RECORDED).astype(str)


def in_period(cases: pd.DataFrame, start: dt.date | pd.Timestamp | None, end: dt.date | pd.Timestamp | None):
    """True for episodes referred from `start` to `end` inclusive (either may be None: open-ended)."""
    keep = np.ones(len(cases), dtype=bool)
    dates = cases["referral_date"]
    if start is not None:
        keep &= (dates >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (dates <= pd.Timestamp(end)).to_numpy()
    return keep


# --------------------------------------------------------------------------- outcome table


@dataclass(frozen=True)
class OutcomeTable:
    """The team's exact outcome measures per group, with a council row, the definitions used and small counts flagged.

    `shown` (the name the CLI reads) has: group, episodes, open, closed, one count per outcome category
    (`CATEGORY_COLUMNS`), median days with its interval, needs met / step-up / disengaged / re-referral shares in %
    with Wilson intervals, rereferral_eligible, rereferral, and `note` (SMALL_FLAG naming any count from 1 to 5)."""

    shown: pd.DataFrame
    by: str
    as_of: pd.Timestamp
    rereferral_key: str
    notes: list[str] = field(default_factory=lambda: [PROPORTION_NOTE, CATEGORY_NOTE, REREFERRAL_RULE, SMALL_NOTE])

    @property
    def table(self) -> pd.DataFrame:
        return self.shown


OUTCOME_COLUMNS = tuple(CATEGORY_COLUMNS.values())
COUNT_COLUMNS = ("episodes", OPEN, "closed", *OUTCOME_COLUMNS, "rereferral_eligible", "rereferral")
_SHARES = {"needs_met": "closed", "step_up": "closed", "disengaged": "closed", "rereferral": "rereferral_eligible"}


def _group_row(name: str, flags: pd.DataFrame) -> dict[str, object]:
    """Every count, share, interval and the median for one group's episodes (exact)."""
    category = flags["category"]
    row: dict[str, object] = {"group": name, "episodes": len(flags), OPEN: int((category == OPEN).sum()),
                              "closed": int(flags["closed"].sum())}
    for key, column in CATEGORY_COLUMNS.items():
        row[column] = int((category == key).sum())
    row["rereferral_eligible"] = int(flags["rereferral_eligible"].sum())
    row["rereferral"] = int(flags["rereferral"].sum())
    row["median_days"], row["median_lower"], row["median_upper"] = median_interval(flags["duration"].dropna())
    for share, denominator in _SHARES.items():
        events, trials = row[share], row[denominator]
        low, high = wilson_interval([events], [trials])
        row[f"{share}_pct"] = round(events / trials * 100, 1) if trials else np.nan
        row[f"{share}_lower"] = round(float(low[0]) * 100, 1) if trials else np.nan
        row[f"{share}_upper"] = round(float(high[0]) * 100, 1) if trials else np.nan
    flagged = [COLUMN_TITLES[c] for c in COUNT_COLUMNS if small(row[c])]
    row["note"] = f"{SMALL_FLAG} ({', '.join(flagged)})" if flagged else ""
    return row


def outcome_table(
    cases: pd.DataFrame,
    by: str = "service",
    lsoa_to_locality: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    start: dt.date | pd.Timestamp | None = None,
    end: dt.date | pd.Timestamp | None = None,
) -> OutcomeTable:
    """Exact episodes, every outcome, median duration and outcome shares per group, with a council total row.

    With `start`/`end`, only episodes referred in that period are counted, while re-referrals are looked for across
    every episode of `cases` (a child may come back after the period ends)."""
    as_of = pd.Timestamp(as_of) if as_of is not None else data_date(cases)
    groups = group_labels(cases, by, lsoa_to_locality)
    flags = episode_flags(cases, as_of)
    chosen = in_period(cases, start, end)
    flags, groups = flags[chosen], groups[chosen]
    rows = [_group_row(name, part) for name, part in flags.groupby(groups.to_numpy(), sort=True)]
    rows.append(_group_row(ALL, flags))
    return OutcomeTable(pd.DataFrame(rows), by, as_of, rereferral_key(cases))


def category_check(shown: pd.DataFrame, unrecognised: dict[str, int] | None = None) -> str:
    """Check every closed episode has exactly one outcome category (the categories add up to the closed episodes in
    every row), and say so with the council's count of each category, so none (e.g. declined) goes unseen.

    `unrecognised` (closure text -> episodes, from the ingest's warnings) is named: such text is counted as Other,
    which is how a category such as Disengaged can read 0 for every team."""
    columns = list(OUTCOME_COLUMNS)
    totals = shown[columns].sum(axis=1)
    wrong = shown.loc[totals != shown["closed"], "group"].astype(str).tolist()
    if wrong:
        raise ValueError(f"Outcome categories do not add up to the closed episodes for {', '.join(wrong)}.")
    council = shown.set_index("group").loc[ALL] if ALL in set(shown["group"]) else shown.sum(numeric_only=True)
    parts = [f"{OUTCOMES[key].lower()} {int(council[column]):,}" for key, column in CATEGORY_COLUMNS.items()]
    text = (f"All {len(columns)} outcome categories are counted and add up to the closed episodes in every row: of "
            f"the council's {int(council['closed']):,} closed episodes, " + "; ".join(parts) + ".")
    if unrecognised:
        listed = sorted(unrecognised.items(), key=lambda item: (-item[1], item[0]))
        named = "; ".join(f"\u201c{value}\u201d ({count:,})" for value, count in listed[:10])
        more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
        text += (f" Closure text not recognised, counted as Other (episodes in the whole export): {named}{more}. If "
                 "any means disengaged, declined or another category, write it as that category's name (e.g. "
                 "\u201cDisengaged\u201d) in the export and upload it again.")
    return text


COLUMN_TITLES = {
    "group": "Group",
    "episodes": "Episodes",
    OPEN: "Still open",
    "closed": "Closed",
    "median_days": "Median days open",
    "median_lower": "Median 95% CI lower",
    "median_upper": "Median 95% CI upper",
    **{column: OUTCOMES[key] for key, column in CATEGORY_COLUMNS.items()},
    "needs_met_pct": "Needs met %",
    "needs_met_lower": "Needs met % lower",
    "needs_met_upper": "Needs met % upper",
    "step_up_pct": "Step-up %",
    "step_up_lower": "Step-up % lower",
    "step_up_upper": "Step-up % upper",
    "disengaged_pct": "Disengaged %",
    "disengaged_lower": "Disengaged % lower",
    "disengaged_upper": "Disengaged % upper",
    "rereferral_eligible": "Closed 12+ months before the data ends",
    "rereferral": "Re-referred within 12 months",
    "rereferral_pct": "Re-referral %",
    "rereferral_lower": "Re-referral % lower",
    "rereferral_upper": "Re-referral % upper",
    "note": "Note",
}


# --------------------------------------------------------------------------- fair comparison


NEED_BANDS = ("0-1 needs", "2 needs", "3+ needs")
AGE_BANDS = ((0, 4, "age 0-4"), (5, 10, "age 5-10"), (11, 15, "age 11-15"), (16, 25, "age 16+"))
SAFEGUARDING_NEEDS = ("child_safety", "domestic_abuse")
STRATA_TITLES = {
    "need_band": "number of needs (0-1, 2, 3+)",
    "safeguarding": "whether a safeguarding need is recorded"
    " (children safe from abuse and exploitation, or domestic abuse)",
    "age_band": "age at referral (0-4, 5-10, 11-15, 16+)",
    "idaci_quintile": "national IDACI quintile of the family's LSOA (IoD2019)",
}


def case_mix_strata(cases: pd.DataFrame, idaci_decile: pd.Series | None = None) -> pd.DataFrame:
    """Per episode: need band, safeguarding need, age band, IDACI quintile (with `idaci_decile`)."""
    needs = np.array([bin(int(m)).count("1") for m in cases["needs_mask"].to_numpy()])
    strata = pd.DataFrame(index=cases.index)
    strata["need_band"] = np.select([needs <= 1, needs == 2], NEED_BANDS[:2], NEED_BANDS[2])
    bits = sum(NEED_BITS[key] for key in SAFEGUARDING_NEEDS)
    strata["safeguarding"] = np.where(
        (cases["needs_mask"].to_numpy() & bits) != 0, "safeguarding need", "no safeguarding need"
    )
    age = cases["age_at_referral"].astype("Float64")
    if age.notna().any():
        band = pd.Series("age unknown", index=cases.index, dtype=object)
        for low, high, name in AGE_BANDS:
            band[(age >= low).fillna(False) & (age <= high).fillna(False)] = name
        strata["age_band"] = band
    if idaci_decile is not None:
        decile = cases["lsoa11cd"].astype(object).map(idaci_decile)
        quintile = np.ceil(pd.to_numeric(decile, errors="coerce") / 2)
        strata["idaci_quintile"] = np.where(
            quintile.notna(), "IDACI Q" + quintile.fillna(0).astype(int).astype(str), "IDACI unknown"
        )
    return strata


def strata_statement(strata: pd.DataFrame) -> str:
    """Which strata the expected counts use, in plain English."""
    used = [STRATA_TITLES[c] for c in strata.columns]
    missing = [STRATA_TITLES[c] for c in STRATA_TITLES if c not in strata.columns]
    text = "Expected counts come from the council-wide rate in each stratum of " + " x ".join(used) + "."
    if missing:
        text += " Not used (not available): " + "; ".join(missing) + "."
    return text


@dataclass(frozen=True)
class Comparison:
    """A funnel plot of every group on the true counts: its points, limit curves, readings and the parameters used."""

    measure: str
    by: str
    adjusted: bool
    method: str
    overdispersion: str
    target: float  # p0 (unadjusted) or 1 (O/E)
    # group, volume, episodes, events, expected, value, value_lower, value_upper, position, reading, note,
    # small (a count from 1 to 5: flagged), shown (has a value to draw: False only where nothing is expected)
    points: pd.DataFrame
    curve: pd.DataFrame  # volume, lower_95, upper_95, lower_998, upper_998
    dispersion: funnel.Dispersion
    strata: str  # statement of the strata ('' unadjusted)
    notes: list[str] = field(default_factory=list)

    @property
    def readings(self) -> list[str]:
        """The plain-English reading of every group."""
        return list(self.points["reading"])


DISPERSION_NOTE = "phi and tau\u00b2 are estimated from all {units} groups with events expected."


def compare(
    cases: pd.DataFrame,
    measure: str = "step_up",
    by: str = "service",
    adjusted: bool = True,
    idaci_decile: pd.Series | None = None,
    method: str = "exact",
    overdispersion: str = "none",
    lsoa_to_locality: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
    start: dt.date | pd.Timestamp | None = None,
    end: dt.date | pd.Timestamp | None = None,
) -> Comparison:
    """Funnel plot of a measure per group: raw proportion against volume, or case-mix adjusted O/E against expected.

    Every group is drawn and placed against the limits on its true counts; a group with a count from 1 to 5 is
    flagged, not left out, and takes part in the overdispersion estimate like any other. With `start`/`end`, only
    episodes referred in that period are compared (re-referrals are looked for across all of `cases`)."""
    _check("measure", measure, MEASURES)
    _check("method", method, funnel.METHODS)
    _check("overdispersion", overdispersion, funnel.OVERDISPERSION)
    flags = episode_flags(cases, as_of)
    groups = group_labels(cases, by, lsoa_to_locality)
    eligible = flags["rereferral_eligible" if measure == "rereferral" else "closed"].to_numpy()
    eligible = eligible & in_period(cases, start, end)
    events = flags[measure].to_numpy()[eligible].astype(float)
    unit = groups.to_numpy()[eligible]
    if eligible.sum() == 0 or events.sum() == 0:
        raise ValueError(f"No {MEASURES[measure][0]} can be compared: there are no such events among the episodes.")
    strata = (
        case_mix_strata(cases, idaci_decile)[eligible] if adjusted else pd.DataFrame(index=np.flatnonzero(eligible))
    )
    std = funnel.indirect_standardisation(pd.Series(unit), strata.reset_index(drop=True), pd.Series(events))
    table = std.table
    p0 = events.mean()
    if adjusted:
        x, value = table["expected"].to_numpy(), table["ratio"].to_numpy()
        z, s = funnel.ratio_z(table["observed"], table["expected"])
        low, high = table["ratio_lower"].to_numpy(), table["ratio_upper"].to_numpy()
        target = 1.0
    else:
        x, value = table["episodes"].to_numpy(dtype=float), (table["observed"] / table["episodes"]).to_numpy()
        z, s = funnel.proportion_z(table["observed"], table["episodes"], p0)
        low, high = wilson_interval(table["observed"], table["episodes"])
        target = p0
    if overdispersion == "none":
        disp = funnel.Dispersion(1.0, 0.0, int(np.isfinite(z).sum()), False)
    else:
        disp = funnel.dispersion(z, s)
    phi = disp.phi if overdispersion == "multiplicative" and disp.overdispersed else 1.0
    tau2 = disp.tau2 if overdispersion == "additive" else 0.0

    def limits(volume):
        if adjusted:
            return {c: funnel.ratio_limits(volume, c, phi, tau2) for c in funnel.LIMITS}
        return {c: funnel.proportion_limits(p0, volume, c, method, phi, tau2) for c in funnel.LIMITS}

    drawn = np.isfinite(value)
    at_points = limits(np.maximum(x, 1e-9))
    flagged = small(table["observed"].to_numpy()) | small(table["episodes"].to_numpy())
    label = MEASURES[measure][0]
    positions, readings = [], []
    for i, name in enumerate(table["unit"]):
        if not drawn[i]:
            positions.append(NOTHING_EXPECTED)
            readings.append(f"{name}: none are expected for its case mix, so its {label} is not compared.")
            continue
        where = funnel.position(value[i], {c: (at_points[c][0][i], at_points[c][1][i]) for c in funnel.LIMITS})
        positions.append(where)
        sentence = funnel.reading(str(name), label, where, adjusted)
        readings.append(f"{sentence[:-1]} ({SMALL_FLAG})." if flagged[i] else sentence)
    points = pd.DataFrame(
        {
            "group": table["unit"].astype(str),
            "volume": x.round(1) if adjusted else x,
            "episodes": table["episodes"].astype(int).to_numpy(),
            "events": table["observed"].astype(int).to_numpy(),
            "expected": table["expected"].round(1).to_numpy() if adjusted else np.nan,
            "value": value,
            "value_lower": low,
            "value_upper": high,
            "position": positions,
            "reading": readings,
            "note": np.where(flagged, SMALL_FLAG, ""),
            "small": flagged,
            "shown": drawn,
        }
    )
    top = max(float(np.nanmax(np.append(x, 0.0))) * 1.1, 10.0)
    grid = np.unique(np.concatenate([np.linspace(1 if adjusted else 5, top, 200), np.geomspace(1, top, 100)]))
    if not adjusted:
        grid = np.unique(np.round(grid))  # exact binomial limits are defined at whole numbers of episodes
    curve_limits = limits(grid)
    curve = pd.DataFrame(
        {
            "volume": grid,
            "lower_95": curve_limits[0.95][0],
            "upper_95": curve_limits[0.95][1],
            "lower_998": curve_limits[0.998][0],
            "upper_998": curve_limits[0.998][1],
        }
    )
    plotted = "observed / expected ratio against the expected count" if adjusted else "share against closed episodes"
    kind = "exact Poisson" if adjusted else "exact binomial" if method == "exact" else "normal approximation"
    widened = "" if overdispersion == "none" else f", {overdispersion} overdispersion adjustment"
    centre = "1 (as expected)" if adjusted else f"the council rate {p0:.1%}"
    notes = [f"Points are the {plotted}; limits are 95% and 99.8% ({kind}{widened}) around {centre}."]
    if overdispersion != "none":
        notes.append(f"{disp.describe()} {DISPERSION_NOTE.format(units=disp.units)}")
    if flagged.any():
        notes.append(f"Groups with a count from 1 to 5 are drawn and marked \u201c{SMALL_FLAG}\u201d.")
    if measure == "rereferral":
        notes.append(REREFERRAL_RULE)
    return Comparison(
        measure,
        by,
        adjusted,
        method,
        overdispersion,
        target,
        points,
        curve,
        disp,
        strata_statement(strata) if adjusted else "",
        notes,
    )


def performance_csv(table: OutcomeTable) -> pd.DataFrame:
    """The outcome table with readable headers, as the CLI writes it."""
    return table.shown.rename(columns={"group": GROUPINGS.get(table.by, table.by)})
