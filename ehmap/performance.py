"""Outcomes per service (or team, locality, referral source) and their fair comparison.

Every table this module returns for display is already safe to show: counts of 1-5 (and the
next-smallest count where a single hidden one could be worked out from the council total) are `c`,
and a proportion, interval or median is blank wherever its numerator or denominator is hidden.

Definitions (stated on screen by the pages):

- proportions (needs met, step-up, disengagement) are of *closed* episodes (an end date);
- re-referral: see REREFERRAL_RULE;
- intervals are 95%: Wilson score for proportions, distribution-free (binomial order statistics)
  for the median duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import binom, norm

from ehmap import funnel
from ehmap.disclosure import SUPPRESSION_NOTE, primary_suppression, shown_counts, suppression_mask
from ehmap.taxonomy import NEED_BITS

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
ALL = "All"  # the council-level total row (not suppressed: council level)

# measure key -> (label used in sentences, outcome category counted; None = re-referral)
MEASURES: dict[str, tuple[str, str | None]] = {
    "step_up": ("step-up rate to children's social care", "step_up_csc"),
    "needs_met": ("share closed with needs met", "needs_met"),
    "disengaged": ("disengagement rate", "disengaged"),
    "rereferral": (f"re-referral rate within {REREFERRAL_MONTHS} months", None),
}
GROUPINGS = {"service": "Service (team)", "referral_source": "Referral source", "locality": "Locality"}
NOT_COMPARED = "not compared: a count under 6"


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got '{value}'.")


def wilson_interval(events, trials, coverage: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for events/trials (blank where trials is 0)."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
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
    """Per episode: closed, outcome flags, duration in days, and re-referral eligibility and result."""
    as_of = pd.Timestamp(as_of) if as_of is not None else data_date(cases)
    end = cases["end_date"]
    closed = end.notna().to_numpy()
    outcome = cases["outcome"].astype(object).to_numpy()
    flags = pd.DataFrame(index=cases.index)
    flags["closed"] = closed
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
    return labels.where(labels.notna(), "Not recorded").astype(str)


# --------------------------------------------------------------------------- outcome table


@dataclass(frozen=True)
class OutcomeTable:
    """Outcome measures per group, safe to show, with the definitions used."""

    shown: pd.DataFrame  # group, counts as text ('c'), shares in %, intervals, median days
    by: str
    as_of: pd.Timestamp
    rereferral_key: str
    notes: list[str] = field(default_factory=lambda: [PROPORTION_NOTE, REREFERRAL_RULE, SUPPRESSION_NOTE])


_COUNTS = ("episodes", "closed", "needs_met", "step_up", "disengaged", "rereferral_eligible", "rereferral")
_SHARES = {"needs_met": "closed", "step_up": "closed", "disengaged": "closed", "rereferral": "rereferral_eligible"}


def _raw_counts(cases: pd.DataFrame, groups: pd.Series, flags: pd.DataFrame) -> pd.DataFrame:
    """Unsuppressed counts per group (internal: never shown as is)."""
    frame = flags.assign(group=groups.to_numpy(), episodes=1)
    counts = frame.groupby("group")[list(_COUNTS)].sum().astype(int)
    return counts.sort_index()


# (whole, part): where both are shown and whole - part is 1-5, the whole is hidden too (it would give that count away)
_DIFFERENCES = (("episodes", "closed"), ("closed", "rereferral_eligible"))


def _with_partner(counts: pd.Series, mask: pd.Series) -> pd.Series:
    """Hide the smallest visible non-zero count as well when a column has exactly one hidden count (total shown)."""
    mask = mask.copy()
    if mask.sum() == 1:
        visible = counts.where(~mask & (counts > 0))
        if visible.notna().any():
            mask.loc[visible.idxmin()] = True
    return mask


def _masks(counts: pd.DataFrame) -> pd.DataFrame:
    """Which counts to hide: 1-5, differences of 1-5 between a shown whole and its shown part, and partners."""
    masks = pd.DataFrame({c: suppression_mask(counts[c]) for c in _COUNTS})
    for whole, part in _DIFFERENCES:
        gap = primary_suppression(counts[whole] - counts[part]) & ~masks[whole] & ~masks[part]
        masks[whole] = _with_partner(counts[whole], masks[whole] | gap)
    return masks


def outcome_table(
    cases: pd.DataFrame,
    by: str = "service",
    lsoa_to_locality: pd.Series | None = None,
    as_of: pd.Timestamp | None = None,
) -> OutcomeTable:
    """Episodes, closures, median duration and outcome shares per group, with a council total row."""
    as_of = pd.Timestamp(as_of) if as_of is not None else data_date(cases)
    groups = group_labels(cases, by, lsoa_to_locality)
    flags = episode_flags(cases, as_of)
    counts = _raw_counts(cases, groups, flags)
    masks = _masks(counts)
    shown = pd.DataFrame({"group": counts.index.astype(str)})
    for column in _COUNTS:
        shown[column] = shown_counts(counts[column], masks[column]).to_numpy()
    medians = (
        flags.assign(group=groups.to_numpy())
        .groupby("group")["duration"]
        .apply(lambda d: median_interval(d.dropna()))
        .reindex(counts.index)
    )
    median_hidden = masks["closed"].to_numpy() | (counts["closed"] == 0).to_numpy()
    for i, name in enumerate(("median_days", "median_lower", "median_upper")):
        shown[name] = np.where(median_hidden, np.nan, [m[i] for m in medians])
    for share, denominator in _SHARES.items():
        low, high = wilson_interval(counts[share], counts[denominator])
        hidden = (masks[share] | masks[denominator]).to_numpy() | (counts[denominator] == 0).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = counts[share].to_numpy() / counts[denominator].to_numpy() * 100
        shown[f"{share}_pct"] = np.where(hidden, np.nan, np.round(pct, 1))
        shown[f"{share}_lower"] = np.where(hidden, np.nan, np.round(low * 100, 1))
        shown[f"{share}_upper"] = np.where(hidden, np.nan, np.round(high * 100, 1))
    shown = pd.concat([shown, _total_row(counts, flags)], ignore_index=True)
    return OutcomeTable(shown, by, as_of, rereferral_key(cases))


def _total_row(counts: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """The council-level row (not suppressed: council level)."""
    total = counts.sum()
    row: dict[str, object] = {"group": ALL, **{c: str(int(total[c])) for c in _COUNTS}}
    row["median_days"], row["median_lower"], row["median_upper"] = median_interval(flags["duration"].dropna())
    for share, denominator in _SHARES.items():
        low, high = wilson_interval([total[share]], [total[denominator]])
        ok = total[denominator] > 0
        row[f"{share}_pct"] = round(total[share] / total[denominator] * 100, 1) if ok else np.nan
        row[f"{share}_lower"] = round(float(low[0]) * 100, 1) if ok else np.nan
        row[f"{share}_upper"] = round(float(high[0]) * 100, 1) if ok else np.nan
    return pd.DataFrame([row])


COLUMN_TITLES = {
    "group": "Group",
    "episodes": "Episodes",
    "closed": "Closed",
    "median_days": "Median days open",
    "median_lower": "Median 95% CI lower",
    "median_upper": "Median 95% CI upper",
    "needs_met": "Needs met",
    "needs_met_pct": "Needs met %",
    "needs_met_lower": "Needs met % lower",
    "needs_met_upper": "Needs met % upper",
    "step_up": "Stepped up",
    "step_up_pct": "Step-up %",
    "step_up_lower": "Step-up % lower",
    "step_up_upper": "Step-up % upper",
    "disengaged": "Disengaged",
    "disengaged_pct": "Disengaged %",
    "disengaged_lower": "Disengaged % lower",
    "disengaged_upper": "Disengaged % upper",
    "rereferral_eligible": "Closed 12+ months ago",
    "rereferral": "Re-referred",
    "rereferral_pct": "Re-referral %",
    "rereferral_lower": "Re-referral % lower",
    "rereferral_upper": "Re-referral % upper",
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
    """A funnel plot's points (safe to show), its limit curves, readings, and the parameters used."""

    measure: str
    by: str
    adjusted: bool
    method: str
    overdispersion: str
    target: float  # p0 (unadjusted) or 1 (O/E)
    points: (
        pd.DataFrame
    )  # group, volume, events ('c'), expected, value, value_lower, value_upper, position, reading, shown
    curve: pd.DataFrame  # volume, lower_95, upper_95, lower_998, upper_998
    dispersion: funnel.Dispersion
    strata: str  # statement of the strata ('' unadjusted)
    notes: list[str] = field(default_factory=list)

    @property
    def readings(self) -> list[str]:
        """The plain-English reading of every group."""
        return list(self.points["reading"])


