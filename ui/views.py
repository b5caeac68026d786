"""Drawing what `ehmap.views` returns: period pickers, an area map with its legend and table, a reading, ranked
areas with their intervals, released downloads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import streamlit as st

from ehmap.audience import Audience, marking
from ehmap.audit import record
from ehmap.maps import Choropleth, area_map, classify
from ehmap.ranking import ABOVE, BELOW, WITHIN
from ehmap.referral_period import episodes_outside, period_sentence
from ehmap.release.gate import Release
from ehmap.release.periods import Period
from ehmap.safe_output import csv_bytes
from ehmap.text import plain
from ehmap.views import AreaView
from ehmap.views.need_map import RankedView
from ui.audience import PageContext
from ui.state import locality_file_columns, period_selector, uploaded_locality_areas, ward_names, ward_table
from ui.widgets import legend, show_map

HIDDEN_LABEL = "c: 1 to 7 episodes (hidden)"
RELEASE_PERIOD_KEY = "shared_release_period"  # the fixed period chosen for released views, shared across pages


def released_period(release: Release, key: str, container=st) -> Period:
    """A picker of the release's fixed periods (latest year first); the choice carries across pages."""
    options = [*reversed(release.calendar.years), release.calendar.all_years]
    keys = [p.key for p in options]
    remembered = st.session_state.get(RELEASE_PERIOD_KEY)
    chosen = container.selectbox("Period (financial year)", keys, index=keys.index(remembered)
                                 if remembered in keys else 0, format_func=lambda k: release.period(k).label, key=key,
                                 help="Shared figures are for whole financial years (April to March) or all years "
                                      "together: two periods a day apart would give away that day's episodes.")
    st.session_state[RELEASE_PERIOD_KEY] = chosen
    return release.period(chosen)


def team_period(cases: pd.DataFrame, key: str, container=st) -> tuple[dt.date, dt.date]:
    """The team's free referral-period picker (shared across pages, reset when the dataset changes), and one caption
    under it saying the period in force and how many of the dataset's episodes fall outside it."""
    start, end = period_selector(cases, key, container)
    start, end = start.date(), end.date()
    container.caption(period_sentence(start, end, episodes_outside(cases, start, end), len(cases)))
    return start, end


@dataclass(frozen=True)
class MapLayers:
    """What an area view's map draws (the live map, projector mode and the map image alike): the areas with their
    values as shown, the classes and colours, and the tooltip's columns."""

    geometry: gpd.GeoDataFrame
    choropleth: Choropleth
    tooltip: dict[str, str]


def map_layers(view: AreaView, hidden_label: str = HIDDEN_LABEL) -> MapLayers:
    """The areas of `view` with their values as this audience sees them, classified and coloured."""
    geometry = view.areas.areas[["code", "geometry"]].merge(view.table, on="code")
    geometry["episodes"] = geometry["episodes"].astype(str)
    choropleth = classify(geometry["value"], geometry["episodes"], decimals=view.decimals, hidden_label=hidden_label)
    geometry["shown_value"] = [
        "c" if text == "c" else ("" if pd.isna(value) else f"{value:,.{view.decimals}f}")
        for text, value in zip(geometry["episodes"], geometry["value"], strict=True)
    ]
    tooltip = {"name": "Area", "code": "Code"} | ({"ward": "Ward"} if "ward" in geometry else {})
    tooltip |= {"episodes": "Episodes", "shown_value": view.value_title}
    if "care" in geometry:
        tooltip["care"] = "Note"
    return MapLayers(gpd.GeoDataFrame(geometry, geometry="geometry", crs=view.areas.areas.crs), choropleth, tooltip)


def map_image_parts(view: AreaView, layers: MapLayers, title: str) -> dict[str, object]:
    """What the map image draws (`ehmap.charts.choropleth_png`'s arguments): the areas, colours and legend as shown
    to this audience, the title, who may see it (the view's marking), and the source and OGL line."""
    return {"areas": layers.geometry, "colours": layers.choropleth.colours, "legend": layers.choropleth.legend,
            "legend_title": view.value_title, "attribution": view.areas.attribution, "title": title,
            "marking": marking(view.audience)}


def map_png(view: AreaView, layers: MapLayers, title: str) -> bytes:
    """The map as a PNG for slides. The values are the view's: a released view's image shows released values only."""
    from ehmap.charts import choropleth_png  # here: matplotlib is slow to import, and only a click draws the image

    return choropleth_png(**map_image_parts(view, layers, title))


