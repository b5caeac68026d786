"""Ingest: reject reasons and messages, reconciliation, geocoding and data minimisation (ehmap.ingest).

Exports are written as real CSV bytes and read with ehmap.exports, then ingested against the real
postcode directory. CR0 0AA and CR9 1DE are Croydon (E09000008); SW1A 1AA is Buckingham Palace,
Westminster (E09000033); CF10 3ND is Cardiff City Hall (W06000015); EH99 1SP is the Scottish
Parliament, Edinburgh (S12000036).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import numpy as np
import pandas as pd
import pytest

from ehmap.exports import ExportError, read_csv_export
from ehmap.ingest import CASE_COLUMNS, FIRST_DATA_ROW, REJECT_REASONS, ingest
from ehmap.taxonomy import NEED_BITS
from tests.conftest import CROYDON

KEY = b"0123456789abcdef"
OTHER_KEY = b"fedcba9876543210"
TODAY = dt.date(2024, 6, 30)

COLUMNS = {
    "id": "Case ID",
    "postcode": "Postcode",
    "referral": "Referral Date",
    "end": "End Date",
    "needs": "Needs",
    "outcome": "Outcome",
    "dob": "DOB",
    "family": "Family ID",
    "service": "Service",
}
GOOD = {
    "id": "A1",
    "postcode": "CR0 0AA",
    "referral": "05/01/2023",
    "end": "",
    "needs": "3A",
    "outcome": "",
    "dob": "",
    "family": "",
    "service": "Team A",
}


def row(**changes: str) -> dict[str, str]:
    unknown = set(changes) - set(GOOD)
    assert not unknown, unknown
    return {**GOOD, **changes}


def export_bytes(rows: list[dict[str, str] | None]) -> bytes:
    """CSV bytes with a header and one line per row (None = a blank line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS.values())
    lines = [out.getvalue()]
    for values in rows:
        if values is None:
            lines.append("\n")
            continue
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([values[name] for name in COLUMNS])
        lines.append(line.getvalue())
    return "".join(lines).encode("utf-8")


@pytest.fixture
def run(directory, council_names):
    def _run(rows, la_code=CROYDON, key=KEY, today=TODAY, mapping=None):
        table = read_csv_export(export_bytes(rows))
        return ingest(table, la_code, directory, council_names, key, mapping=mapping, today=today)

    return _run


def only_reject(result) -> tuple[int, str, str]:
    assert result.rejected == 1, result.rejects
    first = result.rejects.iloc[0]
    return int(first["row"]), first["reason"], first["message"]


def test_a_good_row_is_accepted(run):
    result = run([row()])
    assert (result.rows_read, result.accepted, result.rejected) == (1, 1, 0)
    assert result.cases["lad_code"].tolist() == [CROYDON]
    assert result.rejects.columns.tolist() == ["row", "reason", "message"]


# ---------------------------------------------------------------- one test per reason, with its message


@pytest.mark.parametrize(
    "changes, reason, message",
    [
        ({"id": ""}, "missing_id", "The case ID is blank."),
        ({"id": "   "}, "missing_id", "The case ID is blank."),
        ({"referral": "31/02/2023"}, "invalid_date", "Referral date: '31/02/2023' is not a calendar date."),
        (
            {"referral": "5th Jan"},
            "invalid_date",
            "Referral date: '5th Jan' is not a date in a recognised form (dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd).",
        ),
        ({"referral": ""}, "invalid_date", "The referral date is blank."),
        ({"referral": "01/07/2024"}, "invalid_date", "The referral date 01/07/2024 is in the future."),
        ({"referral": "31/12/1899"}, "invalid_date", "Referral date: '31/12/1899' is before 1900."),
        ({"end": "31/02/2023"}, "invalid_date", "End date: '31/02/2023' is not a calendar date."),
        ({"end": "01/07/2024"}, "invalid_date", "The end date 01/07/2024 is in the future."),
        (
            {"end": "soon"},
            "invalid_date",
            "End date: 'soon' is not a date in a recognised form (dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd).",
        ),
        (
            {"end": "04/01/2023"},
            "end_before_start",
            "The end date 04/01/2023 is before the referral date 05/01/2023.",
        ),
        ({"postcode": ""}, "missing_postcode", "The postcode is blank."),
        ({"postcode": " . "}, "missing_postcode", "The postcode is blank."),
        ({"postcode": "CRO 0AA"}, "invalid_postcode", "The postcode is not in a UK postcode format."),
        ({"postcode": "CR0 0A"}, "invalid_postcode", "The postcode is not in a UK postcode format."),
        (
            {"postcode": "ZZ9 9ZZ"},  # UK format, but ZZ is no postcode area
            "unknown_postcode",
            "The postcode is not in the ONS Postcode Directory, or has no grid reference there.",
        ),
        (
            {"postcode": "GIR 0AA"},  # Girobank's non-geographic postcode: listed, no grid reference
            "unknown_postcode",
            "The postcode is not in the ONS Postcode Directory, or has no grid reference there.",
        ),
        (
            {"postcode": "SW1A 1AA"},
            "outside_area",
            "The postcode is in Westminster (E09000033), not Croydon (E09000008).",
        ),
        (
            {"postcode": "EH99 1SP"},
            "outside_area",
            "The postcode is in another council (S12000036), not Croydon (E09000008).",
        ),
    ],
)
def test_each_reject_reason_and_its_message(run, changes, reason, message):
    # A good row first: see test_a_file_where_no_referral_date_parses for a file with none.
    assert only_reject(run([row(id="GOOD"), row(**changes)])) == (3, reason, message)


