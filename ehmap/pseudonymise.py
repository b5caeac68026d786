"""Pseudonymise identifiers with a keyed hash, so records link within a dataset but not to people.

SipHash-2-4 (pandas' vectorised `hash_pandas_object`) keyed with the installation's secret: without
the key, a pseudonym cannot be recomputed from a guessed ID.
"""

from __future__ import annotations

import pandas as pd


def pseudonymise(identifiers: pd.Series, key: bytes) -> pd.Series:
    """A 16-hex-digit pseudonym per identifier (equal IDs give equal pseudonyms under one key)."""
    if len(key) != 16:
        raise ValueError(f"The pseudonymisation key must be 16 bytes, got {len(key)}.")
    codes, uniques = pd.factorize(identifiers.astype("string").fillna(""), use_na_sentinel=False)
    hashed = pd.util.hash_pandas_object(pd.Series(uniques, dtype=object), index=False, hash_key=key.decode("ascii"))
    pseudonyms = pd.Series([f"{h:016x}" for h in hashed.to_numpy().tolist()], dtype="string")
    return pd.Series(pseudonyms.to_numpy()[codes], index=identifiers.index, dtype="string")
