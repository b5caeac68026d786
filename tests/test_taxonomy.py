"""Need taxonomy (Supporting Families headlines, CIN factor codes) and closure outcomes (ehmap.taxonomy).

Expected mappings come from domain.md §2 (CIN factor codes -> headlines) and §3 (closure categories).
"""

from __future__ import annotations

import pytest

from ehmap.taxonomy import NEED_BITS, NEED_KEYS, NEEDS, OUTCOMES, needs_text, parse_needs, parse_outcome


def needs_of(text: str) -> set[str]:
    mask, unknown = parse_needs(text)
    assert unknown == [], f"{text!r} left {unknown} unmatched"
    return {key for key in NEED_KEYS if mask & NEED_BITS[key]}


def test_ten_headlines_in_programme_order():
    assert [need.number for need in NEEDS] == list(range(1, 11))
    assert len(set(NEED_BITS.values())) == 10


@pytest.mark.parametrize(
    "text, key",
    [
        ("domestic_abuse", "domestic_abuse"),
        ("Domestic Abuse", "domestic_abuse"),  # key, case- and separator-insensitive
        ("DOMESTIC-ABUSE", "domestic_abuse"),
        ("Safe from domestic abuse", "domestic_abuse"),  # headline
        ("Getting a good education", "education"),
        ("Secure housing", "housing"),
        ("Financial stability", "financial_stability"),
        ("Better managed substance use", "substance_use"),  # the 2022 headline wording (alias)
        ("substance misuse", "substance_use"),
        ("Families diverted from crime", "crime"),
        ("school attendance", "education"),
        ("Mental health", "health"),
        ("poverty", "financial_stability"),
        ("family conflict", "family_relationships"),
    ],
)
def test_need_by_key_headline_or_alias(text, key):
    assert needs_of(text) == {key}


@pytest.mark.parametrize(
    "code, keys",
    [
        ("3A", {"domestic_abuse"}),
        ("3b", {"domestic_abuse"}),
        ("3C", {"domestic_abuse"}),
        ("1A", {"substance_use"}),  # alcohol
        ("2A", {"substance_use"}),  # drugs: NOT domestic abuse
        ("2C", {"substance_use"}),
        ("4B", {"health"}),
        ("5A", {"health"}),
        ("6C", {"health"}),
        ("15A", {"health"}),
        ("7A", {"family_relationships"}),
        ("8B", {"child_safety"}),
        ("8F", {"child_safety"}),
        ("9A", {"child_safety"}),
        ("11A", {"child_safety"}),
        ("16A", {"child_safety"}),
        ("17A", {"child_safety"}),
        ("18B", {"child_safety"}),
        ("19C", {"child_safety"}),
        ("18A", {"child_safety"}),  # legacy physical abuse code, accepted on import
        ("19A", {"child_safety"}),  # legacy sexual abuse code
        ("22A", {"child_safety"}),
        ("13A", {"crime"}),
        ("14A", {"crime"}),
        ("24A", {"child_safety", "crime"}),  # CCE fits both
        ("N7", {"financial_stability"}),
    ],
)
def test_cin_factor_codes(code, keys):
    assert needs_of(code) == keys


def test_drugs_code_is_not_domestic_abuse():
    mask, _ = parse_needs("2A")
    assert not mask & NEED_BITS["domestic_abuse"]
    assert mask == NEED_BITS["substance_use"]


@pytest.mark.parametrize("code", ["20", "21", "8A", "3D", "25A", "2"])
def test_codes_outside_the_mapping_are_unknown(code):
    assert parse_needs(code) == (0, [code])


@pytest.mark.parametrize("text", ["3A; 2A | 24A, housing", "3A;2A|24A,housing", " 3A ;; 2A || 24A ,, housing ;"])
def test_separators(text):
    assert needs_of(text) == {"domestic_abuse", "substance_use", "child_safety", "crime", "housing"}


