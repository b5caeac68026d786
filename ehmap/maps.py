"""Choropleth maps drawn with folium, working offline.

folium loads Leaflet (and jQuery, Bootstrap, Font Awesome) from CDNs, so an offline map stays
blank. ehmap serves Leaflet from the installed `django-js-lib-leaflet` package through
Streamlit's static file serving and uses nothing else; basemap tiles are optional.

The page frames the council itself (`_FitAndName`): it fits the areas to the map's real size on load and on every
resize, names the map for screen readers, and keeps the area outlines out of the Tab order (the table beside the
map holds the same values). folium's viewport meta that disables zooming is dropped (`_Map`).

A map is redrawn on every rerun, usually with new colours on the same areas, so the work that depends
only on the areas is done once per area set (`drawn_geometry`: reprojection, rounding, GeoJSON geometry
and extent) and branca's templates are compiled once (`_compile_templates_once`).
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import branca.element
import folium
import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template

from ehmap.geography import DISPLAY_CRS
from ehmap.text import html_text

STATIC_URL = "/app/static/leaflet"  # where Streamlit serves files placed in ./static/leaflet
LEAFLET_JS = [("leaflet", f"{STATIC_URL}/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC_URL}/leaflet.css")]

# 5 classes, light to dark orange-brown, with 0 episodes as the palest step of the same ramp and "no value" white:
# every pair of these, the suppressed grey and white differs by CIEDE2000 >= 13 under protan, deutan and tritan
# simulation (tests/test_palettes.py).
PALETTE = ("#e5ac71", "#c37631", "#96480c", "#5f2302", "#270700")
ZERO_COLOUR = "#fde3c4"
SUPPRESSED_COLOUR = "#bdbdbd"
NO_DATA_COLOUR = "#ffffff"

OGL_ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
    "Contains OS data &copy; Crown copyright and database right 2011; "
    "Royal Mail data &copy; Royal Mail copyright and database right."
)


def install_leaflet(static_root: Path) -> Path:
    """Copy Leaflet's files from the installed package into `static_root/leaflet` (done at start-up)."""
    import js_lib_leaflet

    source = Path(js_lib_leaflet.__file__).parent / "static" / "js_lib_leaflet"
    target = static_root / "leaflet"
    if not (target / "leaflet.js").exists() or (target / "leaflet.js").stat().st_size != (source / "leaflet.js").stat().st_size:
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


class _Verbatim:
    """Text without template syntax, standing in for a jinja2 Template: renders to what jinja2 would give."""

    def __init__(self, source: str):
        lines = _NEWLINE.split(source)[::2]  # jinja2 writes every line break as "\n" and drops one trailing newline
        if lines[-1] == "":
            del lines[-1]
        self._text = "\n".join(lines)

    def render(self, *args: object, **kwargs: object) -> str:
        return self._text


_NEWLINE = re.compile(r"(\r\n|\r|\n)")
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    return jinja2.Template(source)


def _template(source: str) -> jinja2.Template | _Verbatim:
    """What branca makes of an element's text: compiled once per text, or kept as is when it has no template syntax.

    branca compiles the text of every `Element` as a jinja2 template, and folium wraps each rendered script in
    an `Element`: each map render compiled its whole GeoJSON (hundreds of KB) and about twenty small texts again.
    """
    if _TEMPLATE_SYNTAX.search(source) is None:
        return _Verbatim(source)
    return _compiled(source) if len(source) <= 10_000 else jinja2.Template(source)


def _compile_templates_once() -> None:
    """Make branca's `Element` use `_template` (branca looks the name `Template` up in its module when an element
    is made); the rendered page is the same, without the compiling."""
    branca.element.Template = _template


_compile_templates_once()


@dataclass(frozen=True)
class LegendEntry:
    """One legend row: a colour and what it means."""

    colour: str
    label: str


@dataclass(frozen=True)
class Choropleth:
    """Fill colours per area and the legend that explains them."""

    colours: pd.Series  # indexed like the values
    legend: list[LegendEntry]


