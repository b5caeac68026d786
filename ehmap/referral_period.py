"""The referral period the team's pages filter by, and what it leaves out.

A period belongs to the dataset it was chosen on: when the dataset in use changes, the period starts again from
the new dataset's full span, so a period remembered from the demo never narrows an upload. Every page that filters
by period says which period is in force and how many of the dataset's episodes fall outside it, so no episode
drops out silently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ehmap.performance import in_period


@dataclass(frozen=True)
class ChosenPeriod:
    """Referral dates from `start` to `end` inclusive, chosen on the dataset `dataset` (its id and content)."""

    dataset: str
    start: dt.date
    end: dt.date


def full_span(cases: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """The first and last referral date of a dataset's episodes."""
    dates = cases["referral_date"]
    return dates.min().date(), dates.max().date()


def period_in_force(remembered: ChosenPeriod | None, dataset: str, cases: pd.DataFrame) -> ChosenPeriod:
    """The period a page starts from: the remembered one when it was chosen on this dataset (kept within its
    span), else the dataset's full span."""
    first, last = full_span(cases)
    if remembered is None or remembered.dataset != dataset:
        return ChosenPeriod(dataset, first, last)
    start = min(max(remembered.start, first), last)
    return ChosenPeriod(dataset, start, max(min(remembered.end, last), start))


def episodes_outside(cases: pd.DataFrame, start: dt.date, end: dt.date) -> int:
    """How many episodes were referred before `start` or after `end` (the ones a period leaves out)."""
    return int(len(cases) - in_period(cases, start, end).sum())


def period_sentence(start: dt.date, end: dt.date, outside: int, total: int) -> str:
    """'Showing referrals 01/04/2024 to 31/03/2025: 812 of 2,600 episodes are outside this period.'"""
    verb = "is" if outside == 1 else "are"
    return (f"Showing referrals {start:%d/%m/%Y} to {end:%d/%m/%Y}: {outside:,} of {total:,} episodes {verb} outside "
            "this period.")