def test_unknown_values_are_returned_as_written():
    mask, unknown = parse_needs("3A; Widgets | 99Z ,  Housing ")
    assert mask == NEED_BITS["domestic_abuse"] | NEED_BITS["housing"]
    assert unknown == ["Widgets", "99Z"]


@pytest.mark.parametrize("text", ["", None, " ; , | "])
def test_blank_needs(text):
    assert parse_needs(text) == (0, [])


def test_needs_text_is_in_headline_order_joined_by_semicolons():
    mask, _ = parse_needs("housing; 3A; 2A; 24A; education")
    assert needs_text(mask) == "education;substance_use;child_safety;crime;domestic_abuse;housing"
    assert needs_text(0) == ""


def test_needs_text_round_trips():
    for key in NEED_KEYS:
        assert needs_text(NEED_BITS[key]) == key
        assert needs_of(needs_text(NEED_BITS[key])) == {key}


@pytest.mark.parametrize(
    "text, key",
    [
        ("Needs met", "needs_met"),
        ("needs_met", "needs_met"),
        ("NEEDS MET", "needs_met"),
        ("Outcomes achieved", "needs_met"),
        ("Case closed - goals achieved", "needs_met"),
        ("Plan completed successfully", "needs_met"),
        ("Stepped up to children's social care", "step_up_csc"),
        ("Step up to CSC", "step_up_csc"),
        ("Escalated - s47", "step_up_csc"),
        ("Child protection", "step_up_csc"),
        ("Stepped down to universal services", "step_down_universal"),
        ("Signposted", "step_down_universal"),
        ("Transferred to another service", "transfer_other_service"),
        ("Referred on to other agency", "transfer_other_service"),
        ("Declined support", "declined_consent"),
        ("Consent withdrawn", "declined_consent"),
        ("Family refused", "declined_consent"),
        ("Disengaged", "disengaged"),
        ("Did not engage", "disengaged"),
        ("Lost contact", "disengaged"),
        ("DNA", "disengaged"),
        ("No engagement", "disengaged"),
        ("Closed - no engagement", "disengaged"),
        ("Not engaging", "disengaged"),
        ("Unable to engage", "disengaged"),
        ("Lack of engagement", "disengaged"),
        ("Family chose not to engage", "disengaged"),
        ("Refused to engage", "disengaged"),
        ("Family withdrew", "declined_consent"),
        ("Parent declined support", "declined_consent"),
        ("Moved out of area", "moved_out_of_area"),
        ("Family moved to another local authority", "moved_out_of_area"),
        ("RC5", "moved_out_of_area"),
        ("NFA", "nfa_after_assessment"),
        ("No further action", "nfa_after_assessment"),
        ("Closed after assessment", "nfa_after_assessment"),
        ("Other", "other"),
    ],
)
def test_outcome_texts(text, key):
    assert parse_outcome(text) == (key, True)


@pytest.mark.parametrize("key", sorted(OUTCOMES))
def test_every_outcome_key_and_label_maps_to_itself(key):
    assert parse_outcome(key)[0] == key
    assert parse_outcome(OUTCOMES[key])[0] == key


@pytest.mark.parametrize("text", ["Needs not met", "Needs unmet", "Unsuccessful", "Goals not achieved"])
def test_negated_success_is_not_needs_met(text):
    key, recognised = parse_outcome(text)
    assert key != "needs_met"
    assert (key, recognised) == ("other", False)


def test_unrecognised_outcome_is_other_and_flagged():
    assert parse_outcome("Banana") == ("other", False)


@pytest.mark.parametrize("text", ["", None, "  ", "-"])
def test_blank_outcome_is_none(text):
    assert parse_outcome(text) == (None, True)


@pytest.mark.parametrize("text", ["Family engaged well, needs met", "Engaged with plan - goals achieved"])
def test_engaged_family_with_needs_met_is_needs_met(text):
    assert parse_outcome(text) == ("needs_met", True)