ZERO_LABEL = "0: no episodes"
MISSING_LABEL = "no value (no population figure)"
WITHHELD_LABEL = "x: not released (it would give a small count away)"


def _class_label(members: np.ndarray, decimals: int) -> str:
    """A class's legend text from the values it holds, as shown: '1.2 to 3.4', or one value."""
    low, high = f"{members.min():,.{decimals}f}", f"{members.max():,.{decimals}f}"
    return low if low == high else f"{low} to {high}"


def classify(values: pd.Series, shown: pd.Series, k: int = 5, decimals: int = 0,
             hidden_label: str = "c: hidden (a small count)") -> Choropleth:
    """Colour areas by quantile class of their values as shown; areas with no episodes, hidden and missing apart.

    `shown` is each area's episode count as displayed: '0' is an area with no episodes, drawn in its own class
    whatever the measure (a smoothed rate gives such an area a value, which is not a finding); 'c' a hidden count
    (grey, explained by `hidden_label`); 'x' a count withheld. Classes are worked out from the values rounded to
    `decimals` (what the tooltip and table show), so two areas showing the same value always share a colour, and
    each legend row gives the lowest and highest value shown in its class (rows never overlap).
    """
    import mapclassify  # here, not at the top: it imports matplotlib.pyplot and scipy.stats, slow at start-up

    text = shown.astype(str).str.strip().to_numpy()
    hidden, withheld = text == "c", text == "x"
    zero = ((text == "0") | (values == 0).to_numpy()) & ~hidden & ~withheld
    rounded = values.astype(float).round(decimals)
    real = (rounded.notna().to_numpy() & ~zero & ~hidden & ~withheld)
    colours = pd.Series(NO_DATA_COLOUR, index=values.index, dtype=object)
    legend: list[LegendEntry] = []
    if zero.any():
        colours[zero] = ZERO_COLOUR
        legend.append(LegendEntry(ZERO_COLOUR, ZERO_LABEL))
    shown_values = rounded[real]
    if len(shown_values):
        with warnings.catch_warnings():  # with few distinct values mapclassify uses fewer classes, as we want
            warnings.simplefilter("ignore", UserWarning)
            classifier = mapclassify.Quantiles(shown_values.to_numpy(), k=min(k, shown_values.nunique()))
        used = sorted(set(int(i) for i in classifier.yb))  # quantile classes of tied values can be empty
        palette = PALETTE[len(PALETTE) - len(used):] if len(used) <= len(PALETTE) else PALETTE
        colour_of = {klass: palette[min(i, len(palette) - 1)] for i, klass in enumerate(used)}
        colours[shown_values.index] = [colour_of[int(i)] for i in classifier.yb]
        members = shown_values.to_numpy()
        for klass in used:
            legend.append(LegendEntry(colour_of[klass], _class_label(members[classifier.yb == klass], decimals)))
    if hidden.any():
        colours[hidden] = SUPPRESSED_COLOUR
        legend.append(LegendEntry(SUPPRESSED_COLOUR, hidden_label))
    if withheld.any():
        colours[withheld] = NO_DATA_COLOUR
        legend.append(LegendEntry(NO_DATA_COLOUR, WITHHELD_LABEL))
    if (rounded.isna().to_numpy() & ~zero & ~hidden & ~withheld).any():
        legend.append(LegendEntry(NO_DATA_COLOUR, MISSING_LABEL))
    return Choropleth(colours, legend)


class _Attribution(MacroElement):
    """Adds an attribution line to the map's attribution control (there is no tile layer to carry it)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, text: str):
        super().__init__()
        self.text = text


_ZOOM_LOCK = re.compile(r"<meta name=\"viewport\".*?/>", re.DOTALL)


class _Map(folium.Map):
    """folium's map without its viewport meta (`maximum-scale=1.0, user-scalable=no`), which stops a reader zooming."""

    def render(self, **kwargs: object) -> None:
        super().render(**kwargs)
        header = self.get_root().header
        name = self.get_name()
        if name in header._children:
            text = header._children[name].render()
            header.add_child(branca.element.Element(_ZOOM_LOCK.sub("", text)), name=name)


