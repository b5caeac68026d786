"""Share links: the view's choices encoded into the URL query and decoded with validation (ehmap.share), and the
app restoring them on arrival, writing them back after each run and offering "Copy link to this view" (AppTest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest

from ehmap.audience import Audience
from ehmap.share import (
    Decoded,
    decode,
    encode,
    link_dates,
    page_view,
    parse_period,
    period_keys,
    release_key,
    team_dates,
)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CROYDON = "E09000008"
COUNCILS = frozenset({CROYDON, "E09000001"})
TEAM, RELEASE = Audience.TEAM, Audience.RELEASE
D = dt.date


# ------------------------------------------------------------------------------------------------ pure


def test_a_view_round_trips_through_its_query():
    values = {"council": CROYDON, "dataset": 12, "need": "domestic_abuse", "period": (D(2024, 4, 1), D(2025, 3, 31)),
              "geography": "ward", "measure": "rate"}
    params = encode(values)
    assert params == {"council": CROYDON, "dataset": "12", "need": "domestic_abuse",
                      "period": "2024-04-01..2025-03-31", "geography": "ward", "measure": "rate"}
    decoded = decode(params, "", TEAM, COUNCILS)
    assert decoded.values == values and decoded.note() is None


def test_all_needs_and_the_demo_and_released_periods_are_option_keys():
    from ehmap.share import DEMO
    from ehmap.store import DEMO_CHOICE

    assert DEMO == DEMO_CHOICE  # the sidebar's own key for the demo
    params = encode({"need": None, "dataset": "demo", "period": "2023-24", "statistic": "gi_star"})
    assert params == {"dataset": "demo", "need": "all", "period": "2023-24", "statistic": "gi_star"}
    decoded = decode(params, "hot-spots", RELEASE, COUNCILS)
    assert decoded.values == {"dataset": "demo", "need": None, "period": "2023-24", "statistic": "gi_star"}


def test_encode_writes_choices_only_never_free_text_or_data():
    params = encode({"council": "Croydon", "dataset": "12; DROP", "need": "<b>x</b>", "measure": 3.5,
                     "period": ("2024-01-01", "x"), "geography": "custom", "statistic": ["gi_star"]})
    assert params == {}
    assert encode({"dataset": True}) == {}  # a bool is not a dataset id


@pytest.mark.parametrize(("name", "text", "why"), [
    ("council", "Croydon", "not a council code"),
    ("council", "E09000033", "not one of your councils"),
    ("dataset", "-3", "not a dataset id"),
    ("dataset", "1e9", "not a dataset id"),
    ("need", "unicorns", "not one of its options"),
    ("need", "[x](javascript:alert(1))", "not one of its options"),
    ("period", "2024-26", "not a financial year or a date range"),
    ("period", "2025-03-31..2024-04-01", "not a financial year or a date range"),
    ("period", "2024-02-30..2024-03-01", "not a financial year or a date range"),
    ("measure", "smoothed_rate", "not one of its options"),  # released views never smooth (RELEASE below)
    ("geography", "ward", "not offered in this view"),  # a viewer has no ranking geography to choose
    ("map", "lsoa21", "not one of its options"),  # released maps are never on LSOA 2021
    ("statistic", "gi_star", "not offered in this view"),  # the need map has no statistic
    ("need", "x" * 500, "not readable"),
])
def test_each_invalid_value_is_ignored_and_named_without_echoing_it(name, text, why):
    decoded = decode({name: text}, "", RELEASE, COUNCILS)
    assert decoded.values == {} and decoded.ignored == {name: why}
    note = decoded.note()
    assert note == f"Not used from the link: {name} ({why})." and text not in note


def test_odd_parameter_shapes_never_raise():
    decoded = decode({"need": [], "measure": ["rate", "episodes"], "period": None, "embed": "true"}, "", TEAM,
                     COUNCILS)
    assert decoded.values == {"measure": "rate"}  # the first of a repeated parameter
    assert set(decoded.ignored) == {"need", "period"} and "embed" not in decoded.note()


def test_the_period_is_only_taken_by_pages_that_filter_by_it():
    assert decode({"period": "all"}, "about-and-sources", TEAM, COUNCILS).ignored == {"period": "not used on this page"}
    assert decode({"period": "all"}, "trends-over-time", TEAM, COUNCILS).values == {"period": "all"}


def test_each_page_keys_its_widgets_as_the_pages_do():
    need_map, hotspots = page_view(""), page_view("hot-spots")
    assert need_map.choice("measure", TEAM).key == "need_map_measure_team"
    assert need_map.choice("measure", RELEASE).key == "need_map_measure_release"
    assert hotspots.choice("geography", TEAM).key == "hotspots_geography"
    assert hotspots.choice("statistic", RELEASE).key == "hotspots_statistic"
    assert "custom" not in hotspots.choice("geography", TEAM).options  # an uploaded file is never in a link
    team_keys, release_keys = period_keys()
    pages = Path(__file__).resolve().parent.parent / "pages"
    source = "".join(path.read_text(encoding="utf-8") for path in pages.glob("*.py"))
    for key in [*team_keys, *release_keys, "need_map_need", "hotspots_statistic", "bivariate_measure"]:
        assert f'"{key}"' in source, key


def test_parse_period_forms():
    assert parse_period("all") == "all" and parse_period("2099-00") == "2099-00"
    assert parse_period("2024-04-01..2024-04-01") == (D(2024, 4, 1), D(2024, 4, 1))
    assert parse_period("1900-01-01..1900-02-01") is None and parse_period("2024-04-01") is None


def test_team_dates_from_a_link():
    first, last = D(2022, 5, 3), D(2025, 2, 10)
    assert team_dates((D(2023, 1, 1), D(2023, 6, 30)), first, last) == ((D(2023, 1, 1), D(2023, 6, 30)), None)
    assert team_dates("all", first, last) == ((first, last), None)
    (dates, note) = team_dates("2023-24", first, last)
    assert dates == (D(2023, 4, 1), D(2024, 3, 31)) and "financial year 2023-24" in note
    assert team_dates((D(2020, 1, 1), D(2023, 1, 1)), first, last) == ((first, D(2023, 1, 1)), None)
    (dates, note) = team_dates("2010-11", first, last)
    assert dates == (first, last) and "no referrals" in note


def test_a_link_never_gives_away_the_first_or_last_referral_date():
    first, last = D(2022, 5, 3), D(2025, 2, 10)
    assert link_dates(first, last, first, last) == "all"
    assert link_dates(first, D(2023, 6, 30), first, last) == (D(2022, 4, 1), D(2023, 6, 30))
    assert link_dates(D(2024, 4, 1), last, first, last) == (D(2024, 4, 1), D(2025, 3, 31))
    for start, end in [(first, D(2023, 6, 30)), (D(2024, 4, 1), last), (D(2023, 1, 1), D(2023, 2, 1))]:
        assert team_dates(link_dates(start, end, first, last), first, last) == ((start, end), None)  # same period


def test_release_periods_from_a_link():
    years = ["2022-23", "2023-24", "2024-25"]
    assert release_key("2023-24", years) == ("2023-24", None)
    assert release_key("all", years) == ("all", None)
    key, note = release_key((D(2023, 5, 1), D(2024, 2, 1)), years)
    assert key == "2023-24" and "financial year 2023-24" in note and "01/05/2023 to 01/02/2024" in note
    key, note = release_key((D(2022, 4, 1), D(2025, 3, 1)), years)
    assert key == "all" and "all years" in note
    key, note = release_key((D(2023, 1, 1), D(2023, 6, 1)), years)
    assert key == "2024-25" and "latest" in note
    key, note = release_key("2019-20", years)
    assert key == "2024-25" and "not in this dataset" in note
    assert Decoded({}, {}).note() is None


# ------------------------------------------------------------------------------------------------ in the app


def arrive(query: dict[str, str], page: str | None = None, released: bool = False) -> AppTest:
    """Open the app at a link (a fresh session), on `page`, as the team or with the released view switched on."""
    at = AppTest.from_file(APP, default_timeout=300)
    if released:
        at.session_state["show_released"] = True
    if page:  # AppTest opens the default page first; the link is then followed to `page` in the same session
        at.run()
        at.query_params.clear()
        at.switch_page(page)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def popover_labels(node) -> list[str]:
    """The labels of the popovers at or under an AppTest node."""
    own = [node.proto.popover.label] if getattr(node, "type", None) == "popover" else []
    return own + [label for child in getattr(node, "children", {}).values() for label in popover_labels(child)]


def link_of(at: AppTest) -> dict[str, str]:
    """The query of the sidebar's "Copy link to this view"."""
    [code] = [c.value for c in at.sidebar.code]
    return {key: values[0] for key, values in parse_qs(urlparse(code).query).items()}


