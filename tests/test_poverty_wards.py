"""Destabilised by poverty by ward (ehmap.context.area_poverty, ehmap.views.context, pages/poverty.py): the team maps
and ranks wards whose episodes, families and children are the sums of their LSOAs', rated as LSOAs are, while the
decile analyses stay on LSOAs; a released view shows only the geography the release gate released for poverty.

Expected figures are worked out here by hand: a pandas groupby of the demo cases through the ONS lookups chained in
tests/ward_support.py, children from the ONS population file, intervals from scipy's chi-squared quantiles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from streamlit.testing.v1 import AppTest
from ward_support import lsoa11_wards

from ehmap.context import (
    POVERTY_NEEDS,
    area_poverty,
    council_context,
    family_areas,
    over_representation,
    poverty_reading,
    ranked_poverty_by_area,
)
from ehmap.taxonomy import NEED_BITS
from ehmap.views.context import area_titles, decile_note, released_poverty, team_poverty
from tests.conftest import CROYDON

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DECILE = "iod2019_idaci_decile"
RANKED_TITLE = "Families with a poverty need"


@pytest.fixture(scope="module")
def croydon(directory, council_names, data_dir):
    """The demo's episodes as the app ingests them, Croydon's LSOAs and wards, IoD2019 on its LSOAs, the child
    population, its release with deciles, and the ONS lookup chained by hand (LSOA11CD -> WD24CD, WD24NM,
    children)."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.indicators import child_population
    from ehmap.release.gate import ReleaseInputs, build_release

    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    areas = {"lsoa11": area_set("lsoa11", CROYDON), "ward": area_set("ward", CROYDON)}
    context = council_context(CROYDON, ["iod2019"])
    imd = context.areas.set_index("lsoa11cd")["iod2019_imd_decile"]
    release = build_release(ReleaseInputs(cases, CROYDON, areas, imd))
    lookup = lsoa11_wards(data_dir).set_index("LSOA11CD")
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", index_col="LSOA11CD")
    lookup["children"] = people["age_0_17"].reindex(lookup.index)
    return cases, areas, context, child_population(), release, lookup


