"""UK day-first dates as they appear in case exports (ehmap.dates)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ehmap.dates import parse_uk_date, parse_uk_dates

FIFTH_OF_JAN = dt.date(2023, 1, 5)
RECOGNISED_FORMS = "(dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd)"


@pytest.mark.parametrize(
    "text",
    [
        "05/01/2023",  # dd/mm/yyyy
        "5/1/2023",  # d/m/yyyy
        "05-01-2023",  # dd-mm-yyyy
        "5-1-2023",
        "05.01.2023",  # dd.mm.yyyy
        "2023-01-05",  # ISO
        "2023-1-5",
        "05/01/2023 14:30",  # with a time
        "05/01/2023 14:30:00",
        "5/1/2023 9:05",
        "05-01-2023 00:00:00",
        "2023-01-05 14:30",
        "2023-01-05 00:00:00",  # what an Excel date cell becomes
        "2023-01-05T14:30:00",  # ISO 'T'
        "2023-01-05T14:30:00.000",
        "2023-01-05 14:30:00.123456",
        "  05/01/2023  ",  # stray spaces
    ],
)
def test_each_accepted_form(text):
    assert parse_uk_date(text) == FIFTH_OF_JAN


def test_day_comes_first():
    assert parse_uk_date("01/05/2023") == dt.date(2023, 5, 1)
    assert parse_uk_date("13/01/2023") == dt.date(2023, 1, 13)


@pytest.mark.parametrize(
    "text", ["31/02/2023", "29/02/2023", "2023-02-30", "31/04/2023", "00/01/2023", "01/13/2023", "2023-13-01"]
)
def test_impossible_dates_say_so(text):
    with pytest.raises(ValueError) as error:
        parse_uk_date(text)
    assert str(error.value) == f"'{text}' is not a calendar date"


def test_leap_day_only_in_leap_years():
    assert parse_uk_date("29/02/2024") == dt.date(2024, 2, 29)
    assert parse_uk_date("29/02/2000") == dt.date(2000, 2, 29)  # divisible by 400: leap
    with pytest.raises(ValueError, match=r"^'29/02/2023' is not a calendar date$"):
        parse_uk_date("29/02/2023")
    with pytest.raises(ValueError, match=r"^'29/02/1900' is not a calendar date$"):  # divisible by 100: not leap
        parse_uk_date("29/02/1900")


@pytest.mark.parametrize(
    "text",
    ["5 Jan 2023", "05/01/23", "20230105", "January 5, 2023", "2023/01/05", "05/01/2023 2pm", "yesterday", "05/01"],
)
def test_unrecognised_forms_name_the_accepted_ones(text):
    with pytest.raises(ValueError) as error:
        parse_uk_date(text)
    assert str(error.value) == f"'{text}' is not a date in a recognised form {RECOGNISED_FORMS}"


def test_implausibly_old_dates_are_refused():
    with pytest.raises(ValueError) as error:
        parse_uk_date("31/12/1899")
    assert str(error.value) == "'31/12/1899' is before 1900"
    assert parse_uk_date("01/01/1900") == dt.date(1900, 1, 1)


def test_column_parse_gives_dates_and_a_message_per_row():
    values = pd.Series(
        ["05/01/2023", "", None, "31/02/2023", "foo", "2023-01-05", "   ", "29/02/2024", "31/02/2023"],
        index=[10, 11, 12, 13, 14, 15, 16, 17, 18],
    )
    dates, messages = parse_uk_dates(values)

    assert dates.index.tolist() == values.index.tolist()
    assert messages.index.tolist() == values.index.tolist()
    expected = pd.Series(
        pd.to_datetime(["2023-01-05", None, None, None, None, "2023-01-05", None, "2024-02-29", None]),
        index=values.index,
    )
    assert dates.isna().tolist() == expected.isna().tolist()
    assert (dates[dates.notna()] == expected[expected.notna()]).all()

    # Blanks are missing, not errors: whether a blank is allowed is the caller's decision.
    assert messages.isna().tolist() == [True, True, True, False, False, True, True, True, False]
    assert messages[13] == "'31/02/2023' is not a calendar date"
    assert messages[18] == "'31/02/2023' is not a calendar date"  # each row gets its own message
    assert messages[14] == f"'foo' is not a date in a recognised form {RECOGNISED_FORMS}"


def test_column_parse_of_an_empty_column():
    dates, messages = parse_uk_dates(pd.Series([], dtype="string"))
    assert len(dates) == 0 and len(messages) == 0


def test_column_parse_returns_datetimes_usable_for_comparison():
    dates, _ = parse_uk_dates(pd.Series(["05/01/2023", "06/01/2023"]))
    assert np.issubdtype(dates.dtype, np.datetime64)
    assert dates.iloc[0] < dates.iloc[1]
    assert (dates.iloc[1] - dates.iloc[0]) == pd.Timedelta(days=1)
