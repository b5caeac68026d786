"""The release gate's parts on hand-checkable inputs: periods, the count rule, linked counts and the joint check."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from ehmap.release.linked import Facts, LinkedCounts, feasible_ranges, pinned, whole_percentage
from ehmap.release.periods import financial_year, financial_year_start, financial_years, quarters, whole_export
from ehmap.release.protect import CountRule, protect
from ehmap.release.universe import Calendar


def test_financial_years_run_april_to_march():
    year = financial_year(2023)
    assert (year.key, year.start, year.end) == ("2023-24", dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    assert financial_year_start(dt.date(2024, 3, 31)) == 2023
    assert financial_year_start(dt.date(2024, 4, 1)) == 2024
    assert [y.key for y in financial_years(dt.date(2022, 5, 1), dt.date(2025, 4, 2))] == \
        ["2022-23", "2023-24", "2024-25", "2025-26"]


def test_quarters_tile_their_year():
    q = quarters(financial_year(2024))
    assert [p.key for p in q] == ["2024-25 Q1", "2024-25 Q2", "2024-25 Q3", "2024-25 Q4"]
    assert q[0].start == dt.date(2024, 4, 1) and q[-1].end == dt.date(2025, 3, 31)
    for before, after in itertools.pairwise(q):
        assert after.start - before.end == dt.timedelta(days=1)
    assert "Jan to Mar" in q[3].label


def test_whole_export_is_every_year_together():
    years = financial_years(dt.date(2022, 4, 1), dt.date(2024, 6, 1))
    span = whole_export(years)
    assert (span.key, span.start, span.end) == ("all", dt.date(2022, 4, 1), dt.date(2025, 3, 31))
    assert span.label == "2022-23 to 2024-25 (all years)"
    with pytest.raises(ValueError, match="no referral dates"):
        whole_export([])


def test_calendar_places_dates_in_years_and_quarters():
    cases = pd.DataFrame({"referral_date": pd.to_datetime(["2023-04-01", "2024-03-31", "2024-04-01", "2024-12-25"])})
    calendar = Calendar.of(cases)
    assert [y.key for y in calendar.years] == ["2023-24", "2024-25"]
    assert list(calendar.year_index(cases["referral_date"])) == [0, 0, 1, 1]
    assert list(calendar.quarter_index(cases["referral_date"])) == [0, 3, 4, 6]
    assert list(calendar.year_index(pd.Series(pd.to_datetime(["2022-01-01", "2026-01-01", None])))) == [-1, -1, -1]


@pytest.mark.parametrize("count, shown, hidden", [(0, 0, False), (1, 0, True), (7, 5, True), (8, 10, False),
                                                  (12, 10, False), (13, 15, False), (102, 100, False)])
def test_the_count_rule_rounds_to_5_and_hides_1_to_7(count, shown, hidden):
    rule = CountRule()
    assert rule.rounded(count) == shown
    assert rule.hides(count) is hidden
    if not hidden:
        low, high = rule.reading(shown)
        assert low <= count <= high


def test_a_shown_10_can_only_be_8_to_12():
    assert CountRule().reading(10) == (8.0, 12.0)
    assert CountRule().reading(0) == (0.0, 0.0)


def test_whole_percentages_round_half_up():
    assert whole_percentage(1, 8) == 13  # 12.5
    assert whole_percentage(2, 3) == 67
    assert whole_percentage(0, 5) == 0


def test_linked_counts_check_their_arithmetic():
    linked = LinkedCounts()
    for key, value in (("a", 2), ("b", 3), ("t", 6)):
        linked.add((key,), value)
    with pytest.raises(ValueError, match=r"\('t',\) \(6\) is not the sum of its 2 parts"):
        linked.add_sum(("t",), [("a",), ("b",)])
    with pytest.raises(KeyError, match="Register counts before linking them"):
        linked.add_sum(("t",), [("a",), ("z",)])
    with pytest.raises(ValueError, match="cannot be negative"):
        linked.add(("n",), -1)
    with pytest.raises(ValueError, match="registered twice with different counts"):
        linked.add(("a",), 4)
    with pytest.raises(ValueError, match="exceeds"):
        linked.add_within(("t",), ("a",))


def row(values, total=None):
    """One row of counts and its published total."""
    linked = LinkedCounts()
    parts = [linked.add(("cell", i), v) for i, v in enumerate(values)]
    linked.add_sum(linked.add(("total",), sum(values) if total is None else total), parts)
    return linked


def test_per_table_rule_needs_a_partner_for_a_lone_hidden_cell():
    """Exact counts (base 1, 1-5 hidden): 3 = 25 - 10 - 12, so the next smallest (10) is hidden with it."""
    protected = protect(row([3, 10, 12]), CountRule(base=1, smallest_shown=6))
    assert protected.hidden == {("cell", 0): "small", ("cell", 1): "protects another"}
    assert protected.rounds == 1


def test_rounding_leaves_a_lone_hidden_cell_unpinned():
    """Rounded: the total 25 reads 23-27, 10 reads 8-12 and 12 reads 10-14, so 3 could be anything from 1 to 7."""
    protected = protect(row([3, 10, 12]))
    assert protected.hidden == {("cell", 0): "small"}
    assert protected.text(("total",)) == "25" and protected.text(("cell", 2)) == "10"
    assert math.isnan(protected.value(("cell", 0)))


def brute_force_ranges(values: np.ndarray, hidden: np.ndarray, ceiling: int = 12) -> dict[int, set[int]]:
    """Every whole-number 2 x 3 table with the shown cells and exact totals of a published one: the values each hidden
    cell (1 to 5) takes in them."""
    choices = [range(1, 6) if h else range(v, v + 1) for v, h in zip(values.ravel(), hidden.ravel(), strict=False)]
    seen: dict[int, set[int]] = {i: set() for i in np.flatnonzero(hidden.ravel())}
    for body in itertools.product(*choices):
        table = np.array(body).reshape(values.shape)
        if (table.sum(axis=1) == values.sum(axis=1)).all() and (table.sum(axis=0) == values.sum(axis=0)).all():
            for i in seen:
                seen[i].add(body[i])
    return seen


@pytest.mark.parametrize("seed", range(12))
def test_the_linear_check_agrees_with_enumerating_every_table(seed):
    """On small tables whose totals are shown exactly, a hidden cell is pinned by the linear programmes exactly when
    enumerating every whole-number table leaves it one value (an independent reference)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 9, size=(2, 3))
    hidden = (values > 0) & (values < 6)
    linked = LinkedCounts()
    for (i, j), v in np.ndenumerate(values):
        linked.add(("c", i, j), int(v))
    for i in range(2):
        linked.add_sum(linked.add(("r", i), int(values[i].sum())), [("c", i, j) for j in range(3)])
    for j in range(3):
        linked.add_sum(linked.add(("k", j), int(values[:, j].sum())), [("c", i, j) for i in range(2)])
    bounds = {k: ((1.0, 5.0) if k[0] == "c" and hidden[k[1], k[2]] else (float(v), float(v)))
              for k, v in linked.values.items()}
    targets = [("c", i, j) for i, j in zip(*np.nonzero(hidden), strict=False)]
    ranges = feasible_ranges(linked, Facts(bounds, {}), targets)
    reference = brute_force_ranges(values, hidden)
    for key in targets:
        possible = reference[key[1] * 3 + key[2]]
        assert pinned(*ranges[key]) == (len(possible) == 1), (values, key, ranges[key], possible)
        if len(possible) == 1:
            assert round(ranges[key][0]) == possible.pop()


def test_shares_are_published_only_where_both_counts_are_shown():
    linked = LinkedCounts()
    met, closed = linked.add(("met",), 40), linked.add(("closed",), 73)
    few, some = linked.add(("few",), 3), linked.add(("some",), 20)
    linked.add_share(met, closed)
    linked.add_share(few, some)
    protected = protect(linked)
    assert protected.share(met, closed) == 55.0  # 54.8% as a whole number
    assert math.isnan(protected.share(few, some))


def test_a_few_episodes_one_to_an_area_are_not_broken_down():
    """Seven episodes, one in each of seven areas, under a council total of 7: with every part 'c' (1 to 7) and the
    total 'c', a reader knows each part is at least 1 and all seven add to at most 7, so each is exactly 1. No
    shown count can protect them, so the breakdown is not released ('x'); the total stays 'c'."""
    linked = LinkedCounts()
    parts = [linked.add(("area", i), 1 if i < 7 else 0) for i in range(20)]
    linked.add_sum(linked.add(("council",), 7), parts)
    protected = protect(linked)
    assert protected.text(("council",)) == "c"
    assert [protected.text(("area", i)) for i in range(20)] == ["x"] * 20
    assert protected.withheld == 20 and protected.secondary == 0
