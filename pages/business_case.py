"""Business case: costs likely avoided by Early Help, and what a cut would cost elsewhere, with the assumptions."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from ehmap.business_case import (
    NATIONAL_REFERENCE,
    NOTHING_TO_COST,
    Assumption,
    business_case_csv,
    costs_avoided,
    council_outcomes,
    cut_impact,
    default_assumptions,
    read_deflators,
    read_unit_costs,
)
from ehmap.needmap import CaseFilter
from ehmap.safe_output import csv_bytes
from ui.state import (
    BUSINESS_CASE_INPUTS_KEY,
    BusinessCaseInputs,
    council_page,
    period_selector,
)

la_code, council, result, label = council_page("Business case")

start, end = period_selector(result.cases, "business_case_period")
cases = CaseFilter(start=start, end=end).apply(result.cases)
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
    defaults = default_assumptions(council_outcomes(cases).step_up_rate)
    frame = pd.DataFrame([vars(a) for a in defaults.values()]).set_index("key")
    edited = st.data_editor(frame, disabled=["label", "unit", "basis"], key="business_case_assumptions",
                            column_config={"key": None})

try:
    costs = read_unit_costs(edited_costs.dropna(how="all"))
    rows = edited_deflators.dropna(subset=["year"])
    deflators = read_deflators(rows) if len(rows) else None
    assumptions = {
        key: Assumption(key, row["label"], float(row["low"]), float(row["central"]), float(row["high"]),
                        row["unit"], row["basis"])
        for key, row in edited.iterrows()
    }
    case = costs_avoided(cases, costs, assumptions, deflators, target_year.strip() or None)
except (ValueError, TypeError) as error:
    st.error(str(error))
    st.stop()
st.session_state[BUSINESS_CASE_INPUTS_KEY] = BusinessCaseInputs(costs, assumptions, deflators, target_year.strip() or None)

if case.outcomes.closed == 0:
    st.info(NOTHING_TO_COST)
    st.stop()
st.header("Costs likely avoided")
outcomes = case.outcomes
st.markdown(
    f"From {outcomes.closed:,} closed episodes in the period ({outcomes.step_ups:,} stepped up to children's social "
    f"care, {outcomes.step_up_rate:.1%}); council-level counts."
)
figures, beside = st.columns([3, 2])
with figures:
    total = case.total()
    if total:
        st.metric(f"Total, {case.costs['price_basis'].iloc[0]} prices", _pounds(*total))
    lines = business_case_csv(case)[["title", "cost_low", "cost_central", "cost_high", "price_basis", "code",
                                     "unit_cost", "base_count", "events_low", "events_central", "events_high"]]
    st.dataframe(
        lines.rename(columns={
            "title": "Cost line", "code": "Unit cost code", "base_count": "Council count it starts from",
            "events_low": "Avoided (low)", "events_central": "Avoided (central)", "events_high": "Avoided (high)",
            "unit_cost": "Unit cost £", "price_basis": "Price year", "cost_low": "£ low", "cost_central": "£ central",
            "cost_high": "£ high",
        }),
        hide_index=True, width="stretch",
    )
    for note in case.notes:
        st.caption(note)
    st.download_button("Download the business case (CSV)", data=csv_bytes(business_case_csv(case)),
                       file_name=f"ehmap_{la_code}_business_case.csv", mime="text/csv")
with beside:
    st.markdown("**Assumptions behind these figures**")
    st.dataframe(case.assumptions(), hide_index=True, width="stretch")

st.header("What would a cut cost elsewhere?")
controls = st.columns(2)
services = sorted(cases["service"].dropna().astype(str).unique())
if not services:
    st.info("No episode in the period names a service.")
    st.stop()
service = controls[0].selectbox("Service", services, key="business_case_service")
amount = controls[1].number_input("Cut (£ a year)", min_value=1000, value=100_000, step=10_000, key="business_case_cut")
try:
    cut = cut_impact(cases, service, float(amount), costs, assumptions, deflators, target_year.strip() or None)
    st.session_state[BUSINESS_CASE_INPUTS_KEY] = replace(
        st.session_state[BUSINESS_CASE_INPUTS_KEY], cut=(service, float(amount))
    )
except ValueError as error:
    st.error(str(error))
    st.stop()
figures, beside = st.columns([3, 2])
with figures:
    low, central, high = cut.episodes_lost
    per_low, per_central, per_high = cut.cost_per_episode
    st.markdown(
        f"A cut of **£{cut.amount:,.0f}** to {service} ({cut.service_episodes} episodes in the period) pays for about "
        f"**{central:,.0f} episodes** (range {low:,.0f} to {high:,.0f}) at £{per_central:,.0f} an episode "
        f"(£{per_low:,.0f} to £{per_high:,.0f})."
    )
    extra = cut.total()
    if extra:
        st.metric("Likely extra costs elsewhere", _pounds(*extra))
    st.dataframe(
        cut.lines[["title", "cost_low", "cost_central", "cost_high", "price_basis", "code"]].round(0).rename(columns={
            "title": "Cost line", "code": "Unit cost code", "price_basis": "Price year", "cost_low": "£ low",
            "cost_central": "£ central", "cost_high": "£ high",
        }),
        hide_index=True, width="stretch",
    )
    for note in cut.notes:
        st.caption(note)
with beside:
    st.markdown("**Assumptions behind these figures**")
    st.dataframe(cut.assumptions(), hide_index=True, width="stretch")

st.header("National reference figures (context only, not used above)")
st.dataframe(pd.DataFrame(NATIONAL_REFERENCE, columns=["Figure", "Source", "Caveat"]), hide_index=True,
             width="stretch")
