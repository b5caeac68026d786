"""Fixed periods for released figures: financial years (April to March) and their quarters.

A release never offers a free date range: two ranges a day apart would give away the episodes of that day.
Financial years are labelled as councils write them (2023-24); the whole export is the sum of its years.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

QUARTER_MONTHS = ("Apr to Jun", "Jul to Sep", "Oct to Dec", "Jan to Mar")


@dataclass(frozen=True)
class Period:
    """A fixed reporting period: a financial year, a quarter, or every year of the export together."""

    key: str  # "2023-24", "2023-24 Q1", "all"
    label: str  # for screens and papers
    start: dt.date
    end: dt.date  # inclusive
    kind: str  # "year", "quarter" or "all"

    def contains(self, dates: pd.Series) -> pd.Series:
        """True where a date falls in the period."""
        return (dates >= pd.Timestamp(self.start)) & (dates <= pd.Timestamp(self.end))


def financial_year_start(date: dt.date | pd.Timestamp) -> int:
    """The calendar year in which the financial year holding `date` starts (1 April)."""
    return date.year if date.month >= 4 else date.year - 1


def financial_year(start_year: int) -> Period:
    """The financial year 1 April `start_year` to 31 March the year after."""
    key = f"{start_year}-{(start_year + 1) % 100:02d}"
    return Period(key, key, dt.date(start_year, 4, 1), dt.date(start_year + 1, 3, 31), "year")


def quarters(year: Period) -> list[Period]:
    """The four quarters of a financial year (Q1 is April to June)."""
    out = []
    for i, months in enumerate(QUARTER_MONTHS):
        start = (pd.Timestamp(year.start) + pd.DateOffset(months=3 * i)).date()
        end = (pd.Timestamp(start) + pd.DateOffset(months=3) - pd.Timedelta(days=1)).date()
        out.append(Period(f"{year.key} Q{i + 1}", f"{year.key} Q{i + 1} ({months})", start, end, "quarter"))
    return out


def financial_years(first: dt.date | pd.Timestamp, last: dt.date | pd.Timestamp) -> list[Period]:
    """Every financial year from the one holding `first` to the one holding `last`."""
    return [financial_year(y) for y in range(financial_year_start(first), financial_year_start(last) + 1)]


def whole_export(years: list[Period]) -> Period:
    """Every year of the export together (the sum of its financial years)."""
    if not years:
        raise ValueError("An export with no referral dates has no periods.")
    label = years[0].key if len(years) == 1 else f"{years[0].key} to {years[-1].key}"
    return Period("all", f"{label} (all years)", years[0].start, years[-1].end, "all")
