"""Service performance: outcome measures per service and a fair (case-mix adjusted) funnel comparison."""

import altair as alt
import pandas as pd
import streamlit as st

from ehmap.funnel import OVERDISPERSION
from ehmap.needmap import CaseFilter
from ehmap.performance import COLUMN_TITLES, GROUPINGS, MEASURES, compare, outcome_table, performance_csv
from ehmap.safe_output import csv_bytes
from ui.state import (
    council_page,
    idaci_deciles,
    period_selector,
    ward_names,
)

la_code, council, result, label = council_page("Which services help most")

cases = result.cases
controls = st.columns([2, 2, 2, 2])
by = controls[0].selectbox("Compare", options=list(GROUPINGS), format_func=GROUPINGS.get, key="performance_by")
start, end = period_selector(cases, "performance_period", controls[1])
measure = controls[2].selectbox(
    "Measure", options=list(MEASURES), format_func=lambda m: MEASURES[m][0].capitalize(), key="performance_measure"
)
adjusted = controls[3].toggle("Adjust for case mix", value=True, key="performance_adjusted")
options = st.columns([2, 2, 4])
method = options[0].radio(
    "Limits",
    ["exact", "normal"],
    format_func={"exact": "Exact", "normal": "Normal approximation"}.get,
    horizontal=True,
    key="performance_method",
)
overdispersion = options[1].selectbox(
    "Overdispersion",
    OVERDISPERSION,
    key="performance_overdispersion",
    format_func={"none": "None", "multiplicative": "Multiplicative (phi)", "additive": "Additive (tau\u00b2)"}.get,
)

chosen = CaseFilter(start=start, end=end).apply(cases)
localities = ward_names(la_code) if by == "locality" else None
idaci, idaci_missing = idaci_deciles()
table = outcome_table(chosen, by, localities)

st.subheader(f"{MEASURES[measure][0].capitalize()}: funnel plot")
try:
    comparison = compare(chosen, measure, by, adjusted, idaci, method, overdispersion, localities)
except ValueError as error:
    st.info(str(error))
    comparison = None
if comparison is not None:
    x_title = "Expected events for the case mix" if adjusted else "Closed episodes"
    y_title = "Observed / expected" if adjusted else MEASURES[measure][0].capitalize()
    curve = comparison.curve.melt("volume", var_name="limit", value_name="value")
    curve["limit"] = curve["limit"].map(
        {"lower_95": "95% limits", "upper_95": "95% limits", "lower_998": "99.8% limits", "upper_998": "99.8% limits"}
    )
    curve["side"] = comparison.curve.melt("volume")["variable"].str.split("_").str[0]
    lines = (
        alt.Chart(curve)
        .mark_line()
        .encode(
            x=alt.X("volume:Q", title=x_title),
            y=alt.Y("value:Q", title=y_title),
            strokeDash=alt.StrokeDash("limit:N", title="Control limits"),
            detail="side:N",
            color=alt.value("#555"),
        )
    )
    target = alt.Chart(pd.DataFrame({"target": [comparison.target]})).mark_rule(color="#21918c").encode(y="target:Q")
    shown = comparison.points[comparison.points["shown"]]
    dots = (
        alt.Chart(shown)
        .mark_circle(size=90, color="#3b528b")
        .encode(
            x="volume:Q",
            y="value:Q",
            tooltip=[
                alt.Tooltip("group:N", title=GROUPINGS[by]),
                alt.Tooltip("events:N", title="Events"),
                alt.Tooltip("value:Q", title=y_title, format=".3f"),
                alt.Tooltip("position:N", title="Against the limits"),
            ],
        )
    )
    st.altair_chart((lines + target + dots).properties(height=420), width="stretch")
    for note in comparison.notes:
        st.caption(note)
    if adjusted:
        st.caption(comparison.strata + ("" if idaci is not None else f" {idaci_missing}"))
    st.markdown("**Reading**")
    st.markdown("\n".join(f"- {reading}" for reading in comparison.readings))
    points = comparison.points.drop(columns=["shown"]).rename(
        columns={
            "group": GROUPINGS[by],
            "volume": x_title,
            "episodes": "Episodes in the measure",
            "events": "Events",
            "expected": "Expected",
            "value": y_title,
            "value_lower": "95% CI lower",
            "value_upper": "95% CI upper",
            "position": "Against the limits",
            "reading": "Reading",
        }
    )
    st.dataframe(points, hide_index=True, width="stretch")

st.subheader("Outcome measures")
st.dataframe(table.shown.rename(columns=COLUMN_TITLES | {"group": GROUPINGS[by]}), hide_index=True, width="stretch")
for note in table.notes:
    st.caption(note)
st.download_button(
    "Download this table (CSV)",
    data=csv_bytes(performance_csv(table)),
    file_name=f"ehmap_{la_code}_performance_by_{by}.csv",
    mime="text/csv",
)