def poverty_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Episodes recording financial stability or secure housing, by the need bits."""
    return cases[(cases["needs_mask"].to_numpy() & sum(NEED_BITS[n] for n in POVERTY_NEEDS)) != 0]


def wards_by_hand(cases: pd.DataFrame, lookup: pd.DataFrame) -> pd.DataFrame:
    """Per ward code: name, children, poverty episodes and families (each family at its latest poverty episode's
    LSOA) by a groupby through the lookup, and the rate with its exact 95% interval from chi-squared quantiles."""
    poverty = poverty_cases(cases)
    family = poverty["family_id"].astype(object).where(poverty["family_id"].notna(), poverty["case_id"])
    latest = poverty.assign(family=family.to_numpy()).sort_values("referral_date").groupby("family").tail(1)
    wards = lookup.groupby("WD24CD").agg(name=("WD24NM", "first"), children=("children", "sum"))
    wards["episodes"] = poverty["lsoa11cd"].astype(str).map(lookup["WD24CD"]).value_counts().reindex(
        wards.index, fill_value=0)
    wards["families"] = latest["lsoa11cd"].astype(str).map(lookup["WD24CD"]).value_counts().reindex(
        wards.index, fill_value=0)
    per = 1000 / wards["children"]
    wards["rate"] = wards["episodes"] * per
    wards["lower"] = np.where(wards["episodes"] > 0, chi2.ppf(0.025, 2 * wards["episodes"]) / 2, 0.0) * per
    wards["upper"] = chi2.ppf(0.975, 2 * wards["episodes"] + 2) / 2 * per
    return wards


def whole_span(cases: pd.DataFrame):
    return cases["referral_date"].min().date(), cases["referral_date"].max().date()


# ---------------------------------------------------------------- ehmap.context.area_poverty and its ranking


def test_area_poverty_sums_each_wards_lsoas_and_rates_them_as_lsoas_are(croydon):
    cases, areas, _, population, _, lookup = croydon
    table = area_poverty(cases, areas["ward"], population).set_index("code")
    assert sorted(table.index) == sorted(areas["ward"].areas["code"])
    expected = wards_by_hand(cases, lookup).reindex(table.index)
    assert table["episodes"].tolist() == expected["episodes"].tolist()
    assert table["families"].tolist() == expected["families"].tolist()
    assert table["children"].tolist() == expected["children"].tolist()
    assert table["rate"].tolist() == expected["rate"].round(1).tolist()
    assert np.allclose(table["rate_lower"], expected["lower"].round(1))
    assert np.allclose(table["rate_upper"], expected["upper"].round(1))
    assert table["name"].to_dict() == expected["name"].to_dict()
    by_lsoa = area_poverty(cases, areas["lsoa11"], population)  # the same recipe on LSOAs
    assert int(table["episodes"].sum()) == int(by_lsoa["episodes"].sum()) == len(poverty_cases(cases))
    assert int(table["families"].sum()) == int(by_lsoa["families"].sum()) == int(family_areas(cases)["families"].sum())
    counts_only = area_poverty(cases, areas["ward"], None)
    assert "rate" not in counts_only and counts_only["episodes"].tolist() == table["episodes"].tolist()


def test_wards_are_ranked_by_families_then_episodes_and_empty_ones_left_out(croydon):
    cases, areas, _, population, _, lookup = croydon
    table = area_poverty(cases, areas["ward"], population)
    table.loc[0, ["families", "episodes"]] = 0  # a ward with no poverty need is not ranked
    ranked = ranked_poverty_by_area(table)
    assert table.loc[0, "code"] not in set(ranked["code"]) and len(ranked) == len(table) - 1
    assert list(ranked.columns) == ["rank", "name", "code", "families", "episodes", "children", "rate", "rate_lower",
                                    "rate_upper", "note"]
    order = ranked[["families", "episodes"]].apply(tuple, axis=1).tolist()
    assert order == sorted(order, reverse=True)
    assert ranked["rank"].tolist() == ranked["families"].rank(method="min", ascending=False).astype(int).tolist()
    assert ranked["rank"].iloc[0] == 1


def test_the_reading_names_the_ranked_areas():
    over = over_representation(435, 772, 402, 1214)
    assert "reaches the wards at the top of the table below" in poverty_reading(over, "x", "IMD decile", "wards")
    assert "reaches the areas at the top of the table below" in poverty_reading(over, "x", "IMD decile")
    unclear = over_representation(30, 100, 28, 100)
    assert "look at the wards at the top" in poverty_reading(unclear, "x", "IMD decile", "wards")
    assert area_titles("ward") == {"name": "Ward name", "code": "Ward code"}
    assert area_titles("lsoa11") == {"name": "LSOA name", "code": "LSOA code"}
    assert decile_note("lsoa11") == "" and decile_note("ward").count(".") == 1 and "LSOA" in decile_note("ward")


# ---------------------------------------------------------------- ehmap.views.context


def test_team_poverty_by_ward_maps_and_ranks_wards_and_keeps_deciles_on_lsoas(croydon):
    cases, areas, context, population, _, lookup = croydon
    first, last = whole_span(cases)
    wards = areas["ward"].area_names()
    by_lsoa = team_poverty(cases, areas["lsoa11"], context, DECILE, population, POVERTY_NEEDS, first, last, wards)
    page = team_poverty(cases, areas["lsoa11"], context, DECILE, population, POVERTY_NEEDS, first, last, wards,
                        areas=areas["ward"])
    assert page.map.areas is areas["ward"] and by_lsoa.map.areas is areas["lsoa11"]
    assert sorted(page.map.table["code"]) == sorted(areas["ward"].areas["code"])
    expected = wards_by_hand(cases, lookup)
    shown = page.map.shown_table()
    assert list(shown.columns) == ["Ward name", "Ward code", "Episodes", "Children 0-17", "Rate per 1,000", "Note"]
    assert shown.set_index("Ward code")["Episodes"].to_dict() == expected["episodes"].to_dict()
    assert page.map.council_total == by_lsoa.map.council_total == f"{len(poverty_cases(cases)):,}"
    assert int(page.map.table["episodes"].sum()) == int(by_lsoa.map.table["episodes"].sum())
    ranked = page.ranked.set_index("Ward code")
    assert list(page.ranked.columns) == ["Rank", "Ward name", "Ward code", RANKED_TITLE,
                                         "Episodes with a poverty need", "Children 0-17",
                                         "Episodes per 1,000 children", "95% CI lower", "95% CI upper", "Note"]
    assert not set(page.ranked.columns) & {"name", "code", "lsoa11cd", "lsoa11nm", "ward", "families"}
    assert ranked[RANKED_TITLE].to_dict() == expected.loc[ranked.index, "families"].to_dict()
    assert ranked[RANKED_TITLE].sum() == by_lsoa.ranked[RANKED_TITLE].sum()
    assert ranked["Episodes per 1,000 children"].tolist() == expected.loc[ranked.index, "rate"].round(1).tolist()
    # the decile analyses are an LSOA property: the same as on the LSOA map, and one sentence says so
    for name in ("comparison", "shares", "by_decile"):
        pd.testing.assert_frame_equal(getattr(page, name), getattr(by_lsoa, name))
    assert page.decile_note == decile_note("ward") and by_lsoa.decile_note == ""
    assert "wards at the top of the table below" in page.reading
    assert "areas at the top of the table below" in by_lsoa.reading
    assert areas["ward"].rule in page.map.notes


def test_released_poverty_shows_only_the_released_geography_and_says_so(croydon):
    _, areas, _, population, release, _ = croydon
    released = release.geography["poverty"]
    other = "lsoa11" if released == "ward" else "ward"
    for period in (release.calendar.years[-1].key, "all"):
        page = released_poverty(release, period, population, areas["ward"].area_names(), released)
        assert page.notice == "" and page.map.areas.kind == released
        assert sorted(page.map.table["code"]) == sorted(areas[released].areas["code"])
        titles = area_titles(released)
        assert list(page.map.shown_table().columns[:2]) == [titles["name"], titles["code"]]
        assert set(page.ranked[titles["code"]]) <= set(areas[released].areas["code"])
        stems = list(page.downloads)
        assert f"ehmap_released_poverty_{CROYDON}_{period}_areas_{released}" in stems
        assert f"ehmap_released_poverty_{CROYDON}_{period}_ranked_{released}" in stems
        asked = released_poverty(release, period, population, areas["ward"].area_names(), other)
        assert asked.map.areas.kind == released  # never a table the gate did not release
        assert asked.notice.startswith("Shared views show this need by ") and asked.notice.count(".") == 1
        assert {"lsoa11": "LSOAs", "ward": "wards"}[other] in asked.notice
        assert list(asked.downloads) == stems
        shown = [str(v) for v in asked.map.table["episodes"] if str(v) != "c"]
        assert not [v for v in shown if int(v.replace(",", "")) % 5 or 1 <= int(v.replace(",", "")) <= 7]
        assert page.decile_note == decile_note(released)


# ---------------------------------------------------------------- the page (AppTest)


def poverty_page(**state) -> AppTest:
    from ehmap.store import DEMO_CHOICE

    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = DEMO_CHOICE
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/poverty.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def mapped_codes(at: AppTest) -> list[str]:
    """The codes of the areas the page's one map draws."""
    [fmap] = at.get("component_instance")
    return re.findall(r'"code": "([^"]+)"', json.loads(fmap.proto.json_args)["script"])


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(f.value for f in at.dataframe if column in f.value.columns)


