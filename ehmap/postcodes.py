"""UK postcodes: normalise, validate and encode them as integer keys for an indexed lookup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Outward code (area, district, optional sub-district) then inward code (sector digit, unit letters).
POSTCODE_PATTERN = r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][ABD-HJLNP-UW-Z]{2}|GIR0AA)$"

_KEY_WIDTH = 7
_ALPHABET = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGIT_OF_BYTE = np.zeros(256, dtype=np.int64)
for _digit, _char in enumerate(_ALPHABET):
    _DIGIT_OF_BYTE[ord(_char)] = _digit
_DIGIT_OF_BYTE[0] = 0  # numpy pads short byte strings with NUL
_PLACE_VALUES = len(_ALPHABET) ** np.arange(_KEY_WIDTH - 1, -1, -1, dtype=np.int64)


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Upper-case and strip spaces and punctuation: ' cr0 1ab.' -> 'CR01AB'. Missing stays missing."""
    text = pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())
    cleaned = pc.replace_substring_regex(pc.utf8_upper(text), r"[^A-Z0-9]", "")
    return pd.Series(cleaned.to_numpy(zero_copy_only=False), index=values.index, dtype="string").replace("", pd.NA)


def is_valid_postcode(normalised: pd.Series) -> pd.Series:
    """Whether each normalised postcode has the UK format (not whether it exists)."""
    return normalised.fillna("").str.fullmatch(POSTCODE_PATTERN).astype(bool)


def format_postcode(normalised: str) -> str:
    """The display form of a normalised postcode: 'CR01AB' -> 'CR0 1AB'."""
    return f"{normalised[:-3]} {normalised[-3:]}"


def postcode_keys(normalised: pd.Series | np.ndarray) -> np.ndarray:
    """Encode valid normalised postcodes as int64 (base 37, 7 places) so lookups are array searches."""
    as_bytes = np.asarray(normalised, dtype=f"S{_KEY_WIDTH}")
    digits = _DIGIT_OF_BYTE[as_bytes.view(np.uint8).reshape(-1, _KEY_WIDTH)]
    return digits @ _PLACE_VALUES