def test_every_reason_code_is_tested_above():
    """Guard: a new reason code needs a message test."""
    assert set(REJECT_REASONS) == {
        "missing_id",
        "duplicate",
        "invalid_date",
        "end_before_start",
        "missing_postcode",
        "invalid_postcode",
        "unknown_postcode",
        "outside_area",
    }


def test_unknown_postcode_precondition(directory):
    matches = directory.lookup(np.array(["ZZ99ZZ", "GIR0AA"], dtype=object))
    assert matches.found.tolist() == [False, True]
    assert matches.has_grid.tolist() == [False, False]


def test_duplicate_names_the_earlier_row(run):
    result = run([row(id="A1"), row(id="A2"), row(id="A1", referral="2023-01-05")])  # same date, other form
    assert only_reject(result) == (4, "duplicate", "Same case ID and referral date as row 2.")
    assert result.accepted == 2


def test_every_repeat_names_the_first_row(run):
    result = run([row(id="B"), row(id="A1"), row(id="A1"), row(id="C"), row(id="A1")])
    assert result.rejects["row"].tolist() == [4, 6]
    assert set(result.rejects["message"]) == {"Same case ID and referral date as row 3."}


def test_same_id_on_another_date_is_a_new_episode(run):
    result = run([row(id="A1", referral="05/01/2023"), row(id="A1", referral="06/01/2023")])
    assert (result.accepted, result.rejected) == (2, 0)


def test_blank_row_is_missing_id_with_its_own_message(run):
    result = run([row(), None, row(id="A3")])
    assert only_reject(result) == (3, "missing_id", "The row is blank.")


def test_a_file_where_no_referral_date_parses(run):
    result = run([row(id="A", referral="5 Jan 2023"), row(id="B", referral="")])
    assert result.rejects["reason"].tolist() == ["invalid_date", "invalid_date"]
    assert result.rejects["message"].tolist() == [
        "Referral date: '5 Jan 2023' is not a date in a recognised form (dd/mm/yyyy, dd-mm-yyyy or yyyy-mm-dd).",
        "The referral date is blank.",
    ]


def test_referral_today_is_accepted_and_tomorrow_is_future(run):
    result = run([row(id="A", referral="30/06/2024"), row(id="B", referral="01/07/2024")])
    assert result.accepted == 1
    assert only_reject(result) == (3, "invalid_date", "The referral date 01/07/2024 is in the future.")


def test_end_date_today_is_accepted_and_tomorrow_is_future(run):
    result = run([row(id="A", end="30/06/2024"), row(id="B", end="2024-07-01 09:00")])
    assert result.accepted == 1
    assert only_reject(result) == (3, "invalid_date", "The end date 01/07/2024 is in the future.")


def test_end_date_on_the_referral_date_is_accepted(run):
    result = run([row(end="05/01/2023")])
    assert result.accepted == 1
    assert result.cases["end_date"].iloc[0] == pd.Timestamp("2023-01-05")


def test_welsh_postcode_is_not_said_to_be_outside_england_and_wales(run):
    assert only_reject(run([row(postcode="CF10 3ND")])) == (
        2,
        "outside_area",
        "The postcode is in another council (W06000015), not Croydon (E09000008).",
    )