def shown(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_page_maps_and_ranks_wards_for_the_team(directory, croydon):
    cases, areas, _, _, _, lookup = croydon
    at = poverty_page()
    choice = at.radio(key="poverty_geography_team")
    assert choice.options == ["LSOA 2011", "Ward"] and choice.value == "lsoa11"  # LSOAs by default
    assert sorted(mapped_codes(at)) == sorted(areas["lsoa11"].areas["code"])
    lsoa_areas, lsoa_ranked = at.dataframe[-1].value, table_with(at, RANKED_TITLE)
    lsoa_comparison, total = table_with(at, "Families living in"), at.metric[0].value
    assert not [c.value for c in at.caption if "published for LSOAs" in c.value]
    choice.set_value("ward").run()
    assert not at.exception, [e.message for e in at.exception]
    assert sorted(mapped_codes(at)) == sorted(areas["ward"].areas["code"])  # exactly the council's wards
    expected = wards_by_hand(cases, lookup)  # the page's default period: every episode
    ranked = table_with(at, RANKED_TITLE)
    assert list(ranked.columns[1:3]) == ["Ward name", "Ward code"]
    assert not set(ranked.columns) & {"lsoa11cd", "lsoa11nm", "code", "name", "LSOA name", "LSOA code"}
    by_code = ranked.set_index("Ward code")
    assert by_code[RANKED_TITLE].to_dict() == expected.loc[by_code.index, "families"].to_dict()
    assert by_code["Episodes with a poverty need"].to_dict() == expected.loc[by_code.index, "episodes"].to_dict()
    assert by_code["Ward name"].to_dict() == expected.loc[by_code.index, "name"].to_dict()
    assert ranked[RANKED_TITLE].sum() == lsoa_ranked[RANKED_TITLE].sum()  # the same families, summed
    table = at.dataframe[-1].value
    assert list(table.columns[:3]) == ["Ward name", "Ward code", "Episodes"]
    assert table.set_index("Ward code")["Episodes"].astype(int).to_dict() == expected["episodes"].to_dict()
    assert table["Episodes"].astype(int).sum() == lsoa_areas["Episodes"].astype(int).sum()
    assert at.metric[0].value == total == f"{len(poverty_cases(cases)):,}"
    pd.testing.assert_frame_equal(table_with(at, "Families living in"), lsoa_comparison)  # deciles stay on LSOAs
    assert len([c for c in at.caption if "Deprivation deciles are published for LSOAs" in c.value]) == 1
    [reading] = [shown(i.value) for i in at.info if "deprived" in i.value]
    assert "wards at the top of the table below" in reading


def test_page_released_view_shows_the_released_geography_and_says_when_wards_are_not_it(directory, croydon):
    _, areas, _, _, release, _ = croydon
    at = poverty_page(show_released=True)
    released = release.geography["poverty"]
    codes = sorted(areas[released].areas["code"])
    titles = area_titles(released)
    for wanted in ("ward", "lsoa11"):
        at.radio(key="poverty_geography_release").set_value(wanted).run()
        assert not at.exception, [e.message for e in at.exception]
        notices = [c.value for c in at.caption if c.value.startswith("Shared views show this need by ")]
        assert notices == ([] if wanted == released else [notices[0]]) and all(n.count(".") == 1 for n in notices)
        assert sorted(mapped_codes(at)) == codes  # only what the gate released
        table = at.dataframe[-1].value
        assert sorted(table[titles["code"]]) == codes
        counts = [str(v) for v in table["Episodes"] if str(v) != "c"]
        assert counts and not [v for v in counts if int(v) % 5 or 1 <= int(v) <= 7]
        ranked = table_with(at, "Episodes with a poverty need")
        assert set(ranked[titles["code"]]) <= set(codes)
        stems = [b.proto.id for b in at.get("download_button") if b.proto.label == "Download this table (CSV)"]
        assert any(s.endswith(f"_areas_{released}") for s in stems)
        assert any(s.endswith(f"_ranked_{released}") for s in stems)
