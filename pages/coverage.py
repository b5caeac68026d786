"""Service coverage: where need is high and reach is low, beside the services that could reach it."""

import pandas as pd
import streamlit as st

from ehmap import limits
from ehmap.coverage import (
    MILE_M,
    TYPE_COLOURS,
    DistanceBands,
    add_catchments,
    add_services,
    add_site,
    catchments,
    from_wgs84,
    gap_choropleth,
    what_if,
)
from ehmap.demo import DEMO_LA_CODE
from ehmap.exports import ExportError
from ehmap.maps import LegendEntry, area_map
from ehmap.postcodes import format_postcode, normalise_postcodes
from ehmap.services import SERVICE_TYPES, link_cases
from ehmap.text import plain
from ehmap.views.coverage import released_coverage, team_coverage
from ehmap.views.need_map import need_options
from ui.audience import dataset_release, page_context
from ui.state import (
    council_areas,
    coverage_centres,
    coverage_idaci,
    current_services,
    forget_services,
    keep_services_upload,
    population,
    postcode_directory,
    reference_versions,
    services_kept,
)
from ui.views import locality_upload, lsoa_ward_table, released_downloads, released_period, team_period, ward_picker
from ui.widgets import legend, show_map


def miles_text(miles: float) -> str:
    """'1 mile', '1.5 miles'."""
    return f"{miles:g} mile{'s' if miles != 1 else ''}"


CLICKED_SITE_KEY = "coverage_clicked_site"  # (lat, lon) of the last map click placing a what-if site

context = page_context("Service coverage")
la_code, council, result = context.la_code, context.council, context.result
st.caption(
    "Where families in need are not being reached: expected demand from deprivation against the episodes "
    "recorded, beside the straight-line distance to the nearest service. No case locations are shown."
)

children, population_missing = population()
if children is None:
    st.warning(f"Expected demand needs the number of children in each area. {population_missing}")
    st.stop()

