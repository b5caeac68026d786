"""Which services help most: outcomes per group and a fair funnel comparison, for the team or as released."""

import altair as alt
import pandas as pd
import streamlit as st

from ehmap.funnel import OVERDISPERSION
from ehmap.performance import GROUPINGS, MEASURES
from ehmap.text import plain
from ehmap.views.performance import (
    RELEASED_GROUPINGS,
    download_title,
    released_performance,
    team_performance,
)
from ui.audience import dataset_release, page_context
from ui.state import idaci_deciles, reference_versions, ward_names
from ui.views import released_downloads, released_period, team_period

context = page_context("Which services help most")
idaci, idaci_missing = idaci_deciles()
controls = st.columns([2, 2, 2, 2])
measure = controls[2].selectbox("Measure", options=list(MEASURES), format_func=lambda m: MEASURES[m][0].capitalize(),
                                key="performance_measure")
adjusted = controls[3].toggle("Adjust for case mix", value=True, key="performance_adjusted")
if context.team:
    by = controls[0].selectbox("Compare", options=list(GROUPINGS), format_func=GROUPINGS.get, key="performance_by")
    start, end = team_period(context.cases, "performance_period", controls[1])
    options = st.columns([2, 2, 4])
    method = options[0].radio("Limits", ["exact", "normal"], horizontal=True, key="performance_method",
                              format_func={"exact": "Exact", "normal": "Normal approximation"}.get)
    overdispersion = options[1].selectbox(
        "Overdispersion", OVERDISPERSION, key="performance_overdispersion",
        format_func={"none": "None", "multiplicative": "Multiplicative (phi)", "additive": "Additive (tau\u00b2)"}.get)
    localities = ward_names(context.la_code) if by == "locality" else None
    view = team_performance(context.cases, by, measure, adjusted, start, end, idaci, method, overdispersion,
                            localities, context.result.warnings.get("unrecognised_outcomes"))
else:
    release = dataset_release(context)
    by = controls[0].selectbox("Compare", options=list(RELEASED_GROUPINGS), format_func=GROUPINGS.get,
                               key="performance_release_by")
    period = released_period(release, "performance_release_period", controls[1])
    view = released_performance(release, context.cases, by, period.key, measure, adjusted, idaci)

st.info(plain(view.reading))
if not view.glance.empty:
    st.subheader(f"{GROUPINGS[by]} at a glance: {MEASURES[measure][0]}")
    st.caption("Ranked best first, each with its 95% interval; the result says whether it is clearly better or worse "
               "than expected" + (" for its case mix." if adjusted else " for its number of episodes."))
    st.dataframe(view.shown_glance(), hide_index=True, width="stretch")

st.subheader(f"{MEASURES[measure][0].capitalize()}: funnel plot")
st.markdown(plain(view.finding))
chart = view.funnel
if chart is not None:
    low, high = chart.y_domain
    y_scale = alt.Scale(domain=[low, high], clamp=True)
    layers = []
    if chart.curve is not None:
        curve = chart.curve.melt("volume", var_name="line", value_name="value").dropna(subset=["value"])
        curve["limit"] = curve["line"].str.endswith("998").map({True: "99.8% limits", False: "95% limits"})
        layers.append(alt.Chart(curve).mark_line(clip=True).encode(
            x=alt.X("volume:Q", title=chart.x_title), y=alt.Y("value:Q", title=chart.y_title, scale=y_scale),
            strokeDash=alt.StrokeDash("limit:N", title="Control limits"), detail="line:N", color=alt.value("#555")))
    if chart.target is not None:
        layers.append(alt.Chart(pd.DataFrame({"target": [chart.target]})).mark_rule(color="#21918c")
                      .encode(y=alt.Y("target:Q", scale=y_scale)))
    points = chart.points.dropna(subset=["x", "y"])
    y_axis = alt.Axis(format="%") if chart.share else alt.Axis(format=".2f")
    y = alt.Y("y:Q", title=chart.y_title, axis=y_axis, scale=y_scale)
    layers.append(alt.Chart(points).mark_circle(size=90).encode(
        x=alt.X("x:Q", title=chart.x_title), y=y,
        color=alt.Color("label:N", title="Against the limits", scale=alt.Scale(scheme="viridis")),
        tooltip=[alt.Tooltip("group:N", title=GROUPINGS[by]), alt.Tooltip("events:N", title="Events"),
                 alt.Tooltip("y:Q", title=chart.y_title, format=".1%" if chart.share else ".2f"),
                 alt.Tooltip("label:N", title="Against the limits")]))
    layers.append(alt.Chart(points).mark_text(align="left", dx=7, dy=-7, fontSize=11).encode(
        x="x:Q", y=y, text="group:N"))  # each point labelled with its service's name
    st.altair_chart(alt.layer(*layers).properties(height=420), width="stretch")
    for note in chart.notes:
        st.caption(plain(note))
    if adjusted and idaci is None and idaci_missing:
        st.caption(plain(idaci_missing))
    st.markdown("**Reading**")
    st.markdown("\n".join(f"- {plain(reading)}" for reading in chart.readings))
    st.dataframe(chart.shown_table(), hide_index=True, width="stretch")

st.subheader("Outcome measures")
if view.categories:
    st.caption(plain(view.categories))
st.dataframe(view.shown_table(), hide_index=True, width="stretch")
for note in view.notes:
    st.caption(plain(note))
if view.method:
    st.caption(plain(view.method))
if view.downloads:
    for stem, table in view.downloads.items():
        released_downloads(context, {stem: table}, view.method, download_title(stem))
else:
    released_downloads(context, {}, None, "")
st.caption(reference_versions("iod2019"))  # IDACI deciles for the case mix
