"""Ingest a case export: validate every row, geocode it, minimise it.

Every row read is either accepted or rejected with one reason, the first that applies in
REJECT_REASONS order, so `rows_read == accepted + rejected` always holds. Accepted rows keep only
what the analysis needs: pseudonymised identifiers, age at referral (not date of birth), and the
LSOA and council of the postcode (not the postcode).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ehmap.dates import parse_uk_dates
from ehmap.exports import FIELD_SYNONYMS, REQUIRED_FIELDS, match_columns
from ehmap.geocode import PostcodeDirectory
from ehmap.postcodes import is_valid_postcode, normalise_postcodes
from ehmap.pseudonymise import pseudonymise
from ehmap.taxonomy import needs_text, parse_needs, parse_outcome

log = logging.getLogger(__name__)

REJECT_REASONS: dict[str, str] = {
    "missing_id": "The case ID is blank.",
    "duplicate": "Same case ID and referral date as an earlier row.",
    "invalid_date": "The referral date is missing, not a date, or impossible (or the end date is not a date or in the future).",
    "end_before_start": "The end date is before the referral date.",
    "missing_postcode": "The postcode is blank.",
    "invalid_postcode": "The postcode is not in a UK postcode format.",
    "unknown_postcode": "The postcode is not in the ONS Postcode Directory, or has no grid reference there.",
    "outside_area": "The postcode is in another council's area.",
}
FIRST_DATA_ROW = 2  # spreadsheet numbering: the header is row 1

CASE_COLUMNS = [
    "case_id", "family_id", "lsoa11cd", "lad_code", "referral_date", "end_date", "service",
    "needs_mask", "outcome", "referral_source", "age_at_referral",
]


@dataclass
class IngestResult:
    """Accepted episodes (minimised), rejected rows with reasons, and the reconciliation."""

    cases: pd.DataFrame
    rejects: pd.DataFrame  # row, reason, message
    rows_read: int
    la_code: str
    columns_used: dict[str, str]
    warnings: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return len(self.cases)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def summary(self) -> dict[str, object]:
        """The reconciliation as written to summary.json (reason codes with no rows omitted)."""
        by_reason = self.rejects["reason"].value_counts()
        return {
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_reason": {r: int(by_reason[r]) for r in REJECT_REASONS if r in by_reason.index},
            "la_code": self.la_code,
            "columns_used": self.columns_used,
            "missing_optional_columns": sorted(set(FIELD_SYNONYMS) - set(self.columns_used)),
            "warnings": self.warnings,
        }

    def cases_for_export(self) -> pd.DataFrame:
        """Accepted episodes as written to cases.csv: ISO dates, needs as keys joined by ';'."""
        out = self.cases.copy()
        out["referral_date"] = out["referral_date"].dt.strftime("%Y-%m-%d")
        out["end_date"] = out["end_date"].dt.strftime("%Y-%m-%d")
        out["needs"] = out["needs_mask"].map(_needs_text_cached)
        columns = ["case_id", "family_id", "lsoa11cd", "lad_code", "referral_date", "end_date",
                   "service", "needs", "outcome", "referral_source", "age_at_referral"]
        return out[columns]


_NEEDS_TEXT: dict[int, str] = {}


def _needs_text_cached(mask: int) -> str:
    if mask not in _NEEDS_TEXT:
        _NEEDS_TEXT[mask] = needs_text(int(mask))
    return _NEEDS_TEXT[mask]


def _text(table: pd.DataFrame, columns: Mapping[str, str], name: str) -> pd.Series:
    """A field's column as stripped text ('' when the export has no such column)."""
    if name not in columns:
        return pd.Series("", index=table.index, dtype="string")
    return table[columns[name]].astype("string").fillna("").str.strip()


def _per_unique(values: pd.Series, parse):
    """Apply `parse` once per distinct value; return (codes, parsed uniques)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, [parse(value) for value in uniques]


def _row_label(rows: np.ndarray) -> np.ndarray:
    return rows + FIRST_DATA_ROW


def _assign_reasons(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The first applicable reason per row ('' if accepted)."""
    reason = np.full(n, "", dtype=object)
    for code in reversed(REJECT_REASONS):  # later reasons are overwritten by earlier ones
        reason[masks[code]] = code
    return reason