class _FitAndName(MacroElement):
    """Frames the areas to the map's real size (on load and on resize), names the map, and takes the area outlines
    out of the Tab order (Chromium makes an SVG path with focus listeners a Tab stop; the table holds the values)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map, layer) {
            var box = map.getContainer();
            box.setAttribute("role", "region");
            box.setAttribute("aria-label", {{ this.label|tojson }});
            layer.eachLayer(function (area) {
                var path = area.getElement && area.getElement();
                if (path) { path.setAttribute("tabindex", "-1"); }
            });
            var bounds = layer.getBounds();
            function fit() {
                var size = map.getSize();
                var credit = box.querySelector(".leaflet-control-attribution");
                var below = 6 + (credit ? credit.offsetHeight : 0);  // the source line never hides an area
                if (size.x > 0 && size.y > below * 2) {
                    map.fitBounds(bounds, {paddingTopLeft: [6, 6], paddingBottomRight: [6, below], animate: false});
                }
            }
            fit();
            map.on("resize", fit);
            window.addEventListener("load", fit);
        })({{ this._parent.get_name() }}, {{ this.layer.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, layer: folium.GeoJson, label: str):
        super().__init__()
        self.layer = layer
        self.label = label


FILL_FRAME = (  # the map fills its frame, whose height the page sets from the viewport (ui.widgets.show_map)
    "<style>html,body{overflow:hidden}#map_div{height:100vh !important;width:100% !important}</style>"
)


@dataclass(frozen=True)
class DrawnGeometry:
    """An area set as drawn: GeoJSON geometry per area (WGS84, 5 decimals) and the extent (west, south, east, north).

    Shared by every map of these areas: the geometry dicts are read, never changed.
    """

    geometries: tuple[dict | None, ...]
    bounds: tuple[float, float, float, float]


_GEOMETRY_CACHE_SIZE = 32  # area sets kept: a council's LSOAs, wards and localities, for a few councils
_geometry_cache: OrderedDict[tuple[str, str], DrawnGeometry] = OrderedDict()
_geometry_lock = threading.Lock()
_geometry_builds = 0


def geometry_builds() -> int:
    """How many times `drawn_geometry` has built an area set's geometry in this process (tests check it stays put)."""
    return _geometry_builds


def _fingerprint(areas: gpd.GeoSeries) -> tuple[str, str]:
    """What identifies an area set's geometry: its CRS and a hash of every polygon, in order (a few ms)."""
    digest = hashlib.blake2b(digest_size=20)
    for wkb in shapely.to_wkb(areas.to_numpy()):
        digest.update(b"" if wkb is None else wkb)
        digest.update(b"|")
    return areas.crs.to_string(), digest.hexdigest()


def drawn_geometry(areas: gpd.GeoSeries) -> DrawnGeometry:
    """The areas as a web map draws them, built once per area set and then reused.

    Reprojecting is most of the cost and cannot be kept across reruns otherwise: pyproj keeps its transformer
    per thread, and Streamlit runs each rerun in a new thread. The cache key is the geometry itself (see
    `_fingerprint`), so areas with the same codes but other polygons (another locality file) are built anew.
    """
    global _geometry_builds
    if areas.crs is None:
        raise ValueError("The areas have no CRS; expected EPSG:27700 or EPSG:4326.")
    key = _fingerprint(areas)
    with _geometry_lock:
        if key in _geometry_cache:
            _geometry_cache.move_to_end(key)
            return _geometry_cache[key]
        drawn = areas.to_crs(DISPLAY_CRS).set_precision(1e-5)
        built = DrawnGeometry(
            tuple(None if shape is None else shapely.geometry.mapping(shape) for shape in drawn.to_numpy()),
            tuple(float(v) for v in drawn.total_bounds),
        )
        _geometry_cache[key] = built
        _geometry_builds += 1
        while len(_geometry_cache) > _GEOMETRY_CACHE_SIZE:
            _geometry_cache.popitem(last=False)
        return built


