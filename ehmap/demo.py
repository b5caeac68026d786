"""The built-in demo: a synthetic Croydon Early Help case export (see demo/make_demo.py)."""

from __future__ import annotations

from collections.abc import Mapping

from ehmap.catalogue import ROOT
from ehmap.exports import read_export
from ehmap.geocode import PostcodeDirectory
from ehmap.ingest import IngestResult, ingest

DEMO_FILE = ROOT / "demo" / "croydon_cases.csv"
DEMO_LA_CODE = "E09000008"  # Croydon
DEMO_LABEL = "Synthetic demo data (Croydon): fictional families at real postcodes"


def load_demo(directory: PostcodeDirectory, council_names: Mapping[str, str], key: bytes) -> IngestResult:
    """Ingest the demo export for Croydon, exactly as an upload would be."""
    return ingest(read_export(DEMO_FILE.read_bytes(), DEMO_FILE.name), DEMO_LA_CODE, directory, council_names, key)
