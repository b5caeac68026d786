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
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ehmap.dates import parse_distinct_dates
from ehmap.exports import FIELD_SYNONYMS, match_columns, reconciliation
from ehmap.geocode import PostcodeDirectory
from ehmap.postcodes import arrow_text, normalised_postcode_text
from ehmap.pseudonymise import pseudonyms_of_distinct
from ehmap.taxonomy import OUTCOMES, needs_text, parse_needs, parse_outcome

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
    "case_id", "family_id", "lsoa11cd", "lsoa21cd", "lad_code", "referral_date", "end_date", "service",
    "needs_mask", "outcome", "referral_source", "age_at_referral",
]  # the minimised episode table: nothing else about a family is kept (never a postcode or grid reference)
OLDEST_AGE = 25  # older "children" are a data error: the age is not kept and the count is reported


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
        return {
            **reconciliation(self.rows_read, self.accepted, self.rejects, REJECT_REASONS),
            "la_code": self.la_code,
            "columns_used": self.columns_used,
            "missing_optional_columns": sorted(set(FIELD_SYNONYMS) - set(self.columns_used)),
            "warnings": self.warnings,
        }

    def cases_for_export(self) -> pd.DataFrame:
        """Accepted episodes as written to cases.csv: ISO dates, needs as keys joined by ';'."""
        out = self.cases.copy()
        out["referral_date"] = _iso_dates(out["referral_date"])
        out["end_date"] = _iso_dates(out["end_date"])
        out["needs"] = out["needs_mask"].map({mask: needs_text(int(mask)) for mask in out["needs_mask"].unique()})
        columns = ["case_id", "family_id", "lsoa11cd", "lsoa21cd", "lad_code", "referral_date", "end_date",
                   "service", "needs", "outcome", "referral_source", "age_at_referral"]
        return out[columns]


def _iso_dates(dates: pd.Series) -> pd.Series:
    """Dates as 'YYYY-MM-DD' texts (missing stays missing), each distinct date formatted once."""
    codes, distinct = pd.factorize(dates)
    texts = pd.Series(distinct).dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None)
    return pd.Series(pd.array(np.append(texts, None)[codes], dtype="str"), index=dates.index)


@dataclass(frozen=True)
class TextColumn:
    """A text column as codes into its distinct stripped values, so each value is checked once.

    A million-row export has a few thousand distinct dates, postcodes or needs: parsing, geocoding
    and hashing work on the distinct values, and rows pick their result with `codes`. The distinct values
    stay in Arrow until asked for as Python texts (`values`): a million case IDs are only turned into
    Python strings for the rows that are kept.
    """

    codes: np.ndarray  # one per row, indexing `distinct`
    distinct: pa.Array  # distinct stripped texts, '' for blank

    @classmethod
    def of(cls, column: pd.Series | None, n: int) -> TextColumn:
        """Encode a column (None: the export has no such column, so every row is blank)."""
        if column is None:
            return cls(np.zeros(n, dtype=np.int32), pa.array([""], type=pa.string()))
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(pc.fill_null(arrow_text(column), "")))
        return cls(encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary)

    @cached_property
    def values(self) -> np.ndarray:
        """The distinct values as Python texts (object array)."""
        return self.distinct.to_numpy(zero_copy_only=False)

    def values_at(self, positions: np.ndarray) -> np.ndarray:
        """Some distinct values as Python texts, without converting the others."""
        return self.distinct.take(pa.array(positions)).to_numpy(zero_copy_only=False)

    def per_distinct(self, parse: Callable[[str], object]) -> list:
        """`parse` applied once to each distinct value."""
        return [parse(value) for value in self.values]

    def blank_distinct(self) -> np.ndarray:
        """Per distinct value: it is blank."""
        return pc.equal(self.distinct, "").to_numpy(zero_copy_only=False)

    def blank(self) -> np.ndarray:
        """Per row: the cell is blank."""
        return self.blank_distinct()[self.codes]