@functools.lru_cache(maxsize=100_000, typed=True)  # names and codes repeat on every rerun
def _escaped(value: object) -> str:
    return html_text(value)


def _tooltip_text(column: pd.Series) -> list[str]:
    """A tooltip column as HTML text: the tooltip puts values into the page as HTML, so they are escaped to show
    as the characters they are; a missing value shows as nothing."""
    values, present = column.to_numpy(dtype=object), column.notna().to_numpy()
    return [_escaped(value) if shown else "" for value, shown in zip(values, present, strict=True)]


class _AreasLayer(folium.GeoJson):
    """folium's GeoJson layer told its extent: folium would walk every coordinate for it on each render."""

    def __init__(self, data: dict, bounds: tuple[float, float, float, float], **kwargs: object):
        super().__init__(data, **kwargs)
        west, south, east, north = bounds
        self._extent = [[south, west], [north, east]]

    def _get_self_bounds(self) -> list[list[float]]:
        return self._extent


def area_map(
    areas: gpd.GeoDataFrame,
    colours: pd.Series,
    tooltip_fields: dict[str, str],
    basemap: bool = False,
    attribution: str = OGL_ATTRIBUTION,
    label: str = "Map of the council's areas",
    outline: tuple[str, float] = ("#555555", 0.6),
) -> folium.Map:
    """A folium map of `areas` filled with `colours`, a tooltip of `tooltip_fields` (column -> label).

    `label` is the map's accessible name (say what, where and when); `outline` the areas' edge colour and width
    (projector mode draws them black and heavier).

    Coordinates are drawn in WGS84 and rounded to 5 decimals (about 1 m) to keep the page small; that geometry
    is built once per area set (`drawn_geometry`), so a rerun that changes only values costs the properties.
    """
    if areas.crs is None:
        raise ValueError("The areas have no CRS; expected EPSG:27700 or EPSG:4326.")
    geometry = drawn_geometry(areas.geometry)
    columns = [*tooltip_fields, "fill"]
    values = [_tooltip_text(areas[column]) for column in tooltip_fields] + [list(colours.to_numpy())]
    features = [
        {"type": "Feature", "properties": dict(zip(columns, row, strict=True)), "geometry": shape}
        for row, shape in zip(zip(*values, strict=True), geometry.geometries, strict=True)
    ]
    west, south, east, north = geometry.bounds
    fmap = _Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=zoom_to_fit(west, south, east, north),
        tiles="OpenStreetMap" if basemap else None,
        control_scale=True,
        zoomSnap=0.25,
    )
    fmap.default_js = LEAFLET_JS
    fmap.default_css = LEAFLET_CSS
    edge, width = outline
    layer = _AreasLayer(
        {"type": "FeatureCollection", "features": features},
        geometry.bounds,
        name="areas",
        style_function=lambda feature: {
            "fillColor": feature["properties"]["fill"],
            "color": edge,
            "weight": width,
            "fillOpacity": 0.85,
        },
        highlight_function=lambda feature: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=list(tooltip_fields), aliases=[html_text(alias) for alias in tooltip_fields.values()], sticky=True
        ),
    ).add_to(fmap)
    _Attribution(attribution).add_to(fmap)
    _FitAndName(layer, label).add_to(fmap)
    fmap.get_root().header.add_child(folium.Element(
        "<style>.leaflet-control-attribution{font-size:10px;line-height:1.3;max-width:70%}</style>" + FILL_FRAME
    ))
    return fmap


def zoom_to_fit(west: float, south: float, east: float, north: float, width_px: int = 640, height_px: int = 480) -> float:
    """The largest web-mercator zoom (in quarter steps) at which the extent fits a map of this size."""
    def mercator_y(lat: float) -> float:
        return np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))

    x_fraction = max(east - west, 1e-6) / 360
    y_fraction = max(mercator_y(north) - mercator_y(south), 1e-6) / (2 * np.pi)
    zoom = min(np.log2(width_px / 256 / x_fraction), np.log2(height_px / 256 / y_fraction))
    return float(np.clip(np.floor(zoom * 4) / 4, 5, 16))
