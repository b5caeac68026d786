"""ehmap: the frame. Routes the pages and owns the widgets shared across them (council, dataset)."""

from pathlib import Path

import streamlit as st

from ehmap.maps import install_leaflet
from ehmap.demo import DEMO_LA_CODE
from ui.state import (
    COUNCIL_KEY,
    DATASET_KEY,
    DEMO,
    SWITCH_TO_UPLOAD_KEY,
    UPLOAD_KEY,
    UPLOADED,
    council_names,
    current_dataset,
)

st.set_page_config(page_title="ehmap: Early Help needs map", page_icon=":world_map:", layout="wide")
install_leaflet(Path(__file__).parent / "static")

names = council_names()
with st.sidebar:
    st.selectbox(
        "Council",
        options=list(names),
        index=list(names).index(DEMO_LA_CODE),
        format_func=lambda code: f"{names[code]} ({code})",
        key=COUNCIL_KEY,
    )
    if st.session_state.pop(SWITCH_TO_UPLOAD_KEY, False):
        st.session_state[DATASET_KEY] = UPLOADED
    datasets = {DEMO: "Synthetic demo (Croydon)"}
    if UPLOAD_KEY in st.session_state:
        datasets[UPLOADED] = f"Your upload: {st.session_state[UPLOAD_KEY].filename}"
    st.radio("Dataset", options=list(datasets), format_func=datasets.get, key=DATASET_KEY)

_, label, is_demo = current_dataset()
if is_demo:
    st.info(f"**{label}.** Upload your own export on *Your data*; it stays in your session only.", icon="🧪")

pages = st.navigation(
    {  # grouped by the three questions a service head asks, then the data behind them
        "Where are the needs?": [
            st.Page("pages/need_map.py", title="Need map", icon="🗺️", default=True),
            st.Page("pages/hotspots.py", title="Hot spots", icon="🔥"),
            st.Page("pages/deprivation.py", title="Deprivation context", icon="🏘️"),
            st.Page("pages/need_deprivation.py", title="Need and deprivation", icon="🔀"),
            st.Page("pages/poverty.py", title="Destabilised by poverty", icon="💷"),
        ],
        "Do services reach them?": [st.Page("pages/coverage.py", title="Service coverage", icon="📍")],
        "What works?": [
            st.Page("pages/performance.py", title="Which services help most", icon="📊"),
            st.Page("pages/trends.py", title="Trends", icon="📈"),
            st.Page("pages/business_case.py", title="Business case", icon="🧮"),
            st.Page("pages/report.py", title="Board report", icon="🖨️"),
        ],
        "Data": [
            st.Page("pages/your_data.py", title="Your data", icon="📄"),
            st.Page("pages/data_sources.py", title="Data sources", icon="📂"),
            st.Page("pages/about.py", title="About and sources", icon="ℹ️"),
        ],
    },
    expanded=True,
)
pages.run()
