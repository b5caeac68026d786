"""Pseudonymise identifiers with a keyed hash, so records link within a dataset but not to people.

SipHash-2-4 (pandas' vectorised `hash_array`) keyed with the installation's secret: without the key,
a pseudonym cannot be recomputed from a guessed ID.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_HEX_PAIRS = np.array([f"{byte:02x}".encode() for byte in range(256)], dtype="S2")


def pseudonyms_of_distinct(identifiers: np.ndarray, key: bytes) -> np.ndarray:
    """A 16-hex-digit pseudonym for each of these distinct identifiers, as fixed-width bytes (S16)."""
    if len(key) != 16:
        raise ValueError(f"The pseudonymisation key must be 16 bytes, got {len(key)}.")
    hashed = pd.util.hash_array(np.asarray(identifiers, dtype=object), hash_key=key.decode("ascii"), categorize=False)
    return _HEX_PAIRS[hashed.astype(">u8").view(np.uint8).reshape(-1, 8)].view("S16").ravel()


def pseudonymise(identifiers: pd.Series, key: bytes) -> pd.Series:
    """A 16-hex-digit pseudonym per identifier (equal IDs give equal pseudonyms under one key)."""
    codes, uniques = pd.factorize(identifiers.astype("string").fillna(""), use_na_sentinel=False)
    pseudonyms = pseudonyms_of_distinct(np.asarray(uniques, dtype=object), key).astype(str)
    return pd.Series(pseudonyms[codes], index=identifiers.index, dtype="string")
