"""Empirical Bayes smoothed rates (method of moments), as spdep's `EBest` and `EBlocal` (default form).

A raw rate from a small population is noisy: an area with 3 children and 1 case has a rate of
333 per 1,000. Empirical Bayes shrinks each raw rate towards a reference rate, the more so the
smaller the population (Marshall 1991, *Applied Statistics* 40:283-294):

- **global**: towards the council's overall rate (spdep `EBest`, Poisson or binomial family);
- **local**: towards the rate of the area and its neighbours, in **spdep `EBlocal`'s default form
  (`geoda = FALSE`)**. Over N_i, area i with its neighbours: m_i = sum r_j / sum n_j, nbar_i = mean n_j,
  C_i = sum n_j (x_j - m_j)^2 (each member's squared deviation from *its own* local mean m_j),
  a_i = max(0, C_i / sum n_j - m_i / nbar_i), estimate = m_i + (x_i - m_i) a_i / (a_i + m_i / n_i).
  Marshall's text and GeoDa (spdep `geoda = TRUE`) take the deviations from *this area's* mean m_i
  instead: the two differ by several per 1,000 on real LSOAs, so the form is named wherever it is used.

All functions work on proportions (events / population); multiply by 1,000 for a rate per 1,000.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

FAMILIES = ("poisson", "binomial")
LOCAL_EB_FORM = "spdep EBlocal, default form (geoda = FALSE)"  # the local smoother's exact name, as shown
LOCAL_EB_METHOD = (
    "Local empirical Bayes smoothing, spdep EBlocal default form (geoda = FALSE; Marshall 1991 method of moments): "
    "each area's rate is pulled towards the rate of the area and its neighbours, the more so the fewer children "
    "it has; how far rates may truly differ is judged from how far each nearby area's rate sits from its own "
    "neighbourhood's rate (Marshall's text and GeoDa use this area's neighbourhood rate instead)."
)
GLOBAL_EB_METHOD = (
    "Global empirical Bayes smoothing, spdep EBest (Marshall 1991 method of moments): each area's rate is pulled "
    "towards the council's rate, the more so the fewer children it has."
)


@dataclass(frozen=True)
class EBEstimate:
    """Raw and smoothed proportions per area, with the prior's method-of-moments parameters."""

    raw: np.ndarray
    smoothed: np.ndarray
    prior_mean: np.ndarray | float  # b (global) or m_i (local)
    prior_variance: np.ndarray | float  # a (global, Poisson), s2 (binomial) or a_i (local)
    method: str  # "global, poisson", "global, binomial" or "local, " + LOCAL_EB_FORM


def _checked(events: np.ndarray, population: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events and population as float arrays of one length; negative or missing values raise."""
    events = np.asarray(events, dtype=float)
    population = np.asarray(population, dtype=float)
    if events.shape != population.shape or events.ndim != 1:
        raise ValueError(
            f"events and population must be 1-D and the same length; got {events.shape} and {population.shape}."
        )
    if np.isnan(events).any() or np.isnan(population).any():
        raise ValueError("events and population must have no missing values; drop areas without a population first.")
    if (events < 0).any() or (population <= 0).any():
        raise ValueError("events must be >= 0 and population > 0 in every area.")
    return events, population


def eb_global(events: np.ndarray, population: np.ndarray, family: str = "poisson") -> EBEstimate:
    """Global empirical Bayes estimate of each area's proportion (spdep `EBest`)."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown family '{family}'; valid families are {list(FAMILIES)}.")
    events, population = _checked(events, population)
    raw = events / population
    total = population.sum()
    b = events.sum() / total
    s2 = np.sum(population * (raw - b) ** 2) / total
    if family == "poisson":
        a = max(s2 - b / (total / len(events)), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shrink = np.where(a + b / population > 0, a / (a + b / population), 0.0)
        return EBEstimate(raw, b + shrink * (raw - b), b, a, "global, poisson")
    mean_population = population.mean()  # binomial: Martuzzi and Elliott, as contributed to spdep by O. Berke
    numerator = population * s2 - (population / mean_population) * b * (1 - b)
    denominator = (population - 1) * s2 + ((mean_population - population) / mean_population) * b * (1 - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denominator != 0, numerator / denominator, 0.0)
    return EBEstimate(raw, rho * raw + (1 - rho) * b, b, s2, "global, binomial")


def eb_local(events: np.ndarray, population: np.ndarray, neighbours: sp.spmatrix) -> EBEstimate:
    """Local empirical Bayes estimate in spdep `EBlocal`'s default form (geoda = FALSE; see the module docstring).

    `neighbours` is an n x n binary matrix without self-links (islands are rows of zeros: their
    estimate is their raw proportion). The spread C_i sums each member's deviation from its own local mean.
    """
    events, population = _checked(events, population)
    n = len(events)
    if neighbours.shape != (n, n):
        raise ValueError(f"neighbours must be {n} x {n} to match the areas; got {neighbours.shape}.")
    links = sp.csr_matrix(neighbours, dtype=float)
    links.setdiag(0)
    links.eliminate_zeros()
    links.data[:] = 1.0
    with_self = links + sp.identity(n, format="csr")
    raw = events / population
    local_events = with_self @ events
    local_population = with_self @ population
    mean_population = local_population / np.asarray(with_self.sum(axis=1)).ravel()
    m = local_events / local_population
    spread = with_self @ (population * (raw - m) ** 2)  # (raw_j - m_j)^2: spdep's default, not GeoDa's m_i
    a = np.clip(spread / local_population - m / mean_population, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        shrink = np.where(a + m / population > 0, a / (a + m / population), 0.0)
    return EBEstimate(raw, m + (raw - m) * shrink, m, a, f"local, {LOCAL_EB_FORM}")