def _text_columns(table: pd.DataFrame, columns: Mapping[str, str]) -> dict[str, TextColumn]:
    """Every field's column encoded (`TextColumn.of`), two at a time: Arrow's kernels release the GIL, so on two
    cores this takes about 60% of the time of one after another on a million rows."""
    def encode(name: str) -> TextColumn:
        return TextColumn.of(table[columns[name]] if name in columns else None, len(table))

    names = sorted(FIELD_SYNONYMS, key=lambda name: name not in _MANY_DISTINCT)  # the longest first
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(encode, names), strict=True))


_MANY_DISTINCT = ("case_id", "family_id")  # a value per episode or family: the slowest columns to encode


def _assign_reasons(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The first applicable reason per row, as its position in REJECT_REASONS (-1 if accepted)."""
    reason = np.full(n, -1, dtype=np.int8)
    for position, code in reversed(list(enumerate(REJECT_REASONS))):  # later reasons are overwritten by earlier ones
        reason[masks[code]] = position
    return reason


@dataclass(frozen=True)
class _Checks:
    """The facts the reject messages are built from: per distinct value where a message depends on a value
    (dates, the postcode's council), with the rows' codes into them, so each message is formatted once."""

    referral: TextColumn
    referral_u: np.ndarray  # datetime64[s] per distinct referral text, NaT when blank or bad
    referral_error_u: list  # message or None per distinct referral text
    end: TextColumn
    end_u: np.ndarray
    end_error_u: list
    tomorrow: np.datetime64  # dates from here on are in the future
    first_row_of_key: np.ndarray  # per row: the first row with the same case ID and referral date
    postcode: TextColumn
    lad_u: np.ndarray  # object per distinct postcode: its council, None if unknown
    blank_row: np.ndarray  # per row


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
    text = _text_columns(table, columns)
    tomorrow = np.datetime64((today or dt.date.today()) + dt.timedelta(days=1), "s")

    case_id, postcode = text["case_id"], text["postcode"]
    referral_u, referral_error_u = parse_distinct_dates(text["referral_date"].values)
    end_u, end_error_u = parse_distinct_dates(text["end_date"].values)
    referral, end = referral_u[text["referral_date"].codes], end_u[text["end_date"].codes]
    end_bad_u = np.array([error is not None for error in end_error_u], dtype=bool)

    missing_id = case_id.blank()
    first_row_of_key = _first_row_of_key(case_id, text["referral_date"].codes, referral_u)
    duplicate = ~missing_id & (first_row_of_key != np.arange(n))
    invalid_date = np.isnat(referral) | (referral >= tomorrow) | end_bad_u[text["end_date"].codes] | (end >= tomorrow)

    normalised = normalised_postcode_text(postcode.distinct)
    matches = directory.lookup(normalised)
    lad_u = matches.lad_code.to_numpy(dtype=object, na_value=None)

    reason = _assign_reasons(
        {
            "missing_id": missing_id,
            "duplicate": duplicate,
            "invalid_date": invalid_date,
            "end_before_start": end < referral,
            "missing_postcode": normalised.is_null().to_numpy(zero_copy_only=False)[postcode.codes],
            "invalid_postcode": ~matches.valid[postcode.codes],
            "unknown_postcode": ~matches.has_grid[postcode.codes],
            "outside_area": (lad_u != la_code)[postcode.codes],
        },
        n,
    )
    del referral, end
    checks = _Checks(
        text["referral_date"], referral_u, referral_error_u, text["end_date"], end_u, end_error_u, tomorrow,
        first_row_of_key, postcode, lad_u, _blank_rows(table, missing_id),
    )
    rejects = _reject_report(reason, checks, la_code, council_names)

    keep = np.flatnonzero(reason < 0)
    from ehmap.lsoa21 import lsoa21_of_postcodes  # boundaries: read on the first ingest, not on import

    lsoa21 = lsoa21_of_postcodes(matches.easting, matches.northing, lad_u == la_code, la_code)
    cases, warnings = _accepted_cases(text, keep, referral_u, end_u, (matches.lsoa11cd, lsoa21), la_code, key)
    result = IngestResult(cases, rejects, n, la_code, dict(columns), warnings)
    log.info("Ingested %d rows: %d accepted, %d rejected", n, result.accepted, result.rejected)
    return result


@dataclass(frozen=True)
class ExportCouncil:
    """Which council an export's postcodes lie in: the commonest council and how many rows are there."""

    la_code: str | None  # the council most postcodes are in; None when no postcode is in the directory
    in_council: int  # rows whose postcode is in that council
    with_postcode: int  # rows with a postcode (blank cells left out)

    @property
    def share(self) -> float:
        return self.in_council / self.with_postcode if self.with_postcode else 0.0

    def is_mostly_elsewhere(self, la_code: str) -> bool:
        """More than half the postcodes are in one other council."""
        return self.la_code is not None and self.la_code != la_code and self.in_council * 2 > self.with_postcode


def council_of_export(table: pd.DataFrame, mapping: Mapping[str, str] | None,
                      directory: PostcodeDirectory) -> ExportCouncil:
    """The council most of an export's postcodes are in (before ingest, so another council's file is caught)."""
    column = match_columns(list(table.columns), mapping, require=False).get("postcode")
    if column is None:
        return ExportCouncil(None, 0, 0)
    postcodes = TextColumn.of(table[column], len(table))
    lads = directory.lookup(normalised_postcode_text(postcodes.distinct)).lad_code.to_numpy(dtype=object, na_value=None)
    rows = np.bincount(postcodes.codes, minlength=len(postcodes.distinct))
    per_council: Counter[str] = Counter()
    for lad, count in zip(lads, rows, strict=True):
        if lad is not None and count:
            per_council[lad] += int(count)
    with_postcode = int(rows[~postcodes.blank_distinct()].sum())
    if not per_council:
        return ExportCouncil(None, 0, with_postcode)
    la_code, in_council = per_council.most_common(1)[0]
    return ExportCouncil(la_code, in_council, with_postcode)


def wrong_council_message(found: ExportCouncil, la_code: str, council_names: Mapping[str, str]) -> str | None:
    """One sentence when most postcodes are in another council, e.g. 'Most postcodes in this file (940 of 960)
    are in West Berkshire, not Croydon.'; None when the file is the chosen council's."""
    if not found.is_mostly_elsewhere(la_code):
        return None
    there = council_names.get(found.la_code, f"{found.la_code}, which is not an English council")
    return (f"Most postcodes in this file ({found.in_council:,} of {found.with_postcode:,}) are in {there}, "
            f"not {council_names.get(la_code, la_code)}.")


def _first_row_of_key(case_id: TextColumn, referral_codes: np.ndarray, referral_u: np.ndarray) -> np.ndarray:
    """For each row, the first row with the same case ID and referral date (the same day, however
    written; an unparseable date compares as its text)."""
    valid = ~np.isnat(referral_u)
    day_or_text = np.where(valid, referral_u.astype("datetime64[D]").astype(np.int64), np.iinfo(np.int64).min // 2 + np.arange(len(referral_u)))
    date_key = pd.factorize(day_or_text)[0][referral_codes]
    row_key = case_id.codes.astype(np.int64) * (int(date_key.max(initial=0)) + 1) + date_key
    group = pd.factorize(row_key)[0]  # numbered in order of first appearance: hashing, not sorting
    is_first = np.ones(len(group), dtype=bool)
    is_first[1:] = group[1:] > np.maximum.accumulate(group)[:-1]  # a new group's number exceeds all before it
    return np.flatnonzero(is_first)[group]


def _blank_rows(table: pd.DataFrame, candidates: np.ndarray) -> np.ndarray:
    """Rows with every cell blank (only rows without a case ID can be)."""
    blank = np.zeros(len(table), dtype=bool)
    rows = np.flatnonzero(candidates)
    if len(rows):
        cells = table.iloc[rows].astype("string").fillna("")
        blank[rows] = cells.apply(lambda column: column.str.strip() == "").all(axis=1).to_numpy()
    return blank


def _accepted_cases(
    text: dict[str, TextColumn],
    keep: np.ndarray,
    referral_u: np.ndarray,
    end_u: np.ndarray,
    lsoas_of_postcode: tuple[pd.Series, pd.Series],
    la_code: str,
    key: bytes,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The minimised episode table for the accepted rows, and warnings about values kept as unknown.

    `referral_u` and `end_u` are the parsed distinct dates of the referral and end date columns; `lsoas_of_postcode`
    each distinct postcode's LSOA 2011 and LSOA 2021.
    """
    lsoa11_of_postcode, lsoa21_of_postcode = lsoas_of_postcode
    warnings: dict[str, dict[str, int]] = {}
    rows_of = {name: column.codes[keep] for name, column in text.items()}

    parsed_needs = text["needs"].per_distinct(parse_needs)
    needs_mask = np.array([mask for mask, _ in parsed_needs], dtype=np.uint16)[rows_of["needs"]]
    warnings["unrecognised_needs"] = _tally(rows_of["needs"], [unknown for _, unknown in parsed_needs])
    if (needs_mask == 0).any():
        warnings["episodes_without_a_recognised_need"] = {"count": int((needs_mask == 0).sum())}

    parsed_outcomes = text["outcome"].per_distinct(parse_outcome)
    outcome_keys = list(OUTCOMES)
    outcome_code = np.array([outcome_keys.index(k) if k else -1 for k, _ in parsed_outcomes])[rows_of["outcome"]]
    warnings["unrecognised_outcomes"] = _tally(
        rows_of["outcome"], [[value] if not known else [] for value, (_, known) in zip(text["outcome"].values, parsed_outcomes)]
    )

    dob_u, dob_error_u = parse_distinct_dates(text["date_of_birth"].values)
    age, warnings["date_of_birth"] = _age_at_referral(_yyyymmdd(dob_u)[rows_of["date_of_birth"]],
                                                       _yyyymmdd(referral_u)[rows_of["referral_date"]],
                                                       np.asarray(dob_error_u, dtype=object)[rows_of["date_of_birth"]])

    with ThreadPoolExecutor(max_workers=2) as pool:  # side by side: 185 -> 150 ms for 1M rows on two cores
        case_ids = pool.submit(_pseudonyms, text["case_id"], rows_of["case_id"], key)
        family_ids = pool.submit(_pseudonyms, text["family_id"], rows_of["family_id"], key)
    cases = pd.DataFrame(
        {
            "case_id": case_ids.result(),
            "family_id": family_ids.result(),
            "lsoa11cd": _category(lsoa11_of_postcode.to_numpy(dtype=object, na_value=""), rows_of["postcode"]),
            "lsoa21cd": _category(lsoa21_of_postcode.to_numpy(dtype=object, na_value=""), rows_of["postcode"]),
            "lad_code": la_code,
            "referral_date": referral_u[rows_of["referral_date"]],
            "end_date": end_u[rows_of["end_date"]],
            "service": _category(text["service"].values, rows_of["service"]),
            "needs_mask": needs_mask,
            "outcome": pd.Categorical.from_codes(outcome_code, categories=outcome_keys),
            "referral_source": _category(text["referral_source"].values, rows_of["referral_source"]),
            "age_at_referral": age,
        },
        columns=CASE_COLUMNS,
    )
    return cases, {name: counts for name, counts in warnings.items() if counts}


def _pseudonyms(column: TextColumn, codes: np.ndarray, key: bytes) -> pd.Series:
    """Keyed pseudonyms for the chosen rows (`codes` into the column's distinct values); blank IDs stay missing.

    Only the distinct IDs these rows use are hashed, each once: in a file of mostly rejected rows, the
    IDs of rejected rows are never hashed.
    """
    used = np.zeros(len(column.distinct), dtype=bool)
    used[codes] = True
    if used.all():
        distinct = column.values
    else:
        distinct = column.values_at(np.flatnonzero(used))
        codes = (np.cumsum(used) - 1)[codes]
    hexed = pseudonyms_of_distinct(distinct, key)  # fixed-width: the Arrow texts are its bytes, not a copy
    offsets = pa.py_buffer(np.arange(0, 16 * len(hexed) + 1, 16, dtype=np.int32))
    values = pa.Array.from_buffers(pa.string(), len(hexed), [None, offsets, pa.py_buffer(hexed)])
    blank = distinct == ""
    if blank.any():
        values = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), values)
    return pd.Series(values.take(pa.array(codes)), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _category(values: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """Rows' texts (`values[codes]`) as a categorical of the non-blank texts that occur."""
    is_used = np.zeros(len(values), dtype=bool)
    is_used[codes] = True  # marking and counting, not sorting a million codes
    used = np.flatnonzero(is_used)
    codes_in_used = (np.cumsum(is_used) - 1)[codes]
    name_codes, names = pd.factorize(np.asarray(values[used], dtype=object))  # equal texts become one category
    named = np.asarray(names != "")
    position = np.where(named, np.cumsum(named) - 1, -1)
    return pd.Categorical.from_codes(position[name_codes][codes_in_used], categories=pd.Index(names[named], dtype="str"))


def _tally(codes: np.ndarray, unknown_per_distinct: list[list[str]]) -> dict[str, int]:
    """How many accepted rows carry each unrecognised value."""
    counts: Counter[str] = Counter()
    rows_per_distinct = np.bincount(codes, minlength=len(unknown_per_distinct)) if len(codes) else []
    for rows, unknown in zip(rows_per_distinct, unknown_per_distinct):
        for value in unknown:
            counts[value] += int(rows)
    return dict(counts.most_common())


def _age_at_referral(dob: np.ndarray, referral: np.ndarray, dob_error: np.ndarray) -> tuple[pd.array, dict[str, int]]:
    """Whole years between date of birth and referral, from yyyymmdd numbers; the date of birth is not kept.

    Both arguments are per-row yyyymmdd integers (-1 where unknown): (referral - birth) // 10000 is
    the age in whole years, birthdays included.
    """
    known = (dob >= 0) & (referral >= 0)
    age = np.where(known, (referral - dob) // 10000, 0)
    after_referral = known & (dob > referral)
    over_oldest = known & ~after_referral & (age > OLDEST_AGE)
    shown = known & ~after_referral & ~over_oldest
    warnings = {
        "not_a_date": int((dob_error != None).sum()),  # noqa: E711
        "after_referral_date": int(after_referral.sum()),
        "age_over_25": int(over_oldest.sum()),
    }
    return pd.arrays.IntegerArray(age.astype(np.int64), mask=~shown), {k: v for k, v in warnings.items() if v}


def _yyyymmdd(dates: np.ndarray) -> np.ndarray:
    """datetime64 values as yyyymmdd integers (-1 for NaT); meant for distinct values, not rows."""
    days = dates.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    years = dates.astype("datetime64[Y]")
    number = ((years.astype(np.int64) + 1970) * 10000 + (months - years).astype(np.int64) * 100
              + (days - months).astype(np.int64) + 101)
    return np.where(np.isnat(dates), -1, number)


def _reject_report(reason: np.ndarray, checks: _Checks, la_code: str, council_names: Mapping[str, str]) -> pd.DataFrame:
    """One row per rejected row: spreadsheet row number, reason code, and a specific message.

    Rows whose message cannot differ (same reason, same dates, same council) share one message, formatted
    once: a file of a million out-of-area rows formats a few hundred messages, not a million. Only a
    duplicate's message is per row (it names the earlier row). Messages name dates and councils but never
    echo an identifier or a postcode.
    """
    reasons = list(REJECT_REASONS)
    rejected = np.flatnonzero(reason >= 0)
    code = reason[rejected].astype(np.int64)
    blank_code = len(reasons)  # blank rows get their own message whatever their reason
    code[checks.blank_row[rejected]] = blank_code

    # What else a message depends on: the pair of date texts, or the postcode's council.
    detail = np.zeros(len(rejected), dtype=np.int64)
    dated = (code == reasons.index("invalid_date")) | (code == reasons.index("end_before_start"))
    rows = rejected[dated]
    detail[dated] = checks.referral.codes[rows].astype(np.int64) * len(checks.end.distinct) + checks.end.codes[rows]
    outside = code == reasons.index("outside_area")
    lad_index_u = pd.factorize(checks.lad_u, use_na_sentinel=False)[0]
    detail[outside] = lad_index_u[checks.postcode.codes[rejected[outside]]]

    group, keys = pd.factorize(detail * (blank_code + 1) + code)
    example = np.empty(len(keys), dtype=np.int64)
    example[group] = rejected  # any row of a group: all its rows share the message
    referral_day = _days(checks.referral_u[checks.referral.codes[example]])  # formatted once per message
    end_day = _days(checks.end_u[checks.end.codes[example]])
    distinct = pa.array([_reject_message(int(key % (blank_code + 1)), int(row), days, checks, la_code, council_names)
                         for key, row, days in zip(keys, example, zip(referral_day, end_day))], type=pa.string())
    message = distinct.take(pa.array(group))  # in Arrow: no Python string per row

    duplicate = code == reasons.index("duplicate")
    if duplicate.any():
        first = pc.cast(pa.array(checks.first_row_of_key[rejected[duplicate]] + FIRST_DATA_ROW), pa.string())
        earlier = pc.binary_join_element_wise("Same case ID and referral date as row ", first, ".", "")
        message = pc.replace_with_mask(message, pa.array(duplicate), earlier)
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    names = pa.array(reasons, type=pa.string()).take(pa.array(reason[rejected]))
    return pd.DataFrame({"row": rejected + FIRST_DATA_ROW, "reason": pd.Series(names, dtype=text),
                         "message": pd.Series(message, dtype=text)})


def _reject_message(code: int, row: int, days: tuple[str, str], checks: _Checks, la_code: str,
                    council_names: Mapping[str, str]) -> str:
    """The message of one rejected row (`code`: position in REJECT_REASONS, or one past the end for a blank row;
    `days`: its referral and end dates as written in messages); a duplicate's message is made by the caller,
    which knows the earlier row."""
    reasons = list(REJECT_REASONS)
    if code == len(reasons):
        return "The row is blank."
    reason = reasons[code]
    referral, end = checks.referral_u[checks.referral.codes[row]], checks.end_u[checks.end.codes[row]]
    if reason == "invalid_date":
        referral_error = checks.referral_error_u[checks.referral.codes[row]]
        end_error = checks.end_error_u[checks.end.codes[row]]
        if referral_error is not None:
            return f"Referral date: {referral_error}."
        if checks.referral.values[checks.referral.codes[row]] == "":
            return "The referral date is blank."
        if referral >= checks.tomorrow:
            return f"The referral date {days[0]} is in the future."
        if end >= checks.tomorrow:
            return f"The end date {days[1]} is in the future."
        if end_error is not None:
            return f"End date: {end_error}."
    if reason == "end_before_start":
        return f"The end date {days[1]} is before the referral date {days[0]}."
    if reason == "outside_area":
        here = f"{council_names.get(la_code, la_code)} ({la_code})"
        lad = checks.lad_u[checks.postcode.codes[row]]
        if lad:
            return f"The postcode is in {council_names.get(lad, 'another council')} ({lad}), not {here}."
        return f"The postcode has no council in the directory, so it is not in {here}."
    return REJECT_REASONS[reason]


def _days(values: np.ndarray) -> np.ndarray:
    """Dates as the reject report writes them, dd/mm/yyyy ('' for NaT)."""
    return pd.Series(values, dtype="datetime64[s]").dt.strftime("%d/%m/%Y").to_numpy(dtype=object, na_value="")
