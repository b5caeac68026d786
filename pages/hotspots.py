"""Hot spots: where a need is significantly concentrated (Gi* or local Moran's I, corrected for multiple testing)."""

import streamlit as st

from ehmap.hotspots import (
    ALL_STATISTIC_TITLES,
    DEFAULT_PERMUTATIONS,
    DEFAULT_SEED,
    MEASURES,
    STATISTIC_TITLES,
    label_choropleth,
)
from ehmap.lsoa21 import population_sources
from ehmap.maps import area_map
from ehmap.text import plain
from ehmap.views.hotspots import released_hotspots, team_hotspots
from ehmap.views.need_map import need_options, placed_on_lsoa21
from ui.audience import dataset_release, page_context
from ui.errors import error_text
from ui.state import (
    hotspot_areas,
    population,
    population_on,
    reference_versions,
)
from ui.views import locality_upload, lsoa_wards, released_downloads, released_period, show_reading, team_period
from ui.widgets import legend, show_map

context = page_context("Hot spots")
children, population_missing = population()
needs = need_options()
controls = st.columns([2, 2, 1.6, 1.8, 1.4])
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="hotspots_need")
statistics = ALL_STATISTIC_TITLES if children is not None else STATISTIC_TITLES  # the rate-adjusted I needs children
statistic = controls[4].radio("Statistic", list(statistics), format_func=statistics.get, key="hotspots_statistic")
wards = lsoa_wards(context.la_code)
reading = st.empty()

if context.team:
    start, end = team_period(context.cases, "hotspots_period", controls[1])
    geographies = {"lsoa21": "LSOA (2021)", "lsoa11": "LSOA (2011)", "ward": "Electoral ward",
                   "custom": "Your localities (upload)"}
    if not placed_on_lsoa21(context.cases, context.audience):
        geographies.pop("lsoa21")
    geography = controls[2].selectbox("Geography", options=list(geographies), format_func=geographies.get,
                                      key="hotspots_geography")
    measure_keys = ["smoothed_rate", "rate", "count"] if children is not None else ["count"]
    measure = controls[3].radio("Measure", measure_keys, format_func=MEASURES.get, key="hotspots_measure")
    with st.expander("Neighbours, smoothing and permutations"):
        options = st.columns(4)
        weights = options[0].selectbox("Neighbours", ["queen", "knn", "distance_band"], key="hotspots_weights",
                                       format_func={"queen": "Shared border or corner (queen)", "knn": "k nearest",
                                                    "distance_band": "Within a distance"}.get)
        k = options[1].number_input("k (nearest)", min_value=1, max_value=20, value=6, key="hotspots_k")
        threshold = options[1].number_input("Distance (metres)", min_value=100, max_value=50_000, value=1_500,
                                            step=100, key="hotspots_threshold")
        smoothing = options[2].radio("Smoothing towards", ["global", "local"], key="hotspots_smoothing",
                                     format_func={"global": "the council rate", "local": "the neighbours' rate"}.get)
        permutations = options[3].number_input("Permutations", min_value=99, max_value=99_999,
                                               value=DEFAULT_PERMUTATIONS, step=100, key="hotspots_permutations")
        seed = options[3].number_input("Seed", min_value=0, value=DEFAULT_SEED, key="hotspots_seed")
    if geography == "custom":
        areas = locality_upload(context.la_code, "hotspots", "count cases by locality")
        if areas is None:
            st.stop()
    else:
        try:
            areas = hotspot_areas(geography, context.la_code)
        except (FileNotFoundError, LookupError) as problem:  # LookupError: ehmap.lsoa21.Lsoa21Missing
            st.error(error_text(problem))
            st.stop()
    try:
        view = team_hotspots(context.cases, areas, need, start, end, population_on(areas.kind)[0], measure, statistic,
                             weights, int(k), float(threshold), int(permutations), int(seed), smoothing, wards)
    except ValueError as problem:
        st.error(plain(problem))
        st.stop()
else:
    release = dataset_release(context)
    period = released_period(release, "hotspots_release_period", controls[1])
    controls[2].caption(release.geography_sentence(need))
    try:
        view = released_hotspots(release, context.cases, need, period.key, children, statistic, lsoa_wards=wards)
    except ValueError as problem:
        st.error(plain(problem))
        st.stop()
    areas = view.areas
show_reading(view.reading, reading)

choropleth = label_choropleth(view.table["label"])
geometry = areas.areas[["code", "geometry"]].merge(view.table, on="code")
geometry["episodes"] = geometry["episodes"].astype(str)
tooltip = {"name": "Area", "code": "Code", "episodes": "Episodes", "label": "Result"}
map_column, side_column = st.columns([3, 2])
with map_column:
    basemap = st.toggle("Basemap (OpenStreetMap tiles; needs internet)", value=False, key="hotspots_basemap")
    show_map(area_map(geometry, label_choropleth(geometry["label"]).colours, tooltip, basemap=basemap,
                      attribution=areas.attribution), "hotspots_map")
with side_column:
    legend(statistics[statistic], choropleth.legend)
    st.markdown(f"**What 'significant' means.** {view.explanation}")
    st.caption(f"Without the correction, {view.uncorrected} area(s) would have looked significant at 95%.")
    st.caption(f"**How cases are placed.** {plain(areas.rule)} {plain(areas.source_note)}.")
    if view.outside:
        st.caption(f"{view.outside:,} episode(s) are in LSOAs outside every area and are not counted.")
    if population_missing:
        st.caption(f"Counts only: {population_missing}")
    for note in view.notes:
        st.caption(plain(note))
    if view.method:
        st.caption(plain(view.method))

st.subheader("Hot spots")
if view.hot.empty:
    st.info("No area is a significant hot spot after correcting for multiple testing.")
else:
    st.dataframe(view.hot[list(view.columns)].rename(columns=view.columns), hide_index=True, width="stretch",
                 key="hotspots_hot_table")
with st.expander("All areas"):
    st.dataframe(view.table[list(view.columns)].rename(columns=view.columns), hide_index=True, width="stretch")
released_downloads(context, view.downloads, view.method, "all areas")
st.caption(reference_versions(*population_sources(view.areas.kind)))
