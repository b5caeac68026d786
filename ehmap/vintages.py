"""Carrying indicators between LSOA vintages: IoD2025 (LSOA 2021) back onto LSOA 2011 to set beside IoD2019, and
IoD2019 (LSOA 2011) forward onto LSOA 2021 (`carry_to_lsoa21`, rule in its docstring).

The ONS exact-fit lookup says how each LSOA 2011 became LSOA 2021s (CHGIND):

- U (unchanged) and M (merged into a larger LSOA 2021): the LSOA 2011 takes its LSOA 2021's value.
- S (split into several LSOA 2021s): the mean of its parts, weighted by the parts' populations where
  the source has them, else a simple mean. Ranks are averaged the same way and the decile is the
  publisher's decile band that holds the averaged rank (so 1 is still the most deprived 10%).
- X (irregular redesign): the ONS best-fit LSOA 2021, when the best-fit lookup is available, else
  the mean of its parts as for S.

Values carried this way are approximations on the old geography; a 2019 rank and a 2025 rank
measure different indicators, so ehmap shows them side by side, never as a change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.core.groupby import DataFrameGroupBy

from ehmap.catalogue import IndicatorSource

CHANGE_NAMES = {"U": "unchanged", "M": "merged", "S": "split", "X": "irregular change"}
WEIGHT_COLUMNS = ("population_total", "population_0_15")  # IoD File 7 denominators, in order of preference


@dataclass(frozen=True)
class CarriedIndicator:
    """LSOA 2021 values on LSOA 2011: one row per LSOA 2011, with how each value was obtained."""

    values: pd.DataFrame  # lsoa11cd, the source's columns, change (U/M/S/X), parts (number of LSOA 2021s)
    split_weighting: str  # 'population-weighted (<column>)' or 'simple mean'
    x_method: str  # 'best fit' or 'mean of parts'

    def method_note(self) -> str:
        """One sentence, for the screen, saying how the values were carried onto LSOA 2011."""
        return (
            "Values are on LSOA 2021 and were carried onto the LSOA 2011 map with the ONS exact-fit lookup: "
            "unchanged and merged areas take their LSOA 2021's value directly; an LSOA 2011 split into several "
            f"LSOA 2021s takes the {self.split_weighting} of its parts' scores and ranks, with the decile band "
            f"of that rank; irregular changes use the {self.x_method}."
        )


def carry_to_lsoa11(
    table: pd.DataFrame,
    source: IndicatorSource,
    lookup: pd.DataFrame,
    best_fit: pd.DataFrame | None = None,
) -> CarriedIndicator:
    """Put an LSOA 2021 table (`lsoa21cd` + columns) onto LSOA 2011 through the exact-fit lookup.

    `lookup` has `lsoa11cd`, `lsoa21cd`, `chgind`; `best_fit` (optional) has `lsoa11cd`, `lsoa21cd`.
    """
    if source.geography != "lsoa21":
        raise ValueError(f"carry_to_lsoa11 expects an LSOA 2021 source; '{source.id}' is on {source.geography}.")
    for name, frame, needed in (("table", table, ["lsoa21cd"]), ("lookup", lookup, ["lsoa11cd", "lsoa21cd", "chgind"])):
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise ValueError(f"The {name} lacks the column(s) {absent}.")
    unknown = sorted(set(lookup["chgind"].dropna()) - set(CHANGE_NAMES))
    if unknown:
        raise ValueError(f"The lookup has change indicator(s) {unknown}; valid ones are {sorted(CHANGE_NAMES)}.")

    pairs = lookup[["lsoa11cd", "lsoa21cd", "chgind"]].astype({"lsoa11cd": str, "lsoa21cd": str})
    x_method = "mean of parts"
    if best_fit is not None:
        chosen = best_fit[["lsoa11cd", "lsoa21cd"]].astype(str).drop_duplicates("lsoa11cd")
        irregular = pairs.loc[pairs["chgind"] == "X", "lsoa11cd"].unique()
        replacement = chosen[chosen["lsoa11cd"].isin(irregular)].assign(chgind="X")
        pairs = pd.concat([pairs[~pairs["lsoa11cd"].isin(replacement["lsoa11cd"])], replacement], ignore_index=True)
        x_method = "ONS best-fit LSOA 2021"

    values = table.astype({"lsoa21cd": str})
    joined = pairs.merge(values, on="lsoa21cd", how="inner")
    weight_column = next((c for c in WEIGHT_COLUMNS if c in joined.columns and joined[c].notna().all()), None)
    weights = joined[weight_column].astype(float) if weight_column else pd.Series(1.0, index=joined.index)
    split_weighting = (
        f"population-weighted mean ({source.columns[weight_column].title})" if weight_column else "simple mean"
    )

    numeric = [
        c for c in values.columns if c != "lsoa21cd" and c in source.columns and source.columns[c].polarity != "code"
    ]
    averaged = [c for c in numeric if source.columns[c].polarity in ("higher_is_more_deprived", "rank_1_most_deprived")]
    summed = [c for c in numeric if source.columns[c].polarity == "count"]
    grouped = joined.assign(_w=weights)
    result = pd.DataFrame(index=pd.Index(sorted(joined["lsoa11cd"].unique()), name="lsoa11cd"))
    for column in averaged:
        ok = grouped[column].notna()
        num = (grouped.loc[ok, column] * grouped.loc[ok, "_w"]).groupby(grouped.loc[ok, "lsoa11cd"]).sum()
        den = grouped.loc[ok, "_w"].groupby(grouped.loc[ok, "lsoa11cd"]).sum()
        result[column] = (num / den).reindex(result.index)
    for column in summed:  # a merged LSOA 2021's population would be counted once per part: share it out
        share = grouped.groupby("lsoa21cd")["lsoa11cd"].transform("size")
        result[column] = (grouped[column] / share).groupby(grouped["lsoa11cd"]).sum().reindex(result.index)
    _deciles(result, numeric, source, values, grouped.groupby("lsoa11cd"))
    first = joined.groupby("lsoa11cd")["chgind"].first()
    parts = joined.groupby("lsoa11cd")["lsoa21cd"].nunique()
    result["change"] = first.reindex(result.index)
    result["parts"] = parts.reindex(result.index)
    return CarriedIndicator(result.reset_index()[["lsoa11cd", *numeric, "change", "parts"]], split_weighting, x_method)


def _deciles(result: pd.DataFrame, numeric: list[str], source: IndicatorSource, values: pd.DataFrame,
             parts: DataFrameGroupBy) -> None:
    """Set each carried decile column of `result`: the publisher's band holding the carried rank, or (no rank column)
    the median of the parts' deciles (`parts`: the joined rows grouped by the target area)."""
    for column in numeric:
        if source.columns[column].polarity == "decile_1_most_deprived":
            rank_column = column.removesuffix("_decile") + "_rank"
            if rank_column in result.columns:
                result[column] = decile_of_rank(result[rank_column], values[rank_column], values[column])
            else:
                result[column] = parts[column].median().round().reindex(result.index)


