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
NOT_AVAILABLE = "x"  # GSS symbol: not available (e.g. a rate whose count is hidden)


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
                f"as '{HIDDEN}' (0 means none).")


RULE = CountRule()  # the release rule


@dataclass(frozen=True)
class Protected:
    """The released value of every count: shown (rounded) or hidden, and the check that was made."""

    shown: dict[Key, int]  # rounded values of shown counts, 0 included
    hidden: dict[Key, str]  # key -> "small" (1 to 7) or "protects another"
    shares: dict[tuple[Key, Key], int]  # whole percentages shown: (numerator, denominator) -> %
    rule: CountRule
    checked: int  # hidden counts whose range the final check worked out
    rounds: int  # times the check hid more counts

    def text(self, key: Key) -> str:
        """The count as released: its rounded value, or 'c'."""
        return HIDDEN if key in self.hidden else str(self.shown[key])

    def value(self, key: Key) -> float:
        """The rounded count, or NaN where hidden."""
        return math.nan if key in self.hidden else float(self.shown[key])

    def share(self, numerator: Key, denominator: Key) -> float:
        """The whole percentage shown for numerator / denominator, or NaN where it is not shown."""
        return float(self.shares.get((numerator, denominator), math.nan))

    @property
    def secondary(self) -> int:
        return sum(reason != "small" for reason in self.hidden.values())


def _facts(linked: LinkedCounts, rule: CountRule, hidden: dict[Key, str], ceiling: float) -> Facts:
    """What a reader knows: exact zeros, rounded ranges, 'c' as 1 to 7, unpublished counts as any number.

    A reader who takes every 'c' for a small count is right about all but the few hidden to protect others, and
    knows more than one who allows any value; checking against that reader protects the small counts most."""
    bounds: dict[Key, tuple[float, float]] = {}
    for key, value in linked.values.items():
        if key not in linked.published:
            bounds[key] = (0.0, ceiling)
        elif key in hidden:
            bounds[key] = (1.0, float(rule.smallest_shown - 1) if hidden[key] == "small" else ceiling)
        else:
            bounds[key] = rule.reading(rule.rounded(value))
    shares = {
        (num, den): whole_percentage(linked.values[num], linked.values[den])
        for num, den in linked.shares
        if num not in hidden and den not in hidden and linked.values[den] > 0
    }
    return Facts(bounds, shares)


def _partner(linked: LinkedCounts, leaked: Key, hidden: set[Key]) -> Key | None:
    """The smallest shown non-zero count added up with a leaked one (the cell to hide with it)."""
    candidates = {
        key
        for terms in linked.equations
        if leaked in terms
        for key in terms
        if key in linked.published and key not in hidden and linked.values[key] > 0
    }
    return min(candidates, key=lambda k: (linked.values[k], str(k)), default=None)


def protect(linked: LinkedCounts, rule: CountRule = RULE, max_rounds: int = 200) -> Protected:
    """Round and hide every published count so that, taken together, no hidden count can be worked out."""
    hidden = {key: "small" for key in linked.published if rule.hides(linked.values[key])}
    ceiling = float(max(linked.values.values(), default=0) * 2 + 10)  # no count exceeds the whole export
    checked = 0
    for rounds in range(max_rounds):  # noqa: B007 (the number of rounds is reported)
        facts = _facts(linked, rule, hidden, ceiling)
        ranges = feasible_ranges(linked, facts, hidden)
        checked = len(ranges)
        leaked = sorted((k for k, (low, high) in ranges.items() if pinned(low, high)), key=str)
        if not leaked:
            break
        for key in leaked:
            partner = _partner(linked, key, set(hidden))
            if partner is None:
                raise RuntimeError(f"{key} can be worked out and no shown count can be hidden to protect it.")
            hidden[partner] = "protects another"
    else:
        raise RuntimeError("Protecting the release did not settle.")
    shown = {k: rule.rounded(linked.values[k]) for k in linked.published if k not in hidden}
    return Protected(shown, hidden, _facts(linked, rule, hidden, ceiling).shares, rule, checked, rounds)