def ingest(
    table: pd.DataFrame,
    la_code: str,
    directory: PostcodeDirectory,
    council_names: Mapping[str, str],
    key: bytes,
    mapping: Mapping[str, str] | None = None,
    today: dt.date | None = None,
) -> IngestResult:
    """Validate, geocode and minimise a case export read by `ehmap.exports.read_export`."""
    columns = match_columns(list(table.columns), mapping)
    n = len(table)
    today = today or dt.date.today()
    rows = np.arange(n)

    case_id = _text(table, columns, "case_id")
    referral, referral_error = parse_uk_dates(_text(table, columns, "referral_date"))
    end, end_error = parse_uk_dates(_text(table, columns, "end_date"))
    referral_text = _text(table, columns, "referral_date")

    missing_id = (case_id == "").to_numpy()
    duplicate_key = pd.DataFrame({"id": case_id, "date": referral.astype("string").fillna(referral_text)})
    duplicate = (~missing_id) & duplicate_key.duplicated(keep="first").to_numpy()
    tomorrow = pd.Timestamp(today) + pd.Timedelta(days=1)
    future = (referral >= tomorrow).fillna(False).to_numpy()
    invalid_referral = referral.isna().to_numpy() | future
    future_end = (end >= tomorrow).fillna(False).to_numpy()
    invalid_end = end_error.notna().to_numpy() | future_end
    end_before = (end < referral).fillna(False).to_numpy()

    postcode_raw = _text(table, columns, "postcode")
    codes, uniques = pd.factorize(postcode_raw, use_na_sentinel=False)
    normalised = normalise_postcodes(pd.Series(uniques, dtype="string"))
    valid = is_valid_postcode(normalised).to_numpy()
    matches = directory.lookup(normalised.fillna("").to_numpy(dtype=object))
    missing_postcode = (normalised.isna().to_numpy())[codes]
    invalid_postcode = (~valid)[codes]
    unknown_postcode = (~matches.has_grid)[codes]
    lad_of_row = matches.lad_code.to_numpy(dtype=object, na_value=None)[codes]
    outside = lad_of_row != la_code

    reason = _assign_reasons(
        {
            "missing_id": missing_id,
            "duplicate": duplicate,
            "invalid_date": invalid_referral | invalid_end,
            "end_before_start": end_before,
            "missing_postcode": missing_postcode,
            "invalid_postcode": invalid_postcode,
            "unknown_postcode": unknown_postcode,
            "outside_area": outside,
        },
        n,
    )
    accepted = reason == ""
    blank_row = (table.astype("string").fillna("").apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    rejects = _reject_report(
        reason, rows, blank_row, future, future_end, referral, referral_error, referral_text, end, end_error, duplicate_key, lad_of_row,
        la_code, council_names,
    )

    keep = np.flatnonzero(accepted)
    warnings: dict[str, dict[str, int]] = {}
    need_codes, parsed_needs = _per_unique(_text(table, columns, "needs").iloc[keep], parse_needs)
    need_masks = np.array([mask for mask, _ in parsed_needs], dtype=np.uint16)[need_codes] if len(keep) else np.zeros(0, np.uint16)
    warnings["unrecognised_needs"] = _tally(need_codes, [unknown for _, unknown in parsed_needs])
    outcome_codes, parsed_outcomes = _per_unique(_text(table, columns, "outcome").iloc[keep], parse_outcome)
    outcome_values = np.array([key_ for key_, _ in parsed_outcomes] + [None], dtype=object)[outcome_codes]
    outcome_uniques = pd.factorize(_text(table, columns, "outcome").iloc[keep], use_na_sentinel=False)[1]
    warnings["unrecognised_outcomes"] = _tally(
        outcome_codes, [[text] if not known else [] for text, (_, known) in zip(outcome_uniques, parsed_outcomes)]
    )
    age, age_warnings = _age_at_referral(_text(table, columns, "date_of_birth").iloc[keep], referral.iloc[keep])
    warnings["date_of_birth"] = age_warnings
    no_needs = int((need_masks == 0).sum())
    if no_needs:
        warnings["episodes_without_a_recognised_need"] = {"count": no_needs}

    family = _text(table, columns, "family_id").iloc[keep]
    cases = pd.DataFrame(
        {
            "case_id": pseudonymise(case_id.iloc[keep], key).to_numpy(),
            "family_id": pseudonymise(family, key).where(family != "", pd.NA).to_numpy(),
            "lsoa11cd": pd.Categorical(matches.lsoa11cd.to_numpy(dtype=object, na_value=None)[codes[keep]]),
            "lad_code": la_code,
            "referral_date": referral.iloc[keep].to_numpy(),
            "end_date": end.iloc[keep].to_numpy(),
            "service": _category(_text(table, columns, "service").iloc[keep]),
            "needs_mask": need_masks,
            "outcome": pd.Categorical(outcome_values),
            "referral_source": _category(_text(table, columns, "referral_source").iloc[keep]),
            "age_at_referral": age.array,
        }
    )
    result = IngestResult(cases, rejects, n, la_code, dict(columns), {k: v for k, v in warnings.items() if v})
    log.info("Ingested %d rows: %d accepted, %d rejected", n, result.accepted, result.rejected)
    return result


def _category(values: pd.Series) -> pd.Categorical:
    return pd.Categorical(values.replace("", pd.NA).to_numpy(dtype=object, na_value=None))


def _tally(codes: np.ndarray, unknown_per_unique: list[list[str]]) -> dict[str, int]:
    """How many accepted rows carry each unrecognised value."""
    counts: Counter[str] = Counter()
    rows_per_unique = np.bincount(codes, minlength=len(unknown_per_unique)) if len(codes) else []
    for rows, unknown in zip(rows_per_unique, unknown_per_unique):
        for value in unknown:
            counts[value] += int(rows)
    return dict(counts.most_common())


def _age_at_referral(dob_text: pd.Series, referral: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Whole years between date of birth and referral; the date of birth itself is not kept."""
    dob, dob_error = parse_uk_dates(dob_text)
    ref = referral.reset_index(drop=True)
    dob = dob.reset_index(drop=True)
    years = ref.dt.year - dob.dt.year
    before_birthday = (ref.dt.month < dob.dt.month) | ((ref.dt.month == dob.dt.month) & (ref.dt.day < dob.dt.day))
    age = (years - before_birthday.astype("Int64")).astype("Int64")
    after_referral = (dob > ref).fillna(False)
    over_25 = ((age > 25) & ~after_referral).fillna(False)
    age = age.mask(after_referral | over_25)
    warnings = {
        "not_a_date": int(dob_error.notna().sum()),
        "after_referral_date": int(after_referral.sum()),
        "age_over_25": int(over_25.sum()),
    }
    return age, {k: v for k, v in warnings.items() if v}


def _reject_report(
    reason: np.ndarray,
    rows: np.ndarray,
    blank_row: np.ndarray,
    future: np.ndarray,
    future_end: np.ndarray,
    referral: pd.Series,
    referral_error: pd.Series,
    referral_text: pd.Series,
    end: pd.Series,
    end_error: pd.Series,
    duplicate_key: pd.DataFrame,
    lad_of_row: np.ndarray,
    la_code: str,
    council_names: Mapping[str, str],
) -> pd.DataFrame:
    """One row per rejected row: spreadsheet row number, reason code, and a specific message.

    Messages name dates and councils but never echo an identifier or a postcode.
    """
    rejected = np.flatnonzero(reason != "")
    code = pd.Series(reason[rejected], dtype=object)
    message = code.map(REJECT_REASONS)

    def at(series: pd.Series) -> pd.Series:
        return series.iloc[rejected].reset_index(drop=True)

    def set_where(condition: pd.Series, text: pd.Series | str) -> None:
        message[condition.to_numpy()] = (text[condition] if isinstance(text, pd.Series) else text)

    set_where(pd.Series(blank_row[rejected]), "The row is blank.")
    first_row = pd.Series(rows).groupby([duplicate_key["id"], duplicate_key["date"]], sort=False).transform("min")
    set_where(code == "duplicate", "Same case ID and referral date as row " + (at(first_row) + FIRST_DATA_ROW).astype(str) + ".")

    dates = code == "invalid_date"
    ref_error, ref_text, ref_date = at(referral_error), at(referral_text), at(referral)
    set_where(dates & at(end_error).notna(), "End date: " + at(end_error).astype(object) + ".")
    set_where(dates & pd.Series(future_end[rejected]), "The end date " + at(end).dt.strftime("%d/%m/%Y").astype(object) + " is in the future.")
    set_where(dates & pd.Series(future[rejected]), "The referral date " + ref_date.dt.strftime("%d/%m/%Y").astype(object) + " is in the future.")
    set_where(dates & (ref_text == ""), "The referral date is blank.")
    set_where(dates & ref_error.notna(), "Referral date: " + ref_error.astype(object) + ".")

    set_where(
        code == "end_before_start",
        "The end date " + at(end).dt.strftime("%d/%m/%Y").astype(object) + " is before the referral date "
        + ref_date.dt.strftime("%d/%m/%Y").astype(object) + ".",
    )

    here = f"{council_names.get(la_code, la_code)} ({la_code})"
    lad = pd.Series(lad_of_row[rejected], dtype=object)
    where = lad.map(lambda c: f"{council_names.get(c, 'another council')} ({c})" if c else None)
    set_where((code == "outside_area") & where.notna(), "The postcode is in " + where + ", not " + here + ".")
    set_where((code == "outside_area") & where.isna(), f"The postcode has no council in the directory, so it is not in {here}.")
    return pd.DataFrame(
        {"row": _row_label(rejected), "reason": reason[rejected].astype(str), "message": message.to_numpy(dtype=str)}
    )
