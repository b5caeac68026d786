"""Coverage's demand model allows for overdispersion (quasi-Poisson), checked against independent references.

The references: statsmodels' GLM(Poisson) with the log(children) offset and .fit(scale="X2") (statsmodels is a test
dependency only), the Poisson GLM by direct maximum likelihood (scipy.optimize), and the widened interval by the
Poisson tail it must solve (scipy.special's regularised incomplete gamma functions).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import gammainc, gammaincc, gammaln
from scipy.stats import poisson

from ehmap.coverage import council_centres, council_idaci, coverage, fit_demand, lsoa_centres, ratio_interval, reading
from ehmap.exports import read_export
from ehmap.geography import council_lsoas
from ehmap.indicators import child_population
from ehmap.services import ingest_services

CROYDON = "E09000008"


def reference_dispersion(y: np.ndarray, children: np.ndarray, x: np.ndarray) -> float:
    """Pearson chi-squared / (n - 2) about a Poisson GLM fitted by direct maximum likelihood (Nelder-Mead)."""
    def nll(beta):
        mu = children * np.exp(beta[0] + beta[1] * x)
        return -(y * np.log(mu) - mu - gammaln(y + 1)).sum()

    start = [np.log(y.sum() / children.sum()), 0.0]
    beta = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 40000}).x
    mu = children * np.exp(beta[0] + beta[1] * x)
    return float(((y - mu) ** 2 / mu).sum() / (len(y) - 2))


def test_the_widened_interval_solves_the_scaled_poisson_tails():
    # O / scale events, Poisson with mean E / scale: P(X <= k / scale) = Q(k / scale + 1, U / scale) = 2.5% at the
    # upper limit U, and P(X >= k / scale) = P(k / scale, L / scale) = 2.5% at the lower limit L
    for k, scale, e in [(0, 1.0, 10.0), (3, 1.0, 10.0), (10, 4.2, 10.0), (57, 19.0, 40.0), (1, 7.5, 3.0)]:
        ratio, lower, upper = ratio_interval(np.array([k]), np.array([e]), scale)
        assert ratio[0] == pytest.approx(k / e)
        assert gammaincc(k / scale + 1, upper[0] * e / scale) == pytest.approx(0.025, abs=1e-9)
        if k:
            assert gammainc(k / scale, lower[0] * e / scale) == pytest.approx(0.025, abs=1e-9)
        else:
            assert lower[0] == 0
    # scale 1, whole counts: the discrete Poisson tails themselves (Garwood's exact interval)
    for k in (1, 4, 25):
        _, lower, upper = ratio_interval(np.array([k]), np.array([1.0]))
        assert poisson.cdf(k, upper[0]) == pytest.approx(0.025, abs=1e-9)
        assert poisson.sf(k - 1, lower[0]) == pytest.approx(0.025, abs=1e-9)
    # more spread, a wider interval on both sides
    _, low1, up1 = ratio_interval(np.array([20]), np.array([20.0]), 1.0)
    _, low9, up9 = ratio_interval(np.array([20]), np.array([20.0]), 9.0)
    assert low9[0] < low1[0] < 1 < up1[0] < up9[0]


@pytest.fixture(scope="module")
def croydon_model_inputs():
    lsoas = council_lsoas(CROYDON)
    codes = lsoas["lsoa11cd"].astype(str)
    idaci, problem = council_idaci(codes)
    assert problem is None
    children = child_population().set_index("lsoa11cd")["children"].reindex(codes).to_numpy(dtype=float)
    x = idaci.set_index("lsoa11cd")["idaci"].reindex(codes).to_numpy()
    return children, x


def test_the_quasi_poisson_fit_is_statsmodels_glm_with_pearson_scale(croydon_model_inputs):
    """Coefficients and Pearson dispersion agree with statsmodels."""
    import statsmodels.api as sm

    children, x = croydon_model_inputs
    rng = np.random.default_rng(3)
    y = rng.poisson(children * np.exp(-4.6 + 4.5 * x) * rng.gamma(1 / 0.3, 0.3, len(x))).astype(float)
    model = fit_demand(y, children, x)
    glm = sm.GLM(y, sm.add_constant(x), family=sm.families.Poisson(), offset=np.log(children)).fit(scale="X2")
    assert [model.intercept, model.slope] == pytest.approx(list(glm.params), rel=1e-8)
    assert model.dispersion == pytest.approx(glm.scale, rel=1e-8)
    assert model.dispersion == pytest.approx(glm.pearson_chi2 / glm.df_resid, rel=1e-8)


def test_overdispersed_counts_are_rarely_flagged_by_chance_but_a_real_gap_still_is(croydon_model_inputs):
    # Episodes that follow the model on average, with gamma-distributed area effects (negative binomial counts):
    # nothing is truly below expected, so flags are false alarms
    children, x = croydon_model_inputs
    rng = np.random.default_rng(14)
    exact_rates, widened_rates = [], []
    for _ in range(20):
        y = rng.poisson(children * np.exp(-4.6 + 4.5 * x) * rng.gamma(1 / 0.3, 0.3, len(x))).astype(float)
        model = fit_demand(y, children, x)
        expected = children * model.rate(x)
        exact_rates.append((ratio_interval(y, expected)[2] < 1).mean())
        widened_rates.append((ratio_interval(y, expected, model.scale)[2] < 1).mean())
    assert model.dispersion == pytest.approx(reference_dispersion(y, children, x), rel=1e-5)
    assert model.dispersion > 2 and model.scale == model.dispersion
    assert np.mean(exact_rates) > 0.08  # exact Poisson: false alarms in many times the nominal 2.5% of areas
    assert np.mean(widened_rates) <= 0.025  # quasi-Poisson: within the nominal rate
    # the same counts with no episode at all in the area expected to have most: still clearly below expected
    biggest = int(np.argmax(expected))
    y[biggest] = 0
    model = fit_demand(y, children, x)
    _, _, upper = ratio_interval(y, children * model.rate(x), model.scale)
    assert upper[biggest] < 1


def lsoa_counts(cases: pd.DataFrame, codes: pd.Series) -> np.ndarray:
    """Episodes per LSOA, counted with plain pandas."""
    return cases["lsoa11cd"].astype(str).value_counts().reindex(codes, fill_value=0).to_numpy(dtype=float)


def real_shaped(directory, council_names) -> tuple[str, pd.DataFrame]:
    """West Berkshire: a second realistic export (clustered families, uneven need), ingested as an upload is."""
    from synthetic_export import WEST_BERKSHIRE, make_export

    from ehmap.config import pseudonymisation_key
    from ehmap.ingest import ingest

    return WEST_BERKSHIRE, ingest(make_export(directory), WEST_BERKSHIRE, directory, council_names,
                                  pseudonymisation_key()).cases


def demo(directory, council_names) -> tuple[str, pd.DataFrame]:
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return CROYDON, load_demo(directory, council_names, pseudonymisation_key()).cases


@pytest.mark.parametrize("source", [demo, pytest.param(real_shaped, marks=pytest.mark.national)],
                         ids=["demo", "real-shaped export"])
def test_real_shaped_counts_are_overdispersed_and_fewer_areas_fall_clearly_below_expected(
        source, directory, council_names):
    la_code, cases = source(directory, council_names)
    codes = council_lsoas(la_code)["lsoa11cd"].astype(str)
    idaci, _ = council_idaci(codes)
    children = child_population().set_index("lsoa11cd")["children"].reindex(codes).to_numpy(dtype=float)
    x = idaci.set_index("lsoa11cd")["idaci"].reindex(codes).to_numpy()
    y = lsoa_counts(cases, codes)
    model = fit_demand(y, children, x)
    assert model.dispersion == pytest.approx(reference_dispersion(y, children, x), rel=1e-5)
    assert model.dispersion > 2  # siblings and uneven need: far more spread than Poisson counts
    expected = children * model.rate(x)
    before = int((ratio_interval(y, expected)[2] < 1).sum())
    after = int((ratio_interval(y, expected, model.scale)[2] < 1).sum())
    assert before >= 10 and after < before / 3


@pytest.fixture(scope="module")
def demo_coverage(directory, council_names):
    """The demo's coverage for all needs with the demo services, and its inputs."""
    _, cases = demo(directory, council_names)
    lsoas = council_lsoas(CROYDON)
    path = "demo/croydon_services.csv"
    with open(path, "rb") as handle:
        services = ingest_services(read_export(handle.read(), "croydon_services.csv"), CROYDON, directory,
                                   lsoas.union_all()).services
    centres = council_centres(lsoas, lsoa_centres(directory))
    idaci, _ = council_idaci(lsoas["lsoa11cd"])
    return cases, centres, services, idaci


