"""Board report: the chosen sections as one paper (PDF or HTML): released to share, or the team's exact figures."""

import streamlit as st

from ehmap.audience import Audience
from ehmap.board_report import SECTIONS, ReportChoices, build_report
from ehmap.exports import ExportError
from ehmap.performance import GROUPINGS, MEASURES
from ehmap.report import render_html, render_pdf
from ehmap.text import plain
from ehmap.views.need_map import map_geographies, need_options, placed_on_lsoa21
from ehmap.views.performance import RELEASED_GROUPINGS
from ui.audience import dataset_release, page_context
from ui.errors import error_text
from ui.state import BUSINESS_CASE_INPUTS_KEY, reference_versions, report_data
from ui.views import audit_release, released_period, team_period

context = page_context("Board report")
st.caption(
    "One paper for a board or budget meeting, from the analyses on the other pages: maps, charts and tables, "
    "the assumptions behind every estimate, the data sources and their licences. The paper is built on this "
    "machine; nothing is sent anywhere."
    + (" This is the team's paper: exact figures, marked on every page as not for sharing. Switch on *Show the "
       "released view* for a paper to share." if context.team else
       " Its figures are the released ones: protected so the paper can be shared.")
)

left, right = st.columns(2)
with left:
    if context.team:
        start, end = team_period(context.cases, "report_period")
        release, period = None, None
    else:
        release = dataset_release(context)
        period = released_period(release, "report_release_period")
        start, end = period.start, period.end
    st.markdown("**Sections** (a summary and the sources are always included)")
    sections = [key for key, title in SECTIONS.items() if st.checkbox(title, value=True, key=f"report_{key}")]
    needs = {"all" if key is None else key: title for key, title in need_options().items()}
    chosen_needs = st.multiselect("Needs (maps of each)", list(needs), default=["all"],
                                  format_func=needs.get, key="report_needs")
    frequency = "quarter"
    geography = "lsoa11"
    if context.team:
        frequency = st.radio("Trends per", ["quarter", "month"], format_func=str.capitalize, horizontal=True,
                             key="report_frequency", disabled="trends" not in sections)
        areas = map_geographies(True, placed_on_lsoa21(context.cases, context.audience))  # LSOA 2021 first, if placed
        geography = st.radio("Hot spots on", list(areas), horizontal=True, key="report_hotspot_geography",
                             format_func=areas.get, disabled="hotspots" not in sections)
with right:
    measure = st.selectbox("Compare services on", list(MEASURES), format_func=lambda m: MEASURES[m][0].capitalize(),
                           key="report_measure", disabled="performance" not in sections)
    groupings = list(GROUPINGS) if context.team else list(RELEASED_GROUPINGS)
    by = st.selectbox("Compare", groupings, format_func=GROUPINGS.get, key=f"report_by_{context.audience}",
                      disabled="performance" not in sections)
    adjusted = st.toggle("Adjust for case mix", value=True, key="report_adjusted",
                         disabled="performance" not in sections)
    marking = st.text_input("Protective marking (printed on every page)", value="OFFICIAL", key="report_marking")

business = st.session_state.get(BUSINESS_CASE_INPUTS_KEY)
if "business_case" in sections:
    st.caption("Business case: the unit costs and assumptions " + (
        "as you edited them on the *Business case* page" if business else
        "shipped with ehmap (edit them on the *Business case* page to use your own)") + (
        f", and what a cut of £{business.cut[1]:,.0f} to {plain(business.cut[0])} would cost elsewhere."
        if business and business.cut else "."))
try:
    choices = ReportChoices(
        start=start, end=end, audience=context.audience, period=period.key if period else None,
        sections=tuple(sections), needs=tuple(None if need == "all" else need for need in chosen_needs) or (None,),
        measure=measure, by=by, adjusted=adjusted, frequency=frequency, marking=marking,
        costs=business.costs if business else None, assumptions=business.assumptions if business else {},
        deflators=business.deflators if business else None, price_year=business.year if business else None,
        cut=business.cut if business else None,
    )
    data = report_data(context.la_code, context.result, context.dataset.label, by,
                       with_coverage="coverage" in sections,
                       hotspot_geography=geography if context.team and "hotspots" in sections else None,
                       release=release)
except ExportError as error:
    st.error(f"The uploaded services file cannot be used: {plain(error)}")
    st.stop()
except (ValueError, FileNotFoundError) as error:
    st.error(error_text(error))
    st.stop()
if "coverage" in sections:
    st.caption(f"Service coverage: the services from {plain(data.coverage.label)}." if data.coverage else
               "Service coverage needs a services file: upload one on the *Service coverage* page.")


def paper():
    """Built when a download is clicked (on Streamlit's download thread), not on every rerun."""
    return build_report(data, choices)


def audited(render, kind: str):
    """The rendered paper; a released one is recorded in the audit log as it leaves."""
    def build():
        rendered = render(paper())
        if context.audience is Audience.RELEASE:
            audit_release(context, name, f"board paper ({kind})")
        return rendered
    return build


name = f"ehmap_{context.la_code}_board_report_" + (period.key if period else f"{start:%Y%m%d}_{end:%Y%m%d}")
name += "" if period else "_team"
buttons = st.columns([1, 1, 2])
buttons[0].download_button("Download the paper (PDF)", data=audited(render_pdf, "PDF"), file_name=f"{name}.pdf",
                           mime="application/pdf", on_click="ignore", type="primary", key="report_pdf")
buttons[1].download_button("Download the paper (HTML)",
                           data=audited(lambda report: render_html(report).encode("utf-8"), "HTML"),
                           file_name=f"{name}.html", mime="text/html", on_click="ignore", key="report_html")
if st.toggle("Preview the paper here", value=False, key="report_preview"):
    try:
        st.iframe(render_html(paper()), height=900)
    except ValueError as error:
        st.error(plain(error))
st.caption(reference_versions("population_mid2020", "iod2019"))
