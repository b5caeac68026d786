"""UK day-first dates as they appear in case exports.

Accepted: dd/mm/yyyy, dd-mm-yyyy (also dd.mm.yyyy) and ISO yyyy-mm-dd, each optionally followed by
a time part ('14:30', '14:30:00', 'T14:30:00.000'). Excel dates arrive from XLSX already as ISO.
Parsing is done once per distinct text, so a million rows cost a few thousand parses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

_TIME = r"(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?"
_DAY_FIRST = re.compile(rf"^(\d{{1,2}})([/\-.])(\d{{1,2}})\2(\d{{4}}){_TIME}$")
_ISO = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}$")

EARLIEST_PLAUSIBLE = dt.date(1900, 1, 1)


def parse_uk_date(text: str) -> dt.date:
    """One date; raises ValueError saying why ('31/02/2023 is not a calendar date')."""
    value = text.strip()
    match = _DAY_FIRST.match(value)
    if match:
        day, _, month, year = match.groups()
        day, month, year = int(day), int(month), int(year)
    elif (match := _ISO.match(value)) is not None:
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueError(f"'{value}' is not a date in a recognised form (dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd)")
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"'{value}' is not a calendar date") from None
    if date < EARLIEST_PLAUSIBLE:
        raise ValueError(f"'{value}' is before {EARLIEST_PLAUSIBLE.year}")
    return date


def parse_distinct_dates(values: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    """Parse distinct stripped texts: datetime64[s] (NaT if blank or bad) and an error message or None each."""
    parsed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    errors: list[str | None] = [None] * len(values)
    for i, text in enumerate(values):
        if not text:
            continue
        try:
            parsed[i] = np.datetime64(parse_uk_date(text), "s")
        except ValueError as error:
            errors[i] = str(error)
    return parsed, errors


def parse_uk_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a text column: (datetime64 dates, NaT where missing or bad; error message or <NA> per row)."""
    codes, uniques = pd.factorize(values.astype("string").fillna("").str.strip(), use_na_sentinel=False)
    parsed, errors = parse_distinct_dates(list(uniques))
    dates = pd.Series(parsed[codes], index=values.index)
    messages = pd.Series(np.asarray(errors, dtype=object)[codes], index=values.index, dtype="string")
    return dates, messages
