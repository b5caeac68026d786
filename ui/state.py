"""Cached reference data and the session's chosen council and dataset."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import streamlit as st

from ehmap.config import pseudonymisation_key
from ehmap.demo import DEMO_LA_CODE, DEMO_LABEL, load_demo
from ehmap.geocode import PostcodeDirectory
from ehmap.geography import council_lsoas, councils
from ehmap.indicators import SourceMissing, child_population
from ehmap.ingest import IngestResult

COUNCIL_KEY = "la_code"
DATASET_KEY = "dataset"
UPLOAD_KEY = "upload"  # an UploadedDataset, this session only
SWITCH_TO_UPLOAD_KEY = "switch_to_upload"  # set by the upload page; the frame selects the upload
DEMO = "demo"
UPLOADED = "upload"


@dataclass(frozen=True)
class UploadedDataset:
    """A user's ingested export (minimised), held only in their session."""

    filename: str
    result: IngestResult


@st.cache_resource(show_spinner="Loading the ONS Postcode Directory (first run builds it: about 20 s)...")
def postcode_directory() -> PostcodeDirectory:
    """The read-only postcode lookup, shared by all sessions."""
    return PostcodeDirectory.load()


@st.cache_data(show_spinner=False)
def council_names() -> dict[str, str]:
    """English councils, code -> name, in name order."""
    return {council.code: council.name for council in councils()}


@st.cache_data(show_spinner=False)
def council_areas(la_code: str) -> gpd.GeoDataFrame:
    """The council's LSOA 2011 polygons (EPSG:27700)."""
    return council_lsoas(la_code)


@st.cache_data(show_spinner=False)
def population() -> tuple[pd.DataFrame | None, str | None]:
    """Children aged 0-17 per LSOA, or None with the reason it is missing."""
    try:
        return child_population(), None
    except SourceMissing as missing:
        return None, str(missing)


@st.cache_data(show_spinner="Loading the demo export...")
def demo_dataset() -> IngestResult:
    """The synthetic Croydon demo, ingested like an upload."""
    return load_demo(postcode_directory(), council_names(), pseudonymisation_key())


def selected_council() -> str:
    return st.session_state.get(COUNCIL_KEY, DEMO_LA_CODE)


def current_dataset() -> tuple[IngestResult | None, str, bool]:
    """The dataset the pages analyse: (result or None, label, is_demo)."""
    if st.session_state.get(DATASET_KEY, DEMO) == UPLOADED and UPLOAD_KEY in st.session_state:
        upload: UploadedDataset = st.session_state[UPLOAD_KEY]
        return upload.result, f"Your upload: {upload.filename}", False
    return demo_dataset(), DEMO_LABEL, True


# ---------------------------------------------------------------- deprivation and population context


CONTEXT_SOURCES = ("iod2019", "iod2025")  # the indices joined onto the council's LSOAs
_LOOKUPS = ("lookup_lsoa11_lsoa21", "lookup_lsoa11_lsoa21_best_fit")


def _signature(source_id: str) -> tuple[str, int, int] | None:
    """Where a source's file is now and its size and modification time (None when absent): the cache key."""
    from ehmap.catalogue import indicator_source
    from ehmap.indicators import locate

    try:
        path = locate(indicator_source(source_id)).path
    except SourceMissing:
        return None
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


@st.cache_data(show_spinner="Loading the Indices of Deprivation...", max_entries=16)
def _indicator_on_lsoa11(source_id: str, signatures: tuple) -> tuple[object | None, str | None]:
    from ehmap.context import load_on_lsoa11

    try:
        return load_on_lsoa11(source_id), None
    except (SourceMissing, ValueError) as problem:
        return None, str(problem)


def indicator_on_lsoa11(source_id: str):
    """An indicator on LSOA 2011 (`ehmap.context.OnLsoa11`) or None, and why it is missing; cached per file."""
    signatures = (_signature(source_id), *(_signature(lookup) for lookup in _LOOKUPS))
    return _indicator_on_lsoa11(source_id, signatures)


