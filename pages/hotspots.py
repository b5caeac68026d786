"""Hot spots: where a need is significantly concentrated (Gi* or local Moran's I, corrected for multiple testing)."""

import streamlit as st

from ehmap.areas import LocalityFileError
from ehmap.hotspots import (
    DEFAULT_PERMUTATIONS,
    DEFAULT_SEED,
    MEASURES,
    STATISTIC_TITLES,
    hotspot_table,
    label_choropleth,
)
from ehmap.maps import area_map
from ehmap.needmap import CaseFilter
from ehmap.safe_output import csv_bytes
from ehmap.taxonomy import NEEDS
from ui.state import (
    council_page,
    hotspot_areas,
    locality_file_columns,
    period_selector,
    population,
    uploaded_locality_areas,
)
from ui.widgets import legend, show_map

la_code, council, result, label = council_page("Hot spots")

cases = result.cases
children, population_missing = population()
needs = {None: "All needs", **{need.key: need.headline for need in NEEDS}}
geographies = {"lsoa11": "LSOA (2011)", "ward": "Electoral ward", "custom": "Your localities (upload)"}
measures = {key: title for key, title in MEASURES.items() if children is not None or key == "count"}
measure_keys = ["smoothed_rate", "rate", "count"] if children is not None else ["count"]

controls = st.columns([2, 2, 1.6, 1.8, 1.4])
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="hotspots_need")
start, end = period_selector(cases, "hotspots_period", controls[1])
geography = controls[2].selectbox("Geography", options=list(geographies), format_func=geographies.get, key="hotspots_geography")
measure = controls[3].radio("Measure", measure_keys, format_func=measures.get, key="hotspots_measure")
statistic = controls[4].radio("Statistic", list(STATISTIC_TITLES), format_func=STATISTIC_TITLES.get, key="hotspots_statistic")

with st.expander("Neighbours, smoothing and permutations"):
    options = st.columns(4)
    weights = options[0].selectbox("Neighbours", ["queen", "knn", "distance_band"], key="hotspots_weights",
                                   format_func={"queen": "Shared border or corner (queen)", "knn": "k nearest",
                                                "distance_band": "Within a distance"}.get)
    k = options[1].number_input("k (nearest)", min_value=1, max_value=20, value=6, key="hotspots_k")
    threshold = options[1].number_input("Distance (metres)", min_value=100, max_value=50_000, value=1_500, step=100,
                                        key="hotspots_threshold")
    smoothing = options[2].radio("Smoothing towards", ["global", "local"], key="hotspots_smoothing",
                                 format_func={"global": "the council rate", "local": "the neighbours' rate"}.get)
    permutations = options[3].number_input("Permutations", min_value=99, max_value=99_999, value=DEFAULT_PERMUTATIONS,
                                           step=100, key="hotspots_permutations")
    seed = options[3].number_input("Seed", min_value=0, value=DEFAULT_SEED, key="hotspots_seed")

if geography == "custom":
    upload = st.file_uploader("Locality boundaries: GeoJSON, GeoPackage or zipped Shapefile, with its CRS",
                              type=["geojson", "json", "gpkg", "zip"], key="hotspots_localities")
    if upload is None:
        st.info("Upload your council's locality boundaries to count cases by locality.")
        st.stop()
    try:
        columns = locality_file_columns(upload.getvalue(), upload.name)
        name_column = st.selectbox("Column that names each locality", columns, key="hotspots_name_column",
                                   index=next((i for i, c in enumerate(columns) if "name" in c.lower()), 0))
        areas = uploaded_locality_areas(upload.getvalue(), upload.name, name_column, la_code)
    except LocalityFileError as problem:
        st.error(str(problem))
        st.stop()
else:
    try:
        areas = hotspot_areas(geography, la_code)
    except FileNotFoundError as problem:
        st.error(str(problem))
        st.stop()

try:
    table = hotspot_table(cases, areas, CaseFilter(need, start, end), children, measure, statistic, weights, int(k),
                          float(threshold), int(permutations), int(seed), smoothing)
except ValueError as problem:
    st.error(str(problem))
    st.stop()

shown = table.areas
choropleth = label_choropleth(shown["label"])
decimals = 0 if measure == "count" else 1
values = shown["count_value"] if measure == "count" else shown[measure]
geometry = areas.areas.merge(shown[["code", "count", "label"]], on="code")
geometry["value"] = values.round(decimals).astype("string").fillna("").to_numpy()
geometry["value"] = geometry["value"].where(geometry["count"] != "c", "c")
tooltip = {"name": "Area", "code": "Code", "count": "Episodes", "value": measures[measure], "label": "Result"}

map_column, side_column = st.columns([3, 2])
with map_column:
    basemap = st.toggle("Basemap (OpenStreetMap tiles; needs internet)", value=False, key="hotspots_basemap")
    fmap = area_map(geometry, choropleth.colours, tooltip, basemap=basemap)
    show_map(fmap, "hotspots_map")
with side_column:
    legend(f"{STATISTIC_TITLES[statistic]} on {measures[measure].lower()}", choropleth.legend)
    st.markdown(f"**What 'significant' means.** {table.result.explanation()}")
    uncorrected = int((table.result.p <= 0.05).sum())
    st.caption(f"Without the correction, {uncorrected} area(s) would have looked significant at 95%.")
    st.caption(f"**How cases are placed.** {areas.rule} {areas.source_note}.")
    if table.outside:
        outside = "Fewer than 6" if table.outside < 6 else f"{table.outside:,}"  # never a count of 1 to 5
        st.caption(f"{outside} episode(s) are in LSOAs outside every area and are not counted.")
    if measure == "smoothed_rate":
        st.caption("Smoothed rates are empirical Bayes estimates (Marshall 1991): small populations are pulled "
                   "towards the " + ("council's rate." if smoothing == "global" else "rate of their neighbours."))
    if population_missing:
        st.caption(f"Counts only: {population_missing}")
    st.caption(table.note)

columns = {"name": "Area", "code": "Code", "count": "Episodes", "children": "Children 0-17", "rate": "Rate per 1,000",
           "rate_lower": "95% CI lower", "rate_upper": "95% CI upper", "smoothed_rate": "Smoothed rate",
           "z": "z", "p_fdr": "p after FDR", "label": "Result"}
st.subheader("Hot spots")
hot = table.hot_spots()
if hot.empty:
    st.info("No area is a significant hot spot after correcting for multiple testing.")
else:
    st.dataframe(hot[list(columns)].rename(columns=columns), hide_index=True, width="stretch", key="hotspots_hot_table")
with st.expander("All areas"):
    st.dataframe(shown[list(columns)].rename(columns=columns), hide_index=True, width="stretch")
st.download_button(
    "Download all areas (CSV)",
    data=csv_bytes(table.for_csv()),
    file_name=f"ehmap_hotspots_{la_code}_{areas.kind}_{need or 'all'}_{measure}_{statistic}.csv",
    mime="text/csv",
)
