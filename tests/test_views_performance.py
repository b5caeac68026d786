"""Which services help most, Trends and Business case for both audiences (`ehmap.views`), on the demo and on a
generated West Berkshire export: the team's tables equal counts made independently with plain pandas; released
tables hold only what the release gate shows (no count from 1 to 7, multiples of 5 equal to the release's values,
whole percentages, labels only on the funnel); released views refuse free periods; the pages run for both
audiences (AppTest)."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from synthetic_export import WEST_BERKSHIRE, make_export

from ehmap.audience import RELEASE_MARKING, SMALL_FLAG, TEAM_MARKING, Audience
from ehmap.funnel import BROAD_LABELS
from ehmap.performance import MEASURES, compare
from ehmap.release.gate import ReleaseInputs, build_release
from ehmap.release.periods import financial_year_start
from ehmap.store import DEMO_CHOICE
from ehmap.taxonomy import NEED_BITS, NEED_BY_KEY, OUTCOMES
from ehmap.views.business_case import (
    RELEASED_NOTE,
    released_business_case,
    released_outcomes,
    team_business_case,
    team_outcomes,
)
from ehmap.views.performance import (
    LOCALITY_TEAM_ONLY,
    NOT_COMPARED_HIDDEN,
    RELEASED_GROUPINGS,
    released_performance,
    team_performance,
)
from ehmap.views.trends import released_trends, team_trends

APP = str(Path(__file__).resolve().parent.parent / "app.py")
FREE = "2023-04-01/2024-03-31"
FREE_PERIOD = re.escape(f"Shared figures are for whole financial years or all years only; got '{FREE}'.")
CATEGORY_COLUMNS = {key: ("step_up" if key == "step_up_csc" else key) for key in OUTCOMES}  # team table columns
RELEASED_COUNTS = ("episodes", "open", "closed", *OUTCOMES, "rereferral_eligible", "rereferred")


@pytest.fixture(scope="module", params=["demo", pytest.param("west_berkshire", marks=pytest.mark.national)])
def dataset(request, directory, council_names):
    """Accepted episodes and their release, on LSOAs and wards as the app builds it."""
    from ehmap.areas import area_set
    from ehmap.config import pseudonymisation_key
    from ehmap.demo import load_demo
    from ehmap.ingest import ingest

    if request.param == "demo":
        result = load_demo(directory, council_names, pseudonymisation_key())
    else:
        result = ingest(make_export(directory), WEST_BERKSHIRE, directory, council_names, pseudonymisation_key())
    geographies = {"lsoa11": area_set("lsoa11", result.la_code), "ward": area_set("ward", result.la_code)}
    return result.cases, build_release(ReleaseInputs(result.cases, result.la_code, geographies))


# ----------------------------------------------------------------------------- independent counts (plain pandas)


def labels(cases: pd.DataFrame, by: str) -> pd.Series:
    return cases[by].astype(object).where(cases[by].notna(), "Not recorded").astype(str)


def rereferred(cases: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per episode: closed a full 12 months before the data ends, and referred again within 12 months of closing
    (the same child: case ID, or family ID when every case ID differs). Plain Python over a dict of dates."""
    last = max(cases["referral_date"].max(), cases["end_date"].max())
    if cases["case_id"].duplicated().any() or cases["family_id"].isna().all():
        who = cases["case_id"].astype(str)
    else:
        who = cases["family_id"].astype(str)
    referrals: dict[str, list[pd.Timestamp]] = {}
    for person, date in zip(who, cases["referral_date"], strict=True):
        referrals.setdefault(person, []).append(date)
    due, back = [], []
    for person, end in zip(who, cases["end_date"], strict=True):
        limit = end + pd.DateOffset(months=12) if pd.notna(end) else None
        eligible = limit is not None and limit <= last
        due.append(eligible)
        back.append(eligible and any(end < date <= limit for date in referrals[person]))
    return pd.Series(due, index=cases.index), pd.Series(back, index=cases.index)


