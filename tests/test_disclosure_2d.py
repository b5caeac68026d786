"""Secondary suppression for two-way tables with totals (ehmap.disclosure): built to leak, shown not to."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ehmap.disclosure import _with_totals, feasible_ranges, round_to_base, shown_table_2d, suppression_mask_2d

# Episodes by need (rows) and locality (columns): one cell of 1-5.
TABLE = pd.DataFrame([[3, 10, 12], [8, 7, 9], [11, 14, 6]], index=["housing", "crime", "health"], columns=["North", "East", "South"])


def readers_solutions(shown: pd.DataFrame, limit: int = 30) -> set[tuple[int, ...]]:
    """Brute force, independent of the module: every filling of the 'c' cells (1..limit-1) that fits all totals."""
    hidden = [(r, c) for r in shown.index for c in shown.columns if shown.loc[r, c] == "c"]
    guesses = np.array(list(itertools.product(range(1, limit), repeat=len(hidden))))
    fits = np.ones(len(guesses), dtype=bool)
    body_rows = [r for r in shown.index if r != "Total"]
    body_cols = [c for c in shown.columns if c != "Total"]
    lines = [([(r, c) for c in body_cols], (r, "Total")) for r in [*body_rows, "Total"]] + \
            [([(r, c) for r in body_rows], ("Total", c)) for c in [*body_cols, "Total"]]
    for parts, total in lines:
        def value(cell):
            return guesses[:, hidden.index(cell)] if cell in hidden else int(shown.loc[cell])
        fits &= sum(value(cell) for cell in parts) == value(total)
    return {tuple(int(v) for v in row) for row in guesses[fits]}


def test_primary_suppression_alone_leaks_the_hidden_cell_through_its_row_total():
    table = _with_totals(TABLE)
    primary = (table > 0) & (table < 6)
    primary.loc["Total", "Total"] = False
    assert primary.to_numpy().sum() == 1
    shown = table.astype("string").mask(primary, "c")
    assert readers_solutions(shown) == {(3,)}  # 25 - 10 - 12 = 3: recovered
    assert feasible_ranges(table, primary).iloc[0][["low", "high"]].tolist() == [3, 3]


def test_secondary_suppression_makes_it_unrecoverable():
    shown = shown_table_2d(TABLE)
    assert shown.loc["housing", "North"] == "c"
    assert (shown == "c").to_numpy().sum() == 4  # a rectangle: housing/crime x North/East
    solutions = readers_solutions(shown)
    assert len({s[0] for s in solutions}) > 1  # many values fit the housing/North cell
    assert {s[0] for s in solutions} >= {1, 2, 3, 4, 5}
    ranges = feasible_ranges(_with_totals(TABLE), suppression_mask_2d(TABLE))
    assert (ranges["high"] > ranges["low"]).all()
    assert ranges.iloc[0][["low", "high"]].tolist() == [1, 10]


def test_a_small_row_total_is_hidden_and_protected():
    table = pd.DataFrame([[2, 0, 0], [9, 12, 7], [6, 8, 10]], index=list("abc"), columns=list("xyz"))
    mask = suppression_mask_2d(table)
    assert mask.loc["a", "x"] and mask.loc["a", "Total"]
    ranges = feasible_ranges(_with_totals(table), mask)
    assert (ranges["high"] > ranges["low"]).all()
    assert not mask.loc["Total", "Total"]


def test_nothing_small_nothing_hidden_and_zeros_shown():
    table = pd.DataFrame([[0, 10], [12, 7]], index=["a", "b"], columns=["x", "y"])
    shown = shown_table_2d(table)
    assert not (shown == "c").to_numpy().any()
    assert shown.loc["a", "x"] == "0" and shown.loc["Total", "Total"] == "29"


def test_rounding_to_five_where_configured():
    assert round_to_base(pd.Series([0, 2, 3, 7, 8, 12, 13])).tolist() == [0, 0, 5, 5, 10, 10, 15]
    shown = shown_table_2d(TABLE, round_to=5)
    assert shown.loc["health", "South"] == "5" and shown.loc["housing", "South"] == "10"
    assert shown.loc["housing", "North"] == "c"
    with pytest.raises(ValueError, match="base must be a positive whole number; got 0."):
        round_to_base(pd.Series([1]), 0)
