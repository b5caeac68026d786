"""Disclosure control (ehmap.disclosure): counts of 1-5 hidden, and no hidden count recoverable from a total."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ehmap.disclosure import SUPPRESSED, hide, primary_suppression, shown_counts, suppression_mask


def test_primary_suppression_hides_one_to_five_only():
    counts = pd.Series([0, 1, 2, 3, 4, 5, 6, 7, 100])
    assert primary_suppression(counts).tolist() == [False, True, True, True, True, True, False, False, False]


def possible_hidden_values(counts: pd.Series, mask: pd.Series, limit: int = 200) -> list[tuple[int, ...]]:
    """Every assignment of positive whole numbers to the hidden cells that fits the visible cells and the total:
    what someone reading the published table could say the hidden cells are."""
    total = int(counts.sum())
    remaining = total - int(counts[~mask].sum())
    hidden = list(counts.index[mask])
    ranges = [range(1, limit) for _ in hidden]
    return [values for values in itertools.product(*ranges) if sum(values) == remaining]


def test_a_lone_hidden_cell_would_leak_without_secondary_suppression():
    counts = pd.Series({"A": 3, "B": 7, "C": 20, "D": 0, "E": 9})
    primary = primary_suppression(counts)
    assert primary.sum() == 1
    # Total 39, visible 7 + 20 + 0 + 9 = 36: the hidden cell is exactly 3.
    assert possible_hidden_values(counts, primary) == [(3,)]


def test_secondary_suppression_hides_the_smallest_visible_nonzero_cell():
    counts = pd.Series({"A": 3, "B": 7, "C": 20, "D": 0, "E": 9})
    mask = suppression_mask(counts)
    assert mask.to_dict() == {"A": True, "B": True, "C": False, "D": False, "E": False}
    # Total minus visible is now 10 = A + B, which many pairs fit: A cannot be recovered.
    possible = possible_hidden_values(counts, mask)
    assert len({a for a, _ in possible}) > 1
    assert {a for a, b in possible if 1 <= a <= 5 and b >= 6} == {1, 2, 3, 4}


def test_zero_is_never_the_partner():
    counts = pd.Series([3, 0, 12, 8])
    assert suppression_mask(counts).tolist() == [True, False, False, True]


def test_two_hidden_cells_need_no_partner():
    counts = pd.Series([2, 3, 10, 20])
    assert suppression_mask(counts).tolist() == [True, True, False, False]


def test_nothing_hidden_when_nothing_is_small():
    counts = pd.Series([0, 6, 10, 0])
    assert not suppression_mask(counts).any()


def test_without_a_published_total_only_primary_suppression():
    counts = pd.Series([3, 7, 20])
    assert suppression_mask(counts, total_published=False).tolist() == [True, False, False]


def test_lone_hidden_cell_with_no_possible_partner_stays_alone():
    """All other cells are zero: nothing can protect it, so the caller must withhold the total (see needmap)."""
    counts = pd.Series([4, 0, 0])
    assert suppression_mask(counts).tolist() == [True, False, False]


def test_ties_for_the_partner_hide_one_of_them():
    counts = pd.Series([5, 9, 9, 30])
    mask = suppression_mask(counts)
    assert mask.sum() == 2 and mask.iloc[0] and not mask.iloc[3]


def test_mask_does_not_change_the_counts():
    counts = pd.Series([3, 7, 20])
    before = counts.copy()
    suppression_mask(counts)
    pd.testing.assert_series_equal(counts, before)


def test_shown_counts_puts_c_in_hidden_cells():
    counts = pd.Series([0, 3, 8, 12])
    mask = suppression_mask(counts)
    assert shown_counts(counts, mask).tolist() == ["0", SUPPRESSED, SUPPRESSED, "12"]
    assert SUPPRESSED == "c"


def test_hide_blanks_derived_values():
    rates = pd.Series([1.5, 2.0, 3.0], index=["x", "y", "z"])
    hidden = hide(rates, pd.Series([False, True, False], index=["x", "y", "z"]))
    assert hidden.index.tolist() == ["x", "y", "z"]
    assert hidden["x"] == 1.5 and np.isnan(hidden["y"]) and hidden["z"] == 3.0


@pytest.mark.parametrize("seed", range(20))
def test_no_visible_small_count_and_never_one_lone_hidden_cell_when_a_partner_exists(seed):
    rng = np.random.default_rng(seed)
    counts = pd.Series(rng.poisson(6, size=25))
    mask = suppression_mask(counts)
    shown = counts[~mask]
    assert not ((shown >= 1) & (shown <= 5)).any()
    if (counts > 0).sum() > 1 and primary_suppression(counts).sum() >= 1:
        assert mask.sum() >= 2