with st.expander("Services file", expanded=la_code != DEMO_LA_CODE and context.user.sees_exact):
    st.markdown(
        "A CSV or Excel file with a **name**, a **type** (family hub, children's centre, school, domestic abuse "
        "service, parenting programme, youth service, health, VCS, other), a **postcode** or **easting/northing** "
        "or **latitude/longitude**, the **needs served** (blank: all needs), and optionally opening hours, "
        "capacity and the **team** name your case records use."
    )
    upload = (st.file_uploader("Services file", type=["csv", "xlsx"], key="coverage_services_file",
                               max_upload_size=limits.MAX_UPLOAD_BYTES // limits.MB)
              if context.user.sees_exact else None)
if upload is not None:  # saved with the dataset in use (the demo's: kept for this session), for the board report too
    if problem := keep_services_upload(upload.getvalue(), upload.name, la_code):
        st.warning(plain(problem))
elif (kept_note := services_kept(la_code)) is not None:
    kept = st.columns([3, 1])
    kept[0].caption(kept_note[0])
    if kept_note[1] and kept[1].button("Stop using it", key="coverage_forget_services"):
        forget_services(la_code)
        st.rerun()
try:
    services_result, services_label = current_services(la_code)
except ExportError as error:
    st.error(plain(error))
    st.stop()
if services_result is None:
    st.info(f"Upload {council}'s services file above to see coverage.")
    st.stop()
services = services_result.services
st.caption(
    f"Services from {plain(services_label)}: {services_result.rows_read} rows read, "
    f"{services_result.accepted} accepted, {services_result.rejected} rejected."
)
if services_result.rejected:
    with st.expander(f"Rejected service rows ({services_result.rejected})"):
        st.dataframe(services_result.rejects, hide_index=True, width="stretch")
if services.empty:
    st.warning("No row of the services file could be used; see the rejected rows.")
    st.stop()
if context.team:
    links = link_cases(result.cases, services)
    with st.expander(f"Episodes linked to a service in the file by name or team: {links.linked_share:.0%}"):
        st.dataframe(links.shown_values(), hide_index=True, width="stretch")

bands = DistanceBands()
needs = need_options()
present_types = [kind for kind in SERVICE_TYPES if kind in set(services["type"])]
controls = st.columns([2, 2, 3, 1.5])
need = controls[0].selectbox("Need", options=list(needs), format_func=needs.get, key="coverage_need")
types = controls[2].multiselect(
    "Service types counted",
    options=present_types,
    default=present_types,
    format_func=SERVICE_TYPES.get,
    key="coverage_types",
)
poor_miles = controls[3].selectbox(
    "Poor access beyond",
    options=list(bands.miles),
    format_func=miles_text,
    key="coverage_poor_access",
)
idaci, idaci_missing = coverage_idaci(la_code)
centres = coverage_centres(la_code)
counted_types = None if set(types) == set(present_types) else types
wards = lsoa_ward_table(la_code)
outreach_choices = st.columns([1, 2])
flagged_only = outreach_choices[0].toggle("Outreach list: flagged areas only", value=False,
                                          key="coverage_flagged_only")
ward = ward_picker(wards, "Outreach list: ward", "coverage_outreach_ward", outreach_choices[1])
if context.team:
    start, end = team_period(result.cases, "coverage_period", controls[1])
    view = team_coverage(result.cases, centres, services, children, idaci, need, counted_types, bands, poor_miles,
                         start, end, flagged_only, wards)
else:
    release = dataset_release(context)
    period = released_period(release, "coverage_release_period", controls[1])
    view = released_coverage(release, result.cases, centres, services, children, idaci, need, counted_types, bands,
                             poor_miles, period.key, flagged_only, wards)
table = view.result
st.info(plain(view.reading))  # what it found, how sure, what to try next: built in ehmap, shown as text

with st.expander("What if: a new site", expanded=False):
    site_columns = st.columns([2, 1.5])
    site_postcode = site_columns[0].text_input("Postcode of a hypothetical new site", key="coverage_site_postcode")
    site_band = site_columns[1].selectbox(
        "Within",
        options=list(bands.miles),
        index=list(bands.miles).index(poor_miles),
        format_func=miles_text,
        key="coverage_site_band",
    )
    click_mode = st.toggle("Or place it by clicking the map", value=False, key="coverage_site_click")
site = None
notice = st.empty()  # one fixed slot for the what-if's messages, so the map below never moves (and remounts)
clicked_point = st.session_state.get(CLICKED_SITE_KEY) if click_mode else None
if clicked_point:
    site = what_if(table, *from_wgs84(*clicked_point), site_band)
    site_label = f"New site at the clicked point ({clicked_point[0]:.5f}, {clicked_point[1]:.5f})"
elif click_mode:
    notice.info("Click the map to place the new site.")
elif site_postcode.strip():
    normalised = normalise_postcodes(pd.Series([site_postcode], dtype="string")).fillna("")
    found = postcode_directory().lookup(normalised.to_numpy(dtype=object))
    if not found.has_grid[0]:
        notice.error(
            f"'{plain(site_postcode.strip())}' is not a postcode with a grid reference in the ONS Postcode Directory."
        )
    else:
        site = what_if(table, float(found.easting[0]), float(found.northing[0]), site_band)
        site_label = f"New site at {format_postcode(normalised.iloc[0])}"

flagged = table.flagged
summary = st.columns(4)
summary[0].metric(
    "Areas flagged",
    len(flagged),
    help="Observed significantly below expected (95% upper limit under 1, widened for the spread between areas) "
    f"and no service within {miles_text(poor_miles)} (straight line)",
)
summary[1].metric("Children 0-17 in flagged areas", f"{int(flagged['children'].fillna(0).sum()):,}")
summary[2].metric(f"Episodes in {council} ({needs[need]})", view.council_total)
summary[3].metric("Services counted", len(table.services))
if site is not None:
    notice.success(
        f"{plain(site_label)}: {site.children_reached:,} children in {len(site.reached)} flagged area(s) come within "
        f"{miles_text(site_band)} (straight line). "
        f"Flagged areas: {site.flagged_before} before, {site.flagged_after} after."
    )

choropleth = gap_choropleth(table, list(site.reached["lsoa11cd"]) if site is not None else None)
geometry = council_areas(la_code).merge(table.areas.drop(columns=["easting", "northing"]), on=["lsoa11cd", "lsoa11nm"])
geometry["distance_text"] = geometry["distance_miles"].map(lambda v: "" if v != v else f"{v:.2f} miles")
tooltip = {"lsoa11nm": "LSOA", "children": "Children 0-17"}
if context.team:
    geometry["expected_text"] = geometry["expected"].map(lambda v: f"{v:.1f}")
    tooltip |= {"expected_text": "Expected", "observed": "Observed"}
elif geometry["episodes"].astype(str).ne("").any():
    tooltip |= {"episodes": "Episodes"}
tooltip |= {"nearest_service": "Nearest service", "distance_text": "Distance (straight line)"}
map_column, side_column = st.columns([3, 2])
with map_column:
    toggles = st.columns(2)
    show_catchments = toggles[0].toggle("Catchments (nearest service)", value=False, key="coverage_catchments")
    basemap = toggles[1].toggle("Basemap (OpenStreetMap tiles; needs internet)", value=False, key="coverage_basemap")
    fmap = area_map(geometry, choropleth.colours, tooltip, basemap=basemap)
    if show_catchments and len(table.services):
        add_catchments(fmap, catchments(council_areas(la_code), centres, table.services))
    add_services(fmap, table.services)
    if site is not None:
        add_site(fmap, site.easting, site.northing, site.band_m, site_label)
    # the same returned objects in both modes: changing them would remount the map
    returned = show_map(fmap, "coverage_map", returned_objects=["last_clicked"])
    last_clicked = (returned or {}).get("last_clicked") if click_mode else None
    if last_clicked:
        point = (round(float(last_clicked["lat"]), 6), round(float(last_clicked["lng"]), 6))
        if point != st.session_state.get(CLICKED_SITE_KEY):
            st.session_state[CLICKED_SITE_KEY] = point
            st.rerun()
with side_column:
    legend("Gap", choropleth.legend)
    counted_types = [kind for kind in SERVICE_TYPES if kind in set(table.services["type"])]
    legend("Services (circles)", [LegendEntry(TYPE_COLOURS[kind], SERVICE_TYPES[kind]) for kind in counted_types])
    for note in (*table.notes, *view.notes):
        st.caption(plain(note))
    if idaci_missing:
        st.caption(f"Deprivation not used: {plain(idaci_missing)}")
    st.caption(table.straight_line_note)
    if view.method:
        st.caption(plain(view.method))
    if site is not None and len(site.reached):
        st.markdown(f"**Flagged areas the new site reaches within {miles_text(site_band)}**")
        st.dataframe(
            site.reached.rename(
                columns={
                    "lsoa11cd": "LSOA code",
                    "lsoa11nm": "Area",
                    "children": "Children 0-17",
                    "distance_m": "Distance to site (m)",
                }
            ),
            hide_index=True,
            width="stretch",
        )

with st.expander("Cut the outreach list to one of your localities"):
    localities = locality_upload(la_code, "coverage", "cut the outreach list to one of them")
    locality = None
    if localities is not None:
        locality = st.selectbox("Outreach list: locality", ["", *localities.areas["code"]], key="coverage_locality",
                                format_func=lambda name: name or "All localities")
outreach = view.in_ward(ward[0] if ward else None)
if localities is not None:
    outreach = outreach.in_locality(localities, locality)
where = [plain(place) for place in (ward[1] if ward else None, locality) if place]
st.subheader("Outreach list" + (f": {', '.join(where)}" if where else ""))
st.caption(
    ("Ranked: flagged areas first, then by gap (expected minus observed). " if context.team else "")
    + f"Distances are to the nearest counted service; {bands.walk_kmh:g} km/h walking; 1 mile = {MILE_M:,.0f} m."
    + (" Each LSOA's ward (May 2024) is the ONS best fit (LSOA 2011 to LSOA 2021 to ward)." if wards is not None else "")
)
st.dataframe(outreach.outreach, hide_index=True, width="stretch")
released_downloads(context, outreach.downloads, view.method, "the outreach list")
st.caption(reference_versions("population_mid2020", "iod2019"))
