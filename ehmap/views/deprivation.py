"""The Deprivation page's map and table: a published index on its own LSOAs (IoD2025 on LSOA 2021, IoD2019 on
LSOA 2011), or carried to the other vintage (IoD2025 back onto LSOA 2011 to set beside IoD2019, IoD2019 forward onto
LSOA 2021, the current areas); every area named with its ward (May 2024)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from ehmap.catalogue import boundary_set, indicator_source
from ehmap.context import ContextTable, indicator_reading

AREA_TITLES = {  # by the index's own vintage: its own areas first (the default), then the other vintage
    "lsoa21": {"lsoa21": "LSOA 2021, the index's own areas", "lsoa11": "LSOA 2011, carried over to set beside IoD2019"},
    "lsoa11": {"lsoa11": "LSOA 2011, the index's own areas", "lsoa21": "LSOA 2021, carried forward"},
}
LSOA21_WARD_NOTE = "Each LSOA's ward (May 2024) is the ONS lookup's."
LSOA11_WARD_NOTE = "Each LSOA's ward (May 2024) is the ONS best fit (LSOA 2011 to LSOA 2021 to ward)."


@dataclass(frozen=True)
class DeprivationMap:
    """One indicator on one set of LSOAs: polygons with code, name, ward and value, and what to tell the reader."""

    geography: str  # 'lsoa21' or 'lsoa11'
    source_id: str  # the index drawn, e.g. 'iod2025'
    areas: gpd.GeoDataFrame  # code, name, ward, value (float), geometry (EPSG:27700), sorted by code
    title: str  # the indicator, e.g. 'IMD decile (English Indices of Deprivation 2025)'
    notes: tuple[str, ...]

    @property
    def area_word(self) -> str:
        return "LSOAs 2021" if self.geography == "lsoa21" else "LSOAs"

    @property
    def attribution(self) -> str:
        """The map's attribution: the boundaries drawn (their own year) and the index."""
        return f"{boundary_set(self.geography).attribution} {indicator_source(self.source_id).attribution}"

    def table(self) -> pd.DataFrame:
        """The areas as a reader sees them: names first, codes beside them, the value last."""
        return pd.DataFrame({"LSOA name": self.areas["name"], "LSOA code": self.areas["code"],
                             "Ward": self.areas["ward"], self.title: self.areas["value"]})


def area_choices(context: ContextTable, column: str) -> dict[str, str]:
    """Which LSOAs an indicator can be drawn on: the index's own areas first, then carried to the other vintage."""
    return dict(AREA_TITLES[indicator_source(context.columns[column].source_id).geography])


def on_lsoa11(lsoas: gpd.GeoDataFrame, context: ContextTable, column: str, wards: pd.Series | None) -> DeprivationMap:
    """The context table's column (native or carried) on the council's LSOA 2011 polygons (`lsoa11cd`,
    `lsoa11nm`, geometry); `wards` maps LSOA 2011 code to ward name, or None when not loaded."""
    values = context.areas.set_index("lsoa11cd")[column]
    codes = lsoas["lsoa11cd"].astype(str)
    ward = codes.map(wards) if wards is not None else pd.Series(pd.NA, index=codes.index)
    areas = gpd.GeoDataFrame({"code": codes.to_numpy(), "name": lsoas["lsoa11nm"].astype(str).to_numpy(),
                              "ward": ward.astype(object).to_numpy(), "value": codes.map(values).astype(float).to_numpy()},
                             geometry=lsoas.geometry.values, crs=lsoas.crs)
    notes = tuple(context.notes) + ((LSOA11_WARD_NOTE,) if wards is not None else ())
    meta = context.columns[column]
    return DeprivationMap("lsoa11", meta.source_id, areas.sort_values("code", ignore_index=True), meta.title, notes)


def on_lsoa21(joined: gpd.GeoDataFrame, how: str, context: ContextTable, column: str) -> DeprivationMap:
    """An index's column on the council's LSOA 2021 polygons; `joined` and `how` (published or carried forward) are
    `ehmap.lsoa21.indicator_on_lsoa21` for the column's source."""
    meta = context.columns[column]
    areas = gpd.GeoDataFrame({"code": joined["lsoa21cd"].to_numpy(), "name": joined["lsoa21nm"].to_numpy(),
                              "ward": joined["ward_name"].astype(object).to_numpy(),
                              "value": joined[meta.column_id].astype(float).to_numpy()},
                             geometry=joined.geometry.values, crs=joined.crs)
    return DeprivationMap("lsoa21", meta.source_id, areas.sort_values("code", ignore_index=True), meta.title,
                          (how, LSOA21_WARD_NOTE))


def deprivation_map_reading(view: DeprivationMap, context: ContextTable, column: str, council: str) -> str:
    """The page's plain-English reading of the mapped areas."""
    return indicator_reading(view.areas.set_index("name")["value"], context.columns[column], council, view.area_word)
