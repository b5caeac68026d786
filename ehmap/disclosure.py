"""Disclosure control for every count ehmap shows or exports (domain.md §6).

Primary suppression hides non-zero counts below 6 as `c` (as DfE does). Secondary suppression
then hides the next-smallest count wherever a single hidden cell could be recovered by
subtracting the visible cells from a published total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUPPRESSED = "c"
SMALLEST_SHOWN = 6
SUPPRESSION_NOTE = (
    "Counts of 1 to 5 are shown as 'c' and not mapped; where one hidden count could be worked out "
    "from the total, the next-smallest count is hidden too. Rates are hidden wherever their count is."
)


def primary_suppression(counts: pd.Series) -> pd.Series:
    """True where a count is between 1 and 5."""
    return (counts > 0) & (counts < SMALLEST_SHOWN)


def suppression_mask(counts: pd.Series, total_published: bool = True) -> pd.Series:
    """Which cells of one row or column of counts to hide (primary, then secondary).

    With a published total, a lone hidden cell equals total minus the visible cells, so the
    smallest visible non-zero cell is hidden with it.
    """
    mask = primary_suppression(counts)
    if total_published and mask.sum() == 1:
        visible = counts.where(~mask & (counts > 0))
        if visible.notna().any():
            mask.loc[visible.idxmin()] = True
    return mask


def shown_counts(counts: pd.Series, mask: pd.Series) -> pd.Series:
    """Counts as text for display and export, with hidden cells as `c`."""
    text = counts.astype("Int64").astype("string")
    return text.mask(mask, SUPPRESSED)


def hide(values: pd.Series, mask: pd.Series) -> pd.Series:
    """Blank out a derived value (rate, interval) wherever its count is hidden."""
    return values.mask(mask.to_numpy(), np.nan)
