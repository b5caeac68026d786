"""Which local empirical Bayes smoother ehmap uses: spdep EBlocal's default form, checked against the published formula.

spdep's `EBlocal(ri, ni, nb, geoda = FALSE)` (R/EBest.R, after Marshall 1991, *Applied Statistics* 40:283-294): over
N_i, area i with its neighbours,
    m_i = sum_j r_j / sum_j n_j,    nbar_i = sum_j n_j / |N_i|,
    C_i = sum_j n_j (x_j - m_j)^2          (geoda = FALSE: each member's deviation from its own m_j)
    C_i = sum_j n_j (x_j - m_i)^2          (geoda = TRUE, Marshall's text and GeoDa: from this area's m_i)
    a_i = max(0, C_i / sum_j n_j - m_i / nbar_i),    estimate_i = m_i + (x_i - m_i) a_i / (a_i + m_i / n_i).
The references below are written from that formula alone, in exact fractions or plain loops, not from ehmap's code.
"""

from __future__ import annotations

from fractions import Fraction

import libpysal.weights as lpw
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from ehmap.smoothing import GLOBAL_EB_METHOD, LOCAL_EB_FORM, LOCAL_EB_METHOD, eb_global, eb_local

CROYDON = "E09000008"


def reference(events, population, neighbours: dict[int, list[int]], geoda: bool) -> list[float]:
    """The published EBlocal formula in exact arithmetic (events and population as integers)."""
    groups = {i: [i, *neighbours[i]] for i in neighbours}
    x = {i: Fraction(events[i], population[i]) for i in groups}
    m = {i: Fraction(sum(events[j] for j in g), sum(population[j] for j in g)) for i, g in groups.items()}
    out = []
    for i, g in groups.items():
        n_sum = sum(population[j] for j in g)
        nbar = Fraction(n_sum, len(g))
        spread = sum(population[j] * (x[j] - (m[i] if geoda else m[j])) ** 2 for j in g)
        a = max(Fraction(0), spread / n_sum - m[i] / nbar)
        denominator = a + m[i] / population[i]
        out.append(float(m[i] + (x[i] - m[i]) * a / denominator) if denominator else float(m[i]))
    return out


def matrix(neighbours: dict[int, list[int]]) -> sp.csr_matrix:
    rows = [i for i in neighbours for _ in neighbours[i]]
    cols = [j for i in neighbours for j in neighbours[i]]
    n = len(neighbours)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def test_a_star_of_areas_matches_spdep_default_and_not_the_geoda_form():
    # area 0 touches 1, 2 and 3; 1 also touches 2; 4 touches 3 only
    events, population = [80, 2, 9, 6, 1], [1000, 40, 300, 25, 400]
    neighbours = {0: [1, 2, 3], 1: [0, 2], 2: [0, 1], 3: [0, 4], 4: [3]}
    spdep_default = reference(events, population, neighbours, geoda=False)
    geoda = reference(events, population, neighbours, geoda=True)
    estimate = eb_local(np.array(events), np.array(population), matrix(neighbours))
    assert_allclose(estimate.smoothed, spdep_default, rtol=1e-12, atol=1e-15)
    # per 1,000, so a change in either form shows: area 3 (6 of 25) is 93.7 in spdep's default, 133.1 in GeoDa's
    assert_allclose(np.array(spdep_default) * 1000, [79.238, 65.701, 48.444, 93.658, 2.783], atol=5e-4)
    assert_allclose(np.array(geoda) * 1000, [79.233, 65.310, 46.672, 133.143, 2.686], atol=5e-4)
    assert not np.allclose(estimate.smoothed, geoda, rtol=1e-6)
    assert estimate.method == f"local, {LOCAL_EB_FORM}" == "local, spdep EBlocal, default form (geoda = FALSE)"
    assert "spdep EBlocal default form (geoda = FALSE" in LOCAL_EB_METHOD and "Marshall 1991" in LOCAL_EB_METHOD
    assert eb_global(np.array(events), np.array(population)).method == "global, poisson"
    assert "spdep EBest" in GLOBAL_EB_METHOD and "council's rate" in GLOBAL_EB_METHOD


@pytest.fixture(scope="module")
def croydon_counts(directory, council_names):
    """Real Croydon LSOA boundaries and children aged 0-17, with the demo's domestic abuse episodes per LSOA."""
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.geography import council_lsoas
    from ehmap.indicators import child_population
    from ehmap.taxonomy import NEED_BITS

    lsoas = council_lsoas(CROYDON).reset_index(drop=True)
    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    chosen = cases[(cases["needs_mask"].to_numpy() & NEED_BITS["domestic_abuse"]) > 0]
    codes = lsoas["lsoa11cd"].astype(str)
    events = chosen["lsoa11cd"].astype(str).value_counts().reindex(codes, fill_value=0).to_numpy()
    children = child_population().set_index("lsoa11cd")["children"].reindex(codes).to_numpy()
    assert (children > 0).all() and events.sum() > 100
    return lsoas, [int(v) for v in events], [int(v) for v in children]  # Python integers: exact fractions


def test_on_real_croydon_lsoas_ehmap_is_spdep_eblocal_default_and_the_forms_differ(croydon_counts):
    lsoas, events, children = croydon_counts
    w = lpw.Queen.from_dataframe(lsoas, use_index=True)  # queen contiguity on the real LSOA 2011 boundaries
    neighbours = {i: sorted(w.neighbors[i]) for i in range(len(lsoas))}
    assert sum(map(len, neighbours.values())) > 4 * len(lsoas)
    spdep_default = np.array(reference(events, children, neighbours, geoda=False))
    geoda = np.array(reference(events, children, neighbours, geoda=True))
    estimate = eb_local(np.array(events), np.array(children), matrix(neighbours))
    assert_allclose(estimate.smoothed, spdep_default, rtol=1e-10, atol=1e-15)
    gap = np.abs(spdep_default - geoda) * 1000  # per 1,000 children
    assert gap.max() > 0.1  # naming the form matters on real LSOAs: they are not the same numbers
    assert np.abs(estimate.smoothed - geoda).max() * 1000 == pytest.approx(gap.max(), rel=1e-9)
