"""Projector mode: the need map filling the screen for a room, in large type, always as released.

One toggle on the need map (or a `?present=1` link) turns it on; the mode lives in the query parameter, so the link
can be shared. Who sees what is decided in `ui.audience.page_context` (a projected page is always the released
view, `ehmap.audience.audience_for`); this module only reads the mode and draws the screen.
"""

from __future__ import annotations

import folium
import streamlit as st

from ehmap.maps import LegendEntry
from ehmap.text import plain
from ui.widgets import legend, show_map

PRESENT_PARAM = "present"
TOGGLE_KEY = "projector_mode"
WANTED_KEY = "_projector_wanted"  # True or False: switched on or off since the last run
CONTAINER_KEY = "ehmap_present"
TYPE_PX = 24  # legend and reading: readable from the back of a room at 1080p
MAP_HEIGHT = "max(240px, calc(100vh - 96px))"  # the map fills what the heading row leaves

SCREEN_STYLE = f"""<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] > :not(:has(.st-key-{CONTAINER_KEY}))
  {{display:none !important}}
[data-testid="stMainBlockContainer"] {{padding:0.5rem 1rem !important;max-width:100% !important}}
.st-key-{CONTAINER_KEY} {{font-size:{TYPE_PX}px;color:#000}}
.st-key-{CONTAINER_KEY} p, .st-key-{CONTAINER_KEY} .ehmap-legend {{font-size:{TYPE_PX}px !important;
  line-height:1.3;color:#000}}
.st-key-{CONTAINER_KEY} .ehmap-legend span {{width:1.3em !important;height:1em !important;
  border:2px solid #000 !important}}
.st-key-{CONTAINER_KEY} .st-key-projector_heading p {{font-size:clamp(18px, 1.6vw + 6px, 32px) !important;
  font-weight:700;margin:0;line-height:1.2}}
.st-key-{CONTAINER_KEY} button p {{font-size:18px !important}}
</style>"""


def presenting() -> bool:
    """True when the page is in projector mode (`?present=1`), after applying a switch made since the last run (the
    query parameter is changed here, in the run: changed in a callback, the browser's address kept the old one)."""
    wanted = st.session_state.pop(WANTED_KEY, None)
    if wanted is True:
        st.query_params[PRESENT_PARAM] = "1"
    elif wanted is False and PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]
    return st.query_params.get(PRESENT_PARAM) == "1"


def _follow_toggle() -> None:
    if st.session_state.get(TOGGLE_KEY):
        st.session_state[WANTED_KEY] = True


def stop_presenting() -> None:
    """Leave projector mode (on the next run) and switch the toggle off."""
    st.session_state[WANTED_KEY] = False
    st.session_state[TOGGLE_KEY] = False


def projector_toggle(container=st) -> None:
    """The one switch into projector mode (the released map filling the screen)."""
    container.toggle("Projector mode", key=TOGGLE_KEY, on_change=_follow_toggle,
                     help="The map fills the screen in large type for a room, always as released (the figures "
                          "a viewer sees). The left and right arrow keys step through the needs.")


def hide_the_rest() -> None:
    """Hide the sidebar, the header and everything on the page outside the projector container."""
    st.html(SCREEN_STYLE)


def step_need(need_key: str, options: list, step: int) -> None:
    """Show the previous (-1) or next (+1) need, wrapping round (sets the page's hidden need picker)."""
    current = st.session_state.get(need_key)
    index = options.index(current) if current in options else 0
    st.session_state[need_key] = options[(index + step) % len(options)]


def projected_map(fmap: folium.Map, heading: str, legend_title: str, entries: list[LegendEntry], reading: str,
                  marking: str, need_key: str, needs: list) -> None:
    """The projector screen: a heading with the need buttons, the map filling the rest, the legend and the
    plain-English reading beside it in large type, and the released marking."""
    with st.container(key=CONTAINER_KEY):
        top = st.columns([5, 1.2, 1.2, 1.2], vertical_alignment="center")
        with top[0].container(key="projector_heading"):
            st.markdown(plain(heading))
        top[1].button("Previous", icon=":material/arrow_back:", shortcut="Left", help="Previous need",
                      on_click=step_need, args=(need_key, needs, -1), width="stretch")
        top[2].button("Next", icon=":material/arrow_forward:", shortcut="Right", help="Next need",
                      on_click=step_need, args=(need_key, needs, 1), width="stretch")
        top[3].button("Exit", icon=":material/close:", on_click=stop_presenting, help="Leave projector mode",
                      width="stretch")
        map_column, side_column = st.columns([5, 2])
        with map_column:
            show_map(fmap, "projector_map", height=MAP_HEIGHT)
        with side_column:
            legend(legend_title, entries)
            with st.container(key="projector_reading"):
                st.markdown(plain(reading))
            st.caption(plain(marking))