def test_outside_area_names_both_councils_for_another_english_council(run, council_names):
    result = run([row(postcode="CR0 0AA")], la_code="E09000022")  # Croydon postcode, Lambeth's upload
    assert only_reject(result) == (
        2,
        "outside_area",
        "The postcode is in Croydon (E09000008), not Lambeth (E09000022).",
    )


def test_messages_never_echo_identifiers_or_postcodes(run):
    rows = [
        row(id="SECRET-ID-1"),
        row(id="SECRET-ID-1"),
        row(id="SECRET-ID-2", postcode="SW1A 1AA"),
        row(id="SECRET-ID-3", postcode="CRO 0AA"),
        row(id="SECRET-ID-4", postcode="ZZ9 9ZZ"),
    ]
    messages = " ".join(run(rows).rejects["message"])
    assert "SECRET" not in messages
    for postcode in ("CR0", "SW1A", "CRO", "ZZ9"):
        assert postcode not in messages


# ---------------------------------------------------------------- first reason wins


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"id": "", "referral": "31/02/2023"}, "missing_id"),
        ({"id": "", "postcode": ""}, "missing_id"),
        ({"referral": "31/02/2023", "postcode": ""}, "invalid_date"),
        ({"referral": "31/02/2023", "end": "01/01/2000"}, "invalid_date"),
        ({"end": "01/01/2023", "postcode": "CRO 0AA"}, "end_before_start"),
        ({"end": "01/01/2023", "postcode": "SW1A 1AA"}, "end_before_start"),
        ({"postcode": "  "}, "missing_postcode"),
        ({"referral": "", "end": "nonsense"}, "invalid_date"),
    ],
)
def test_first_reason_wins(run, changes, reason):
    assert only_reject(run([row(id="GOOD"), row(**changes)]))[1] == reason


def test_duplicate_wins_over_later_reasons(run):
    result = run([row(id="A1"), row(id="A1", postcode="SW1A 1AA")])
    assert only_reject(result)[:2] == (3, "duplicate")


def test_bad_referral_date_message_wins_over_bad_end_date_message(run):
    assert only_reject(run([row(id="GOOD"), row(referral="31/02/2023", end="nonsense")]))[2] == (
        "Referral date: '31/02/2023' is not a calendar date."
    )


# ---------------------------------------------------------------- rows and reconciliation


def messy_rows() -> list[dict[str, str] | None]:
    return [
        row(id="A1", needs="3A; 2A"),  # 2 accepted
        row(id="", referral="31/02/2023"),  # 3 missing_id
        row(id="A1", referral="2023-01-05"),  # 4 duplicate of row 2
        None,  # 5 blank line
        row(id="A4", referral="31/02/2023"),  # 6 invalid_date
        row(id="A5", end="01/01/2020"),  # 7 end_before_start
        row(id="A6", postcode=""),  # 8 missing_postcode
        row(id="A7", postcode="CRO 1AB"),  # 9 invalid_postcode
        row(id="A8", postcode="ZZ9 9ZZ"),  # 10 unknown_postcode
        row(id="A9", postcode="SW1A 1AA"),  # 11 outside_area
        row(id="A10", postcode="cr9 1de", referral="7/3/2023 09:15"),  # 12 accepted
        row(id="A11", postcode="CR0 0AA", referral="2023-02-01T10:00:00", outcome="Banana"),  # 13 accepted
    ]


def test_row_numbers_are_spreadsheet_rows(run):
    result = run(messy_rows())
    assert FIRST_DATA_ROW == 2
    assert result.rejects[["row", "reason"]].values.tolist() == [
        [3, "missing_id"],
        [4, "duplicate"],
        [5, "missing_id"],
        [6, "invalid_date"],
        [7, "end_before_start"],
        [8, "missing_postcode"],
        [9, "invalid_postcode"],
        [10, "unknown_postcode"],
        [11, "outside_area"],
    ]


def test_reconciliation_on_a_messy_file(run):
    result = run(messy_rows())
    assert result.rows_read == 12  # data lines, the blank one included
    assert (result.accepted, result.rejected) == (3, 9)
    assert result.rows_read == result.accepted + result.rejected
    summary = result.summary()
    assert summary["rows_read"] == summary["accepted"] + summary["rejected"]
    assert sum(summary["rejected_by_reason"].values()) == summary["rejected"]
    assert summary["rejected_by_reason"] == {
        "missing_id": 2,
        "duplicate": 1,
        "invalid_date": 1,
        "end_before_start": 1,
        "missing_postcode": 1,
        "invalid_postcode": 1,
        "unknown_postcode": 1,
        "outside_area": 1,
    }
    assert list(summary["rejected_by_reason"]) == list(REJECT_REASONS)  # in reason order
    assert summary["la_code"] == CROYDON


