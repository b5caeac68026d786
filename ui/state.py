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
