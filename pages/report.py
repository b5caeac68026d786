"""Board report: the chosen sections for the period as one paper (PDF or HTML), with no count under 6."""

import streamlit as st

from ehmap.board_report import SECTIONS, ReportChoices, build_report
from ehmap.exports import ExportError
from ehmap.performance import GROUPINGS, MEASURES
from ehmap.report import render_html, render_pdf
from ehmap.taxonomy import NEEDS
from ui.state import (
    BUSINESS_CASE_INPUTS_KEY,
    council_page,
    period_selector,
    report_data,
)

la_code, council, result, label = council_page("Board report")
st.caption(
    "One paper for a board or budget meeting, from the analyses on the other pages: maps, charts and tables, "
    "the assumptions behind every estimate, the data sources and their licences. No count from 1 to 5 appears "
    "in it, council totals included. The paper is built on this machine; nothing is sent anywhere."
)

left, right = st.columns(2)
with left:
    start, end = period_selector(result.cases, "report_period")
    st.markdown("**Sections** (a summary and the sources are always included)")
    sections = [key for key, title in SECTIONS.items() if st.checkbox(title, value=True, key=f"report_{key}")]
    needs = {"all": "All needs", **{need.key: need.headline for need in NEEDS}}
    chosen_needs = st.multiselect("Needs (maps of each)", list(needs), default=["all"],
                                  format_func=needs.get, key="report_needs")
    frequency = st.radio("Trends per", ["quarter", "month"], format_func=str.capitalize, horizontal=True,
                         key="report_frequency", disabled="trends" not in sections)
    geography = st.radio("Hot spots on", ["lsoa11", "ward"], horizontal=True, key="report_hotspot_geography",
                         format_func={"lsoa11": "LSOAs", "ward": "Electoral wards"}.get,
                         disabled="hotspots" not in sections)
with right:
    measure = st.selectbox("Compare services on", list(MEASURES), format_func=lambda m: MEASURES[m][0].capitalize(),
                           key="report_measure", disabled="performance" not in sections)
    by = st.selectbox("Compare", list(GROUPINGS), format_func=GROUPINGS.get, key="report_by",
                      disabled="performance" not in sections)
    adjusted = st.toggle("Adjust for case mix", value=True, key="report_adjusted",
                         disabled="performance" not in sections)
    marking = st.text_input("Protective marking (printed on every page)", value="OFFICIAL", key="report_marking")

business = st.session_state.get(BUSINESS_CASE_INPUTS_KEY)
if "business_case" in sections:
    st.caption("Business case: the unit costs and assumptions " + (
        "as you edited them on the *Business case* page" if business else
        "shipped with ehmap (edit them on the *Business case* page to use your own)") + (
        f", and what a cut of £{business.cut[1]:,.0f} to {business.cut[0]} would cost elsewhere."
        if business and business.cut else "."))
try:
    choices = ReportChoices(
        start=start.date(), end=end.date(), sections=tuple(sections),
        needs=tuple(None if need == "all" else need for need in chosen_needs) or (None,),
        measure=measure, by=by, adjusted=adjusted, frequency=frequency, marking=marking,
        costs=business.costs if business else None, assumptions=business.assumptions if business else {},
        deflators=business.deflators if business else None, price_year=business.year if business else None,
        cut=business.cut if business else None,
    )
except ValueError as error:
    st.error(str(error))
    st.stop()
try:
    data = report_data(la_code, result, label, by, with_coverage="coverage" in sections,
                       hotspot_geography=geography if "hotspots" in sections else None)
except ExportError as error:
    st.error(f"The uploaded services file cannot be used: {error}")
    st.stop()
except FileNotFoundError as error:
    st.error(f"Hot spots by ward need the ward files: {error}")
    st.stop()
if "coverage" in sections:
    st.caption(f"Service coverage: the services from {data.coverage.label}." if data.coverage else
               "Service coverage needs a services file: upload one on the *Service coverage* page.")


def paper():
    """Built when a download is clicked (on Streamlit's download thread), not on every rerun."""
    return build_report(data, choices)


name = f"ehmap_{la_code}_board_report_{start:%Y%m%d}_{end:%Y%m%d}"
buttons = st.columns([1, 1, 2])
buttons[0].download_button("Download the paper (PDF)", data=lambda: render_pdf(paper()), file_name=f"{name}.pdf",
                           mime="application/pdf", on_click="ignore", type="primary", key="report_pdf")
buttons[1].download_button("Download the paper (HTML)", data=lambda: render_html(paper()).encode("utf-8"),
                           file_name=f"{name}.html", mime="text/html", on_click="ignore", key="report_html")
if st.toggle("Preview the paper here", value=False, key="report_preview"):
    try:
        st.iframe(render_html(paper()), height=900)
    except ValueError as error:
        st.error(str(error))
