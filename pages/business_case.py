"""Business case: costs likely avoided by Early Help, and what a cut would cost elsewhere, with the assumptions."""

import pandas as pd
import streamlit as st

from ehmap.business_case import (
    NATIONAL_REFERENCE,
    NOTHING_TO_COST,
    Assumption,
    default_assumptions,
    read_deflators,
    read_unit_costs,
)
from ehmap.performance import in_period
from ehmap.text import plain
from ehmap.views.business_case import (
    download_title,
    released_business_case,
    released_outcomes,
    released_services,
    team_business_case,
    team_outcomes,
)
from ui.audience import dataset_release, page_context
from ui.state import BUSINESS_CASE_INPUTS_KEY, BusinessCaseInputs
from ui.views import released_downloads, released_period, team_period

context = page_context("Business case")
if context.team:
    start, end = team_period(context.cases, "business_case_period")
    outcomes = team_outcomes(context.cases, start, end)
    chosen = context.cases[in_period(context.cases, start, end)]
    services = sorted(chosen["service"].dropna().astype(str).unique())
else:
    release = dataset_release(context)
    period = released_period(release, "business_case_release_period")
    outcomes = released_outcomes(release, period.key)
    services = released_services(release)
if outcomes.closed == 0:
    st.info(NOTHING_TO_COST)
    st.stop()
st.caption(
    "Estimates of costs avoided elsewhere (children's social care, police, schools) from this council's own "
    "outcomes, GMCA unit costs and assumptions you can edit. Every figure is a low / central / high range and "
    "is shown beside the assumptions behind it."
)


def _pounds(low: float, central: float, high: float) -> str:
    return f"£{central:,.0f} (range £{low:,.0f} to £{high:,.0f})"


with st.expander("Unit costs, price year and assumptions (edit to match your evidence)", expanded=False):
    st.markdown("**Unit costs** (GMCA Unit Cost Database v1.4, each in its own price year)")
    edited_costs = st.data_editor(read_unit_costs(), hide_index=True, num_rows="dynamic", key="business_case_costs")
    st.markdown("**Deflator series** (year, index; e.g. HM Treasury's GDP deflator at market prices). "
                "None is shipped: paste one to uprate every cost to one year.")
    edited_deflators = st.data_editor(
        pd.DataFrame({"year": pd.Series(dtype="string"), "index": pd.Series(dtype="float")}),
        hide_index=True, num_rows="dynamic", key="business_case_deflators",
    )
    target_year = st.text_input("Uprate to the price year", value="", placeholder="e.g. 2024/25 (default: the latest)",
                                key="business_case_year")
    st.markdown("**Assumptions**")
    defaults = default_assumptions(outcomes.step_up_rate)
    frame = pd.DataFrame([vars(a) for a in defaults.values()]).set_index("key")
    edited = st.data_editor(frame, disabled=["label", "unit", "basis"], column_config={"key": None},
                            key=f"business_case_assumptions_{context.audience}")

results = st.container()
st.header("What would a cut cost elsewhere?")
cut = None
if services:
    controls = st.columns(2)
    service = controls[0].selectbox("Service", services, key="business_case_service")
    amount = controls[1].number_input("Cut (£ a year)", min_value=1000, value=100_000, step=10_000,
                                      key="business_case_cut")
    cut = (service, float(amount))
else:
    st.info("No episode in the period names a service.")

try:
    costs = read_unit_costs(edited_costs.dropna(how="all"))
    rows = edited_deflators.dropna(subset=["year"])
    deflators = read_deflators(rows) if len(rows) else None
    assumptions = {
        key: Assumption(key, row["label"], float(row["low"]), float(row["central"]), float(row["high"]),
                        row["unit"], row["basis"])
        for key, row in edited.iterrows()
    }
    year = target_year.strip() or None
    if context.team:
        view = team_business_case(context.cases, start, end, costs, assumptions, deflators, year, cut)
    else:
        view = released_business_case(release, period.key, costs, assumptions, deflators, year, cut)
except (ValueError, TypeError) as error:
    st.error(plain(str(error)))
    st.stop()
st.session_state[BUSINESS_CASE_INPUTS_KEY] = BusinessCaseInputs(costs, assumptions, deflators, year, cut)

if view.case is None:  # nothing closed: said above already
    st.stop()
with results:
    st.info(plain(view.finding))
    st.header("Costs likely avoided")
    counts = view.counts.set_index("count")["shown"]
    rate = f", {view.outcomes.step_up_rate:.1%}" if context.team else ""
    st.markdown(plain(f"From {counts['closed']} closed episodes in the period ({counts['step_ups']} stepped up to "
                      f"children's social care{rate}); council-level counts."))
    figures, beside = st.columns([3, 2])
    with figures:
        total = view.total()
        if total:
            st.metric(f"Total, {plain(view.case.costs['price_basis'].iloc[0])} prices", _pounds(*total))
        st.dataframe(view.lines_table(), hide_index=True, width="stretch")
        for note in (*view.case.notes, *view.notes):
            st.caption(plain(note))
        if view.method:
            st.caption(plain(view.method))
        st.dataframe(view.counts[["title", "shown"]].rename(columns={"title": "Council count", "shown": "Count"}),
                     hide_index=True, width="stretch")
    with beside:
        st.markdown("**Assumptions behind these figures**")
        st.dataframe(view.case.assumptions(), hide_index=True, width="stretch")

if view.cut is not None:
    figures, beside = st.columns([3, 2])
    with figures:
        low, central, high = view.cut.episodes_lost
        per_low, per_central, per_high = view.cut.cost_per_episode
        st.markdown(plain(
            f"A cut of £{view.cut.amount:,.0f} to {view.cut.service} ({view.cut.service_episodes} episodes in the "
            f"period) pays for about {central:,.0f} episodes (range {low:,.0f} to {high:,.0f}) at £{per_central:,.0f} "
            f"an episode (£{per_low:,.0f} to £{per_high:,.0f})."))
        extra = view.cut_total()
        if extra:
            st.metric("Likely extra costs elsewhere", _pounds(*extra))
        st.dataframe(view.cut_table().round(0), hide_index=True, width="stretch")
        for note in view.cut.notes:
            st.caption(plain(note))
    with beside:
        st.markdown("**Assumptions behind these figures**")
        st.dataframe(view.cut.assumptions(), hide_index=True, width="stretch")

if view.downloads:
    for stem, table in view.downloads.items():
        released_downloads(context, {stem: table}, view.method, download_title(stem))
else:
    released_downloads(context, {}, None, "")

st.header("National reference figures (context only, not used above)")
st.dataframe(pd.DataFrame(NATIONAL_REFERENCE, columns=["Figure", "Source", "Caveat"]), hide_index=True,
             width="stretch")
