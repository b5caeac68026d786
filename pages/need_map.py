"""Need map: where each need is concentrated, and the areas ranked by rate, as the team's exact figures or as
released."""

import streamlit as st

from ehmap.lsoa21 import population_sources
from ehmap.maps import area_map
from ehmap.views.need_map import (
    MEASURES,
    map_geographies,
    map_stem,
    map_title,
    measures,
    need_map_reading,
    need_options,
    placed_on_lsoa21,
    ranked_geography,
    ranking_kinds,
    released_geography_notice,
    released_need_map,
    released_need_ranking,
    team_need_map,
    team_need_ranking,
)
from ui.audience import dataset_release, page_context
from ui.present import projected_map, projector_toggle
from ui.state import hotspot_areas, population, population_on, reference_versions
from ui.views import (
    draw_area_map,
    draw_ranking,
    lsoa_wards,
    map_image_download,
    map_layers,
    released_downloads,
    released_period,
    show_reading,
    team_period,
)

context = page_context("Need map")
children, population_missing = population()
wards = lsoa_wards(context.la_code)
needs = need_options()
actions = st.container(horizontal=True, vertical_alignment="center", key="need_map_actions")  # first to reach
controls = st.columns([2, 2, 2, 1.6])
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="need_map_need")
offered = measures(context.audience, children is not None)
measure = controls[3].radio("Measure", offered, format_func=MEASURES.get, key=f"need_map_measure_{context.audience}",
                            help="Smoothed rates pull small populations towards the council rate (empirical Bayes), "
                                 "so an LSOA with few children and one episode does not top the map.")
geographies = map_geographies(wards is not None, placed_on_lsoa21(context.cases, context.audience))
geography = controls[3].radio("Map by", list(geographies), format_func=geographies.get, horizontal=True,
                              key=f"need_map_geography_{context.audience}",
                              help="Wards add up their LSOAs' episodes and children, so small counts matter less. "
                                   "LSOA 2021 is the ONS's current small area (the team's own figures only).")
reading = st.empty()
if context.team:
    start, end = team_period(context.cases, "need_map_period", controls[1])
    services = [None, *sorted(context.cases["service"].dropna().unique())]
    service = controls[2].selectbox("Service", options=services, format_func=lambda s: s or "All services",
                                    key="need_map_service")
    view = team_need_map(context.cases, hotspot_areas(geography, context.la_code), need, start, end, service, measure,
                         population_on(geography)[0], wards)
    kinds = ranking_kinds(context.audience)
    if wards is None:
        kinds.pop("ward")
else:
    release = dataset_release(context)
    period = released_period(release, "need_map_release_period", controls[1])
    controls[2].caption("Shared views show all services together: a service within small areas is never released.")
    view = released_need_map(release, need, period.key, measure, children, wards)
    if notice := released_geography_notice(release, need, geography):
        st.caption(notice)
    kinds = ranking_kinds(context.audience, release, need)

when = f"referrals {start:%d/%m/%Y} to {end:%d/%m/%Y}" if context.team else period.label
title = map_title(need, view, context.council, when)
layers = map_layers(view)
if context.projected:
    ranked = None if children is None else released_need_ranking(release, need, period.key, children, wards)
    fmap = area_map(layers.geometry, layers.choropleth.colours, layers.tooltip, attribution=view.areas.attribution,
                    label=f"Map of {title}", outline=("#000000", 1.2))
    projected_map(fmap, title, view.value_title, layers.choropleth.legend, need_map_reading(view, ranked),
                  view.marking, "need_map_need", list(needs))
    st.stop()

with actions:
    projector_toggle()
    map_image_download(context, view, layers, title, map_stem(context.la_code, need, view))
    released_downloads(context, view.downloads, view.method, "this table")
draw_area_map(view, "need_map", label=f"Map of {title}", layers=layers)
if population_missing:
    st.caption(f"Counts only: {population_missing}")

st.subheader("Where is it highest? Areas ranked by rate")
ranked = None
if children is None:
    st.caption("Areas are ranked by rate per 1,000 children, which needs the child population.")
else:
    kind = st.radio("Rank", list(kinds), format_func=kinds.get, horizontal=True,
                    key=f"need_map_rank_{context.audience}_{'_'.join(kinds)}",
                    help="Wards pool their LSOAs' episodes, so their intervals are narrower. LSOAs are those the map "
                         "is drawn on (2021 or 2011).")
    if context.team:
        kind = ranked_geography(kind, geography, context.cases)
        ranked = team_need_ranking(context.cases, hotspot_areas(kind, context.la_code), need, start, end, service,
                                   population_on(kind)[0], wards)
    else:
        ranked = released_need_ranking(release, need, period.key, children, wards)
    draw_ranking(ranked)
show_reading(need_map_reading(view, ranked), reading)

st.subheader(view.areas.title if context.team else "Areas")
st.dataframe(view.shown_table(), hide_index=True, width="stretch")
st.caption(reference_versions(*population_sources(geography if context.team else "lsoa11")))