def test_a_link_restores_the_need_map_view_and_the_copy_link_carries_it(directory):
    query = {"council": CROYDON, "dataset": "demo", "need": "domestic_abuse", "period": "2024-04-01..2025-03-31",
             "map": "ward", "geography": "lsoa11", "measure": "rate"}
    at = arrive(query)
    assert at.selectbox(key="need_map_need").value == "domestic_abuse"
    assert at.radio(key="need_map_geography_team").value == "ward"  # Map by
    assert at.radio(key="need_map_measure_team").value == "rate"
    assert at.date_input(key="need_map_period").value == (D(2024, 4, 1), D(2025, 3, 31))
    assert at.radio(key="need_map_rank_team_ward_lsoa11").value == "lsoa11"
    assert any("Showing referrals 01/04/2024 to 31/03/2025" in c.value for c in at.caption)
    assert dict(at.query_params) == query and link_of(at) == query
    assert popover_labels(at.sidebar) == ["Copy link to this view"]  # the link waits in a popover
    assert not [i for i in at.info if "link" in i.value]  # every part of it was used: nothing to say


def test_later_changes_win_over_the_link(directory):
    at = arrive({"need": "domestic_abuse", "measure": "rate"})
    at.selectbox(key="need_map_need").select("crime").run()
    at.run()  # another run with the query the app wrote: the link is not restored again
    assert at.selectbox(key="need_map_need").value == "crime"
    assert at.query_params["need"] == "crime" and link_of(at)["need"] == "crime"


