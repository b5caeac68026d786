"""The Early Help need taxonomy (Supporting Families' ten headlines) and closure outcomes.

A need value in an export matches, case-insensitively, a need key, its headline, or a CIN
assessment factor code (our mapping of factor codes to headlines, per domain.md §2). Outcomes
map free text onto the closure categories of domain.md §3; unknown text becomes `other`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """One Supporting Families headline problem."""

    key: str
    headline: str
    number: int
    cin_codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


def _codes(*specs: str) -> tuple[str, ...]:
    """Expand '4A-4C' into ('4A', '4B', '4C'); plain codes pass through."""
    codes: list[str] = []
    for spec in specs:
        match = re.fullmatch(r"(\d+)([A-Z])-\1([A-Z])", spec)
        if match:
            number, first, last = match.groups()
            codes += [f"{number}{chr(c)}" for c in range(ord(first), ord(last) + 1)]
        else:
            codes.append(spec)
    return tuple(codes)


NEEDS: tuple[Need, ...] = (
    Need("education", "Getting a good education", 1, aliases=("school attendance", "school problems")),
    Need("early_years", "Good early years development", 2),
    Need("health", "Improved mental and physical health", 3, _codes("4A-4C", "5A-5C", "6A-6C", "15A"),
         aliases=("mental health", "physical health")),
    Need("substance_use", "Promoting recovery and reducing harm from substance use", 4, _codes("1A-1C", "2A-2C"),
         aliases=("Better managed substance use", "substance misuse")),
    Need("family_relationships", "Improved family relationships", 5, _codes("7A"), aliases=("family conflict",)),
    Need("child_safety", "Children safe from abuse and exploitation", 6,
         _codes("8B-8F", "9A", "10A", "11A", "12A", "16A", "17A", "18A-18C", "19A-19C", "22A", "23A", "24A")),
    Need("crime", "Crime prevention and tackling crime", 7, _codes("13A", "14A", "24A"),
         aliases=("Families diverted from crime",)),
    Need("domestic_abuse", "Safe from domestic abuse", 8, _codes("3A-3C")),
    Need("housing", "Secure housing", 9),
    # N7 is the CIN *primary need* code for low income, not a factor code; accepted as the nearest match.
    Need("financial_stability", "Financial stability", 10, ("N7",), aliases=("poverty", "worklessness")),
)
NEED_KEYS: tuple[str, ...] = tuple(need.key for need in NEEDS)
NEED_BY_KEY = {need.key: need for need in NEEDS}
NEED_BITS = {need.key: 1 << i for i, need in enumerate(NEEDS)}


def _plain(text: str) -> str:
    """Lower-case, with every run of non-alphanumerics as one space: 'Domestic_Abuse' -> 'domestic abuse'."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _need_lookup() -> dict[str, int]:
    lookup: dict[str, int] = {}
    for need in NEEDS:
        for name in (need.key, need.headline, *need.aliases, *need.cin_codes):
            lookup[_plain(name)] = lookup.get(_plain(name), 0) | NEED_BITS[need.key]
    return lookup


_NEED_LOOKUP = _need_lookup()
NEED_SEPARATORS = r"[;,|]"


def parse_needs(text: str) -> tuple[int, list[str]]:
    """A needs cell as a bitmask of NEED_BITS, plus the values that matched no need."""
    mask, unknown = 0, []
    for value in re.split(NEED_SEPARATORS, text or ""):
        plain = _plain(value)
        if not plain:
            continue
        bits = _NEED_LOOKUP.get(plain)
        if bits is None:
            unknown.append(value.strip())
        else:
            mask |= bits
    return mask, unknown


def needs_text(mask: int) -> str:
    """Canonical need keys of a bitmask joined by ';' (in headline order)."""
    return ";".join(key for key in NEED_KEYS if mask & NEED_BITS[key])


OUTCOMES: dict[str, str] = {
    "needs_met": "Needs met",
    "step_up_csc": "Stepped up to children's social care",
    "step_down_universal": "Stepped down to universal services",
    "transfer_other_service": "Transferred to another service",
    "declined_consent": "Declined or withdrew consent",
    "disengaged": "Disengaged",
    "moved_out_of_area": "Moved out of area",
    "nfa_after_assessment": "No further action after assessment",
    "other": "Other",
}

# Ordered: the first pattern found in the plain text decides (step-up before 'needs met', etc.).
_OUTCOME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bstep(ped)? ?up\b|escalat|social care|\bcsc\b|\bcin\b|child protection|\bs47\b", "step_up_csc"),
    (r"\bstep(ped)? ?down\b|universal|signpost", "step_down_universal"),
    (r"\bmoved?\b|out of area|another (la|local authority)|\brc5\b|relocat", "moved_out_of_area"),
    # disengagement before consent: 'refused to engage' is a family dropping out, 'declined support' never starting
    (r"disengag|non ?engage|(not|never|failed to|did not|didn t|refused to|chose not to|unable to|would not) ?engag"
     r"|\bno engagement\b|lack of engagement|\bdna\b|no contact|lost contact", "disengaged"),
    (r"declin|consent|refus|withdr", "declined_consent"),
    (r"\bnfa\b|no further action|closed after assessment|\brc9\b", "nfa_after_assessment"),
    (r"transfer|another service|other (service|agency)|referred on", "transfer_other_service"),
    (r"\bmet\b|achieved|complete|success|improved|goals", "needs_met"),
    (r"^other$", "other"),
)


def parse_outcome(text: str) -> tuple[str | None, bool]:
    """An outcome cell as a category key (None when blank) and whether the text was recognised."""
    plain = _plain(text or "")
    if not plain:
        return None, True
    if plain.replace(" ", "_") in OUTCOMES:
        return plain.replace(" ", "_"), True
    negated = re.search(r"\bnot\b|\bunmet\b|\bun(successful|achieved|resolved|completed?)\b", plain) is not None
    for pattern, key in _OUTCOME_PATTERNS:
        if key == "needs_met" and negated:  # 'needs not met', 'unsuccessful'
            continue
        if re.search(pattern, plain):
            return key, True
    return "other", False
