"""Empirical Bayes smoothing (ehmap.smoothing) against hand calculations of spdep's EBest and EBlocal."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from ehmap.smoothing import eb_global, eb_local

EVENTS = [1, 10, 40, 5, 0]
CHILDREN = [3, 500, 1000, 200, 150]


def test_global_poisson_matches_a_hand_calculation_of_ebest():
    # Marshall (1991) method of moments, written out term by term.
    total_events, total_children, n = 56, 1853, 5
    b = total_events / total_children
    s2 = sum(c * (e / c - b) ** 2 for e, c in zip(EVENTS, CHILDREN)) / total_children
    a = s2 - b / (total_children / n)
    assert a > 0
    expected = [b + a * (e / c - b) / (a + b / c) for e, c in zip(EVENTS, CHILDREN)]
    estimate = eb_global(np.array(EVENTS), np.array(CHILDREN))
    assert_allclose(estimate.smoothed, expected, rtol=1e-12)
    assert_allclose([estimate.prior_mean, estimate.prior_variance], [b, a], rtol=1e-12)
    # Figures, so a change in the formula shows: b = 56/1853, a = 0.00022387; 333.3 per 1,000 becomes 36.8.
    assert_allclose(a, 0.000223872802, rtol=1e-8)
    assert_allclose(estimate.smoothed * 1000, [36.81099, 22.17294, 38.83694, 27.10403, 14.31494], rtol=1e-6)


def test_three_children_and_one_case_no_longer_tops_the_map():
    estimate = eb_global(np.array(EVENTS), np.array(CHILDREN))
    assert np.argmax(estimate.raw) == 0  # 333 per 1,000 raw
    assert np.argmax(estimate.smoothed) == 2  # 40 cases among 1,000 children now tops it
    assert estimate.smoothed[0] < estimate.raw[0] / 4
    assert estimate.smoothed[4] > 0  # a zero is pulled up towards the council rate


def test_homogeneous_rates_shrink_fully_to_the_council_rate():
    # Rates scattered less than Poisson noise: the prior variance a is negative, clipped to 0.
    estimate = eb_global(np.array([10, 11, 9]), np.array([1000, 1000, 1000]))
    assert estimate.prior_variance == 0
    assert_allclose(estimate.smoothed, [0.01, 0.01, 0.01])


def test_global_binomial_matches_the_martuzzi_elliott_formula():
    events, pop = np.array([3, 8, 20, 40]), np.array([10, 40, 50, 200])
    b = events.sum() / pop.sum()
    s2 = sum(p * (e / p - b) ** 2 for e, p in zip(events, pop)) / pop.sum()
    mean_pop = pop.mean()
    expected = []
    for e, p in zip(events, pop):
        rho = (p * s2 - (p / mean_pop) * b * (1 - b)) / ((p - 1) * s2 + ((mean_pop - p) / mean_pop) * b * (1 - b))
        expected.append(rho * e / p + (1 - rho) * b)
    assert_allclose(eb_global(events, pop, family="binomial").smoothed, expected, rtol=1e-12)


def test_local_matches_a_hand_calculation_of_eblocal_on_a_chain():
    # Areas 0-1-2-3-4 in a line, plus an island (5).
    events = [1, 10, 40, 5, 0, 4]
    pop = [3, 500, 1000, 200, 150, 80]
    neighbours = {0: [1], 1: [0, 2], 2: [1, 3], 3: [2, 4], 4: [3], 5: []}
    expected = []
    for i in range(6):
        group = [i, *neighbours[i]]
        m = sum(events[j] for j in group) / sum(pop[j] for j in group)
        nbar = sum(pop[j] for j in group) / len(group)
        # spdep (geoda=FALSE) weights each member's squared deviation from *its own* local mean
        def local_mean(j):
            g = [j, *neighbours[j]]
            return sum(events[k] for k in g) / sum(pop[k] for k in g)
        spread = sum(pop[j] * (events[j] / pop[j] - local_mean(j)) ** 2 for j in group)
        a = max(spread / sum(pop[j] for j in group) - m / nbar, 0.0)
        raw = events[i] / pop[i]
        expected.append(m + (raw - m) * (a / (a + m / pop[i])) if a + m / pop[i] > 0 else m)
    rows = [i for i in neighbours for _ in neighbours[i]]
    cols = [j for i in neighbours for j in neighbours[i]]
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(6, 6))
    estimate = eb_local(np.array(events), np.array(pop), matrix)
    assert_allclose(estimate.smoothed, expected, rtol=1e-12)
    assert estimate.smoothed[5] == pytest.approx(4 / 80)  # an island keeps its raw rate
    assert not np.isnan(estimate.smoothed).any()


@pytest.mark.parametrize(
    ("events", "pop", "message"),
    [
        ([1, -1], [10, 10], "events must be >= 0 and population > 0 in every area."),
        ([1, 1], [10, 0], "events must be >= 0 and population > 0 in every area."),
        ([1, 1], [10, np.nan], "events and population must have no missing values"),
        ([1, 1, 1], [10, 10], "events and population must be 1-D and the same length; got (3,) and (2,)."),
    ],
)
def test_bad_inputs_are_named(events, pop, message):
    with pytest.raises(ValueError) as error:
        eb_global(np.array(events, dtype=float), np.array(pop, dtype=float))
    assert message in str(error.value)


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown family 'normal'; valid families are \['poisson', 'binomial'\]"):
        eb_global(np.array([1.0]), np.array([10.0]), family="normal")
