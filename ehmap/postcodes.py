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
_PLACE_VALUES = len(_ALPHABET) ** np.arange(_KEY_WIDTH - 1, -1, -1, dtype=np.int64)


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Upper-case and strip spaces and punctuation: ' cr0 1ab.' -> 'CR01AB'. Missing stays missing."""
    return pd.Series(normalised_postcode_text(arrow_text(values)), index=values.index,
                     dtype=pd.StringDtype("pyarrow"))


def normalised_postcode_text(text: pa.Array) -> pa.Array:
    """`normalise_postcodes` on Arrow text, staying in Arrow: blank or missing becomes null."""
    cleaned = pc.replace_substring_regex(pc.utf8_upper(text), r"[^A-Z0-9]", "")
    return pc.if_else(pc.equal(cleaned, ""), pa.scalar(None, pa.string()), cleaned)


def arrow_text(values: pd.Series | np.ndarray | pa.Array) -> pa.Array:
    """Texts as one Arrow string array (zero-copy for Arrow-backed text; missing stays null)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, pd.Series):
        values = values.astype("string").array
    text = pa.array(values, type=pa.string(), from_pandas=True)
    return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text


def is_valid_postcode(normalised: pd.Series) -> pd.Series:
    """Whether each normalised postcode has the UK format (not whether it exists)."""
    return pd.Series(valid_postcode_mask(arrow_text(normalised)), index=normalised.index)


def valid_postcode_mask(normalised: pa.Array) -> np.ndarray:
    """`is_valid_postcode` on Arrow text, as a boolean array (missing is not valid)."""
    return pc.fill_null(pc.match_substring_regex(normalised, POSTCODE_PATTERN), False).to_numpy(zero_copy_only=False)


def format_postcode(normalised: str) -> str:
    """The display form of a normalised postcode: 'CR01AB' -> 'CR0 1AB'."""
    return f"{normalised[:-3]} {normalised[-3:]}"


def postcode_keys(normalised: pd.Series | np.ndarray | pa.Array) -> np.ndarray:
    """Encode valid normalised postcodes as int64 (base 37, 7 places) so lookups are array searches.

    Each postcode is padded to 7 characters with spaces (digit 0, as the NUL padding of fixed-width bytes), so its
    bytes sit at fixed places in the Arrow data buffer and are read as one (n, 7) array."""
    padded = pc.utf8_rpad(pc.fill_null(arrow_text(normalised), ""), width=_KEY_WIDTH, padding=" ")
    if len(padded) == 0:
        return np.zeros(0, dtype=np.int64)
    if pc.max(pc.binary_length(padded)).as_py() != _KEY_WIDTH:
        raise ValueError(f"Postcode keys need valid normalised postcodes of at most {_KEY_WIDTH} characters.")
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset:padded.offset + len(padded) + 1]
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return _DIGIT_OF_BYTE[data.reshape(-1, _KEY_WIDTH)] @ _PLACE_VALUES
