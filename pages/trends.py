"""Trends: referrals, open caseload and closure outcomes per month or quarter, by need or service."""

import altair as alt
import streamlit as st

from ehmap.disclosure import SUPPRESSION_NOTE
from ehmap.needmap import CaseFilter
from ehmap.safe_output import csv_bytes
from ehmap.trends import SPLITS, shown_trend_table, trend_table
from ui.state import council_page, period_selector

la_code, council, result, label = council_page("Trends")

cases = result.cases
controls = st.columns([2, 2, 2, 2])
start, end = period_selector(cases, "trends_period", controls[0])
frequency = controls[1].radio(
    "Per", ["month", "quarter"], format_func=str.capitalize, horizontal=True, key="trends_frequency"
)
by = controls[2].selectbox(
    "Split by", SPLITS, format_func={"none": "Nothing", "service": "Service", "need": "Need"}.get, key="trends_by"
)
series = {
    "referrals": "Referrals",
    "open_caseload": "Open caseload (end of period)",
    "closures": "Closures",
    "needs_met_pct": "% of closures with needs met",
    "step_up_pct": "% of closures stepped up",
}
measure = controls[3].selectbox("Show", list(series), format_func=series.get, key="trends_measure")

table = trend_table(CaseFilter(start=start, end=end).apply(cases), frequency, by, start, end)
chart = (
    alt.Chart(table.dropna(subset=[measure]))
    .mark_line(point=True)
    .encode(
        x=alt.X("period_start:T", title=frequency.capitalize()),
        y=alt.Y(f"{measure}:Q", title=series[measure]),
        color=alt.Color("group:N", title="Group"),
        tooltip=["period:N", "group:N", alt.Tooltip(f"{measure}:Q", title=series[measure])],
    )
)
st.altair_chart(chart.properties(height=420), width="stretch")
st.caption(
    "Episodes referred in the chosen period; an episode with several needs counts under each. Open caseload is "
    "the episodes referred by the end of each period and not yet closed. "
    + SUPPRESSION_NOTE
    + " Hidden values are gaps in the lines."
)
shown = shown_trend_table(table).rename(columns={"period": "Period", "group": "Group"} | series)
st.dataframe(shown, hide_index=True, width="stretch")
st.download_button(
    "Download this table (CSV)",
    data=csv_bytes(shown),
    file_name=f"ehmap_{la_code}_trends_{frequency}_{by}.csv",
    mime="text/csv",
)
