"""The need map by ward (ehmap.views.need_map, pages/need_map.py): the team maps wards summed from their LSOAs with the
LSOAs' rates, intervals, smoothing and flags; a released view maps only the geography the release gate released.

Expected figures are worked out here by hand: episodes by a pandas groupby of the demo cases through the ONS lookups
(tests/ward_support.py), children from the ONS population file, intervals from scipy's chi-squared quantiles."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from streamlit.testing.v1 import AppTest
from ward_support import lsoa11_wards

from ehmap.access import Role, User
from ehmap.audience import SMALL_FLAG
from ehmap.ranking import IMPLAUSIBLE_FLAG
from ehmap.taxonomy import NEED_BITS
from ehmap.views.need_map import (
    EPISODES,
    RATE,
    SMOOTHED,
    map_geographies,
    map_stem,
    map_title,
    need_map_reading,
    released_geography_notice,
    released_need_map,
    team_need_map,
    team_need_ranking,
)
from tests.conftest import CROYDON

APP = str(Path(__file__).resolve().parent.parent / "app.py")
YEAR = (dt.date(2024, 4, 1), dt.date(2025, 3, 31))
VIEWER = User("vic@example.org", "Vic Viewer", Role.VIEWER, (CROYDON,), mode="oidc")


@pytest.fixture(scope="module")
def croydon(directory, council_names, data_dir):
    """The demo's episodes as the app ingests them, Croydon's LSOAs and wards, the child population, its release,
    and the ONS lookup chained by hand (LSOA11CD -> WD24CD, WD24NM, children)."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.indicators import child_population
    from ehmap.release.gate import ReleaseInputs, build_release

    cases = load_demo(directory, council_names, pseudonymisation_key()).cases
    areas = {"lsoa11": area_set("lsoa11", CROYDON), "ward": area_set("ward", CROYDON)}
    lookup = lsoa11_wards(data_dir).set_index("LSOA11CD")
    people = pd.read_csv(data_dir / "population_mid2020_lsoa11_children_0_17.csv", index_col="LSOA11CD")
    lookup["children"] = people["age_0_17"].reindex(lookup.index)
    release = build_release(ReleaseInputs(cases, CROYDON, areas))
    return cases, areas, child_population(), release, lookup


def wards_by_hand(cases: pd.DataFrame, lookup: pd.DataFrame) -> pd.DataFrame:
    """Per ward code: episodes (a groupby of the cases' LSOAs through the lookup), children, rate and its exact 95%
    interval from scipy's chi-squared quantiles."""
    ward = cases["lsoa11cd"].astype(str).map(lookup["WD24CD"])
    wards = lookup.groupby("WD24CD").agg(name=("WD24NM", "first"), children=("children", "sum"))
    wards["episodes"] = ward.value_counts().reindex(wards.index, fill_value=0)
    per = 1000 / wards["children"]
    wards["rate"] = wards["episodes"] * per
    wards["lower"] = np.where(wards["episodes"] > 0, chi2.ppf(0.025, 2 * wards["episodes"]) / 2, 0.0) * per
    wards["upper"] = chi2.ppf(0.975, 2 * wards["episodes"] + 2) / 2 * per
    return wards


def planted(lookup: pd.DataFrame, counts: dict[str, int], day: str = "2024-06-01") -> pd.DataFrame:
    """Episodes of domestic abuse shaped as ingest returns them: `counts[ward]` of them, spread over that ward's
    LSOAs in turn."""
    codes = []
    for ward, count in counts.items():
        lsoas = list(lookup.index[lookup["WD24CD"] == ward])
        codes += [lsoas[i % len(lsoas)] for i in range(count)]
    return pd.DataFrame({
        "lsoa11cd": pd.Categorical(codes),
        "referral_date": pd.to_datetime([day] * len(codes)).astype("datetime64[s]"),
        "needs_mask": np.full(len(codes), NEED_BITS["domestic_abuse"], dtype=np.uint16),
        "service": pd.Categorical(["Family Support"] * len(codes)),
    })


# ---------------------------------------------------------------- team_need_map on wards


def test_team_ward_map_sums_each_wards_lsoas_and_rates_them_as_lsoas_are(croydon):
    cases, areas, population, _, lookup = croydon
    first, last = cases["referral_date"].min().date(), cases["referral_date"].max().date()
    view = team_need_map(cases, areas["ward"], None, first, last, None, RATE, population)
    assert view.areas is areas["ward"]
    table = view.table.set_index("code")
    assert sorted(table.index) == sorted(areas["ward"].areas["code"])
    expected = wards_by_hand(cases, lookup).reindex(table.index)
    assert (table["episodes"] == expected["episodes"]).all()
    assert (table["children"] == expected["children"]).all()
    assert table["rate"].tolist() == expected["rate"].round(1).tolist()
    assert np.allclose(table["rate_lower"], expected["lower"].round(1)) and np.allclose(
        table["rate_upper"], expected["upper"].round(1))
    assert table["name"].to_dict() == expected["name"].to_dict()
    lsoa_view = team_need_map(cases, areas["lsoa11"], None, first, last, None, RATE, population)
    assert view.council_total == lsoa_view.council_total == f"{len(cases):,}"
    assert int(table["episodes"].sum()) == int(lsoa_view.table["episodes"].sum())


