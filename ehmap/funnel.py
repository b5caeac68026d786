"""Fair comparison of units (services, teams...): funnel-plot limits, overdispersion, indirect standardisation.

Methods follow Spiegelhalter (2005) "Funnel plots for comparing institutional performance"
(Statistics in Medicine 24:1185, doi:10.1002/sim.1970) and "Handling over-dispersion of performance
indicators" (Qual Saf Health Care 2005), as implemented in the R package FunnelPlotR:

- proportions: limits around the target p0 for volume n, exact binomial (Spiegelhalter's interpolated
  quantile, Appendix A.1.1) or the normal approximation p0 +/- z sqrt(p0 (1 - p0) / n);
- indirectly standardised ratios (observed / expected): exact Poisson limits around 1 for expected E,
  interpolated the same way;
- overdispersion: z-scores on the variance-stabilised scale (arcsine square root for proportions,
  square root for ratios), winsorised at the 10th and 90th percentiles; phi = mean of the squared
  winsorised z-scores; either multiplicative (limits widened by sqrt(phi)) or additive random effects
  tau^2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w), w = 1 / s^2, used only when I phi > I - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LIMITS = (0.95, 0.998)  # two-sided coverage of the inner (about 2 SD) and outer (about 3 SD) limits
METHODS = ("exact", "normal")
OVERDISPERSION = ("none", "multiplicative", "additive")
WINSOR_FRACTION = 0.10  # share of z-scores set to the percentile at each end before estimating phi


def _check(name: str, value: str, valid: tuple[str, ...]) -> None:
    """Raise naming the argument, the value received and the valid choices."""
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got '{value}'.")


def _interpolated_quantile(prob: float, volume: np.ndarray, cdf, ppf) -> np.ndarray:
    """Spiegelhalter's interpolated exact quantile r_p - alpha of a discrete distribution (per volume)."""
    r = ppf(prob)
    upper = cdf(r)
    lower = cdf(r - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(upper > lower, (upper - prob) / (upper - lower), 0.0)
    return np.maximum(r - alpha, 0.0)


def proportion_limits(
    p0: float,
    volume: np.ndarray | pd.Series,
    coverage: float,
    method: str = "exact",
    phi: float = 1.0,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper funnel limits for a proportion with target `p0` at each volume (denominator)."""
    _check("method", method, METHODS)
    if not 0 < p0 < 1:
        raise ValueError(f"p0 must be strictly between 0 and 1; got {p0}.")
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be strictly between 0 and 1; got {coverage}.")
    n = np.asarray(volume, dtype=float)
    from scipy.stats import binom, norm  # here, not at the top: a second to import, and the need map never needs it

    z = norm.ppf(0.5 + coverage / 2)
    if tau2 > 0:  # additive random effects on the arcsine square-root scale
        centre = np.arcsin(np.sqrt(p0))
        spread = z * np.sqrt(1 / (4 * n) + tau2)
        low = np.sin(np.clip(centre - spread, 0, np.pi / 2)) ** 2
        high = np.sin(np.clip(centre + spread, 0, np.pi / 2)) ** 2
        return low, high
    if method == "normal" or phi != 1.0:
        half = z * np.sqrt(phi * p0 * (1 - p0) / n)
        return np.clip(p0 - half, 0, 1), np.clip(p0 + half, 0, 1)
    tail = (1 - coverage) / 2
    low = _interpolated_quantile(tail, n, lambda r: binom.cdf(r, n, p0), lambda q: binom.ppf(q, n, p0)) / n
    high = _interpolated_quantile(1 - tail, n, lambda r: binom.cdf(r, n, p0), lambda q: binom.ppf(q, n, p0)) / n
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


def ratio_limits(
    expected: np.ndarray | pd.Series, coverage: float, phi: float = 1.0, tau2: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper funnel limits for observed/expected around 1 at each expected count (exact Poisson)."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be strictly between 0 and 1; got {coverage}.")
    e = np.asarray(expected, dtype=float)
    from scipy.stats import norm, poisson  # here, not at the top (see proportion_limits)

    z = norm.ppf(0.5 + coverage / 2)
    if tau2 > 0:  # additive random effects on the square-root scale
        spread = z * np.sqrt(1 / (4 * e) + tau2)
        return np.clip(1 - spread, 0, None) ** 2, (1 + spread) ** 2
    if phi != 1.0:
        half = z * np.sqrt(phi / e)
        return np.clip(1 - half, 0, None), 1 + half
    tail = (1 - coverage) / 2
    low = _interpolated_quantile(tail, e, lambda r: poisson.cdf(r, e), lambda q: poisson.ppf(q, e)) / e
    high = _interpolated_quantile(1 - tail, e, lambda r: poisson.cdf(r, e), lambda q: poisson.ppf(q, e)) / e
    return low, high


def winsorised(z: np.ndarray, fraction: float = WINSOR_FRACTION) -> np.ndarray:
    """z-scores with the lowest and highest `fraction` set to those percentiles (Spiegelhalter 2005)."""
    z = np.asarray(z, dtype=float)
    low, high = np.quantile(z, [fraction, 1 - fraction])
    return np.clip(z, low, high)


@dataclass(frozen=True)
class Dispersion:
    """Overdispersion estimates from a set of units' z-scores."""

    phi: float  # mean squared winsorised z-score
    tau2: float  # additive between-unit variance on the transformed scale (0 when not overdispersed)
    units: int
    overdispersed: bool  # I * phi > I - 1

    def describe(self) -> str:
        """One plain-English line on what the estimate means."""
        verdict = "more spread than chance alone" if self.overdispersed else "no more spread than chance"
        return (
            f"Across {self.units} units the {WINSOR_FRACTION:.0%}-winsorised dispersion is phi = {self.phi:.2f} "
            f"(tau\u00b2 = {self.tau2:.4f}): {verdict}."
        )


def dispersion(z: np.ndarray, s: np.ndarray, fraction: float = WINSOR_FRACTION) -> Dispersion:
    """phi and tau^2 from transformed-scale z-scores and standard errors (FunnelPlotR's method).

    Units with no z-score (nothing expected) take no part."""
    z, s = np.asarray(z, dtype=float), np.asarray(s, dtype=float)
    scored = np.isfinite(z) & np.isfinite(s)
    z, s = z[scored], s[scored]
    units = len(z)
    if units < 2:
        return Dispersion(1.0, 0.0, units, False)
    phi = float(np.mean(winsorised(z, fraction) ** 2))
    w = 1 / s**2
    over = units * phi > units - 1
    tau2 = max(0.0, (units * phi - (units - 1)) / (w.sum() - (w**2).sum() / w.sum())) if over else 0.0
    return Dispersion(phi, float(tau2), units, bool(over))


def proportion_z(events: np.ndarray, volume: np.ndarray, p0: float) -> tuple[np.ndarray, np.ndarray]:
    """Arcsine square-root z-scores and standard errors of proportions against `p0`."""
    n = np.asarray(volume, dtype=float)
    s = 1 / (2 * np.sqrt(n))
    return (np.arcsin(np.sqrt(np.asarray(events, dtype=float) / n)) - np.arcsin(np.sqrt(p0))) / s, s


def ratio_z(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square-root z-scores and standard errors of observed/expected ratios against 1 (NaN: nothing expected)."""
    e = np.asarray(expected, dtype=float)
    e = np.where(e > 0, e, np.nan)
    s = 1 / (2 * np.sqrt(e))
    return (np.sqrt(np.asarray(observed, dtype=float) / e) - 1) / s, s


def ratio_interval(observed: np.ndarray, expected: np.ndarray, coverage: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for observed/expected, treating observed as Poisson and expected as fixed."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    tail = (1 - coverage) / 2
    from scipy.stats import chi2  # here, not at the top (see proportion_limits)

    low = np.where(o > 0, chi2.ppf(tail, 2 * o) / 2, 0.0)
    high = chi2.ppf(1 - tail, 2 * o + 2) / 2
    return low / e, high / e


# --------------------------------------------------------------------------- indirect standardisation


@dataclass(frozen=True)
class Standardised:
    """Observed, expected and O/E per unit, from stratum reference rates of the whole population."""

    table: pd.DataFrame  # unit, episodes, observed, expected, ratio, ratio_lower, ratio_upper
    reference: pd.DataFrame  # stratum, episodes, events, rate
    strata: tuple[str, ...]  # the stratifying variables used


def indirect_standardisation(units: pd.Series, strata: pd.DataFrame, events: pd.Series) -> Standardised:
    """Expected events per unit = sum over strata of its episodes x the stratum's rate in all units.

    `units`, `strata` (one column per stratifying variable) and `events` (0/1) are aligned per episode.
    """
    if not (len(units) == len(strata) == len(events)):
        raise ValueError(
            f"units, strata and events must be aligned; got lengths {len(units)}, {len(strata)}, {len(events)}."
        )
    stratum = (
        strata.astype(str).agg(" | ".join, axis=1) if len(strata.columns) else pd.Series("all", index=strata.index)
    )
    frame = pd.DataFrame(
        {
            "unit": np.asarray(units, dtype=object),
            "stratum": stratum.to_numpy(),
            "event": np.asarray(events, dtype=float),
        }
    )
    reference = frame.groupby("stratum").agg(episodes=("event", "size"), events=("event", "sum"))
    reference["rate"] = reference["events"] / reference["episodes"]
    frame["expected"] = frame["stratum"].map(reference["rate"])
    table = frame.groupby("unit", sort=True).agg(
        episodes=("event", "size"), observed=("event", "sum"), expected=("expected", "sum")
    )
    table["ratio"] = table["observed"] / table["expected"].where(table["expected"] > 0)
    table["ratio_lower"], table["ratio_upper"] = ratio_interval(
        table["observed"], table["expected"].where(table["expected"] > 0)
    )
    return Standardised(table.reset_index(), reference.reset_index(), tuple(strata.columns))


# --------------------------------------------------------------------------- readings


def position(value: float, limits: dict[float, tuple[float, float]]) -> str:
    """'above 99.8%', 'above 95%', 'within', 'below 95%' or 'below 99.8%' for a value against its limits."""
    inner, outer = limits[LIMITS[0]], limits[LIMITS[1]]
    if value > outer[1]:
        return "above 99.8%"
    if value < outer[0]:
        return "below 99.8%"
    if value > inner[1]:
        return "above 95%"
    if value < inner[0]:
        return "below 95%"
    return "within"


_READING = {
    "within": "is within the expected range{context}",
    "above 95%": "is higher than expected{context} (above the 95% limit: worth a look, could be chance)",
    "above 99.8%": "is well above the expected range{context} (above the 99.8% limit: very unlikely to be chance)",
    "below 95%": "is lower than expected{context} (below the 95% limit: worth a look, could be chance)",
    "below 99.8%": "is well below the expected range{context} (below the 99.8% limit: very unlikely to be chance)",
}


BROAD_LABELS = {
    "within": "within the expected range",
    "above 95%": "above the expected range",
    "above 99.8%": "above the expected range",
    "below 95%": "below the expected range",
    "below 99.8%": "below the expected range",
}


def broad_label(where: str) -> str:
    """A position coarsened to within / above / below the expected range (95% limits), as released views show it."""
    return BROAD_LABELS[where]


def reading(unit: str, measure: str, where: str, adjusted: bool) -> str:
    """A plain-English sentence: "Parenting Programme's step-up rate is within the expected range for its case mix"."""
    context = " for its case mix" if adjusted else " for its number of episodes"
    return f"{unit}'s {measure} {_READING[where].format(context=context)}."