def test_summary_omits_reasons_with_no_rows(run):
    summary = run([row(id="A"), row(id="B", postcode=""), row(id="C", postcode="")]).summary()
    assert summary["rejected_by_reason"] == {"missing_postcode": 2}


def test_summary_of_a_clean_file(run):
    summary = run([row(id="A"), row(id="B")]).summary()
    assert summary["rejected_by_reason"] == {}
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (2, 2, 0)
    assert summary["missing_optional_columns"] == ["referral_source"]
    assert summary["columns_used"]["postcode"] == "Postcode"


def test_missing_required_column_is_an_export_error(directory, council_names):
    table = read_csv_export(b"Case ID,Referral Date,Needs\nA1,05/01/2023,3A\n")
    with pytest.raises(ExportError, match=r"^No postcode column: expected one headed Postcode / "):
        ingest(table, CROYDON, directory, council_names, KEY, today=TODAY)


def test_mapping_is_used(directory, council_names):
    table = read_csv_export(b"Ref,Home PC,Referred,Issues\nA1,CR0 0AA,05/01/2023,3A\nA2,,05/01/2023,3A\n")
    mapping = {"case_id": "Ref", "postcode": "Home PC", "referral_date": "Referred", "needs": "Issues"}
    result = ingest(table, CROYDON, directory, council_names, KEY, mapping=mapping, today=TODAY)
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.rejects["reason"].tolist() == ["missing_postcode"]
    assert result.columns_used == {
        "case_id": "Ref",
        "postcode": "Home PC",
        "referral_date": "Referred",
        "needs": "Issues",
    }


# ---------------------------------------------------------------- minimisation


def test_cases_hold_no_postcode_and_no_date_of_birth(run):
    result = run([row(id="CHILD-0001", postcode="CR0 0AA", dob="15/03/2010", family="FAM-77")])
    cases = result.cases
    assert cases.columns.tolist() == CASE_COLUMNS
    assert not {"postcode", "date_of_birth", "dob"} & set(cases.columns)
    text = cases.astype(str).to_csv()
    for personal in ("CHILD-0001", "FAM-77", "CR0 0AA", "CR00AA", "15/03/2010", "2010-03-15"):
        assert personal not in text


def test_ids_are_pseudonyms_stable_under_one_key(run):
    rows = [
        row(id="CHILD-1", referral="05/01/2023", family="FAM-1"),
        row(id="CHILD-1", referral="06/02/2023", family="FAM-1"),  # same child, second episode
        row(id="CHILD-2", referral="05/01/2023", family="FAM-1"),  # sibling
        row(id="CHILD-3", referral="05/01/2023", family=""),
    ]
    cases = run(rows).cases
    ids = cases["case_id"].tolist()
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in ids)
    assert not {"CHILD-1", "CHILD-2", "CHILD-3"} & set(ids)
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    families = cases["family_id"].tolist()
    assert families[0] == families[1] == families[2] and re.fullmatch(r"[0-9a-f]{16}", families[0])
    assert families[0] != "FAM-1"
    assert pd.isna(families[3])  # a blank family ID stays blank, not a pseudonym of ''

    again = run(rows).cases
    assert again["case_id"].tolist() == ids


def test_another_key_gives_other_pseudonyms(run):
    rows = [row(id="CHILD-1", family="FAM-1"), row(id="CHILD-2", family="FAM-1")]
    one, two = run(rows, key=KEY).cases, run(rows, key=OTHER_KEY).cases
    assert set(one["case_id"]).isdisjoint(two["case_id"])
    assert set(one["family_id"]).isdisjoint(two["family_id"])


@pytest.mark.parametrize(
    "dob, referral, age",
    [
        ("15/03/2010", "14/03/2023", 12),  # birthday not yet reached
        ("15/03/2010", "15/03/2023", 13),  # on the birthday
        ("15/03/2010", "16/03/2023", 13),
        ("15/03/2010", "01/01/2023", 12),  # earlier month
        ("15/03/2010", "01/12/2023", 13),  # later month
        ("29/02/2012", "28/02/2023", 10),  # leap-day birthday: 11 only on 1 March in a common year
        ("29/02/2012", "01/03/2023", 11),
        ("29/02/2012", "29/02/2024", 12),
        ("05/01/2023", "05/01/2023", 0),  # referred on the day of birth
        ("2010-03-15", "14/03/2023", 12),
    ],
)
def test_age_at_referral_by_hand(run, dob, referral, age):
    cases = run([row(dob=dob, referral=referral)]).cases
    assert cases["age_at_referral"].tolist() == [age]


