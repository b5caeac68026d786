"""Deprivation context: any loaded index on the council's LSOAs, IoD2019 and IoD2025 side by side."""

import streamlit as st

from ehmap.context import TREND_WARNING, deprivation_reading, indicator_choropleth, side_by_side
from ehmap.maps import area_map
from ehmap.text import plain
from ui.frame import require_frame
from ui.state import (
    CONTEXT_FILES,
    council_areas,
    council_context_table,
    council_names,
    reference_versions,
    selected_council,
)
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
st.info(plain(deprivation_reading(context, chosen, council)))
values = context.areas[chosen]
choropleth = indicator_choropleth(values, meta.polarity)

geometry = council_areas(la_code).merge(context.areas[["lsoa11cd", chosen]], on="lsoa11cd", how="left")
geometry["value"] = values.round(3).astype("string").fillna("").to_numpy()
map_column, side_column = st.columns([3, 2])
with map_column:
    fmap = area_map(geometry, choropleth.colours, {"lsoa11nm": "LSOA", "lsoa11cd": "Code", "value": meta.title})
    show_map(fmap, "context_map")
with side_column:
    legend(meta.title, choropleth.legend)
    st.caption(
        "Deciles are national (1 = the most deprived 10% of LSOAs in England), as the publisher defines them; "
        "other measures are in five classes of this council's values."
    )
    for note in context.notes:
        st.caption(plain(note))
    st.caption(f"LSOAs: {len(context.areas)}; with a value: {int(values.notna().sum())}.")

st.subheader("IoD2019 and IoD2025 side by side")
st.caption(TREND_WARNING)
pair = side_by_side(context, meta.column_id)
if pair is None:
    st.info(f"{meta.title} is not loaded from both IoD2019 and IoD2025, so there is nothing to set beside it.")
else:
    st.dataframe(pair, hide_index=True, width="stretch")
st.caption(reference_versions(*CONTEXT_FILES))