@st.cache_data(show_spinner=False, max_entries=32)
def _council_context(la_code: str, signatures: tuple):
    from ehmap.context import context_table

    lsoas = pd.DataFrame(council_areas(la_code).drop(columns="geometry"))
    loaded, missing = [], []
    for source_id in CONTEXT_SOURCES:
        item, problem = indicator_on_lsoa11(source_id)
        if item is None:
            missing.append(problem)
        else:
            loaded.append(item)
    children, population_missing = population()
    if population_missing:
        missing.append(population_missing)
    return context_table(lsoas, loaded, children), missing


def council_context_table(la_code: str):
    """The council's LSOAs with every loaded index and child population (`ContextTable`), and what is missing."""
    signatures = tuple(_signature(s) for s in (*CONTEXT_SOURCES, *_LOOKUPS, "population_mid2020"))
    return _council_context(la_code, signatures)


def council_page(title: str) -> tuple[str, str, IngestResult, str]:
    """Title the page '{title}: {council}' and return (la_code, council, dataset, its label).

    Stops the page with a warning when the dataset in use covers another council.
    """
    la_code = selected_council()
    council = council_names()[la_code]
    st.title(f"{title}: {council}")
    result, label, problem = dataset_for_council(la_code)
    if problem:
        st.warning(problem)
        st.stop()
    return la_code, council, result, label


def dataset_for_council(la_code: str) -> tuple[IngestResult | None, str, str | None]:
    """The dataset in use, its label, and a message when it covers another council (pages then stop)."""
    result, label, _ = current_dataset()
    if result is None or result.la_code != la_code:
        names = council_names()
        data_council = names.get(result.la_code, result.la_code) if result else None
        return None, label, (
            f"The dataset in use ({label}) covers {data_council}, not {names[la_code]}. "
            f"Choose {data_council} in the sidebar, or upload an export for {names[la_code]} on *Your data*."
        )
    return result, label, None


# --- hotspots (appended by the hotspots feature) -------------------------------------------------

@st.cache_data(show_spinner="Preparing the areas...")
def hotspot_areas(geography: str, la_code: str):
    """The council's areas for 'lsoa11' or 'ward' (ehmap.areas.AreaSet), cached per council."""
    from ehmap.areas import area_set

    return area_set(geography, la_code)


@st.cache_data(show_spinner="Reading your localities...", max_entries=8)
def locality_file_columns(data: bytes, filename: str) -> list[str]:
    """The attribute columns of an uploaded locality file (raises LocalityFileError)."""
    from ehmap.areas import locality_columns

    return locality_columns(data, filename)


@st.cache_data(show_spinner="Assigning LSOAs to your localities...", max_entries=8)
def uploaded_locality_areas(data: bytes, filename: str, name_column: str, la_code: str):
    """The council's LSOAs assigned to an uploaded locality file (raises LocalityFileError)."""
    from ehmap.areas import locality_area_set, read_localities

    return locality_area_set(la_code, read_localities(data, filename, name_column), f"Localities from {filename}")


# --- performance and trends (appended by the performance feature) --------------------------------

PERIOD_KEY = "shared_period"  # (start, end) referral dates, shared by the pages that filter by period


def idaci_deciles() -> tuple[pd.Series | None, str | None]:
    """National IDACI decile (IoD2019) per LSOA 2011 for case-mix strata, or None with the reason it is missing."""
    from ehmap.context import idaci_deciles as deciles_of

    item, problem = indicator_on_lsoa11("iod2019")
    if item is None:
        return None, problem
    try:
        return deciles_of(item), None
    except ValueError as error:
        return None, str(error)


@st.cache_data(show_spinner="Assigning LSOAs to wards...")
def ward_names(la_code: str) -> pd.Series:
    """LSOA 2011 code -> electoral ward name (ONS best fit), the localities used by the performance pages."""
    return hotspot_areas("ward", la_code).area_names()