def test_other_query_parameters_are_kept_but_never_in_the_link_nor_a_new_arrival(directory):
    at = arrive({"need": "domestic_abuse", "utm_source": "email"})
    assert at.query_params["utm_source"] == "email" and "utm_source" not in link_of(at)
    at.selectbox(key="need_map_need").select("crime").run()
    at.query_params["utm_source"] = "other"
    at.run()  # another parameter changing leaves the view as chosen
    assert at.selectbox(key="need_map_need").value == "crime" and at.query_params["need"] == "crime"


def test_a_hot_spots_link_sets_statistic_geography_and_measure(directory):
    at = arrive({"need": "domestic_abuse", "period": "all", "geography": "ward", "measure": "count",
                 "statistic": "local_moran"}, page="pages/hotspots.py")
    assert at.selectbox(key="hotspots_need").value == "domestic_abuse"
    assert at.selectbox(key="hotspots_geography").value == "ward"
    assert at.radio(key="hotspots_measure").value == "count"
    assert at.radio(key="hotspots_statistic").value == "local_moran"
    assert link_of(at)["statistic"] == "local_moran" and link_of(at)["geography"] == "ward"


def test_in_the_released_view_team_dates_become_a_financial_year_said_in_one_line(directory):
    at = arrive({"need": "domestic_abuse", "period": "2023-05-01..2024-01-31", "measure": "smoothed_rate",
                 "geography": "ward"}, released=True)
    assert at.selectbox(key="need_map_release_period").value == "2023-24"
    [note] = [i.value for i in at.info if "link" in i.value]
    assert "measure" in note and "geography" in note and "financial year 2023" in note
    assert at.radio(key="need_map_measure_release").value == "rate"  # the released default, not the team's smoothing
    assert link_of(at)["period"] == "2023-24" and "geography" not in link_of(at)
    assert "Released view" in " ".join(s.value for s in at.success)


def test_a_hostile_link_shows_the_page_and_one_line_never_a_traceback(directory):
    at = arrive({"council": "E09999999", "dataset": "99999", "need": "**bold**<script>", "period": "../../etc",
                 "measure": "x" * 300, "statistic": "gi_star"})
    assert at.title and "Need map" in at.title[0].value
    [note] = [i.value for i in at.info if "link" in i.value]
    assert "script" not in note and "bold" not in note and "etc" not in note
    assert "dataset is not one you can open" in note
    assert at.selectbox(key="need_map_need").value is None  # all needs, the default
    assert link_of(at)["dataset"] == "demo" and link_of(at)["council"] == CROYDON


def test_a_link_chooses_a_saved_dataset_by_its_id_and_maps_a_financial_year_to_dates(directory, council_names,
                                                                                     forget_uploads):
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from tests.conftest import saved_dataset

    result = load_demo(directory, council_names, pseudonymisation_key())
    dataset = saved_dataset(result, "share_link.csv", b"share-link test export", "Share link test")
    at = arrive({"council": CROYDON, "dataset": str(dataset), "period": "2023-24"})
    assert at.session_state["dataset"] == dataset
    assert at.date_input(key="need_map_period").value == (D(2023, 4, 1), D(2024, 3, 31))
    [note] = [i.value for i in at.info if "link" in i.value]
    assert "financial year 2023" in note and "01/04/2023 to 31/03/2024" in note.replace("\\", "")
    assert link_of(at)["dataset"] == str(dataset) and link_of(at)["period"] == "2023-04-01..2024-03-31"


def test_a_need_and_deprivation_link_sets_the_need_and_the_deprivation_measure(directory):
    at = arrive({"need": "financial_stability", "measure": "iod2019_idaci_score", "period": "all"},
                page="pages/need_deprivation.py")
    assert at.selectbox(key="bivariate_need").value == "financial_stability"
    assert at.selectbox(key="bivariate_measure").value == "iod2019_idaci_score"
    assert link_of(at)["measure"] == "iod2019_idaci_score" and link_of(at)["period"] == "all"


def test_a_poverty_link_carries_map_by_for_either_audience(directory):
    at = arrive({"period": "all", "map": "ward"}, page="pages/poverty.py")
    assert at.radio(key="poverty_geography_team").value == "ward" and link_of(at)["map"] == "ward"
    shared = arrive({"map": "ward"}, page="pages/poverty.py", released=True)
    assert shared.radio(key="poverty_geography_release").value == "ward" and link_of(shared)["map"] == "ward"
