"""Deprivation context: any loaded index on its own LSOAs (IoD2025 on LSOA 2021, IoD2019 on LSOA 2011), every area
named with its ward, and IoD2019 and IoD2025 side by side."""

import streamlit as st

from ehmap.context import TREND_WARNING, indicator_choropleth, side_by_side
from ehmap.maps import area_map
from ehmap.text import plain
from ehmap.views.deprivation import area_choices, deprivation_map_reading, on_lsoa11, on_lsoa21
from ui.frame import require_frame
from ui.state import (
    CONTEXT_FILES,
    council_areas,
    council_context_table,
    council_names,
    index_on_lsoa21,
    reference_versions,
    selected_council,
)
from ui.views import lsoa_wards
from ui.widgets import legend, show_map

require_frame()

la_code = selected_council()
council = council_names()[la_code]
st.title(f"Deprivation context: {council}")
context, missing = council_context_table(la_code)
for problem in missing:  # each names the file and how to add it
    st.warning(plain(problem), icon="📂")
if not context.columns:
    st.info("No index is loaded yet, so there is nothing to map. *Data sources* says how to add one.")
    st.stop()

choices = {name: column for name, column in context.columns.items() if column.polarity != "count"} | {
    name: column for name, column in context.columns.items() if column.polarity == "count"
}
preferred = ["iod2025_imd_decile", "iod2019_imd_decile"]  # the latest index first
default = next((list(choices).index(name) for name in preferred if name in choices), 0)
chosen = st.selectbox(
    "Indicator", options=list(choices), index=default, format_func=lambda n: choices[n].title, key="context_indicator"
)
meta = choices[chosen]
offered = area_choices(context, chosen)
geography = st.radio("Areas", list(offered), format_func=offered.get, horizontal=True, key="context_areas",
                     help="IoD2025 is published on LSOA 2021 and IoD2019 on LSOA 2011; each can be carried to the "
                          "other vintage through the ONS exact-fit lookup (the page says how).")
view = None
if geography == "lsoa21":
    (joined, how), problem = index_on_lsoa21(la_code, meta.source_id)
    if joined is None:
        st.warning(plain(f"Shown on LSOA 2011 instead: {problem}"), icon="📂")
    else:
        view = on_lsoa21(joined, how, context, chosen)
if view is None:
    view = on_lsoa11(council_areas(la_code), context, chosen, lsoa_wards(la_code))
reading = st.empty()
choropleth = indicator_choropleth(view.areas["value"], meta.polarity)
geometry = view.areas.assign(value=view.areas["value"].round(3).astype("string").fillna("").to_numpy())
map_column, side_column = st.columns([3, 2])
with map_column:
    tooltip = {"name": "LSOA", "code": "Code", "ward": "Ward", "value": meta.title}
    fmap = area_map(geometry, choropleth.colours, tooltip, attribution=view.attribution,
                    label=f"Map of {meta.title}, {council}, {view.area_word}")
    show_map(fmap, "context_map")
with side_column:
    legend(meta.title, choropleth.legend)
    st.caption(
        "Deciles are national (1 = the most deprived 10% of LSOAs in England), as the publisher defines them; "
        "other measures are in five classes of this council's values."
    )
    for note in view.notes:
        st.caption(plain(note))
    st.caption(f"{view.area_word}: {len(view.areas)}; with a value: {int(view.areas['value'].notna().sum())}.")
reading.info(plain(deprivation_map_reading(view, context, chosen, council)))

st.subheader("Areas")
st.dataframe(view.table(), hide_index=True, width="stretch")

st.subheader("IoD2019 and IoD2025 side by side")
st.caption(TREND_WARNING)
pair = side_by_side(context, meta.column_id)
if pair is None:
    st.info(f"{meta.title} is not loaded from both IoD2019 and IoD2025, so there is nothing to set beside it.")
else:
    st.dataframe(pair, hide_index=True, width="stretch")
st.caption(reference_versions(*CONTEXT_FILES))
