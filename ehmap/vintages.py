"""Carrying LSOA 2021 indicators (IoD2025) onto the LSOA 2011 areas the map is drawn on.

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
    for column in numeric:
        if source.columns[column].polarity == "decile_1_most_deprived":
            rank_column = column.removesuffix("_decile") + "_rank"
            if rank_column in result.columns:
                result[column] = decile_of_rank(result[rank_column], values[rank_column], values[column])
            else:
                result[column] = grouped.groupby("lsoa11cd")[column].median().round().reindex(result.index)
    first = joined.groupby("lsoa11cd")["chgind"].first()
    parts = joined.groupby("lsoa11cd")["lsoa21cd"].nunique()
    result["change"] = first.reindex(result.index)
    result["parts"] = parts.reindex(result.index)
    return CarriedIndicator(result.reset_index()[["lsoa11cd", *numeric, "change", "parts"]], split_weighting, x_method)


def decile_of_rank(rank: pd.Series, ranks: pd.Series, deciles: pd.Series) -> pd.Series:
    """The publisher's decile band (1 = most deprived) holding each (possibly averaged) rank."""
    tops = pd.DataFrame({"rank": ranks, "decile": deciles}).dropna().groupby("decile")["rank"].max().sort_index()
    index = np.searchsorted(tops.to_numpy(dtype=float), rank.to_numpy(dtype=float), side="left")
    labels = tops.index.to_numpy()
    out = pd.Series(labels[np.clip(index, 0, len(labels) - 1)], index=rank.index).astype("Int64")
    return out.mask(rank.isna())