def map_image_download(context: PageContext, view: AreaView, layers: MapLayers, title: str, stem: str,
                       container=st) -> None:
    """A button that downloads the map as shown to this audience as a PNG (drawn only when clicked)."""
    released = view.audience is Audience.RELEASE
    container.download_button("Download the map (PNG)", lambda: map_png(view, layers, title),
                              file_name=f"{stem}.png", mime="image/png", key=f"map_png_{stem[:40]}",
                              on_click=audit_release if released else "ignore",
                              args=(context, stem, "map image", "png") if released else None,
                              help="The map with its title, legend, source and licence line, for slides. "
                                   + ("Released figures." if released else "Your team's exact figures: not for "
                                      "sharing; switch on the released view for a map to share."))


def draw_area_map(view: AreaView, key: str, hidden_label: str = HIDDEN_LABEL, label: str | None = None,
                  layers: MapLayers | None = None) -> None:
    """The map of an area view beside its legend, total and notes; `label` names the map (what, where, when)."""
    layers = layers or map_layers(view, hidden_label)
    map_column, side_column = st.columns([3, 2])
    with map_column:
        basemap = st.toggle("Basemap (OpenStreetMap tiles; needs internet)", value=False, key=f"{key}_basemap")
        show_map(area_map(layers.geometry, layers.choropleth.colours, layers.tooltip, basemap=basemap,
                          attribution=view.areas.attribution,
                          label=label or f"Map of {view.value_title}"), key)
    with side_column:
        st.metric("Episodes in the council", view.council_total)
        legend(view.value_title, layers.choropleth.legend)
        for note in view.notes:
            st.caption(plain(note))
        if view.method:
            st.caption(plain(view.method))


def released_downloads(context: PageContext, view_downloads: dict[str, pd.DataFrame], method: str | None,
                       what: str) -> None:
    """Download buttons for released tables, each with the method statement as a text file beside it."""
    if context.audience is not Audience.RELEASE or not view_downloads:
        st.caption("Downloads are of released figures only: switch on *Show the released view* in the sidebar to "
                   "download what can be shared.")
        return
    for stem, table in view_downloads.items():
        columns = st.columns(2)
        columns[0].download_button(f"Download {plain(what)} (CSV)", csv_bytes(table), file_name=f"{stem}.csv",
                                   mime="text/csv", key=f"download_{stem}", on_click=audit_release,
                                   args=(context, stem, what))
        columns[1].download_button("How it was protected (TXT)", (method or "").encode("utf-8"),
                                   file_name=f"{stem}.release.txt", mime="text/plain", key=f"method_{stem}")


def audit_release(context: PageContext, stem: str, what: str, kind: str = "csv") -> None:
    record("release", context.user, str(context.dataset.id), {"output": stem, "what": what, "kind": kind})


def lsoa_wards(la_code: str) -> pd.Series | None:
    """LSOA 2011 code -> ward name (ONS best fit), or None when the ward lookup is not in the data folder."""
    try:
        return ward_names(la_code)
    except FileNotFoundError:
        return None


def lsoa_ward_table(la_code: str) -> pd.DataFrame | None:
    """LSOA 2011 code -> `ward_code` and `ward_name` (ONS best fit), or None when the ward lookup has no rows for
    the council."""
    try:
        return ward_table(la_code)
    except FileNotFoundError:
        return None


def ward_picker(wards: pd.DataFrame | None, label: str, key: str, container=st) -> tuple[str, str] | None:
    """A ward chosen from the council's wards by name, as (code, name); None for 'All wards', and nothing shown
    when wards are not known."""
    if wards is None:
        return None
    names = wards.dropna(subset=["ward_code"]).drop_duplicates("ward_code").set_index("ward_code")["ward_name"]
    options = ["", *names.sort_values().index]
    chosen = container.selectbox(label, options=options, key=key,
                                 format_func=lambda code: names[code] if code else "All wards")
    return (chosen, str(names[chosen])) if chosen else None