def test_the_team_reading_on_the_demo_says_what_was_found_how_sure_and_what_next(demo_coverage):
    cases, centres, services, idaci = demo_coverage
    result = coverage(cases, centres, services, child_population(), idaci)
    text = reading(result)
    areas = result.areas
    flagged, below = areas[areas["flag"]], areas[areas["below_expected"]]
    assert f"vary {result.model.dispersion:.0f} times more than chance" in text and "95% confidence" in text
    assert len(re.findall(r"[.!?](?:\s|$)", text)) <= 2  # one or two sentences
    if len(flagged):
        top = flagged.sort_values("gap", ascending=False)["lsoa11nm"].iloc[0]
        assert text.startswith(f"{len(flagged)} area") and top in text and "try outreach there first" in text
    elif len(below):
        assert text.startswith("No area is both clearly below its expected episodes and far from a service")
        assert below.sort_values("gap", ascending=False)["lsoa11nm"].iloc[0] in text
    else:
        assert text.startswith("No area has clearly fewer episodes than expected")
        assert areas.sort_values("gap", ascending=False)["lsoa11nm"].iloc[0] in text
    assert "A longer period gives more episodes" in text or "Ask the nearest services" in text or "try outreach" in text


def test_the_released_reading_uses_flags_and_public_facts_only(demo_coverage, directory, council_names):
    from ehmap.config import pseudonymisation_key
    from ehmap.coverage import DistanceBands
    from ehmap.demo import load_demo
    from ehmap.release.output import release_of
    from ehmap.views.coverage import released_coverage, team_coverage

    cases, centres, services, idaci = demo_coverage
    release = release_of(load_demo(directory, council_names, pseudonymisation_key()))
    bands = DistanceBands()
    for need in (None, "domestic_abuse", "health"):
        view = released_coverage(release, cases, centres, services, child_population(), idaci, need, None, bands, 1.0,
                                 "all")
        team = team_coverage(cases, centres, services, child_population(), idaci, need, None, bands, 1.0,
                             release.period("all").start, release.period("all").end)
        text = view.reading
        assert text and "times more than chance" not in text and "95% confidence" in text
        areas = view.result.areas
        flagged, below = areas[areas["flag"]], areas[areas["below_expected"]]
        public = {str(len(flagged)), f"{int(flagged['children'].fillna(0).sum()):,}", str(len(below)), "95", "0",
                  "17", "1"}
        assert set(re.findall(r"\d[\d,]*", text)) - {n for name in areas["lsoa11nm"] for n in re.findall(
            r"\d[\d,]*", str(name))} <= public  # no figure worked out from counts
        named = {name for name in areas["lsoa11nm"] if name in text}
        assert named <= set(flagged["lsoa11nm"]) | set(below["lsoa11nm"])  # nobody named by a hidden shortfall
        assert set(team.result.flagged["lsoa11cd"]) == set(flagged["lsoa11cd"])  # one set of flags for both audiences
        assert text != team.reading or not len(below)


