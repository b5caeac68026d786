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


def count_text(count: int) -> str:
    """One count as published text: thousands separated, 'c' for 1 to 5 (for a lone figure, e.g. a total)."""
    if 0 < count < SMALLEST_SHOWN:
        return SUPPRESSED
    return f"{count:,}"


def hide(values: pd.Series, mask: pd.Series) -> pd.Series:
    """Blank out a derived value (rate, interval) wherever its count is hidden."""
    return values.mask(mask.to_numpy(), np.nan)


STAND_IN = 3  # the middle of 1 to 5: what statistics that will be published use for every hidden count
STAND_IN_NOTE = (
    "Statistics derived from many areas (smoothed rates, hot spot scores, expected counts) take every hidden "
    f"count as {STAND_IN}, so they reveal nothing about it that the 'c' does not."
)


def stand_in_counts(counts: pd.Series, mask: pd.Series) -> pd.Series:
    """Counts for statistics that will be published: every hidden cell (primary or secondary) set to STAND_IN.

    A statistic pooled over areas (an empirical Bayes prior, Gi* z-scores, a fitted demand model) published
    to two decimals lets a reader solve back for the counts it was computed from: on the demo, 91-100% of
    hidden LSOA counts came back exactly from the hot spot table. Computed from these counts, everything
    published is a function of what is shown.
    """
    return counts.where(~mask.to_numpy(), STAND_IN)


# --- two-way tables ------------------------------------------------------------------------------

TOTAL = "Total"


def round_to_base(counts: pd.Series | pd.DataFrame, base: int = 5) -> pd.Series | pd.DataFrame:
    """Counts rounded to the nearest `base` (halves up), as published small-area counts are."""
    if base < 1:
        raise ValueError(f"base must be a positive whole number; got {base}.")
    return (np.floor(counts.astype(float) / base + 0.5) * base).astype("Int64")


def _with_totals(counts: pd.DataFrame) -> pd.DataFrame:
    """The table with a 'Total' column and a 'Total' row (the grand total in the corner)."""
    table = counts.astype("int64").copy()
    table[TOTAL] = table.sum(axis=1)
    table.loc[TOTAL] = table.sum(axis=0)
    return table


def _lines(shape: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """Every additive line of a table with totals: each row and each column, totals included."""
    rows, cols = shape
    return [[(i, j) for j in range(cols)] for i in range(rows)] + [[(i, j) for i in range(rows)] for j in range(cols)]


def feasible_ranges(table: pd.DataFrame, hidden: pd.DataFrame) -> pd.DataFrame:
    """For each hidden cell of a table with totals, the least and greatest value a reader could deduce.

    The reader knows every visible cell, that rows and columns add up to their totals, and that a
    hidden cell is at least 1 (zeros are never hidden). A cell whose least and greatest values are
    equal has leaked. Solved exactly as two linear programmes per hidden cell.
    """
    from scipy.optimize import linprog

    values = table.to_numpy(dtype=float)
    mask = hidden.to_numpy(dtype=bool)
    cells = [tuple(cell) for cell in np.argwhere(mask)]
    position = {cell: k for k, cell in enumerate(cells)}
    rows, cols = values.shape
    equations, rhs = [], []
    for line in [[(i, j) for j in range(cols - 1)] + [(i, cols - 1)] for i in range(rows)] + \
                [[(i, j) for i in range(rows - 1)] + [(rows - 1, j)] for j in range(cols)]:
        *parts, total = line
        row = np.zeros(len(cells))
        constant = 0.0
        for cell in parts:
            if cell in position:
                row[position[cell]] += 1
            else:
                constant += values[cell]
        if total in position:
            row[position[total]] -= 1
            target = -constant
        else:
            target = values[total] - constant
        if row.any():
            equations.append(row)
            rhs.append(target)
    out = []
    for k, (i, j) in enumerate(cells):
        objective = np.zeros(len(cells))
        objective[k] = 1
        bounds = [(1, None)] * len(cells)
        low = linprog(objective, A_eq=np.array(equations), b_eq=np.array(rhs), bounds=bounds, method="highs")
        high = linprog(-objective, A_eq=np.array(equations), b_eq=np.array(rhs), bounds=bounds, method="highs")
        upper = -high.fun if high.status == 0 else np.inf  # unbounded: no upper limit
        out.append({"row": table.index[i], "column": table.columns[j], "low": low.fun, "high": upper})
    return pd.DataFrame(out, columns=["row", "column", "low", "high"])


def suppression_mask_2d(counts: pd.DataFrame, max_rounds: int = 100) -> pd.DataFrame:
    """Which cells of a two-way table *with its row and column totals* to hide.

    Primary: counts 1-5 in the body and in the row/column totals (the grand total, council level, is
    not). Secondary: while any row or column (totals included) holds exactly one hidden cell, hide
    its smallest visible non-zero body cell (a total only when no body cell qualifies); then check
    with `feasible_ranges` that no hidden cell can be worked out exactly, hiding more if one can.
    Returns a boolean frame shaped like the table with totals (`_with_totals`).
    """
    table = _with_totals(counts)
    values = table.to_numpy()
    rows, cols = values.shape
    hidden = (values > 0) & (values < SMALLEST_SHOWN)
    hidden[-1, -1] = False
    lines = _lines(values.shape)
    for _ in range(max_rounds):
        changed = False
        for line in lines:
            if sum(hidden[cell] for cell in line) != 1:
                continue
            candidates = [cell for cell in line if not hidden[cell] and values[cell] > 0]
            if not candidates:
                continue
            is_total = lambda cell: cell[0] == rows - 1 or cell[1] == cols - 1  # noqa: E731
            partner = min(candidates, key=lambda cell: (is_total(cell), values[cell], cell))
            hidden[partner] = True
            changed = True
        if changed:
            continue
        mask = pd.DataFrame(hidden, index=table.index, columns=table.columns)
        if not hidden.any():
            return mask
        ranges = feasible_ranges(table, mask)
        leaked = ranges[np.isclose(ranges["low"].astype(float), ranges["high"].astype(float))]
        if leaked.empty:
            return mask
        i, j = table.index.get_loc(leaked["row"].iloc[0]), table.columns.get_loc(leaked["column"].iloc[0])
        candidates = [cell for cell in lines[i] + lines[rows + j] if not hidden[cell] and values[cell] > 0]
        if not candidates:
            return mask
        hidden[min(candidates, key=lambda cell: (cell[0] == rows - 1 or cell[1] == cols - 1, values[cell], cell))] = True
    raise RuntimeError("Secondary suppression did not settle; the table is too small to protect.")


def shown_table_2d(counts: pd.DataFrame, round_to: int | None = None) -> pd.DataFrame:
    """A two-way table with totals as text for display: hidden cells `c`, the rest rounded to `round_to` if set."""
    mask = suppression_mask_2d(counts)
    table = _with_totals(counts)
    shown = round_to_base(table, round_to) if round_to else table.astype("Int64")
    return shown.astype("string").mask(mask, SUPPRESSED)