def decile_of_rank(rank: pd.Series, ranks: pd.Series, deciles: pd.Series) -> pd.Series:
    """The publisher's decile band (1 = most deprived) holding each (possibly averaged) rank."""
    tops = pd.DataFrame({"rank": ranks, "decile": deciles}).dropna().groupby("decile")["rank"].max().sort_index()
    index = np.searchsorted(tops.to_numpy(dtype=float), rank.to_numpy(dtype=float), side="left")
    labels = tops.index.to_numpy()
    out = pd.Series(labels[np.clip(index, 0, len(labels) - 1)], index=rank.index).astype("Int64")
    return out.mask(rank.isna())


@dataclass(frozen=True)
class CarriedForward:
    """LSOA 2011 values on LSOA 2021: one row per LSOA 2021, with how each value was obtained."""

    values: pd.DataFrame  # lsoa21cd, the source's columns, change (U/M/S/X), parts (number of LSOAs 2011)
    weighting: str  # 'population-weighted mean (<column title>)' or 'simple mean'

    def method_note(self) -> str:
        """One sentence, for the screen, saying how the values were carried onto LSOA 2021."""
        return (
            "Values are on LSOA 2011 and were carried forward onto LSOA 2021 with the ONS exact-fit lookup: unchanged "
            "areas and the parts of a split LSOA 2011 take its value; an LSOA 2021 made from several LSOAs 2011 "
            f"(merged or irregular) takes the {self.weighting} of their scores and ranks, with the decile band of "
            "that rank."
        )


def carry_to_lsoa21(table: pd.DataFrame, source: IndicatorSource, lookup: pd.DataFrame) -> CarriedForward:
    """Put an LSOA 2011 table (`lsoa11cd` + columns) onto LSOA 2021 through the exact-fit lookup (`lsoa11cd`,
    `lsoa21cd`, `chgind`).

    Each LSOA 2021 takes the mean of the LSOAs 2011 it was made from, weighted by their populations (each LSOA
    2011's population shared equally between its parts) where the source has them: so unchanged areas and the
    parts of a split keep their one LSOA 2011's value exactly. Counts are shared out the same way and summed.
    """
    if source.geography != "lsoa11":
        raise ValueError(f"carry_to_lsoa21 expects an LSOA 2011 source; '{source.id}' is on {source.geography}.")
    pairs = lookup[["lsoa11cd", "lsoa21cd", "chgind"]].astype({"lsoa11cd": str, "lsoa21cd": str}).drop_duplicates()
    values = table.astype({"lsoa11cd": str})
    joined = pairs.merge(values, on="lsoa11cd", how="inner")
    share = 1.0 / joined.groupby("lsoa11cd")["lsoa21cd"].transform("size")  # an LSOA 2011's part of itself
    weight_column = next((c for c in WEIGHT_COLUMNS if c in joined.columns and joined[c].notna().all()), None)
    weights = share * (joined[weight_column].astype(float) if weight_column else 1.0)
    weighting = f"population-weighted mean ({source.columns[weight_column].title})" if weight_column else "simple mean"
    numeric = [c for c in values.columns if c in source.columns and source.columns[c].polarity != "code"]
    result = pd.DataFrame(index=pd.Index(sorted(joined["lsoa21cd"].unique()), name="lsoa21cd"))
    for column in numeric:
        polarity = source.columns[column].polarity
        if polarity in ("higher_is_more_deprived", "rank_1_most_deprived"):
            ok = joined[column].notna()
            num = (joined.loc[ok, column].astype(float) * weights[ok]).groupby(joined.loc[ok, "lsoa21cd"]).sum()
            result[column] = (num / weights[ok].groupby(joined.loc[ok, "lsoa21cd"]).sum()).reindex(result.index)
        elif polarity == "count":
            result[column] = (joined[column].astype(float) * share).groupby(joined["lsoa21cd"]).sum()
    _deciles(result, numeric, source, values, joined.groupby("lsoa21cd"))
    result["change"] = joined.groupby("lsoa21cd")["chgind"].first().reindex(result.index)
    result["parts"] = joined.groupby("lsoa21cd")["lsoa11cd"].nunique().reindex(result.index)
    return CarriedForward(result.reset_index()[["lsoa21cd", *numeric, "change", "parts"]], weighting)
