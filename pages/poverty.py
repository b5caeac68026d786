"""Destabilised by poverty: financial-stability and housing needs by area, against IDACI."""

import streamlit as st

from ehmap.context import poverty_view
from ehmap.maps import area_map, classify
from ui.state import (
    council_areas,
    council_context_table,
    council_page,
    population,
)
from ui.widgets import legend, show_map

la_code, council, result, label = council_page("Destabilised by poverty")
context, missing = council_context_table(la_code)
children, population_missing = population()
deciles = {
    name: column.title for name, column in context.columns.items() if column.column_id in ("idaci_decile", "imd_decile")
}
deciles = dict(sorted(deciles.items(), key=lambda item: ("idaci" not in item[0], item[0])))  # IDACI first
if not deciles:
    st.warning("No IDACI or IMD deciles are loaded. " + " ".join(missing) + " Add one on *Data sources*.", icon="📂")
    st.stop()

groups = {
    ("financial_stability", "housing"): "Financial stability or secure housing",
    ("financial_stability",): "Financial stability",
    ("housing",): "Secure housing",
}
controls = st.columns(2)
needs = controls[0].selectbox("Needs", options=list(groups), format_func=groups.get, key="poverty_needs")
decile_column = controls[1].selectbox(
    "Deprivation deciles", options=list(deciles), format_func=deciles.get, key="poverty_decile"
)
if population_missing:
    st.caption(f"Counts only: {population_missing}")

view = poverty_view(result.cases, council_areas(la_code), context, decile_column, children, needs)
areas = view.areas
measure_rate = children is not None
values = areas["rate"] if measure_rate else areas["episodes_value"]
choropleth = classify(values, areas["episodes"], decimals=1 if measure_rate else 0)
geometry = council_areas(la_code).merge(areas[["lsoa11cd", "episodes", "decile"]], on="lsoa11cd")
geometry["value"] = (
    areas["episodes"].where(areas["episodes"] == "c", values.round(1).astype("string")).fillna("").to_numpy()
)
title = "Episodes per 1,000 children aged 0-17" if measure_rate else "Episodes"

map_column, side_column = st.columns([3, 2])
with map_column:
    fmap = area_map(
        geometry,
        choropleth.colours,
        {"lsoa11nm": "LSOA", "lsoa11cd": "Code", "value": title, "decile": view.index_title},
    )
    show_map(fmap, "poverty_map", height=560)
with side_column:
    st.metric(f"Episodes with {groups[needs].lower()} in {council}", view.council_total)
    legend(title, choropleth.legend)
    st.caption(
        "Shown as 'c' where fewer than 6 (or where a hidden number could be worked out); "
        "rates hidden with their counts."
    )

st.subheader("Living in the most deprived fifth of England")
st.caption(f"Families (each at its latest episode's LSOA) in LSOAs of national decile 1 or 2 of {view.index_title}.")
st.dataframe(
    view.shares.rename(
        columns={
            "group": "Group",
            "families": "Families",
            "in_most_deprived_fifth": "In the most deprived fifth",
            "share_percent": "Share (%)",
        }
    ),
    hide_index=True,
    width="stretch",
)
st.subheader("By national decile")
st.dataframe(
    view.by_decile.rename(
        columns={
            "decile": "Decile (1 = most deprived)",
            "episodes": "Episodes",
            "all_episodes": "All EH episodes",
            "children": "Children 0-17",
            "rate": "Rate per 1,000",
            "rate_lower": "95% CI lower",
            "rate_upper": "95% CI upper",
        }
    ),
    hide_index=True,
    width="stretch",
)
for note in context.notes:
    st.caption(note)
