"""ehmap: the frame. Routes the pages and owns the widgets shared across them (council, dataset)."""

from pathlib import Path

import streamlit as st

from ehmap.access import allowed_councils
from ehmap.maps import install_leaflet
from ehmap.text import plain
from ui.auth import sign_in_gate, user_box
from ui.share import copy_link_control, restore_frame, restore_page, sign_in_hint
from ui.state import (
    COUNCIL_KEY,
    council_names,
    current_dataset,
    dataset_selector,
    first_council_index,
)

st.set_page_config(page_title="ehmap: Early Help needs map", page_icon=":world_map:", layout="wide")
sign_in_hint()  # a share link followed before signing in: open it again after (st.login drops the query)
user = sign_in_gate()  # who is looking: the run stops here (no navigation, no data) unless they have a role
install_leaflet(Path(__file__).parent / "static")

names = allowed_councils(user, council_names())  # a user restricted to councils can pick only those
restore_frame(names)  # arriving at a share link: its council and dataset, before the sidebar draws them
with st.sidebar:
    user_box(user, names)
    st.selectbox(
        "Council",
        options=list(names),
        index=first_council_index(names),  # where this user left off last time (else Croydon)
        format_func=lambda code: f"{names[code]} ({code})",
        key=COUNCIL_KEY,
    )
    dataset_selector()  # the council's saved datasets (and the demo for Croydon), remembered per user

dataset = current_dataset()
if dataset.is_demo:
    st.info(f"**{plain(dataset.label)}.** Saved datasets are chosen in the sidebar and added on *Your data*.",
            icon="🧪")

pages = st.navigation(
    {  # grouped by the three questions a service head asks, then the data behind them
        "Where are the needs?": [
            st.Page("pages/need_map.py", url_path="", title="Need map", icon="🗺️", default=True),  # "": not need_map
            st.Page("pages/hotspots.py", url_path="hot-spots", title="Hot spots", icon="🔥"),
            st.Page("pages/deprivation.py", url_path="deprivation-context", title="Deprivation context", icon="🏘️"),
            st.Page("pages/need_deprivation.py", url_path="need-and-deprivation", title="Need and deprivation", icon="🔀"),
            st.Page("pages/poverty.py", url_path="destabilised-by-poverty", title="Destabilised by poverty", icon="💷"),
        ],
        "Do services reach them?": [st.Page("pages/coverage.py", url_path="service-coverage", title="Service coverage", icon="📍")],
        "What works?": [
            st.Page("pages/performance.py", url_path="which-services-help", title="Which services help most", icon="📊"),
            st.Page("pages/trends.py", url_path="trends-over-time", title="Trends", icon="📈"),
            st.Page("pages/business_case.py", url_path="business-case", title="Business case", icon="🧮"),
            st.Page("pages/report.py", url_path="board-report", title="Board report", icon="🖨️"),
        ],
        "Data": [
            st.Page("pages/your_data.py", url_path="your-data", title="Your data", icon="📄"),
            st.Page("pages/data_sources.py", url_path="data-sources", title="Data sources", icon="📂"),
            st.Page("pages/about.py", url_path="about-and-sources", title="About and sources", icon="ℹ️"),
        ],
    },
    expanded=True,
)
from ui.errors import run_page  # noqa: E402 - the frame-level guard, beside the one line that uses it

restore_page(pages, dataset, names)  # arriving at a share link: the page's choices and period, before it runs
run_page(pages)  # a page that fails says why in one sentence, never with a traceback or a server path
copy_link_control(pages, dataset)  # the view's choices into the URL, and "Copy link to this view" in the sidebar

from ehmap.process import freeze_long_lived_objects  # noqa: E402

freeze_long_lived_objects()  # after a run that imported modules: Streamlit's post-run collection then skips them
