"""Small drawing helpers shared by pages (legends, dataset notes)."""

from __future__ import annotations

import html

import folium
import streamlit as st
from streamlit_folium import st_folium

from ehmap.maps import LegendEntry


def legend(title: str, entries: list[LegendEntry]) -> None:
    """A map legend in plain HTML (a branca colour map would pull d3 from a CDN)."""
    rows = "".join(
        f'<div style="display:flex;align-items:center;margin:2px 0">'
        f'<span style="display:inline-block;width:18px;height:14px;background:{entry.colour};'
        f'border:1px solid #777;margin-right:8px"></span>{html.escape(entry.label)}</div>'
        for entry in entries
    )
    st.markdown(f'<div class="ehmap-legend"><strong>{html.escape(title)}</strong>{rows}</div>', unsafe_allow_html=True)


def show_map(fmap: folium.Map, key: str, height: int = 620, returned_objects: list[str] | None = None) -> dict | None:
    """Draw a folium map with a stable key, nothing sent back unless asked, and its own centre and zoom.

    `returned_objects=[]` keeps a pan or zoom from rerunning the page; an explicit centre and zoom frame the
    council tightly (fit_bounds framed loosely).
    """
    return st_folium(fmap, key=key, returned_objects=returned_objects or [], height=height,
                     use_container_width=True, center=fmap.location, zoom=fmap.options.get("zoom", 11))
