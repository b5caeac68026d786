"""About and sources: what ehmap does with data, where reference data comes from, licences."""

import streamlit as st

from ehmap.catalogue import boundary_set, indicator_source
from ehmap.disclosure import SUPPRESSION_NOTE
from ehmap.geocode import DIRECTORY_PACKAGE
from ehmap.indicators import SourceMissing, source_path

st.title("About and sources")
st.markdown(
    """
**ehmap** maps Early Help episodes onto LSOAs so a service can see where needs are concentrated.

**Data protection.** Case data is processed on this server and never sent elsewhere. Only the fields the
analysis needs are kept: identifiers are replaced by keyed pseudonyms (the key is generated per
installation and never leaves it), date of birth becomes age at referral, and the postcode is dropped
once the case has its LSOA. Uploads live in your browser session only. Logs hold counts, never records.
"""
)
st.markdown(f"**Small numbers.** {SUPPRESSION_NOTE}")
st.markdown(
    "**Geocoding.** Postcodes are looked up in the ONS Postcode Directory. Each postcode is placed in the "
    "LSOA *of its own council* that contains its grid reference, or else the nearest LSOA of its council, "
    "because the super-generalised boundaries would otherwise put about 1% of edge postcodes in a "
    "neighbouring council."
)

st.subheader("Reference data")
lsoa = boundary_set("lsoa11")
rows = [
    {"Source": lsoa.title, "Vintage": lsoa.vintage, "Status": f"installed ({lsoa.source_package} package)", "Attribution": lsoa.attribution},
    {"Source": "ONS Postcode Directory (subset)", "Vintage": "November 2025", "Status": f"installed ({DIRECTORY_PACKAGE} package)",
     "Attribution": "Contains public sector information licensed under the Open Government Licence v3.0. "
                    "Contains OS data © Crown copyright and database right; Royal Mail data © Royal Mail copyright and database right."},
]
population = indicator_source("population_mid2020")
try:
    status = f"loaded from {source_path(population)}"
except SourceMissing as missing:
    status = f"not loaded: {missing}"
rows.append({"Source": population.title, "Vintage": population.vintage, "Status": status, "Attribution": population.attribution})
st.dataframe(rows, hide_index=True, width="stretch")
