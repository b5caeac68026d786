"""An independent reference for wards: each LSOA 2011 of a council with its ward (May 2024), chained by hand with
pandas from the two ONS best-fit lookup files, for tests to compare ehmap's ward counts and names with."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CROYDON = "E09000008"


def lsoa11_wards(data_dir: Path, la_code: str = CROYDON) -> pd.DataFrame:
    """The council's LSOAs 2011 (as the ONS LSOA 2011 to 2021 lookup places them) with the ward of their best-fit
    LSOA 2021: LSOA11CD, LSOA11NM, WD24CD, WD24NM, one row per LSOA 2011."""
    to_lsoa21 = pd.read_csv(data_dir / "lookup_lsoa11_lsoa21_lad22_best_fit.csv", dtype=str)
    to_ward = pd.read_csv(data_dir / "lookup_lsoa21_ward24_lad24.csv", dtype=str)
    chained = to_lsoa21[to_lsoa21["LAD22CD"] == la_code].merge(to_ward[to_ward["LAD24CD"] == la_code], on="LSOA21CD")
    return chained[["LSOA11CD", "LSOA11NM", "WD24CD", "WD24NM"]].reset_index(drop=True)
