"""The release rule for counts: rounded to 5, small counts hidden, and more hidden until nothing can be worked out.

Every count in a release is rounded once, so the same count reads the same in every table, chart, paper and CSV.
Counts from 1 to 7 are hidden ('c'): rounded, they would show as 0 or 5 and so give themselves away. Then the whole
set of linked counts is checked together (`ehmap.release.linked.feasible_ranges`); while any hidden count could be
worked out exactly, the smallest shown count it is added up with is hidden too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ehmap.release.linked import Facts, Key, LinkedCounts, feasible_ranges, pinned, whole_percentage

HIDDEN = "c"  # GSS symbol: confidential
NOT_AVAILABLE = "x"  # GSS symbol: not available (a rate whose count is hidden, a breakdown not released)
SMALL, PARTNER, WITHHELD = "small", "protects another", "withheld"  # why a count is not shown


@dataclass(frozen=True)
class CountRule:
    """How a released count is shown: rounded to `base`; counts from 1 to `smallest_shown` - 1 hidden."""

    base: int = 5
    smallest_shown: int = 8

    def rounded(self, count: int) -> int:
        """The count rounded half up to the nearest `base`."""
        return int(math.floor(count / self.base + 0.5) * self.base)

    def hides(self, count: int) -> bool:
        return 0 < count < self.smallest_shown

    def reading(self, shown: int) -> tuple[float, float]:
        """What a reader knows of a count from its shown value: 0 is exact, the rest within half a base."""
        if shown == 0:
            return 0.0, 0.0
        half = self.base // 2
        return float(max(self.smallest_shown, shown - half)), float(shown + half)

    def describe(self) -> str:
        return (f"Counts are rounded to the nearest {self.base}; counts from 1 to {self.smallest_shown - 1} are shown "
                f"as '{HIDDEN}' (0 means none), and a few more where that stops a hidden count being worked out; "
                f"'{NOT_AVAILABLE}' marks a breakdown that is not released because it would give a small count away "
                "(a few episodes, one to an area).")


RULE = CountRule()  # the release rule


@dataclass(frozen=True)
class Protected:
    """The released value of every count: shown (rounded) or hidden, and the check that was made."""

    shown: dict[Key, int]  # rounded values of shown counts, 0 included
    hidden: dict[Key, str]  # key -> SMALL (1 to 7), PARTNER (hidden to protect another) or WITHHELD (not released)
    shares: dict[tuple[Key, Key], int]  # whole percentages shown: (numerator, denominator) -> %
    rule: CountRule
    checked: int  # ranges of hidden counts worked out, over every round
    rounds: int  # times the check hid more counts

    def text(self, key: Key) -> str:
        """The count as released: its rounded value, 'c' (hidden), or 'x' (its breakdown is not released)."""
        if key in self.hidden:
            return NOT_AVAILABLE if self.hidden[key] == WITHHELD else HIDDEN
        return str(self.shown[key])

    def value(self, key: Key) -> float:
        """The rounded count, or NaN where hidden."""
        return math.nan if key in self.hidden else float(self.shown[key])

    def share(self, numerator: Key, denominator: Key) -> float:
        """The whole percentage shown for numerator / denominator, or NaN where it is not shown."""
        return float(self.shares.get((numerator, denominator), math.nan))

    @property
    def secondary(self) -> int:
        """Counts hidden only to protect others."""
        return sum(reason == PARTNER for reason in self.hidden.values())

    @property
    def withheld(self) -> int:
        """Counts of breakdowns not released because they would give a small count away."""
        return sum(reason == WITHHELD for reason in self.hidden.values())


def _facts(linked: LinkedCounts, rule: CountRule, hidden: dict[Key, str], ceiling: float) -> Facts:
    """What a reader knows: exact zeros, rounded ranges, 'c' as 1 to 7, unpublished counts as any number.

    A reader who takes every 'c' for a small count is right about all but the few hidden to protect others, and
    knows more than one who allows any value; checking against that reader protects the small counts most."""
    bounds: dict[Key, tuple[float, float]] = {}
    for key, value in linked.values.items():
        if key not in linked.published or hidden.get(key) == WITHHELD:
            bounds[key] = (0.0, ceiling)
        elif key in hidden:  # a count hidden to protect another may be a zero
            bounds[key] = (1.0, float(rule.smallest_shown - 1)) if hidden[key] == SMALL else \
                (min(1.0, float(value)), ceiling)
        else:
            bounds[key] = rule.reading(rule.rounded(value))
    shares = {
        (num, den): whole_percentage(linked.values[num], linked.values[den])
        for num, den in linked.shares
        if num not in hidden and den not in hidden and linked.values[den] > 0
    }
    return Facts(bounds, shares)


@dataclass(frozen=True)
class _Links:
    """Which constraints each count appears in (equations, inequalities and shown shares alike)."""

    constraints: list[dict[Key, float]]
    of: dict[Key, list[int]]

    @classmethod
    def of_counts(cls, linked: LinkedCounts) -> _Links:
        constraints = [*linked.equations, *linked.inequalities, *({n: 1.0, d: 1.0} for n, d in linked.shares)]
        of: dict[Key, list[int]] = {}
        for i, terms in enumerate(constraints):
            for key in terms:
                of.setdefault(key, []).append(i)
        return cls(constraints, of)


def _partner(linked: LinkedCounts, links: _Links, leaked: Key, hidden: dict[Key, str]) -> Key | None:
    """The count to hide to protect a leaked one: the smallest non-zero shown count it is added up with, if any."""
    candidates = {other for i in links.of.get(leaked, ()) for other in links.constraints[i]
                  if other in linked.published and other not in hidden and linked.values[other]}
    return min(candidates, key=lambda k: (linked.values[k], str(k)), default=None)


def _breakdown(linked: LinkedCounts, leaked: Key) -> list[Key]:
    """The parts of the largest sum a leaked count belongs to (its total left out): the breakdown not to release
    when no shown count can protect it (e.g. seven episodes, one in each of seven areas, under a total of 'c')."""
    sums = [terms for terms in linked.equations if leaked in terms]
    if not sums:
        return [leaked]
    terms = max(sums, key=len)
    totals = [k for k, coef in terms.items() if coef < 0]
    whole = totals[0] if len(totals) == 1 and all(c > 0 for k, c in terms.items() if k != totals[0]) else None
    return [k for k in terms if k != whole and k in linked.published]


def protect(linked: LinkedCounts, rule: CountRule = RULE, max_rounds: int = 200) -> Protected:
    """Round and hide every published count so that, taken together, no hidden count can be worked out.

    Hiding more only widens what a reader can conclude, so a hidden count found safe stays safe: each round after
    the first checks only the counts that leaked and the ones just hidden to protect them."""
    hidden = {key: SMALL for key in linked.published if rule.hides(linked.values[key])}
    ceiling = float(max(linked.values.values(), default=0) * 2 + 10)  # no count exceeds the whole export
    links = _Links.of_counts(linked)
    to_check, checked = set(hidden), 0
    for rounds in range(max_rounds):  # noqa: B007 (the number of rounds is reported)
        ranges = feasible_ranges(linked, _facts(linked, rule, hidden, ceiling),
                                 sorted((k for k in to_check if hidden.get(k) != WITHHELD), key=str))
        checked += len(ranges)
        # a count hidden only to protect another is not itself small: if a reader can work it out, nothing small
        # is given away, but it protects nothing either, so the small count it stood by is checked again
        leaked = sorted((k for k, (low, high) in ranges.items() if pinned(low, high) and hidden[k] == SMALL),
                        key=str)
        if not leaked:
            break
        to_check = set(leaked)
        for key in leaked:
            if hidden.get(key) == WITHHELD:
                continue
            partner = _partner(linked, links, key, hidden)
            if partner is not None:
                hidden[partner] = PARTNER
                to_check.add(partner)
                continue
            for part in _breakdown(linked, key):
                hidden[part] = WITHHELD
    else:
        raise RuntimeError("Protecting the release did not settle.")
    shown = {k: rule.rounded(linked.values[k]) for k in linked.published if k not in hidden}
    return Protected(shown, hidden, _facts(linked, rule, hidden, ceiling).shares, rule, checked, rounds)
