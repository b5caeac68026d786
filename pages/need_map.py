"""Need map: where each need is concentrated across the council's LSOAs."""

import streamlit as st

from ehmap.disclosure import STAND_IN_NOTE
from ehmap.maps import area_map, classify
from ehmap.needmap import CaseFilter, need_map_table
from ehmap.safe_output import csv_bytes
from ehmap.taxonomy import NEEDS
from ui.state import (
    council_areas,
    council_page,
    period_selector,
    population,
)
from ui.widgets import legend, show_map

la_code, council, result, label = council_page("Need map")

cases = result.cases
children, population_missing = population()
needs = {None: "All needs", **{need.key: need.headline for need in NEEDS}}
services = [None, *sorted(cases["service"].dropna().unique())]

controls = st.columns([2, 2, 2, 1.4])
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="need_map_need")
start, end = period_selector(cases, "need_map_period", controls[1])
service = controls[2].selectbox("Service", options=services, format_func=lambda s: s or "All services", key="need_map_service")
SMOOTHED, RATE, EPISODES = "Smoothed rate per 1,000", "Rate per 1,000 children", "Episodes"
measures = [SMOOTHED, RATE, EPISODES] if children is not None else [EPISODES]
measure = controls[3].radio("Measure", measures, key="need_map_measure",
                            help="Smoothed rates pull small populations towards the council rate (empirical Bayes), "
                            "so an LSOA with few children and one episode does not top the map.")

table = need_map_table(cases, council_areas(la_code), CaseFilter(need, start, end, service), children)
areas = table.areas
if measure == EPISODES:
    values, shown, title, decimals = areas["episodes_value"], areas["episodes"], "Episodes", 0
elif measure == RATE:
    values, shown, title, decimals = areas["rate"], areas["episodes"], "Episodes per 1,000 children aged 0-17", 1
else:
    values, shown, title, decimals = (areas["smoothed_rate"], areas["episodes"],
                                      "Episodes per 1,000 children aged 0-17, smoothed", 1)
choropleth = classify(values, shown, decimals=decimals)

geometry = council_areas(la_code).merge(areas, on=["lsoa11cd", "lsoa11nm"])
geometry["value"] = shown.where(shown == "c", values.round(decimals).astype("string")).fillna("").to_numpy()
tooltip = {"lsoa11nm": "LSOA", "lsoa11cd": "Code", "value": title}

map_column, side_column = st.columns([3, 2])
with map_column:
    basemap = st.toggle("Basemap (OpenStreetMap tiles; needs internet)", value=False, key="need_map_basemap")
    fmap = area_map(geometry, choropleth.colours, tooltip, basemap=basemap)
    show_map(fmap, "need_map")
with side_column:
    st.metric(f"Episodes in {council} ({needs[need]})", table.council_total)
    legend(title, choropleth.legend)
    if population_missing:
        st.caption(f"Counts only: {population_missing}")
    st.caption(table.note)
    if measure == SMOOTHED:
        st.caption(STAND_IN_NOTE)

st.subheader("LSOAs")
shown_table = areas.sort_values(["episodes_value", "lsoa11cd"], ascending=[False, True], na_position="last")
columns = {"lsoa11cd": "LSOA code", "lsoa11nm": "LSOA name", "episodes": "Episodes"}
if table.has_rates:
    columns |= {"children": "Children 0-17", "rate": "Rate per 1,000", "rate_lower": "95% CI lower",
                "rate_upper": "95% CI upper", "smoothed_rate": "Smoothed rate per 1,000"}
st.dataframe(shown_table[list(columns)].rename(columns=columns), hide_index=True, width="stretch")
st.download_button(
    "Download this table (CSV)",
    data=csv_bytes(shown_table[list(columns)]),
    file_name=f"ehmap_{la_code}_{need or 'all'}_{start:%Y%m%d}_{end:%Y%m%d}.csv",
    mime="text/csv",
)