def pandas_outcomes(cases: pd.DataFrame, by: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """Episodes, still open, closed, every closure category and re-referrals per group and for 'All'."""
    due, back = rereferred(cases)
    keep = pd.Series(True, index=cases.index)
    if start is not None:
        keep &= (cases["referral_date"] >= pd.Timestamp(start)) & (cases["referral_date"] <= pd.Timestamp(end))
    chosen = cases[keep]
    closed = chosen["end_date"].notna()
    category = chosen["outcome"].astype(object).where(chosen["outcome"].notna(), "other").where(closed, "open")
    frame = pd.DataFrame({"group": labels(chosen, by), "category": category, "due": due[keep], "back": back[keep]})
    rows = {}
    for name, part in [*frame.groupby("group"), ("All", frame)]:
        counts = part["category"].value_counts()
        row = {"episodes": len(part), "open": int(counts.get("open", 0)), "closed": int((part["category"] != "open")
                                                                                        .sum())}
        row |= {CATEGORY_COLUMNS[key]: int(counts.get(key, 0)) for key in OUTCOMES}
        row |= {"rereferral_eligible": int(part["due"].sum()), "rereferral": int(part["back"].sum())}
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def first_year(release) -> tuple[dt.date, dt.date]:
    year = release.calendar.years[0]
    return year.start, year.end


@pytest.mark.parametrize("by", ["service", "referral_source"])
def test_team_outcome_table_equals_plain_pandas_counts(dataset, by):
    cases, release = dataset
    for start, end in ((None, None), first_year(release)):
        view = team_performance(cases, by, "step_up", False, start, end)
        assert view.audience is Audience.TEAM and view.marking == TEAM_MARKING and view.downloads == {}
        table = view.table.set_index("group")
        expected = pandas_outcomes(cases, by, start, end)
        assert sorted(table.index) == sorted(expected.index)
        got = table.loc[expected.index, list(expected.columns)].astype(int)
        pd.testing.assert_frame_equal(got, expected.astype(int), check_names=False)
        counts = table[list(expected.columns)]
        flagged = ((counts > 0) & (counts < 6)).any(axis=1)
        assert (table["note"].str.startswith(SMALL_FLAG) == flagged).all()
        share = table["step_up"] / table["closed"] * 100
        assert np.allclose(table["step_up_pct"], share.round(1), equal_nan=True)


def test_team_funnel_places_every_group_on_its_true_count(dataset):
    cases, release = dataset
    start, end = first_year(release)
    view = team_performance(cases, "service", "step_up", False, start, end)
    points = view.funnel.points.set_index("group")
    expected = pandas_outcomes(cases, "service", start, end).drop("All")
    expected = expected[expected["closed"] > 0]
    assert sorted(points.index) == sorted(expected.index)  # every group drawn, none left out
    assert (points["events"] == expected.loc[points.index, "step_up"]).all()
    assert (points["episodes"] == expected.loc[points.index, "closed"]).all()
    assert np.allclose(points["y"], expected.loc[points.index, "step_up"] / expected.loc[points.index, "closed"])
    small = (points["events"].between(1, 5)) | (points["episodes"].between(1, 5))
    assert (points["note"] == np.where(small, SMALL_FLAG, "")).all()
    assert points["label"].isin(["within", "above 95%", "above 99.8%", "below 95%", "below 99.8%"]).all()
    assert view.finding.startswith(("On the step-up rate", "No service stands out"))


def financial_quarter(date: pd.Timestamp) -> str:
    year = financial_year_start(date)
    return f"{year}-{(year + 1) % 100:02d} Q{(date.month - 4) % 12 // 3 + 1}"


def test_team_trends_equal_plain_pandas_counts(dataset):
    cases, _ = dataset
    view = team_trends(cases, "quarter", "none")
    table = view.table.set_index("period")
    referred = cases["referral_date"].map(financial_quarter).value_counts()
    closed = cases["end_date"].dropna().map(financial_quarter).value_counts()
    met = cases.loc[cases["outcome"] == "step_up_csc", "end_date"].dropna().map(financial_quarter).value_counts()
    for period, row in table.iterrows():
        assert row["referrals"] == referred.get(period, 0), period
        assert row["closures"] == closed.get(period, 0), period
        assert row["step_up"] == met.get(period, 0), period
        quarter_end = row["period_start"] + pd.offsets.MonthEnd(3)
        still_open = (cases["referral_date"] <= quarter_end) & ~(cases["end_date"] <= quarter_end)
        assert row["open_caseload"] == int(still_open.sum()), period
    by_need = team_trends(cases, "quarter", "need").table
    key = "domestic_abuse"
    has_need = (cases["needs_mask"].to_numpy() & NEED_BITS[key]) != 0
    da = by_need[by_need["group"] == NEED_BY_KEY[key].headline].set_index("period")["referrals"]
    expected = cases.loc[has_need, "referral_date"].map(financial_quarter).value_counts()
    assert da.to_dict() == {p: expected.get(p, 0) for p in da.index}
    assert view.audience is Audience.TEAM and view.downloads == {}


def test_team_business_case_starts_from_plain_pandas_counts(dataset):
    cases, release = dataset
    start, end = first_year(release)
    chosen = cases[(cases["referral_date"] >= pd.Timestamp(start)) & (cases["referral_date"] <= pd.Timestamp(end))]
    closed = chosen["end_date"].notna()
    met = closed & (chosen["outcome"] == "needs_met")
    da = met & ((chosen["needs_mask"].to_numpy() & NEED_BITS["domestic_abuse"]) != 0)
    education = met & ((chosen["needs_mask"].to_numpy() & NEED_BITS["education"]) != 0)
    outcomes = team_outcomes(cases, start, end)
    assert (outcomes.closed, outcomes.step_ups, outcomes.da_needs_met, outcomes.education_needs_met) == (
        int(closed.sum()), int((closed & (chosen["outcome"] == "step_up_csc")).sum()), int(da.sum()),
        int(education.sum()))
    service = chosen["service"].dropna().astype(str).value_counts().index[-1]
    view = team_business_case(cases, start, end, cut=(service, 50_000))
    lines = view.case.lines.set_index("line")
    assert lines.loc["domestic_abuse", "base_count"] == int(da.sum())
    assert view.cut.service_episodes == f"{int((chosen['service'] == service).sum()):,}"
    assert view.finding.startswith(("On the central assumptions", "The cost lines are in different price years"))


# ----------------------------------------------------------------------------- released


def assert_released_count(text: object, key, release) -> None:
    """A released count: 'c' or a whole multiple of 5 that is not 1 to 7, equal to what the release holds."""
    assert str(text) == release.text(key), (key, text, release.text(key))
    if str(text) != "c":
        value = int(str(text).replace(",", ""))
        assert value % 5 == 0 and not 1 <= value <= 7, (key, text)


def assert_whole_percentages(values: pd.Series) -> None:
    shown = pd.to_numeric(values, errors="coerce").dropna()
    assert (shown == shown.round()).all() and shown.between(0, 100).all(), values.tolist()


def outcome_key(by: str, group: str, column: str, period: str):
    if group == "All":
        return ("episodes", "all", "council", "", period) if column == "episodes" else \
            ("outcome", "council", "", column, period)
    return ("group", by, group, period) if column == "episodes" else ("outcome", by, group, column, period)


def test_released_outcome_tables_and_funnels_hold_only_released_counts(dataset):
    cases, release = dataset
    for period in release.periods:
        for by in RELEASED_GROUPINGS:
            view = released_performance(release, cases, by, period.key, "step_up", adjusted=False)
            assert view.audience is Audience.RELEASE and view.marking == RELEASE_MARKING
            assert view.method and "linear programming" in view.method and LOCALITY_TEAM_ONLY in view.notes
            for row in view.table.to_dict("records"):
                for column in RELEASED_COUNTS:
                    assert_released_count(row[column], outcome_key(by, row["group"], column, period.key), release)
            for column in [c for c in view.table.columns if c.endswith("_pct")]:
                assert_whole_percentages(view.table[column])
            outcomes, funnel, glance = view.downloads.values()
            assert len(outcomes) == len(view.table) and funnel.shape[0] == len(release.groups[by])
            assert sorted(glance.iloc[:, 1]) == sorted(funnel.iloc[:, 0])  # every group ranked or listed
            for frame in view.downloads.values():
                for column in frame.columns:
                    cells = frame[column].astype(str)
                    digits = cells[cells.str.fullmatch(r"\d+")].astype(int)
                    if "%" not in column and not column.startswith("Rank"):  # a rank is not a count
                        assert not digits.between(1, 7).any() and (digits % 5 == 0).all(), (column, digits.tolist())
            points = view.funnel.points
            assert not {"value", "z", "expected", "ratio", "value_lower"} & set(points.columns)  # labels only
            assert_whole_percentages(points["percent"])
            for row in points.to_dict("records"):
                assert_released_count(row["volume"], ("outcome", by, row["group"], "closed", period.key), release)
                assert_released_count(row["events"], ("outcome", by, row["group"], "step_up_csc", period.key),
                                      release)


def test_released_funnel_labels_come_from_the_true_counts(dataset):
    cases, release = dataset
    for adjusted in (False, True):
        for measure in MEASURES:
            view = released_performance(release, cases, "service", "all", measure, adjusted)
            true = compare(cases, measure, "service", adjusted).points.set_index("group")["position"]
            for row in view.funnel.points.to_dict("records"):
                if "c" in (row["volume"], row["events"]):
                    assert row["label"] == NOT_COMPARED_HIDDEN and np.isnan(row["y"])
                elif row["label"] in BROAD_LABELS.values():
                    assert row["label"] == BROAD_LABELS[true[row["group"]]], (measure, row["group"])
            assert (view.funnel.curve is None) == adjusted  # raw shares are drawn against no adjusted limits


def test_released_trends_hold_only_released_counts(dataset):
    cases, release = dataset
    names = {NEED_BY_KEY[key].headline: key for key in NEED_BY_KEY}
    for split in ("none", "service", "need"):
        for period in release.periods:
            view = released_trends(release, split, period.key, cases["referral_date"].max().date())
            assert view.frequency == "quarter" and view.method
            shown = view.shown_table()
            for row in view.table.to_dict("records"):
                group = names.get(row["group"], row["group"]) if split == "need" else row["group"]
                if split == "none":
                    referrals = ("episodes", "all", "council", "", row["period"])
                elif split == "service":
                    referrals = ("group", "service", group, row["period"])
                else:
                    referrals = ("episodes", group, "council", "", row["period"])
                for column, key in (("referrals", referrals), ("open_caseload", ("open", split, group, row["period"])),
                                    ("closures", ("closures", split, group, row["period"]))):
                    value = row[column]
                    assert_released_count("c" if math.isnan(value) else str(int(value)), key, release)
            for column in ("needs_met_pct", "step_up_pct"):
                assert_whole_percentages(view.table[column])
            quarters = {q.key for q in release.calendar.quarters if period.start <= q.start and q.end <= period.end}
            assert set(view.table["period"]) == quarters
            (download,) = view.downloads.values()
            assert download.equals(shown)


def test_released_business_case_uses_the_released_counts_and_rounds_money(dataset):
    cases, release = dataset
    for period in release.periods:
        service = release.groups["service"][0]
        view = released_business_case(release, period.key, cut=(service, 80_000))
        outcomes = released_outcomes(release, period.key)
        keys = {"closed": ("outcome", "council", "", "closed", period.key),
                "step_ups": ("outcome", "council", "", "step_up_csc", period.key),
                "da_needs_met": ("needs_met", "domestic_abuse", "council", period.key),
                "education_needs_met": ("needs_met", "education", "council", period.key)}
        for row in view.counts.to_dict("records"):
            assert_released_count(row["shown"], keys[row["count"]], release)
            value = release.value(keys[row["count"]])
            assert getattr(outcomes, row["count"]) == (0 if math.isnan(value) else int(value))
        money = pd.concat([view.case.lines[c] for c in ("cost_low", "cost_central", "cost_high")] +
                          [view.cut.lines[c] for c in ("cost_low", "cost_central", "cost_high")]).dropna()
        assert (money % 1000 == 0).all()
        for line in view.case.lines.to_dict("records"):
            assert line["base_count"] == release.text(keys["da_needs_met" if line["line"] == "domestic_abuse" else
                                                            "education_needs_met" if line["line"] == "exclusion"
                                                            else "closed"])
        assert view.cut.service_episodes == release.text(("group", "service", service, period.key))
        assert RELEASED_NOTE in view.notes
        assert set(view.downloads) == {f"ehmap_released_{release.la_code}_business_case_{period.key}",
                                       f"ehmap_released_{release.la_code}_cut_{period.key}"}


def test_released_views_refuse_a_free_period_and_localities(dataset):
    cases, release = dataset
    with pytest.raises(ValueError, match=FREE_PERIOD):
        released_performance(release, cases, "service", FREE)
    with pytest.raises(ValueError, match=FREE_PERIOD):
        released_trends(release, "none", FREE)
    with pytest.raises(ValueError, match=FREE_PERIOD):
        released_business_case(release, FREE)
    quarter = release.calendar.quarters[0].key
    with pytest.raises(ValueError, match=re.escape(f"got '{quarter}'. Choose from")):
        released_performance(release, cases, "service", quarter)
    with pytest.raises(ValueError, match=re.escape(LOCALITY_TEAM_ONLY)):
        released_performance(release, cases, "locality", "all")


# ----------------------------------------------------------------------------- the pages, both audiences


def unescaped(text: str) -> str:
    """Markdown shown through ehmap.text.plain, back to the characters it shows."""
    return re.sub(r"\\(.)", r"\1", text)


def run_page(page: str, released: bool) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["dataset"] = DEMO_CHOICE  # the demo, whatever an earlier test saved and remembered
    if released:
        at.session_state["show_released"] = True  # the laptop user is a team member: this switches to the release
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def released_cells_are_protected(at: AppTest) -> None:
    for frame in at.dataframe:
        for column in frame.value.columns:
            cells = frame.value[column]
            if cells.dtype == object or str(cells.dtype).startswith("string"):
                digits = [int(v.replace(",", "")) for v in cells if isinstance(v, str)
                          and re.fullmatch(r"[\d,]+", v)]
                assert not [v for v in digits if 1 <= v <= 7], (column, digits)


PAGES = {"performance": ("Which services help most", ("On the step-up rate", "No service stands out")),
         "trends": ("Trends", ("Referrals in",)),
         "business_case": ("Business case", ("On the central assumptions", "The cost lines are in different"))}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("released", [False, True], ids=["team", "released"])
def test_pages_run_for_both_audiences(directory, data_dir, page, released):
    at = run_page(page, released)
    title, findings = PAGES[page]
    assert at.title[0].value == f"{title}: Croydon"
    found = [unescaped(i.value) for i in at.info]
    assert any(text.startswith(findings) for text in found), found  # one plain sentence of what it found
    buttons = [b.label for b in at.get("download_button")]
    captions = " ".join(c.value for c in at.caption)
    if released:
        assert RELEASE_MARKING in [s.value for s in at.success]
        assert not any(TEAM_MARKING in w.value for w in at.warning)
        assert "How these figures were protected" in unescaped(captions)
        assert buttons and all(label.endswith("(CSV)") or label == "How it was protected (TXT)" for label in buttons)
        released_cells_are_protected(at)
    else:
        assert TEAM_MARKING in [w.value for w in at.warning]
        assert buttons == [] and "switch on *Show the released view*" in captions
        assert not any(RELEASE_MARKING in s.value for s in at.success)


def test_released_performance_page_offers_only_fixed_choices(directory, data_dir):
    at = run_page("performance", released=True)
    assert at.selectbox(key="performance_release_by").options == ["Service (team)", "Referral source"]
    periods = at.selectbox(key="performance_release_period").options
    assert periods[-1].endswith("(all years)") and all("Q" not in p for p in periods)
    assert not at.date_input  # no free dates
    assert LOCALITY_TEAM_ONLY in unescaped(" ".join(c.value for c in at.caption))
    at.selectbox(key="performance_release_by").set_value("referral_source").run()
    at.toggle(key="performance_adjusted").set_value(False).run()
    assert not at.exception, [e.message for e in at.exception]
    released_cells_are_protected(at)


def test_team_pages_show_small_counts_exactly_and_flag_them(directory, data_dir):
    at = run_page("performance", released=False)
    outcomes = at.dataframe[-1].value.set_index("Service (team)")
    counts = [c for c in outcomes.columns if c != "Note" and "%" not in c and "Median" not in c]
    for name, row in outcomes.iterrows():  # a count from 1 to 5 is shown exactly and flagged in the note
        assert row["Note"].startswith(SMALL_FLAG) == any(1 <= row[c] <= 5 for c in counts), name
    assert outcomes["Note"].str.startswith(SMALL_FLAG).any()
    at = run_page("trends", released=False)
    at.radio(key="trends_frequency").set_value("quarter")
    at.selectbox(key="trends_by").set_value("service").run()
    table = at.dataframe[0].value
    assert table["Note"].str.startswith(SMALL_FLAG).any()
    assert table["Period"].str.fullmatch(r"\d{4}-\d{2} Q[1-4]").all()