def test_team_ward_table_names_wards_never_raw_columns(croydon):
    cases, areas, population, _, lookup = croydon
    view = team_need_map(cases, areas["ward"], None, *YEAR, None, SMOOTHED, population)
    shown = view.shown_table()
    assert list(shown.columns) == ["Ward name", "Ward code", "Episodes", "Children 0-17", "Rate per 1,000",
                                   "95% CI lower", "95% CI upper", "Smoothed rate per 1,000", "Note"]
    assert not set(shown.columns) & {"code", "name", "lsoa11cd", "lsoa11nm", "ward", "ward_code", "ward_name"}
    assert shown.set_index("Ward code")["Ward name"].to_dict() == lookup.groupby("WD24CD")["WD24NM"].first().to_dict()
    assert "Each case counts in the ward" in " ".join(view.notes)  # how LSOAs go to wards


def test_team_ward_smoothing_and_flags_are_the_lsoas_own(croydon):
    from ehmap.needmap import smoothed_rates

    _, areas, population, _, lookup = croydon
    wards = sorted(set(lookup["WD24CD"]))
    busy, few = wards[0], wards[1]
    children = lookup.groupby("WD24CD")["children"].sum()
    heavy = int(children[busy] * 0.2) + 1  # 200 per 1,000 children in a year: past the implausible line
    cases = planted(lookup, {busy: heavy, few: 3, **{w: 40 for w in wards[2:]}})
    view = team_need_map(cases, areas["ward"], "domestic_abuse", *YEAR, None, SMOOTHED, population)
    table = view.table.set_index("code")
    assert table.loc[busy, "care"] == IMPLAUSIBLE_FLAG and table.loc[few, "care"] == SMALL_FLAG
    assert (table.drop([busy, few])["care"] == "").all()
    counts = pd.Series([heavy, 3, *[40] * (len(wards) - 2)], index=wards)
    expected = smoothed_rates(counts, children.reindex(wards)).round(1)
    assert table.loc[wards, "smoothed_rate"].tolist() == expected.tolist()
    assert table.loc[wards, "value"].tolist() == expected.tolist()  # the smoothed rate colours the map


def test_ward_map_says_ward_in_its_reading_title_and_file_names(croydon):
    cases, areas, population, _, _ = croydon
    view = team_need_map(cases, areas["ward"], None, *YEAR, None, RATE, population)
    by_ward = team_need_ranking(cases, areas["ward"], None, *YEAR, None, population)
    by_lsoa = team_need_ranking(cases, areas["lsoa11"], None, *YEAR, None, population)
    assert ", by ward: " in need_map_reading(view, by_ward)
    assert ", mapped by ward, ranked by LSOA: " in need_map_reading(view, by_lsoa)
    assert "episodes in the council, mapped by ward." in need_map_reading(view, None)
    assert ", by ward, Croydon, " in map_title(None, view, "Croydon", "2024-25")
    assert map_stem(CROYDON, None, view) == f"ehmap_need_map_{CROYDON}_all_ward"
    lsoa_view = team_need_map(cases, areas["lsoa11"], None, *YEAR, None, RATE, population)
    assert map_stem(CROYDON, "domestic_abuse", lsoa_view).endswith("_domestic_abuse_lsoa11")
    assert map_geographies(True) == {"lsoa11": "LSOA 2011", "ward": "Ward"} and list(map_geographies(False)) == ["lsoa11"]  # no LSOA 2021 unless placed


def test_team_ward_map_counts_only_without_a_population(croydon):
    cases, areas, _, _, lookup = croydon
    view = team_need_map(cases, areas["ward"], None, *YEAR, None, EPISODES, None)
    inside = cases[cases["referral_date"].between(pd.Timestamp(YEAR[0]), pd.Timestamp(YEAR[1]))]
    expected = wards_by_hand(inside, lookup)["episodes"]
    assert view.table.set_index("code")["value"].to_dict() == expected.astype(float).to_dict()
    assert list(view.shown_table().columns) == ["Ward name", "Ward code", "Episodes", "Note"]


def test_released_map_is_the_released_geography_and_a_notice_says_when_it_is_not_the_one_asked(croydon):
    _, _, population, release, _ = croydon
    period = release.calendar.years[-1].key
    for need in (None, "domestic_abuse", "housing"):
        released = release.geography[need or "all"]
        view = released_need_map(release, need, period, RATE, population)
        assert view.areas.kind == released
        assert all(stem.endswith(f"_{released}") for stem in view.downloads)  # the geography in the file name
        assert released_geography_notice(release, need, released) == ""
        other = "lsoa11" if released != "lsoa11" else "ward"
        notice = released_geography_notice(release, need, other)
        assert notice.startswith("Shared views show this need by ") and notice.count(".") == 1
        assert {"lsoa11": "LSOAs", "ward": "wards"}[other] in notice


# ---------------------------------------------------------------- the page (AppTest)