def locality_upload(la_code: str, key: str, purpose: str, container=st):
    """The council's own localities from an uploaded boundary file (the LSOAs assigned to each, an
    `ehmap.areas.AreaSet`), with the column that names them; None, saying why, until a usable file is there."""
    from ehmap import limits
    from ehmap.areas import LocalityFileError

    upload = container.file_uploader("Locality boundaries: GeoJSON, GeoPackage or zipped Shapefile, with its CRS",
                                     type=["geojson", "json", "gpkg", "zip"], key=f"{key}_localities",
                                     max_upload_size=limits.MAX_LOCALITY_BYTES // limits.MB)
    if upload is None:
        container.info(f"Upload your council's locality boundaries to {purpose}.")
        return None
    try:
        columns = locality_file_columns(upload.getvalue(), upload.name)
        name_column = container.selectbox("Column that names each locality", columns, key=f"{key}_name_column",
                                          index=next((i for i, c in enumerate(columns) if "name" in c.lower()), 0))
        return uploaded_locality_areas(upload.getvalue(), upload.name, name_column, la_code)
    except LocalityFileError as problem:
        container.error(plain(problem))
        return None


def show_reading(text: str, container=st) -> None:
    """A page's plain-English reading, shown as text (never markup built from data)."""
    container.info(plain(text))


POSITION_COLOURS = {ABOVE: "#bd0026", WITHIN: "#636363", BELOW: "#2166ac"}
CHART_ROWS = 60  # the most areas a caterpillar chart draws (the table lists every area)
ROW_PIXELS = 22  # each area's height on the chart: enough for every area's name to be labelled


def caterpillar(view: RankedView, limit: int = CHART_ROWS) -> tuple[pd.DataFrame, dict]:
    """Each ranked area's rate (dot) and 95% interval (bar), highest first, beside the council rate (a dashed line):
    the rows to draw and their Vega-Lite spec, written as plain data (Altair's schema validation cost a third of a
    need-map rerun)."""
    rows = view.chart_rows(limit)
    y = {"field": "area", "type": "nominal", "sort": list(rows["area"]), "title": None, "axis": {"labelLimit": 260}}
    colour = {"field": "position", "type": "nominal", "title": "Against the council rate",
              "scale": {"domain": list(POSITION_COLOURS), "range": list(POSITION_COLOURS.values())},
              "legend": {"labelLimit": 320}}
    tooltip = [_field(name, kind, title) for name, kind, title in (
        ("area", "nominal", "Area"), ("code", "nominal", "Code"), ("episodes", "nominal", "Episodes"),
        ("rate", "quantitative", "Rate per 1,000"), ("lower", "quantitative", "95% CI lower"),
        ("upper", "quantitative", "95% CI upper"))]
    bars = {"mark": {"type": "rule", "strokeWidth": 2},
            "encoding": {"x": _field("lower", "quantitative", "Episodes per 1,000 children aged 0-17"),
                         "x2": {"field": "upper"}, "y": y, "color": colour, "tooltip": tooltip}}
    dots = {"mark": {"type": "circle", "size": 60, "opacity": 1},
            "encoding": {"x": {"field": "rate", "type": "quantitative"}, "y": y, "color": colour, "tooltip": tooltip}}
    council = {"data": {"values": [{"rate": round(view.ranking.council_rate, 1)}]},
               "mark": {"type": "rule", "color": "#000000", "strokeDash": [4, 3]},
               "encoding": {"x": {"field": "rate", "type": "quantitative"},
                            "tooltip": [_field("rate", "quantitative", "Council rate")]}}
    return rows, {"height": max(120, ROW_PIXELS * len(rows) + 40), "layer": [bars, dots, council]}


def _field(name: str, kind: str, title: str) -> dict[str, str]:
    """A Vega-Lite channel: a field, its type and its title."""
    return {"field": name, "type": kind, "title": title}


def draw_ranking(view: RankedView) -> None:
    """Ranked areas: the caterpillar chart, its caption, the table with place names, and the notes."""
    st.markdown(f"**{plain(view.title)}**")
    ranked = len(view.ranking.ranked)
    if ranked:
        st.vega_lite_chart(*caterpillar(view), width="stretch")
        shown = min(ranked, CHART_ROWS)
        drawn = f"the {shown} highest of {ranked}" if shown < ranked else f"all {ranked}"
        st.caption(plain(f"Dots are rates, bars their 95% intervals, the dashed line the council rate "
                         f"({view.ranking.council_rate:,.1f} per 1,000); the chart draws {drawn} {view.words[1]} "
                         "with a rate, the table lists every one."))
    st.dataframe(view.shown_table(), hide_index=True, width="stretch")
    for note in view.notes:
        st.caption(plain(note))