DISPERSION_NOTE = (
    "phi and tau\u00b2 are estimated from the {units} groups shown; groups with a count under 6 take no part."
)


def _shown_dispersion(z: np.ndarray, s: np.ndarray, hidden: np.ndarray) -> funnel.Dispersion:
    """Overdispersion from the shown groups only.

    phi is a mean over groups' z-scores: with hidden groups in it, it would be one more published equation in
    their counts, which with the council total could narrow down or give away a hidden count."""
    shown = ~np.asarray(hidden, dtype=bool)
    return funnel.dispersion(np.asarray(z, dtype=float)[shown], np.asarray(s, dtype=float)[shown])


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
) -> Comparison:
    """Funnel plot of a measure per group: raw proportion against volume, or case-mix adjusted O/E against expected."""
    _check("measure", measure, MEASURES)
    _check("method", method, funnel.METHODS)
    _check("overdispersion", overdispersion, funnel.OVERDISPERSION)
    flags = episode_flags(cases, as_of)
    groups = group_labels(cases, by, lsoa_to_locality)
    eligible = flags["rereferral_eligible" if measure == "rereferral" else "closed"].to_numpy()
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
    # hidden before anything is estimated: what is published must not depend on a hidden group's own count
    hidden = (
        suppression_mask(table["observed"].astype(int)) | suppression_mask(table["episodes"].astype(int))
    ).to_numpy()
    if overdispersion == "none":
        disp = funnel.Dispersion(1.0, 0.0, int((~hidden).sum()), False)
    else:
        disp = _shown_dispersion(z, s, hidden)
    phi = disp.phi if overdispersion == "multiplicative" and disp.overdispersed else 1.0
    tau2 = disp.tau2 if overdispersion == "additive" else 0.0

    def limits(volume):
        if adjusted:
            return {c: funnel.ratio_limits(volume, c, phi, tau2) for c in funnel.LIMITS}
        return {c: funnel.proportion_limits(p0, volume, c, method, phi, tau2) for c in funnel.LIMITS}

    at_points = limits(np.maximum(x, 1e-9))
    label = MEASURES[measure][0]
    positions, readings = [], []
    for i, name in enumerate(table["unit"]):
        if hidden[i]:  # where a hidden point lies against the limits would narrow down its count: not said
            positions.append(NOT_COMPARED)
            readings.append(f"{name}: a count under 6, so its {label} is neither drawn nor compared.")
            continue
        where = funnel.position(value[i], {c: (at_points[c][0][i], at_points[c][1][i]) for c in funnel.LIMITS})
        positions.append(where)
        readings.append(funnel.reading(str(name), label, where, adjusted))
    points = pd.DataFrame(
        {
            "group": table["unit"].astype(str),
            "volume": np.where(hidden, np.nan, x.round(1) if adjusted else x),
            "episodes": shown_counts(
                table["episodes"].astype(int), suppression_mask(table["episodes"].astype(int))
            ).to_numpy(),
            "events": shown_counts(table["observed"].astype(int), pd.Series(hidden)).to_numpy(),
            "expected": np.where(hidden, np.nan, table["expected"].round(1)) if adjusted else np.nan,
            "value": np.where(hidden, np.nan, value),
            "value_lower": np.where(hidden, np.nan, low),
            "value_upper": np.where(hidden, np.nan, high),
            "position": positions,
            "reading": readings,
            "shown": ~hidden,
        }
    )
    top = max(float(np.nanmax(np.append(x[~hidden], 0.0))) * 1.1, 10.0)  # the funnel's extent: shown groups only
    grid = np.unique(np.concatenate([np.linspace(1 if adjusted else 5, top, 200), np.geomspace(1, top, 100)]))
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
    """The outcome table with readable headers, as the CLI and the download write it."""
    return table.shown.rename(columns={"group": GROUPINGS.get(table.by, table.by)})
