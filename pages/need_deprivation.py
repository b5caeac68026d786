"""Need x deprivation: case rate per 1,000 children against IMD or IDACI, in tertiles, and the mismatches."""

import streamlit as st

from ehmap.maps import area_map
from ehmap.text import plain
from ehmap.views.context import released_bivariate, team_bivariate
from ehmap.views.need_map import need_options
from ui.audience import dataset_release, page_context
from ui.state import CONTEXT_FILES, council_areas, council_context_table, hotspot_areas, population, reference_versions
from ui.views import released_downloads, released_period, team_period
from ui.widgets import legend, show_map

context = page_context("Need and deprivation")
indices, missing = council_context_table(context.la_code)
children, population_missing = population()
if population_missing:
    st.warning(f"Rates need the child population. {population_missing}", icon="📂")
    st.stop()
measures = {name: column.title for name, column in indices.columns.items()
            if column.column_id in ("imd_score", "idaci_score", "imd_rank", "idaci_rank")}
if not measures:
    st.warning("No IMD or IDACI values are loaded. " + (" ".join(map(plain, missing)) or "Add one on *Data sources*."),
               icon="📂")
    st.stop()

needs = need_options()
controls = st.columns(3)
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="bivariate_need")
measure = controls[2].selectbox("Deprivation measure", options=list(measures), format_func=measures.get,
                                key="bivariate_measure")
method = None
if context.team:
    start, end = team_period(context.cases, "bivariate_period", controls[1])
    view = team_bivariate(context.cases, hotspot_areas("lsoa11", context.la_code), indices, need, start, end, measure,
                          children)
else:
    release = dataset_release(context)
    period = released_period(release, "bivariate_release_period", controls[1])
    view, sentence, method = released_bivariate(release, indices, need, period.key, measure, children)
    st.caption(plain(sentence))
    if view is None:
        st.stop()

st.info(plain(view.reading))
geometry = council_areas(context.la_code).merge(view.areas[["lsoa11cd", "episodes", "rate", "deprivation"]],
                                                 on="lsoa11cd")
geometry["rate"] = geometry["rate"].astype("string").fillna("hidden")
tooltip = {"lsoa11nm": "LSOA", "lsoa11cd": "Code", "episodes": "Episodes", "rate": "Episodes per 1,000 children",
           "deprivation": view.deprivation_title}
map_column, side_column = st.columns([3, 2])
with map_column:
    show_map(area_map(geometry, view.areas.set_index("lsoa11cd").loc[geometry["lsoa11cd"], "colour"]
                      .reset_index(drop=True), tooltip), "bivariate_map")
with side_column:
    legend(f"{needs[need]} rate × {view.deprivation_title}", view.legend)
    st.caption(
        f"Tertiles are this council's own: need rates split at {view.rate_breaks[0]:.1f} and "
        f"{view.rate_breaks[1]:.1f} episodes per 1,000 children aged 0-17; deprivation likewise."
    )
    for note in indices.notes:
        st.caption(plain(note))
    if method:
        st.caption(plain(method))

columns = {"lsoa11cd": "LSOA code", "lsoa11nm": "LSOA name", "episodes": "Episodes", "rate": "Rate per 1,000",
           "rate_lower": "95% CI lower", "rate_upper": "95% CI upper", "deprivation": view.deprivation_title}
high, low = view.high_need_low_deprivation, view.low_need_high_deprivation
st.markdown(f"**{len(high)} LSOA(s) have a high rate for this need but are among the council's least deprived; "
            f"{len(low)} are among the most deprived but have a low rate.** Check them against local knowledge: "
            "under-reached, or well served?")
st.subheader("High need, low deprivation")
st.caption("Places an index alone would miss: top third for this need's rate, least deprived third of the council.")
st.dataframe(high.rename(columns=columns), hide_index=True, width="stretch")
st.subheader("Low need, high deprivation")
st.caption("Most deprived third of the council but lowest third for this need's rate: under-reached, or well served?")
st.dataframe(low.rename(columns=columns), hide_index=True, width="stretch")
if not context.team:
    stem = f"ehmap_released_need_deprivation_{context.la_code}_{need or 'all'}_{period.key}"
    released_downloads(context, {stem: view.areas[["lsoa11cd", "lsoa11nm", "episodes", "rate"]]
                                 .rename(columns=columns)}, method, "this table")
st.caption(reference_versions(*CONTEXT_FILES))
