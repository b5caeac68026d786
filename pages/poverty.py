"""Destabilised by poverty: financial-stability and housing needs by area and by national deprivation decile."""

import streamlit as st

from ehmap.text import plain
from ehmap.views.context import RELEASED_DECILE, released_poverty, team_poverty
from ehmap.views.need_map import map_geographies
from ui.audience import dataset_release, page_context
from ui.state import CONTEXT_FILES, council_context_table, hotspot_areas, population, reference_versions
from ui.views import draw_area_map, lsoa_wards, released_downloads, released_period, team_period

context = page_context("Destabilised by poverty")
indices, missing = council_context_table(context.la_code)
children, population_missing = population()
deciles = {name: column.title for name, column in indices.columns.items()
           if column.column_id in ("idaci_decile", "imd_decile")}
deciles = dict(sorted(deciles.items(), key=lambda item: ("idaci" not in item[0], item[0])))  # IDACI first
if not deciles:
    st.warning("No IDACI or IMD deciles are loaded. " + (" ".join(map(plain, missing)) or "Add one on *Data sources*."),
               icon="📂")
    st.stop()

groups = {
    ("financial_stability", "housing"): "Financial stability or secure housing",
    ("financial_stability",): "Financial stability",
    ("housing",): "Secure housing",
}
wards = lsoa_wards(context.la_code)
controls = st.columns([2, 2, 2, 1.4])
geographies = map_geographies(wards is not None)
geography = controls[3].radio("Map by", list(geographies), format_func=geographies.get, horizontal=True,
                              key=f"poverty_geography_{context.audience}",
                              help="Wards add up their LSOAs' episodes, families and children, so small counts matter "
                                   "less.")
if context.team:
    needs = controls[0].selectbox("Needs", options=list(groups), format_func=groups.get, key="poverty_needs")
    start, end = team_period(context.cases, "poverty_period", controls[1])
    decile_column = controls[2].selectbox("Deprivation deciles", options=list(deciles), format_func=deciles.get,
                                          key="poverty_decile")
    view = team_poverty(context.cases, hotspot_areas("lsoa11", context.la_code), indices, decile_column, children,
                        needs, start, end, wards, context.result.warnings.get("unrecognised_needs"),
                        hotspot_areas(geography, context.la_code))
else:
    release = dataset_release(context)
    controls[0].caption("Shared views: financial stability or secure housing, against the IoD2019 IMD deciles.")
    period = released_period(release, "poverty_release_period", controls[1])
    if RELEASED_DECILE not in indices.columns:
        st.warning("Released deprivation views need the IoD2019 file. " + " ".join(map(plain, missing)))
    view = released_poverty(release, period.key, children, wards, geography)
    if view.notice:
        st.caption(plain(view.notice))

if view.unmapped:
    st.warning(plain(view.unmapped), icon="🔎")
else:
    st.info(plain(view.reading))
if view.decile_note:
    st.caption(plain(view.decile_note))
if not view.comparison.empty:
    st.subheader("Most deprived fifth of areas against elsewhere")
    st.caption(plain(f"Families (each at its latest episode's LSOA) living in LSOAs of national decile 1 or 2 of "
                     f"{view.index_title}, against families elsewhere: the share with a poverty need, with its 95% "
                     "interval (Wilson)."))
    st.dataframe(view.comparison, hide_index=True, width="stretch")
if not view.ranked.empty:
    st.subheader("Areas ranked by families destabilised by poverty" if context.team
                 else "Areas ranked by the rate of poverty needs")
    st.dataframe(view.ranked, hide_index=True, width="stretch")
for note in view.notes:
    st.caption(plain(note))
draw_area_map(view.map, "poverty_map")
if population_missing:
    st.caption(plain(f"Counts only: {population_missing}"))

st.subheader("Living in the most deprived fifth of England")
st.caption(plain(f"Families (each at its latest episode's LSOA) in LSOAs of national decile 1 or 2 of "
                 f"{view.index_title}. {view.finding}"))
st.dataframe(view.shares, hide_index=True, width="stretch")
st.subheader("By national decile")
st.dataframe(view.by_decile, hide_index=True, width="stretch")
st.subheader("Areas")
st.dataframe(view.map.shown_table(), hide_index=True, width="stretch")
for note in indices.notes:
    st.caption(plain(note))
released_downloads(context, view.downloads, view.map.method, "this table")
st.caption(reference_versions(*CONTEXT_FILES))