def test_a_released_outreach_list_cut_to_a_ward_downloads_only_that_wards_rows(demo_coverage, directory,
                                                                               council_names, data_dir):
    from ehmap.areas import ward_area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.coverage import DistanceBands
    from ehmap.demo import load_demo
    from ehmap.release.output import release_of
    from ehmap.views.coverage import released_coverage

    cases, centres, services, idaci = demo_coverage
    release = release_of(load_demo(directory, council_names, pseudonymisation_key()))
    wards = ward_area_set("E09000008").lsoa_table("ward")
    view = released_coverage(release, cases, centres, services, child_population(), idaci, "domestic_abuse", None,
                             DistanceBands(), 1.0, "all", wards=wards)
    [(stem, whole)] = view.downloads.items()
    ward = whole["Ward code"].value_counts().index[0]
    cut = view.in_ward(ward)
    [(cut_stem, table)] = cut.downloads.items()
    assert cut_stem == f"{stem}_{ward}" and table.equals(cut.outreach)
    assert len(table) == (whole["Ward code"] == ward).sum() and set(table["Ward code"]) == {ward}
    assert list(table["LSOA code"]) == list(whole.loc[whole["Ward code"] == ward, "LSOA code"])
    assert list(table.columns[:5]) == ["Rank", "Area", "LSOA code", "Ward", "Ward code"]
    assert view.in_ward(None) is view
