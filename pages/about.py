"""About and sources: what ehmap does with data, where reference data comes from, licences."""

import streamlit as st

from ehmap.catalogue import boundary_set, indicator_sources
from ehmap.geocode import DIRECTORY_ATTRIBUTION, DIRECTORY_PACKAGE, DIRECTORY_TITLE, DIRECTORY_VINTAGE
from ehmap.indicators import SourceMissing, locate
from ehmap.release.protect import RULE
from ui.frame import require_frame

require_frame()

st.title("About and sources")
st.markdown(
    """
**ehmap** maps Early Help episodes onto LSOAs so a service can see where needs are concentrated.

**Data protection.** Case data is processed on this server and never sent elsewhere. Only the fields the
analysis needs are kept: identifiers are replaced by keyed pseudonyms (the key is generated per
installation and never leaves it), date of birth becomes age at referral, and the postcode is dropped
once the case has its LSOA. Saved datasets are kept in the team store for the retention period, and the uploaded
file itself is never kept. Logs hold counts, never records.

**Who sees what.** Admins and analysts see their team's exact figures, marked as not for sharing, with counts
under 6 flagged for care. Everything shared (a viewer's screen, the released view on a projector, board papers,
CSV downloads) comes from the release gate, which protects every shared table together, so no hidden count can be
worked out by setting one table against another.
"""
)
st.markdown(f"**Released figures.** {RULE.describe()} Periods are whole financial years or their quarters; services "
            "are shown for the whole council only; each need is shown on one geography chosen for its numbers.")
st.markdown(
    "**Geocoding.** Postcodes are looked up in the ONS Postcode Directory. Each postcode is placed in the "
    "LSOA *of its own council* that contains its grid reference, or else the nearest LSOA of its council, "
    "because the super-generalised boundaries would otherwise put about 1% of edge postcodes in a "
    "neighbouring council."
)

st.subheader("Reference data")
st.caption("Which version of each reference file is in use, and how an admin adds one: *Data sources*.")
rows = []
for boundaries in (boundary_set("lsoa11"), boundary_set("lsoa21"), boundary_set("wards_may2024")):
    where = (f"installed ({boundaries.source_package} package)" if boundaries.installed
             else "read from the data folder, or an admin's upload on Data sources")
    rows.append({"Source": boundaries.title, "Vintage": boundaries.vintage, "Status": where, "Attribution": boundaries.attribution})
rows.append({"Source": DIRECTORY_TITLE, "Vintage": DIRECTORY_VINTAGE,
             "Status": f"installed ({DIRECTORY_PACKAGE} package)", "Attribution": DIRECTORY_ATTRIBUTION})
for source in indicator_sources():
    try:
        status = f"loaded from the {locate(source).origin}"
    except SourceMissing as missing:
        status = f"not loaded: {missing}"
    rows.append({"Source": source.title, "Vintage": source.vintage, "Status": status, "Attribution": source.attribution})
st.dataframe(rows, hide_index=True, width="stretch")