def period_selector(cases: pd.DataFrame, key: str, container=st) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A referral-period picker whose choice carries across pages (kept under PERIOD_KEY)."""
    first, last = cases["referral_date"].min().date(), cases["referral_date"].max().date()
    start, end = st.session_state.get(PERIOD_KEY, (first, last))
    start, end = min(max(start, first), last), max(min(end, last), first)
    chosen = container.date_input("Referrals between", value=(start, end), min_value=first, max_value=last,
                                  format="DD/MM/YYYY", key=key)
    start, end = (chosen[0], chosen[1]) if len(chosen) == 2 else (chosen[0], chosen[0])
    st.session_state[PERIOD_KEY] = (start, end)
    return pd.Timestamp(start), pd.Timestamp(end)


# --- coverage (appended by the coverage feature) -------------------------------------------------

SERVICES_UPLOAD_KEY = "coverage_services_upload"  # (bytes, file name, council) of an uploaded services file


@st.cache_data(show_spinner="Placing each LSOA at the centre of its postcodes (first run: about 10 s)...")
def coverage_centres(la_code: str) -> pd.DataFrame:
    """The council's LSOA centres (mean postcode grid reference), from the on-disk cache of all LSOAs."""
    from ehmap.coverage import council_centres, lsoa_centres

    return council_centres(council_areas(la_code), lsoa_centres(postcode_directory()))


@st.cache_data(show_spinner=False)
def coverage_idaci(la_code: str) -> tuple[pd.DataFrame | None, str | None]:
    """IoD2019 IDACI scores of the council's LSOAs, or None and why."""
    from ehmap.coverage import council_idaci

    return council_idaci(council_areas(la_code)["lsoa11cd"])


@st.cache_data(show_spinner="Reading the services file...", max_entries=8)
def services_file(data: bytes, filename: str, la_code: str):
    """A services file validated and located for a council (`ehmap.services.ServicesResult`; raises ExportError)."""
    from ehmap.exports import read_export
    from ehmap.services import ingest_services

    area = council_areas(la_code).union_all()
    return ingest_services(read_export(data, filename), la_code, postcode_directory(), area)


def demo_services():
    """The demo's fictional Croydon services (`ServicesResult`)."""
    from ehmap.catalogue import ROOT

    path = ROOT / "demo" / "croydon_services.csv"
    return services_file(path.read_bytes(), path.name, DEMO_LA_CODE)


def current_services(la_code: str):
    """The services file in use for a council: this session's upload, else the demo's for Croydon.

    Returns (`ServicesResult` or None, label); raises ExportError for an unreadable upload.
    """
    upload = st.session_state.get(SERVICES_UPLOAD_KEY)
    if upload is not None and upload[2] == la_code:
        data, name, _ = upload
        return services_file(data, name, la_code), name
    if la_code == DEMO_LA_CODE:
        return demo_services(), "demo services (fictional, at real Croydon postcodes)"
    return None, ""


# --- board report ---------------------------------------------------------------------------------

BUSINESS_CASE_INPUTS_KEY = "business_case_inputs"  # the Business case page's edited inputs, for the report


@dataclass(frozen=True)
class BusinessCaseInputs:
    """Unit costs, assumptions, deflators and price year as last edited on the Business case page."""

    costs: pd.DataFrame
    assumptions: dict  # key -> ehmap.business_case.Assumption
    deflators: pd.Series | None
    year: str | None
    cut: tuple[str, float] | None = None  # (service, £ a year) of the "what would a cut cost" question


def report_data(la_code: str, result: IngestResult, label: str, by: str, with_coverage: bool,
                hotspot_geography: str | None = None):
    """The board report's inputs from the cached reference data (`ehmap.board_report.ReportData`).

    With `with_coverage`, the services in use (see `current_services`) and the LSOA centres are added, and
    with `hotspot_geography` ('lsoa11' or 'ward') the areas hot spots are tested on; raises ExportError for an
    unreadable uploaded services file and FileNotFoundError when ward files are missing."""
    from ehmap.board_report import CoverageInputs, ReportData

    children, _ = population()
    idaci, _ = idaci_deciles()
    reach = None
    if with_coverage:
        services, services_label = current_services(la_code)
        if services is not None:
            reach = CoverageInputs(services.services, services_label, coverage_centres(la_code),
                                   coverage_idaci(la_code)[0])
    return ReportData(result.cases, la_code, council_names()[la_code], label,
                      (result.rows_read, result.accepted, result.rejected), council_areas(la_code), children, idaci,
                      ward_names(la_code) if by == "locality" else None, reach,
                      hotspot_areas(hotspot_geography, la_code) if hotspot_geography else None)
