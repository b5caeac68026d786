"""Static charts and maps as PNG for printed reports (matplotlib, no pyplot state, safe across sessions).

Maps are drawn on the British National Grid (EPSG:27700), so areas keep their true shape on paper, with
the same classes, colours and hidden-area grey as the app's live maps.
"""

from __future__ import annotations

import io
import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ehmap.geography import WORKING_CRS
from ehmap.maps import LegendEntry

DPI = 200
INK = "#1b1b1b"
ACCENT = "#3b528b"
LIMIT_COLOUR = "#555555"
TARGET_COLOUR = "#21918c"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _wrapped(label: str, width: int = 30) -> str:
    """A legend label broken into lines that fit beside the map."""
    return textwrap.fill(label, width)


def _scale_bar(ax, west: float, south: float, width: float) -> None:
    """A bar of a round number of kilometres near the lower left corner of a map in metres."""
    km = max(1, int(round(width / 5000)))
    y = south + 0.02 * width
    ax.plot([west, west + km * 1000], [y, y], color=INK, linewidth=2, solid_capstyle="butt")
    ax.text(west + km * 500, y + 0.01 * width, f"{km} km", ha="center", va="bottom", fontsize=7, color=INK)


def choropleth_figure(areas: gpd.GeoDataFrame, colours: pd.Series, legend: list[LegendEntry], legend_title: str,
                      attribution: str, points: pd.DataFrame | None = None,
                      points_legend: list[LegendEntry] | None = None, points_title: str = "", title: str = "",
                      marking: str = "") -> Figure:
    """The figure `choropleth_png` saves: with a `title` over the map and a `marking` line above the attribution
    when given (a map image for slides), else the board report's layout unchanged."""
    if areas.crs != WORKING_CRS:
        areas = areas.to_crs(WORKING_CRS)
    figure = Figure(figsize=(7.2, 6.0))
    top = 0.98 if not title else 0.9
    ax = figure.add_axes((0.0, 0.09 if not marking else 0.12, 0.68, top - (0.09 if not marking else 0.12)))
    if title:
        figure.text(0.01, 0.975, _wrapped(title, 95), fontsize=10, fontweight="bold", color=INK, va="top")
    areas.plot(ax=ax, color=list(colours), edgecolor="#8c8c8c", linewidth=0.2)  # borders show on pale fills too
    ax.set_axis_off()
    ax.set_aspect("equal")
    west, south, east, north = areas.total_bounds
    _scale_bar(ax, west, south, east - west)
    handles = [Patch(facecolor=entry.colour, edgecolor="#8c8c8c", label=_wrapped(entry.label)) for entry in legend]
    figure.legend(handles=handles, title=legend_title, loc="upper left",
                  bbox_to_anchor=(0.68, top - 0.02), fontsize=7.5, title_fontsize=8, frameon=False, alignment="left")
    if points is not None and len(points):
        ax.scatter(points["easting"], points["northing"], s=22, c=list(points["colour"]), edgecolors="white",
                   linewidths=0.7, zorder=3)
        markers = [Line2D([], [], marker="o", linestyle="", markersize=5, markerfacecolor=entry.colour,
                          markeredgecolor="white", label=_wrapped(entry.label)) for entry in points_legend or []]
        figure.legend(handles=markers, title=points_title, loc="upper left", bbox_to_anchor=(0.68, 0.55),
                      fontsize=7.5, title_fontsize=8, frameon=False, alignment="left")
    if marking:
        figure.text(0.01, 0.075, _wrapped(marking, 150), fontsize=6.5, fontweight="bold", color=INK, va="bottom")
    figure.text(0.01, 0.015, attribution, fontsize=5.8, color="#444444", wrap=True, va="bottom")
    return figure