def need_map_page() -> AppTest:
    from ehmap.store import DEMO_CHOICE

    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["dataset"] = DEMO_CHOICE
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def mapped_codes(at: AppTest) -> list[str]:
    """The codes of the areas the page's one map draws."""
    [fmap] = at.get("component_instance")
    return re.findall(r'"code": "([^"]+)"', json.loads(fmap.proto.json_args)["script"])


def map_label(at: AppTest) -> str:
    [fmap] = at.get("component_instance")
    return re.search(r'"aria-label", "(Map of [^"]*)"', json.loads(fmap.proto.json_args)["script"]).group(1)


def shown_reading(at: AppTest) -> str:
    [text] = [re.sub(r"\\(.)", r"\1", i.value) for i in at.info if "council rate" in i.value]
    return text


def test_page_maps_wards_for_the_team(directory, croydon):
    cases, areas, _, _, lookup = croydon
    at = need_map_page()
    choice = at.radio(key="need_map_geography_team")
    assert choice.options == ["LSOA 2021", "LSOA 2011", "Ward"] and choice.value == "lsoa21"  # LSOAs 2021 by default
    choice.set_value("lsoa11").run()
    lsoa_table = at.dataframe[-1].value
    assert len(mapped_codes(at)) == len(lsoa_table) == len(areas["lsoa11"].areas)
    choice.set_value("ward").run()
    assert not at.exception, [e.message for e in at.exception]
    codes = mapped_codes(at)
    assert sorted(codes) == sorted(areas["ward"].areas["code"])  # exactly the council's wards
    table = at.dataframe[-1].value
    assert list(table.columns[:3]) == ["Ward name", "Ward code", "Episodes"]
    episodes = table.set_index("Ward code")["Episodes"].astype(int)
    expected = wards_by_hand(cases, lookup)["episodes"]  # the page's default: every episode, all services
    assert episodes.to_dict() == expected.to_dict()
    assert int(episodes.sum()) == int(lsoa_table["Episodes"].astype(int).sum())
    assert at.metric[0].value == f"{len(cases):,}"
    assert ", by ward, Croydon, " in map_label(at)
    [fmap] = at.get("component_instance")
    assert "database right 2024" in json.loads(fmap.proto.json_args)["script"]  # drawn with the May 2024 wards
    assert ", by ward: " in shown_reading(at)
    [image] = [b for b in at.get("download_button") if b.proto.label == "Download the map (PNG)"]
    assert image.proto.id.endswith(f"map_png_ehmap_need_map_{CROYDON}_all_ward")
    at.radio(key="need_map_rank_team_ward_lsoa11").set_value("lsoa11").run()
    assert ", mapped by ward, ranked by LSOA 2021: " in shown_reading(at)  # the team's default small area
    assert sorted(mapped_codes(at)) == sorted(areas["ward"].areas["code"])  # ranking LSOAs leaves the map on wards


def test_page_released_view_by_ward_shows_the_released_table_or_says_why_not(directory, croydon):
    _, areas, _, release, _ = croydon
    at = need_map_page()
    at.toggle(key="show_released").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    codes = {kind: sorted(areas[kind].areas["code"]) for kind in areas}
    for need in (None, "domestic_abuse"):  # all needs first, as the page opens
        if need:
            at.selectbox(key="need_map_need").set_value(need).run()
        released = release.geography[need or "all"]
        for wanted in ("ward", "lsoa11"):
            at.radio(key="need_map_geography_release").set_value(wanted).run()
            assert not at.exception, [e.message for e in at.exception]
            notices = [c.value for c in at.caption if c.value.startswith("Shared views show this need by ")]
            if wanted == released:
                assert notices == []
            else:
                assert len(notices) == 1 and notices[0].count(".") == 1
            assert sorted(mapped_codes(at)) == codes[released]  # never a table the release did not release
            table = at.dataframe[-1].value
            assert sorted(table["Code"]) == codes[released]
            counts = [str(v) for v in table["Episodes"]]
            assert not [v for v in counts if v != "c" and (int(v) % 5 or 1 <= int(v) <= 7)]
            word = {"ward": "ward", "lsoa11": "LSOA"}[released]
            assert f", by {word}, Croydon, " in map_label(at)
            stems = [b.proto.id for b in at.get("download_button") if b.proto.label == "Download this table (CSV)"]
            assert len(stems) == 1 and stems[0].endswith(f"_{released}")


def test_page_offers_a_viewer_the_map_by_choice_and_explains_an_unreleased_one(directory, croydon, monkeypatch,
                                                                                   tmp_path):
    from page_support import run_demo_page

    _, areas, _, release, _ = croydon
    at = run_demo_page("need_map", "viewer", monkeypatch, tmp_path)
    assert not at.exception, [e.message for e in at.exception]
    choice = at.radio(key="need_map_geography_release")
    assert choice.options == ["LSOA 2011", "Ward"]
    released = release.geography["all"]
    other = "lsoa11" if released == "ward" else "ward"
    choice.set_value(other).run()
    notices = [c.value for c in at.caption if c.value.startswith("Shared views show this need by ")]
    assert notices == [released_geography_notice(release, None, other)]
    assert sorted(mapped_codes(at)) == sorted(areas[released].areas["code"])
