"""Need x deprivation: case rate per 1,000 children against IMD or IDACI, in tertiles, and the mismatches."""

import streamlit as st

from ehmap.context import bivariate
from ehmap.maps import area_map
from ehmap.needmap import CaseFilter, need_map_table
from ehmap.taxonomy import NEEDS
from ui.state import (
    council_areas,
    council_context_table,
    council_page,
    population,
)
from ui.widgets import legend, show_map

la_code, council, result, label = council_page("Need and deprivation")
context, missing = council_context_table(la_code)
children, population_missing = population()
if population_missing:
    st.warning(f"Rates need the child population. {population_missing} Add it on *Data sources*.", icon="📂")
    st.stop()
measures = {
    name: column.title
    for name, column in context.columns.items()
    if column.column_id in ("imd_score", "idaci_score", "imd_rank", "idaci_rank")
}
if not measures:
    st.warning("No IMD or IDACI values are loaded. " + " ".join(missing) + " Add one on *Data sources*.", icon="📂")
    st.stop()

needs = {None: "All needs", **{need.key: need.headline for need in NEEDS}}
controls = st.columns(2)
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="bivariate_need")
measure = controls[1].selectbox(
    "Deprivation measure", options=list(measures), format_func=measures.get, key="bivariate_measure"
)

table = need_map_table(result.cases, council_areas(la_code), CaseFilter(need), children)
view = bivariate(table.areas, context, measure)
geometry = council_areas(la_code).merge(view.areas[["lsoa11cd", "episodes", "rate", "deprivation"]], on="lsoa11cd")
geometry["rate"] = geometry["rate"].astype("string").fillna("hidden")
tooltip = {
    "lsoa11nm": "LSOA",
    "lsoa11cd": "Code",
    "rate": "Episodes per 1,000 children",
    "deprivation": view.deprivation_title,
}

map_column, side_column = st.columns([3, 2])
with map_column:
    fmap = area_map(geometry, view.areas["colour"], tooltip)
    show_map(fmap, "bivariate_map")
with side_column:
    legend(f"{needs[need]} rate × {view.deprivation_title}", view.legend)
    st.caption(
        f"Tertiles are this council's own: need rates split at {view.rate_breaks[0]:.1f} and {view.rate_breaks[1]:.1f} "
        "episodes per 1,000 children aged 0-17; deprivation likewise. " + table.note
    )
    for note in context.notes:
        st.caption(note)

columns = {
    "lsoa11cd": "LSOA code",
    "lsoa11nm": "LSOA name",
    "episodes": "Episodes",
    "rate": "Rate per 1,000",
    "rate_lower": "95% CI lower",
    "rate_upper": "95% CI upper",
    "deprivation": view.deprivation_title,
}
st.subheader("High need, low deprivation")
st.caption("Places an index alone would miss: top third for this need's rate, least deprived third of the council.")
st.dataframe(view.high_need_low_deprivation.rename(columns=columns), hide_index=True, width="stretch")
st.subheader("Low need, high deprivation")
st.caption("Most deprived third of the council but lowest third for this need's rate: under-reached, or well served?")
st.dataframe(view.low_need_high_deprivation.rename(columns=columns), hide_index=True, width="stretch")
