"""Funnel-plot limits, overdispersion and indirect standardisation against independent calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import brentq
from scipy.stats import binom, poisson

from ehmap import funnel

VOLUMES = [20, 50, 100, 487, 2000]


def interpolated_binomial_limit(prob: float, n: int, p0: float) -> float:
    """Independent: invert the piecewise-linear binomial CDF over r = 0..n (Spiegelhalter A.1.1)."""
    r = np.arange(n + 1)
    return float(np.interp(prob, binom.cdf(r, n, p0), r)) / n


@pytest.mark.parametrize("coverage", [0.95, 0.998])
@pytest.mark.parametrize("p0", [0.087, 0.5])
def test_exact_binomial_limits_match_the_interpolated_binomial_quantile(coverage, p0):
    low, high = funnel.proportion_limits(p0, np.array(VOLUMES), coverage, "exact")
    tail = (1 - coverage) / 2
    expected_low = [max(interpolated_binomial_limit(tail, n, p0), 0.0) for n in VOLUMES]
    expected_high = [interpolated_binomial_limit(1 - tail, n, p0) for n in VOLUMES]
    assert_allclose(low, expected_low, atol=1e-12)
    assert_allclose(high, expected_high, atol=1e-12)
    assert np.all(np.diff(high) < 0) and np.all(np.diff(low) >= 0)  # the funnel narrows with volume


def test_exact_limits_at_a_large_volume_approach_the_normal_approximation():
    low, high = funnel.proportion_limits(0.1, [100000], 0.95, "exact")
    assert_allclose(
        [low[0], high[0]], [0.1 - 1.959964 * np.sqrt(0.09 / 1e5), 0.1 + 1.959964 * np.sqrt(0.09 / 1e5)], atol=2e-5
    )


def test_normal_approximation_limits_match_a_hand_calculation():
    # p0 = 0.1, n = 100: SE = sqrt(0.1 * 0.9 / 100) = 0.03; z = 1.959964 (95%) and 3.090232 (99.8%)
    low, high = funnel.proportion_limits(0.1, [100, 400], 0.95, "normal")
    assert_allclose(low, [0.1 - 1.959964 * 0.03, 0.1 - 1.959964 * 0.015], atol=1e-6)
    assert_allclose(high, [0.1 + 1.959964 * 0.03, 0.1 + 1.959964 * 0.015], atol=1e-6)
    low, high = funnel.proportion_limits(0.1, [100], 0.998, "normal")
    assert_allclose([low[0], high[0]], [0.1 - 3.090232 * 0.03, 0.1 + 3.090232 * 0.03], atol=1e-6)
    low, _ = funnel.proportion_limits(0.1, [10], 0.998, "normal")
    assert low[0] == 0.0  # clipped at zero


@pytest.mark.parametrize("coverage", [0.95, 0.998])
def test_ratio_limits_match_the_interpolated_poisson_quantile(coverage):
    expected = np.array([5.0, 12.3, 40.0, 150.0])
    low, high = funnel.ratio_limits(expected, coverage)
    tail = (1 - coverage) / 2
    for e, lo, hi in zip(expected, low, high, strict=True):
        r = np.arange(int(e * 4 + 50))
        cdf = poisson.cdf(r, e)
        assert_allclose(lo, max(np.interp(tail, cdf, r), 0) / e, atol=1e-12)
        assert_allclose(hi, np.interp(1 - tail, cdf, r) / e, atol=1e-12)


def test_multiplicative_and_additive_overdispersion_widen_the_limits_as_documented():
    low, high = funnel.proportion_limits(0.2, [100], 0.95, phi=2.25)
    assert_allclose([low[0], high[0]], [0.2 - 1.959964 * 1.5 * 0.04, 0.2 + 1.959964 * 1.5 * 0.04], atol=1e-6)
    low, high = funnel.proportion_limits(0.2, [100], 0.95, tau2=0.01)
    spread = 1.959964 * np.sqrt(1 / 400 + 0.01)
    centre = np.arcsin(np.sqrt(0.2))
    assert_allclose([low[0], high[0]], [np.sin(centre - spread) ** 2, np.sin(centre + spread) ** 2], atol=1e-6)
    low, high = funnel.ratio_limits([25.0], 0.95, tau2=0.02)
    spread = 1.959964 * np.sqrt(1 / 100 + 0.02)
    assert_allclose([low[0], high[0]], [(1 - spread) ** 2, (1 + spread) ** 2], atol=1e-6)


def test_dispersion_winsorises_ten_percent_and_estimates_tau2_by_hand():
    z = np.array([-4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 8.0])
    s = np.array([0.05, 0.04, 0.03, 0.05, 0.02, 0.04, 0.05, 0.03, 0.02, 0.05])
    lo, hi = np.percentile(z, [10, 90])  # numpy's linear percentiles: -1.3 and 3.05
    assert_allclose([lo, hi], [-1.3, 3.05])
    zw = np.clip(z, lo, hi)
    phi = np.mean(zw**2)
    w = 1 / s**2
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    result = funnel.dispersion(z, s)
    assert result.overdispersed and result.units == 10
    assert_allclose([result.phi, result.tau2], [phi, tau2])
    assert "more spread than chance" in result.describe()
    calm = funnel.dispersion(np.array([-0.5, 0.2, 0.1, -0.1, 0.4]), np.full(5, 0.05))
    assert not calm.overdispersed and calm.tau2 == 0.0


def test_indirect_standardisation_reproduces_a_hand_worked_example():
    # Stratum A: X 10 episodes (2 events), Y 30 (9): rate 11/40 = 0.275.
    # Stratum B: X 40 episodes (20 events), Y 20 (6): rate 26/60.
    # E(X) = 10 x 0.275 + 40 x 26/60 = 20.0833; O(X) = 22; E(Y) = 30 x 0.275 + 20 x 26/60 = 16.9167; O(Y) = 15.
    rows = (
        [("X", "A", 1)] * 2
        + [("X", "A", 0)] * 8
        + [("Y", "A", 1)] * 9
        + [("Y", "A", 0)] * 21
        + [("X", "B", 1)] * 20
        + [("X", "B", 0)] * 20
        + [("Y", "B", 1)] * 6
        + [("Y", "B", 0)] * 14
    )
    frame = pd.DataFrame(rows, columns=["unit", "stratum", "event"])
    result = funnel.indirect_standardisation(frame["unit"], frame[["stratum"]], frame["event"])
    table = result.table.set_index("unit")
    assert_allclose(table["expected"], [20.083333, 16.916667], rtol=1e-6)
    assert_allclose(table["observed"], [22, 15])
    assert_allclose(table["ratio"], [22 / 20.083333, 15 / 16.916667], rtol=1e-6)
    assert_allclose(result.reference.set_index("stratum")["rate"], [0.275, 26 / 60])
    # Garwood limits: lower L with P(O >= 22 | L) = 0.025, upper U with P(O <= 22 | U) = 0.025
    lower = brentq(lambda m: poisson.sf(21, m) - 0.025, 1, 60)
    upper = brentq(lambda m: poisson.cdf(22, m) - 0.025, 1, 60)
    assert_allclose(
        [table.loc["X", "ratio_lower"], table.loc["X", "ratio_upper"]],
        [lower / 20.083333, upper / 20.083333],
        rtol=1e-6,
    )
    assert result.strata == ("stratum",)


def test_positions_and_readings_are_plain_english():
    limits = {0.95: (0.8, 1.2), 0.998: (0.6, 1.5)}
    assert [funnel.position(v, limits) for v in (1.0, 1.3, 1.6, 0.7, 0.5)] == [
        "within",
        "above 95%",
        "above 99.8%",
        "below 95%",
        "below 99.8%",
    ]
    assert funnel.reading("Parenting Programme", "step-up rate", "within", adjusted=True) == (
        "Parenting Programme's step-up rate is within the expected range for its case mix."
    )
    # released views say only within / above / below (the 95% limits), never which limit
    assert [funnel.broad_label(p) for p in ("within", "above 95%", "above 99.8%", "below 95%", "below 99.8%")] == [
        "within the expected range", "above the expected range", "above the expected range",
        "below the expected range", "below the expected range"]


def test_bad_arguments_name_the_argument_and_the_choices():
    with pytest.raises(ValueError, match=r"method must be one of exact, normal; got 'poisson'\."):
        funnel.proportion_limits(0.1, [10], 0.95, "poisson")
    with pytest.raises(ValueError, match=r"p0 must be strictly between 0 and 1; got 0\."):
        funnel.proportion_limits(0, [10], 0.95)
    with pytest.raises(ValueError, match=r"coverage must be strictly between 0 and 1; got 95\."):
        funnel.ratio_limits([10], 95)
