"""Small drawing helpers shared by pages (legends, dataset notes)."""

from __future__ import annotations

import re

import folium
import streamlit as st
from streamlit_folium import st_folium

from ehmap.maps import LegendEntry
from ehmap.text import html_text

_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")
_KEY = re.compile(r"[A-Za-z0-9_]+")


def _colour(value: str) -> str:
    """A legend colour as written by ehmap (#rgb to #rrggbbaa); anything else is drawn grey, never interpolated."""
    return value if _COLOUR.fullmatch(value) else "#999999"


def legend(title: str, entries: list[LegendEntry]) -> None:
    """A map legend in plain HTML (a branca colour map would pull d3 from a CDN).

    Every text is escaped with `ehmap.text.html_text` (one line, no markup) and colours must be hex codes, so
    nothing in the legend is data rendered as markup; on one line the HTML block also keeps Markdown out.
    """
    rows = "".join(
        f'<div style="display:flex;align-items:center;margin:2px 0">'
        f'<span style="display:inline-block;width:18px;height:14px;background:{_colour(entry.colour)};'
        f'border:1px solid #777;margin-right:8px"></span>{html_text(entry.label)}</div>'
        for entry in entries
    )
    st.markdown(f'<div class="ehmap-legend"><strong>{html_text(title)}</strong>{rows}</div>', unsafe_allow_html=True)


MAP_HEIGHT = "clamp(320px, calc(100vh - 160px), 860px)"  # the map frame's height: the viewport's, within limits


def map_height_style(key: str, height: str) -> str:
    """CSS giving the map frame inside the container keyed `key`_box a height that follows the viewport."""
    return (f'<style>.st-key-{key}_box iframe[title="streamlit_folium.st_folium"]'
            f"{{height:{height} !important;display:block}}</style>")


def show_map(fmap: folium.Map, key: str, height: str = MAP_HEIGHT,
             returned_objects: list[str] | None = None) -> dict | None:
    """Draw a folium map with a stable key, nothing sent back unless asked, as tall as `height` (CSS, from the
    viewport) and framed to its real size in the browser (`ehmap.maps` fits the council on load and on resize).

    `returned_objects=[]` keeps a pan or zoom from rerunning the page. No centre or zoom is passed: streamlit-folium
    would set that view after the map fitted itself.

    The map frame cannot be kept from the parent page: Streamlit's frontend gives every component iframe the
    fixed sandbox "allow-scripts allow-same-origin ..." (DEFAULT_IFRAME_SANDBOX_POLICY in IFrameUtil, not a
    config option) and serves the component from the app's own origin, so script in the frame could reach the
    app. The defence is that no script gets in: every data string in a tooltip or label is escaped by
    `ehmap.text.html_text` (ehmap.maps, ehmap.coverage), and only Leaflet, served locally, runs there.
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"A map key is letters, digits and underscores; got {key!r}.")
    with st.container(key=f"{key}_box"):
        st.html(map_height_style(key, height))
        return st_folium(fmap, key=key, returned_objects=returned_objects or [], height=480,
                         use_container_width=True)