def choropleth_png(areas: gpd.GeoDataFrame, colours: pd.Series, legend: list[LegendEntry], legend_title: str,
                   attribution: str, points: pd.DataFrame | None = None,
                   points_legend: list[LegendEntry] | None = None, points_title: str = "", title: str = "",
                   marking: str = "") -> bytes:
    """A filled map of areas (any CRS; drawn in EPSG:27700) with its legend, scale bar and attribution.

    `points` (easting, northing, colour) are drawn as circles over the areas, e.g. service sites; `title` and
    `marking` (who may see it) head and foot a map image for slides.
    """
    return _png(choropleth_figure(areas, colours, legend, legend_title, attribution, points, points_legend,
                                  points_title, title, marking))


def funnel_ceiling(values: np.ndarray, target: float, curve: pd.DataFrame) -> float:
    """The top of a funnel plot's y-axis: room above the highest point and the target, and the middle of the 95%
    limits; never the funnel's mouth at tiny volumes, which would squash every point into a thin band."""
    shown = np.concatenate([np.asarray(values, dtype=float), [target]])
    return max(float(np.nanmax(shown)) * 1.25, float(curve["upper_95"].iloc[len(curve) // 2]), 1e-6)


def funnel_png(curve: pd.DataFrame, points: pd.DataFrame, target: float, x_title: str, y_title: str,
               share: bool = False) -> bytes:
    """Funnel plot: 95% (dashed) and 99.8% (solid) limits around the target, one dot per group labelled with its
    name; the y-axis fits the points (`funnel_ceiling`), in % when `share`, else ratios to 2 decimals.

    `points` holds group, volume and value for the groups that may be drawn.
    """
    from matplotlib.ticker import FormatStrFormatter, PercentFormatter

    figure = Figure(figsize=(7.2, 4.6))
    ax = figure.add_axes((0.1, 0.13, 0.86, 0.8))
    for side in ("lower", "upper"):
        ax.plot(curve["volume"], curve[f"{side}_95"], color=LIMIT_COLOUR, linestyle="--", linewidth=1,
                label="95% limits" if side == "lower" else None)
        ax.plot(curve["volume"], curve[f"{side}_998"], color=LIMIT_COLOUR, linestyle="-", linewidth=1,
                label="99.8% limits" if side == "lower" else None)
    ax.axhline(target, color=TARGET_COLOUR, linewidth=1.2, label="Council / expected")
    ax.scatter(points["volume"], points["value"], s=28, color=ACCENT, zorder=3)
    right = float(curve["volume"].max())
    for _, point in points.iterrows():
        on_left = point["volume"] > 0.6 * right  # labels of right-hand points go to their left, inside the plot
        ax.annotate(str(point["group"]), (point["volume"], point["value"]), xytext=(-4 if on_left else 4, 3),
                    textcoords="offset points", fontsize=6.5, color=INK, ha="right" if on_left else "left")
    ax.set_ylim(0, funnel_ceiling(points["value"].to_numpy(dtype=float), target, curve))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0) if share else FormatStrFormatter("%.2f"))
    ax.set_xlim(0, right)
    ax.set_xlabel(x_title, fontsize=8)
    ax.set_ylabel(y_title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    return _png(figure)


def trend_png(table: pd.DataFrame, series: dict[str, str], x_title: str) -> bytes:
    """Lines over time (one point per `period`), one per column of `series` (column -> label); gaps where hidden."""
    figure = Figure(figsize=(7.2, 3.6))
    ax = figure.add_axes((0.09, 0.15, 0.88, 0.8))
    colours = (ACCENT, TARGET_COLOUR, "#e07b39", "#7a5195")
    x = np.arange(len(table))
    for (column, label), colour in zip(series.items(), colours):
        ax.plot(x, table[column].astype(float), marker="o", markersize=3, linewidth=1.4, color=colour, label=label)
    step = max(1, int(np.ceil(len(table) / 12)))
    ax.set_xticks(x[::step], list(table["period"])[::step])
    ax.set_xlabel(x_title, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return _png(figure)
