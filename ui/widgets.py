"""Small drawing helpers shared by pages (legends, dataset notes)."""

from __future__ import annotations

import re

import folium
import streamlit as st
from streamlit_folium import st_folium

from ehmap.maps import LegendEntry
from ehmap.text import html_text

_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")


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


def show_map(fmap: folium.Map, key: str, height: int = 620, returned_objects: list[str] | None = None) -> dict | None:
    """Draw a folium map with a stable key, nothing sent back unless asked, and its own centre and zoom.

    `returned_objects=[]` keeps a pan or zoom from rerunning the page; an explicit centre and zoom frame the
    council tightly (fit_bounds framed loosely).

    The map frame cannot be kept from the parent page: Streamlit's frontend gives every component iframe the
    fixed sandbox "allow-scripts allow-same-origin ..." (DEFAULT_IFRAME_SANDBOX_POLICY in IFrameUtil, not a
    config option) and serves the component from the app's own origin, so script in the frame could reach the
    app. The defence is that no script gets in: every data string in a tooltip or label is escaped by
    `ehmap.text.html_text` (ehmap.maps, ehmap.coverage), and only Leaflet, served locally, runs there.
    """
    return st_folium(fmap, key=key, returned_objects=returned_objects or [], height=height,
                     use_container_width=True, center=fmap.location, zoom=fmap.options.get("zoom", 11))