def test_age_missing_when_date_of_birth_is_blank_bad_or_after_referral(run):
    rows = [
        row(id="A", dob=""),
        row(id="B", dob="31/02/2010"),
        row(id="C", dob="06/01/2023"),  # after the referral date of 05/01/2023
        row(id="D", dob="04/01/1997"),  # 26 years old
    ]
    result = run(rows)
    assert result.accepted == 4  # a bad date of birth does not reject the episode
    assert result.cases["age_at_referral"].isna().tolist() == [True, True, True, True]
    assert result.warnings["date_of_birth"] == {"not_a_date": 1, "after_referral_date": 1, "age_over_25": 1}


def test_age_over_25_warning_counts_only_ages_over_25(run):
    result = run([row(dob="10/06/1997", referral="05/01/2023")])  # 25 until 10 June 2023
    assert result.cases["age_at_referral"].tolist() == [25]
    assert "date_of_birth" not in result.warnings


def test_outcomes_needs_and_warnings(run):
    rows = [
        row(id="A", outcome="Needs met", needs="3A; 2A"),
        row(id="B", outcome="Banana", needs="3A; Widgets"),
        row(id="C", outcome="Banana", needs="Widgets"),
        row(id="D", outcome="", needs="24A"),
    ]
    result = run(rows)
    cases = result.cases
    assert cases["outcome"].astype(object).tolist()[:3] == ["needs_met", "other", "other"]
    assert pd.isna(cases["outcome"].iloc[3])
    assert cases["needs_mask"].tolist() == [
        NEED_BITS["domestic_abuse"] | NEED_BITS["substance_use"],
        NEED_BITS["domestic_abuse"],
        0,
        NEED_BITS["child_safety"] | NEED_BITS["crime"],
    ]
    assert result.warnings["unrecognised_outcomes"] == {"Banana": 2}
    assert result.warnings["unrecognised_needs"] == {"Widgets": 2}
    assert result.warnings["episodes_without_a_recognised_need"] == {"count": 1}
    exported = result.cases_for_export()
    assert exported["needs"].tolist() == ["substance_use;domestic_abuse", "domestic_abuse", "", "child_safety;crime"]


def test_no_warnings_for_a_clean_file(run):
    assert run([row(outcome="Needs met")]).warnings == {}


def test_geocoded_to_a_croydon_lsoa(run):
    from ehmap.geography import council_lsoas

    croydon = set(council_lsoas(CROYDON)["lsoa11cd"])
    cases = run([row(id="A", postcode="cr0 0aa"), row(id="B", postcode="CR9 1DE")]).cases
    assert cases["lsoa11cd"].notna().all()
    assert set(cases["lsoa11cd"].astype(str)) <= croydon
    assert cases["lad_code"].tolist() == [CROYDON, CROYDON]


def test_cases_for_export_has_iso_dates(run):
    exported = run([row(referral="7/3/2023 09:15", end="30/06/2023"), row(id="B")]).cases_for_export()
    assert exported["referral_date"].tolist() == ["2023-03-07", "2023-01-05"]
    assert exported["end_date"].iloc[0] == "2023-06-30"
    assert pd.isna(exported["end_date"].iloc[1])
    assert exported.columns.tolist() == [
        "case_id",
        "family_id",
        "lsoa11cd",
        "lsoa21cd",
        "lad_code",
        "referral_date",
        "end_date",
        "service",
        "needs",
        "outcome",
        "referral_source",
        "age_at_referral",
    ]


def test_a_file_where_every_row_is_rejected(run):
    result = run([row(id="A", postcode=""), row(id="B", postcode="SW1A 1AA")])
    assert (result.rows_read, result.accepted, result.rejected) == (2, 0, 2)
    assert result.cases.columns.tolist() == CASE_COLUMNS and len(result.cases) == 0
    assert len(result.cases_for_export()) == 0
    assert result.summary()["rejected_by_reason"] == {"missing_postcode": 1, "outside_area": 1}
