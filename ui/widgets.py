"""Small drawing helpers shared by pages (legends, dataset notes)."""

from __future__ import annotations

import html

import streamlit as st

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
