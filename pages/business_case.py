"""Business case: costs likely avoided by Early Help, and what a cut would cost elsewhere, with the assumptions."""

import pandas as pd
import streamlit as st

from ehmap.business_case import (
    ASSUMPTION_TITLES,
    CUT_CODES,
    NATIONAL_REFERENCE,
    NOTHING_TO_COST,
    PHASE1_BENEFIT_PER_FAMILY,
    PHASE1_COST_PER_FAMILY,
    UNIT_COST_TITLES,
    UPRATE_HOW,
    Assumption,
    chosen_deflators,
    default_assumptions,
    latest_price_year,
    money,
    money_short,
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
reading = st.container()  # the page's reading, filled once the figures are worked out
st.caption(
    "Estimates of costs avoided elsewhere (children's social care, police, schools) from this council's own "
    "outcomes, GMCA unit costs and assumptions you can edit. Every figure is a low / central / high range and "
    "is shown beside the assumptions behind it."
)


def _range(low: float, central: float, high: float) -> str:
    return f"{money_short(central)} (range {money_short(low)} to {money_short(high)})"


with st.expander("Unit costs, price year and assumptions (edit to match your evidence)", expanded=False):
    st.markdown("**Unit costs** (GMCA Unit Cost Database v1.4, each in its own price year)")
    edited_costs = st.data_editor(read_unit_costs(), hide_index=True, num_rows="dynamic", key="business_case_costs",
                                  column_config=UNIT_COST_TITLES)
    try:
        priced = read_unit_costs(edited_costs.dropna(how="all"))
    except ValueError:
        priced = read_unit_costs()
    latest = latest_price_year(priced)
    st.markdown("**Price year**")
    st.caption(plain(f"With every factor at 1.0 the figures are in {latest} prices (the unit costs' latest price "
                     f"year) and older costs are added as they are, so totals understate them. {UPRATE_HOW}"))
    target_year = st.text_input("The price year you want", value="", placeholder=f"{latest} (the default)",
                                key="business_case_year")
    years = sorted(set(priced.loc[priced["code"].isin(CUT_CODES), "price_year"]))
    factor_columns = st.columns(max(len(years), 1))
    factors = {year: factor_columns[i].number_input(
        f"£1 at {year} prices, in the year you want (£)", min_value=0.01, value=1.0, step=0.01, format="%.3f",
        key=f"business_case_factor_{year}", help=f"1.0 keeps {year} costs as they are (in {year} prices).")
        for i, year in enumerate(years)}
    st.markdown("**Assumptions**")
    defaults = default_assumptions(outcomes.step_up_rate)
    frame = pd.DataFrame([vars(a) for a in defaults.values()]).set_index("key")
    edited = st.data_editor(frame, disabled=["label", "unit", "basis"],
                            column_config={"key": None, **ASSUMPTION_TITLES},
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
    deflators, year = chosen_deflators(factors, target_year, costs)
    assumptions = {
        key: Assumption(key, row["label"], float(row["low"]), float(row["central"]), float(row["high"]),
                        row["unit"], row["basis"])
        for key, row in edited.iterrows()
    }
    if context.team:
        view = team_business_case(context.cases, start, end, costs, assumptions, deflators, year, cut)
    else:
        view = released_business_case(release, period.key, costs, assumptions, deflators, year, cut)
except (ValueError, TypeError) as error:
    st.error(plain(str(error)))
    st.stop()
st.session_state[BUSINESS_CASE_INPUTS_KEY] = BusinessCaseInputs(costs, assumptions, deflators, year, cut)
reading.info(plain(view.finding))

if view.case is None:  # nothing closed: said above already
    st.stop()
with results:
    st.header("Costs likely avoided")
    counts = view.counts.set_index("count")["shown"]
    rate = f", {view.outcomes.step_up_rate:.1%}" if context.team else ""
    st.markdown(plain(f"From {counts['closed']} closed episodes in the period ({counts['step_ups']} stepped up to "
                      f"children's social care{rate}); council-level counts."))
    figures, beside = st.columns([3, 2])
    with figures:
        headline = view.headline()
        if headline is not None:
            st.metric(f"Total, central, at {plain(headline.year)} prices", money_short(headline.central))
            st.caption(plain("; ".join([f"Range {money_short(headline.low)} to {money_short(headline.high)}",
                                        *headline.caveats()]) + "."))
        st.dataframe(view.lines_table(), hide_index=True, width="stretch")
        for note in (*view.case.notes, *view.notes):
            st.caption(plain(note))
        if view.method:
            st.caption(plain(view.method))
        st.dataframe(view.counts[["title", "shown"]].rename(columns={"title": "Council count", "shown": "Count"}),
                     hide_index=True, width="stretch")
    with beside:
        st.markdown("**Assumptions behind these figures**")
        st.dataframe(view.case.assumptions(), hide_index=True, width="stretch", column_config=ASSUMPTION_TITLES)

if view.cut is not None:
    figures, beside = st.columns([3, 2])
    with figures:
        low, central, high = view.cut.episodes_lost
        per_low, per_central, per_high = view.cut.cost_per_episode
        st.markdown(plain(
            f"A cut of {money(view.cut.amount)} a year to {view.cut.service} ({view.cut.service_episodes} episodes in "
            f"the period) pays for about {central:,.0f} episodes a year (range {low:,.0f} to {high:,.0f}) at "
            f"{money(per_central)} an episode ({money(per_low)} to {money(per_high)})."))
        shifted = view.shifted()
        over = st.columns(2)
        over[0].metric(f"Saved by the cut over {view.cut.horizon} years", money(view.cut.saved))
        if shifted is not None:
            over[1].metric(f"Likely extra costs elsewhere over {view.cut.horizon} years, {plain(shifted.year)} prices",
                           money_short(shifted.central))
            st.caption(plain("; ".join([f"Range {money_short(shifted.low)} to {money_short(shifted.high)}",
                                        *shifted.caveats()]) + "."))
        st.caption(plain(
            f"Published evidence: the national Phase 1 averages (DCLG 2015, contested) were "
            f"{money(PHASE1_COST_PER_FAMILY)} intervention cost and {money(PHASE1_BENEFIT_PER_FAMILY)} benefit per "
            f"family; at that ratio, {money(view.cut.saved)} of support over {view.cut.horizon} years would bring "
            f"about {money_short(view.cut.national_benefit)} of benefit. The national evaluation's fall in children "
            "entering care (1.7% against 2.5%) is costed in the table below. The often-quoted £2.28 of benefit per "
            "£1 is unverified and not used."))
        st.markdown(plain("Likely extra costs elsewhere in one year of the cut:"))
        st.dataframe(view.cut_table(), hide_index=True, width="stretch")
        for note in view.cut.notes:
            st.caption(plain(note))
    with beside:
        st.markdown("**Assumptions behind these figures**")
        st.dataframe(view.cut.assumptions(), hide_index=True, width="stretch", column_config=ASSUMPTION_TITLES)

if view.downloads:
    for stem, table in view.downloads.items():
        released_downloads(context, {stem: table}, view.method, download_title(stem))
else:
    released_downloads(context, {}, None, "")

st.header("National reference figures (context only, not used above)")
st.dataframe(pd.DataFrame(NATIONAL_REFERENCE, columns=["Figure", "Source", "Caveat"]), hide_index=True,
             width="stretch")
