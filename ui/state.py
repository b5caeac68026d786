"""Cached reference data and the session's chosen council and dataset (saved datasets: ui.datasets)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import streamlit as st

from ehmap.catalogue import indicator_source
from ehmap.config import pseudonymisation_key
from ehmap.demo import DEMO_LA_CODE, DEMO_LABEL, load_demo
from ehmap.exports import ExportError
from ehmap.geocode import PostcodeDirectory, build_reference_cache, reference_cache_ready
from ehmap.geography import council_lsoas, councils
from ehmap.indicators import SourceMissing, child_population, demo_rows_only
from ehmap.ingest import IngestResult
from ehmap.store import DEMO_CHOICE, DatasetInfo, StoreError, content_hash
from ehmap.text import file_label, plain
from ui.datasets import (
    may_save,
    remember,
    remembered,
    remembered_council,
    saved_result,
    session_user,
    team_store,
)

COUNCIL_KEY = "la_code"
DATASET_KEY = "dataset"  # the sidebar's choice: DEMO or a saved dataset's id
SWITCH_TO_DATASET_KEY = "switch_to_dataset"  # set by Your data; the frame selects that dataset on its next run
REMEMBERED_KEY = "remembered_choice"  # (council, dataset) last written to the user's settings
DEMO = DEMO_CHOICE


@dataclass(frozen=True)
class DatasetInUse:
    """The dataset the pages analyse: a saved dataset of the chosen council, or the built-in demo."""

    id: int | str  # the saved dataset's id, or DEMO
    label: str  # how pages name it, e.g. 'Q1 export (saved 21/05/2026)'
    is_demo: bool  # the synthetic demo: fictional families, never stored
    la_code: str  # the council the episodes belong to
    result: IngestResult  # the minimised, pseudonymised episodes, rejects report and reconciliation
    info: DatasetInfo | None = None  # who saved it, when, the period and counts (None for the demo)


_reference_lock = threading.Lock()  # one session builds the reference cache; others wait for it
_reference_ready = False  # set once the cache is known to be built in this process


def prepare_reference_data() -> None:
    """On the first start (an empty cache), build the reference cache in one pass with a progress bar, so the
    first page says what it is doing rather than stay blank for 20 s; afterwards a no-op."""
    global _reference_ready
    if _reference_ready:
        return
    with _reference_lock:
        if not reference_cache_ready():  # another session may have built it while this one waited
            bar = st.progress(0.0, text="First start: preparing the reference data (once, about 20 s)...")
            build_reference_cache(lambda done, text: bar.progress(min(max(done, 0.0), 1.0), text=text))
            bar.empty()
        _reference_ready = True


@st.cache_resource(show_spinner="Loading the ONS Postcode Directory...")
def postcode_directory() -> PostcodeDirectory:
    """The read-only postcode lookup, shared by all sessions (the frame's council list builds the cache first)."""
    return PostcodeDirectory.load()


@st.cache_data(show_spinner=False)
def _council_names() -> dict[str, str]:
    return {council.code: council.name for council in councils()}


def council_names() -> dict[str, str]:
    """English councils, code -> name, in name order (the first start builds the reference cache first)."""
    prepare_reference_data()
    return _council_names()


@st.cache_data(show_spinner=False)
def council_areas(la_code: str) -> gpd.GeoDataFrame:
    """The council's LSOA 2011 polygons (EPSG:27700)."""
    return council_lsoas(la_code)


@st.cache_data(show_spinner=False)
def children_table() -> tuple[pd.DataFrame | None, str | None]:
    """Children aged 0-17 per LSOA (every council the file holds), or None with the reason it is missing."""
    try:
        return child_population(), None
    except SourceMissing as missing:
        return None, str(missing)


def population(la_code: str | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """Children aged 0-17 per LSOA for the council (default: the chosen one), or None with the reason it is missing
    (the demo's built-in rows serve the demo council only)."""
    gap = demo_rows_only(indicator_source("population_mid2020"), la_code or selected_council())
    return (None, gap) if gap else children_table()


def population_on(geography: str, la_code: str | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """Children aged 0-17 on the areas episodes are counted by (`ehmap.lsoa21.children_on`: per LSOA 2011, or
    carried onto LSOA 2021), or None with the reason."""
    children, missing = population(la_code)
    if geography != "lsoa21" or children is None:
        return children, missing
    return _children_lsoa21(reference_signature("population_mid2020"), reference_signature("lookup_lsoa11_lsoa21"))


@st.cache_data(show_spinner=False, max_entries=4)
def _children_lsoa21(*signatures) -> tuple[pd.DataFrame | None, str | None]:
    from ehmap.lsoa21 import children_on

    try:
        return children_on("lsoa21", children_table()[0]), None
    except SourceMissing as problem:
        return None, str(problem)


@st.cache_data(show_spinner="Loading the demo export...")
def demo_dataset() -> IngestResult:
    """The synthetic Croydon demo, ingested like an upload."""
    return load_demo(postcode_directory(), council_names(), pseudonymisation_key())


def selected_council() -> str:
    return st.session_state.get(COUNCIL_KEY, DEMO_LA_CODE)


def first_council_index(names: dict[str, str]) -> int:
    """Where the council selector starts a session: the council this user chose last time, else Croydon (the
    demo's) when they may choose it. Once the selector has a value it keeps it, so the store is read only then."""
    codes = list(names)
    if st.session_state.get(COUNCIL_KEY) in codes:
        return codes.index(st.session_state[COUNCIL_KEY])
    return codes.index(remembered_council(session_user(), codes, DEMO_LA_CODE))


def saved_label(info: DatasetInfo) -> str:
    return f"{info.name} (saved {info.uploaded_at:%d/%m/%Y})"


def current_dataset() -> DatasetInUse:
    """The dataset the pages analyse: the saved dataset chosen in the sidebar, else the demo (a dataset deleted
    meanwhile, or one this user may not see, is never used)."""
    choice = st.session_state.get(DATASET_KEY)
    if choice not in (None, DEMO):
        try:
            info = team_store().dataset(int(choice))
            if session_user().may_see(info.la_code):
                return DatasetInUse(info.id, saved_label(info), False, info.la_code,
                                    saved_result(info.id, info.content_hash), info)
        except StoreError:
            pass
    return DatasetInUse(DEMO, DEMO_LABEL, True, DEMO_LA_CODE, demo_dataset())


def dataset_options(la_code: str) -> tuple[dict[int | str, str], str | None]:
    """The datasets offered for a council (id -> label): the demo for Croydon only, then the council's saved
    datasets this user may see, newest first; and why the store could not be read, if it could not."""
    options: dict[int | str, str] = {DEMO: "Synthetic demo (fictional families)"} if la_code == DEMO_LA_CODE else {}
    if not session_user().may_see(la_code):
        return options, None
    try:
        saved = team_store().datasets(la_code)
    except StoreError as error:
        return options, str(error)
    return options | {info.id: f"{info.name} ({info.accepted:,} episodes)" for info in saved}, None


def dataset_selector() -> None:
    """The sidebar's dataset choice among the selected council's datasets (never another council's), starting
    from the one this user chose last time; the choice is remembered for their next visit."""
    la_code, user = selected_council(), session_user()
    options, problem = dataset_options(la_code)
    switch = st.session_state.pop(SWITCH_TO_DATASET_KEY, None)
    if switch in options:
        st.session_state[DATASET_KEY] = switch
    if st.session_state.get(DATASET_KEY) not in options:
        last = remembered(user, la_code)
        st.session_state[DATASET_KEY] = last if last in options else next(iter(options), None)
    if problem:
        st.error(plain(problem))
    if not options:
        st.caption(f"No dataset is saved for {council_names()[la_code]} yet: add one on *Your data*.")
        return
    st.selectbox("Dataset", list(options), format_func=options.get, key=DATASET_KEY)
    chosen = (la_code, st.session_state[DATASET_KEY])
    if st.session_state.get(REMEMBERED_KEY) != chosen and remember(user, *chosen):
        st.session_state[REMEMBERED_KEY] = chosen


# ---------------------------------------------------------------- deprivation and population context


CONTEXT_SOURCES = ("iod2019", "iod2025")  # the indices joined onto the council's LSOAs
_LOOKUPS = ("lookup_lsoa11_lsoa21", "lookup_lsoa11_lsoa21_best_fit")
CONTEXT_FILES = (*CONTEXT_SOURCES, *_LOOKUPS, "population_mid2020")  # every reference file a context table reads


def reference_versions(*source_ids: str) -> str:
    """One line saying which version of each reference file a page used, as *Data sources* lists it (file, short
    hash, date and where it came from: `ehmap.download.copy_in_use`); a file not loaded says so."""
    from ehmap.catalogue import indicator_source
    from ehmap.download import copy_in_use

    used = []
    for source_id in source_ids:
        source = indicator_source(source_id)
        try:
            used.append(copy_in_use(source).short)
        except SourceMissing:
            used.append(f"{source.file} (not loaded)")
    return plain(f"Reference files used: {'; '.join(used)}.")


def reference_signature(source_id: str) -> tuple[str, int, int] | None:
    """Where a source's or boundary set's file is now and its size and modification time (None when absent): the
    cache key."""
    from ehmap.catalogue import BOUNDARIES_DIR, boundary_set, indicator_source
    from ehmap.indicators import locate

    source = boundary_set(source_id) if (BOUNDARIES_DIR / f"{source_id}.yaml").exists() else indicator_source(source_id)
    try:
        path = locate(source).path
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
    signatures = (reference_signature(source_id), *(reference_signature(lookup) for lookup in _LOOKUPS))
    return _indicator_on_lsoa11(source_id, signatures)


@st.cache_data(show_spinner=False, max_entries=32)
def _council_context(la_code: str, signatures: tuple):
    from ehmap.context import context_table

    lsoas = pd.DataFrame(council_areas(la_code).drop(columns="geometry"))
    loaded, missing = [], []
    for source_id in CONTEXT_SOURCES:
        item, problem = indicator_on_lsoa11(source_id)
        problem = demo_rows_only(indicator_source(source_id), la_code) or problem
        if item is None or problem:
            missing.append(problem)
        else:
            loaded.append(item)
    children, population_missing = population(la_code)
    if population_missing:
        missing.append(population_missing)
    return context_table(lsoas, loaded, children), missing


def index_on_lsoa21(la_code: str, source_id: str):
    """An index on the council's LSOA 2021 polygons and how it got there (`ehmap.lsoa21.indicator_on_lsoa21`), or None,
    and why it cannot be drawn; cached per council and per file."""
    signatures = tuple(reference_signature(s) for s in ("lsoa21", source_id, "lookup_lsoa11_lsoa21",
                                                         "lookup_lsoa21_ward24"))
    return _index_on_lsoa21(la_code, source_id, signatures)


@st.cache_data(show_spinner="Reading the LSOA 2021 boundaries...", max_entries=16)
def _index_on_lsoa21(la_code: str, source_id: str, signatures: tuple):
    from ehmap.lsoa21 import Lsoa21Missing, indicator_on_lsoa21

    try:
        return indicator_on_lsoa21(la_code, source_id), None
    except (Lsoa21Missing, SourceMissing) as problem:
        return (None, None), str(problem)


def council_context_table(la_code: str):
    """The council's LSOAs with every loaded index and child population (`ContextTable`), and what is missing."""
    signatures = tuple(reference_signature(s) for s in CONTEXT_FILES)
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
    dataset = current_dataset()
    result, label = dataset.result, dataset.label
    if dataset.la_code != la_code:
        names = council_names()
        data_council = names.get(dataset.la_code, dataset.la_code)
        return None, label, (
            f"The dataset in use ({plain(label)}) covers {data_council}, not {names[la_code]}. "
            f"Choose {data_council} in the sidebar, or upload an export for {names[la_code]} on *Your data*."
        )
    return result, label, None


# --- hotspots (appended by the hotspots feature) -------------------------------------------------

AREA_FILES = ("lsoa21", "wards_may2024", "lookup_lsoa11_lsoa21", "lookup_lsoa11_lsoa21_best_fit",
              "lookup_lsoa21_ward24")  # the files a council's LSOAs 2021 and wards are built from


def hotspot_areas(geography: str, la_code: str):
    """The council's areas for 'lsoa11', 'lsoa21' or 'ward' (ehmap.areas.AreaSet), cached per council and per
    version of the files they are built from (an admin's upload is used at once)."""
    return _hotspot_areas(geography, la_code, tuple(reference_signature(s) for s in AREA_FILES))


@st.cache_data(show_spinner="Preparing the areas...", max_entries=32)
def _hotspot_areas(geography: str, la_code: str, signatures: tuple):
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

PERIOD_KEY = "shared_period"  # ehmap.referral_period.ChosenPeriod, shared by the pages that filter by period


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
def ward_table(la_code: str) -> pd.DataFrame:
    """LSOA 2011 code -> its electoral ward's `ward_code` and `ward_name` (ONS best fit)."""
    return hotspot_areas("ward", la_code).lsoa_table("ward")


def ward_names(la_code: str) -> pd.Series:
    """LSOA 2011 code -> electoral ward name (ONS best fit), the localities used by the performance pages."""
    return ward_table(la_code)["ward_name"]


def dataset_key(dataset: DatasetInUse) -> str:
    """Which dataset, and which content of it, a choice belongs to (a replaced dataset keeps its id)."""
    return f"{dataset.id}:{dataset.info.content_hash if dataset.info is not None else 'demo'}"


# WCAG 2.2 target size (2.5.8): the date field's day, month and year parts are 18x20 px in Streamlit; at least 24x24.
DATE_FIELD_STYLE = ('<style>[data-testid="stDateInput"] [role="spinbutton"] {display: inline-block; min-width: 24px; '
                    'min-height: 24px; line-height: 24px; text-align: center;}</style>')


def period_selector(cases: pd.DataFrame, key: str, container=st) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A referral-period picker whose choice carries across pages (kept under PERIOD_KEY) and belongs to the dataset
    it was chosen on: when the dataset in use changes, it starts again from the new dataset's full span."""
    from ehmap.referral_period import ChosenPeriod, full_span, period_in_force

    owner = dataset_key(current_dataset())
    first, last = full_span(cases)
    period = period_in_force(st.session_state.get(PERIOD_KEY), owner, cases)
    shown, owner_key = st.session_state.get(key), f"{key}_dataset"
    if st.session_state.get(owner_key) != owner or not shown or shown[0] < first or shown[-1] > last:
        st.session_state[key] = (period.start, period.end)  # a new widget, or one still showing another dataset's
    st.session_state[owner_key] = owner
    st.html(DATE_FIELD_STYLE)  # no layout space: a page with only a style
    chosen = container.date_input("Referrals between", value="today", min_value=first, max_value=last,
                                  format="DD/MM/YYYY", key=key)  # "today": the value is the one set above
    start, end = (chosen[0], chosen[1]) if len(chosen) == 2 else (chosen[0], chosen[0])
    st.session_state[PERIOD_KEY] = ChosenPeriod(owner, start, end)
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

    gap = demo_rows_only(indicator_source("iod2019"), la_code)
    return (None, gap) if gap else council_idaci(council_areas(la_code)["lsoa11cd"])


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
    """The services file in use for a council: for a saved dataset, only the one saved with it (never the demo's
    fictional services); for the demo, this session's upload, else the demo's services.

    Returns (`ServicesResult` or None, label); raises ExportError for an unreadable file.
    """
    dataset = current_dataset()
    if not dataset.is_demo:
        stored = _saved_services(dataset) if dataset.la_code == la_code else None
        return (services_file(stored.data, stored.file_name, la_code), stored.file_name) if stored else (None, "")
    upload = st.session_state.get(SERVICES_UPLOAD_KEY)
    if upload is not None and upload[2] == la_code:
        data, name, _ = upload
        return services_file(data, name, la_code), name
    if la_code == DEMO_LA_CODE:
        return demo_services(), "demo services (fictional, at real Croydon postcodes)"
    return None, ""


def _saved_services(dataset: DatasetInUse):
    """The services file saved with a saved dataset (`ehmap.store.StoredFile`) or None."""
    try:
        return team_store().file("services", dataset.id)
    except StoreError:
        return None


def keep_services_upload(data: bytes, name: str, la_code: str) -> str | None:
    """Keep an uploaded services file: saved with the saved dataset in use (analysts and admins), or for this
    session when the demo is in use. Returns why it was not kept, or None; an unreadable file is not kept."""
    try:
        services_file(data, name, la_code)
    except ExportError as error:
        return str(error)
    dataset = current_dataset()
    if dataset.is_demo:
        st.session_state[SERVICES_UPLOAD_KEY] = (data, name, la_code)
        return None
    user = session_user()
    if not may_save(user):
        return "Only analysts and admins can save a services file with a dataset."
    try:
        stored = team_store().file("services", dataset.id)
        if stored is None or stored.content_hash != content_hash(data) or stored.file_name != name:
            team_store().save_file("services", dataset.id, name, data, user)
            if stored is not None:
                services_file.clear(stored.data, stored.file_name, la_code)
    except StoreError as error:
        return str(error)
    return None


def services_kept(la_code: str) -> tuple[str, bool] | None:
    """What says which kept services file is in use (when no file is being uploaded), and whether this user may
    stop using it; None when none is kept."""
    dataset = current_dataset()
    if dataset.is_demo:
        upload = st.session_state.get(SERVICES_UPLOAD_KEY)
        if upload is None or upload[2] != la_code:
            return None
        return f"Using {plain(file_label(upload[1]))}, uploaded earlier in this session.", True
    stored = _saved_services(dataset) if dataset.la_code == la_code else None
    if stored is None:
        return None
    return (f"Using {plain(file_label(stored.file_name))}, saved with this dataset by {plain(stored.uploaded_by)} on "
            f"{stored.uploaded_at:%d/%m/%Y}.", may_save(session_user()))


def forget_services(la_code: str) -> None:
    """Stop using the kept services file: this session's (demo), or the one saved with the dataset in use."""
    dataset = current_dataset()
    if dataset.is_demo:
        st.session_state.pop(SERVICES_UPLOAD_KEY, None)
        return
    stored = _saved_services(dataset)
    if stored is not None:
        team_store().delete_file("services", dataset.id, session_user())
        services_file.clear(stored.data, stored.file_name, la_code)


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
                hotspot_geography: str | None = None, release=None):
    """The board report's inputs from the cached reference data (`ehmap.board_report.ReportData`).

    With `with_coverage`, the services in use (see `current_services`) and the LSOA centres are added; with
    `hotspot_geography` ('lsoa11' or 'ward') the areas the team's hot spots are tested on; with `release` (the
    dataset's `ehmap.release.gate.Release`) what a paper that leaves the team is built from. Raises ExportError for
    an unreadable uploaded services file and FileNotFoundError when ward files are missing."""
    from ehmap.board_report import CoverageInputs, ReportData

    children, _ = population(la_code)
    idaci, _ = idaci_deciles()
    reach = None
    if with_coverage:
        services, services_label = current_services(la_code)
        if services is not None:
            reach = CoverageInputs(services.services, services_label, coverage_centres(la_code),
                                   coverage_idaci(la_code)[0])
    return ReportData(result.cases, la_code, council_names()[la_code], label,
                      (result.rows_read, result.accepted, result.rejected), hotspot_areas("lsoa11", la_code), children,
                      idaci, ward_names(la_code) if by == "locality" else None, reach,
                      hotspot_areas(hotspot_geography, la_code) if hotspot_geography else None, release)
