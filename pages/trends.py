"""Trends: referrals, open caseload and closure outcomes over time, as the team's exact figures or released."""

import altair as alt
import streamlit as st

from ehmap.text import plain
from ehmap.trends import SPLITS
from ehmap.views.trends import SERIES, SPLIT_TITLES, released_trends, team_trends
from ui.audience import dataset_release, page_context
from ui.views import released_downloads, released_period, team_period

context = page_context("Trends")
controls = st.columns([2, 2, 2, 2])
split = controls[2].selectbox("Split by", SPLITS, format_func=SPLIT_TITLES.get, key="trends_by")
measure = controls[3].selectbox("Show", list(SERIES), format_func=SERIES.get, key="trends_measure")
if context.team:
    start, end = team_period(context.cases, "trends_period", controls[0])
    frequency = controls[1].radio("Per", ["month", "quarter"], format_func=str.capitalize, horizontal=True,
                                  key="trends_frequency")
    view = team_trends(context.cases, frequency, split, start, end)
else:
    release = dataset_release(context)
    period = released_period(release, "trends_release_period", controls[0])
    controls[1].caption("Per financial quarter: months and free dates are for the team only.")
    view = released_trends(release, split, period.key, context.cases["referral_date"].max().date())

st.info(plain(view.finding))
chart = (
    alt.Chart(view.table.dropna(subset=[measure]))
    .mark_line(point=True)
    .encode(
        x=alt.X("period_start:T", title=view.frequency.capitalize()),
        y=alt.Y(f"{measure}:Q", title=SERIES[measure]),
        color=alt.Color("group:N", title="Group"),
        tooltip=[alt.Tooltip("period:N", title="Period"), alt.Tooltip("group:N", title="Group"),
                 alt.Tooltip(f"{measure}:Q", title=SERIES[measure])],
    )
)
st.altair_chart(chart.properties(height=420), width="stretch")
for note in view.notes:
    st.caption(plain(note))
if view.method:
    st.caption(plain(view.method))
st.dataframe(view.shown_table(), hide_index=True, width="stretch")
released_downloads(context, view.downloads, view.method, "this table")
