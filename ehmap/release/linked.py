"""Everything one release can show, as linked counts, and the check that no hidden count can be worked out.

Released tables are linked: a ward is the sum of its LSOAs, a year of its quarters, the council of its services,
and the open caseload moves by referrals minus closures. Hiding small counts one table at a time does not stop a
reader subtracting one table from another. So every count a release can show is registered here once, with the
arithmetic that ties it to others, and `feasible_ranges` asks, by linear programming over all of them together,
what a reader who sees everything the release shows could work out about each hidden count (as tau-ARGUS audits
a set of linked tables). A hidden count has leaked when only one whole number is left for it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

Key = tuple[Hashable, ...]  # e.g. ("episodes", "domestic_abuse", "ward", "E05011462", "2023-24")


@dataclass
class LinkedCounts:
    """True counts of everything a release may show, and the arithmetic that ties them together.

    `published` keys are shown (possibly hidden as 'c'); other keys are quantities a reader knows exist but never
    sees (e.g. episodes in LSOAs no ward holds), needed to write the arithmetic down exactly.
    """

    values: dict[Key, int] = field(default_factory=dict)
    published: set[Key] = field(default_factory=set)
    equations: list[dict[Key, float]] = field(default_factory=list)  # sum(coef * count) == 0
    inequalities: list[dict[Key, float]] = field(default_factory=list)  # sum(coef * count) <= 0
    shares: list[tuple[Key, Key]] = field(default_factory=list)  # (numerator, denominator) shown as whole %

    def add(self, key: Key, value: int, published: bool = True) -> Key:
        """Register one true count (each key once)."""
        if key in self.values:
            if self.values[key] != int(value):
                raise ValueError(f"{key} registered twice with different counts ({self.values[key]} and {value}).")
            return key
        if value < 0:
            raise ValueError(f"A count cannot be negative; got {value} for {key}.")
        self.values[key] = int(value)
        if published:
            self.published.add(key)
        return key

    def add_sum(self, whole: Key, parts: Iterable[Key]) -> None:
        """`whole` is the sum of `parts` (checked on the true counts)."""
        parts = list(parts)
        self._require([whole, *parts])
        if self.values[whole] != sum(self.values[p] for p in parts):
            raise ValueError(f"{whole} ({self.values[whole]}) is not the sum of its {len(parts)} parts.")
        terms: dict[Key, float] = {whole: -1.0}
        for part in parts:
            terms[part] = terms.get(part, 0.0) + 1.0
        self.equations.append(terms)

    def add_identity(self, terms: Mapping[Key, float]) -> None:
        """A linear identity sum(coef * count) == 0, e.g. open(q) - open(q-1) - referrals(q) + closures(q)."""
        self._require(terms)
        if abs(sum(c * self.values[k] for k, c in terms.items())) > 1e-9:
            raise ValueError(f"The identity over {list(terms)[:3]}... does not hold for the true counts.")
        self.equations.append(dict(terms))

    def add_within(self, part: Key, whole: Key) -> None:
        """`part` is at most `whole` (e.g. one need's episodes within all needs')."""
        self._require([part, whole])
        if self.values[part] > self.values[whole]:
            raise ValueError(f"{part} ({self.values[part]}) exceeds {whole} ({self.values[whole]}).")
        self.inequalities.append({part: 1.0, whole: -1.0})

    def add_share(self, numerator: Key, denominator: Key) -> None:
        """`numerator` / `denominator` is shown as a whole percentage wherever both counts are shown."""
        self._require([numerator, denominator])
        self.shares.append((numerator, denominator))

    def _require(self, keys: Iterable[Key]) -> None:
        missing = [k for k in keys if k not in self.values]
        if missing:
            raise KeyError(f"Register counts before linking them; missing {missing[:3]}.")


@dataclass(frozen=True)
class Facts:
    """What a reader of the release knows about every count: a range per key, and the whole percentages shown."""

    bounds: dict[Key, tuple[float, float]]
    shares: dict[tuple[Key, Key], int]  # (numerator, denominator) -> whole percentage shown


def whole_percentage(numerator: int, denominator: int) -> int:
    """100 * numerator / denominator rounded half up to a whole number."""
    return int(math.floor(100 * numerator / denominator + 0.5))


def _components(linked: LinkedCounts, index: dict[Key, int], constraints: list[dict[Key, float]]) -> np.ndarray:
    """Union-find over keys that share a constraint: the label of each key's connected group."""
    parent = np.arange(len(index))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for terms in constraints:
        members = [index[k] for k in terms]
        root = find(members[0])
        for m in members[1:]:
            other = find(m)
            if other != root:
                parent[other] = root
    return np.array([find(i) for i in range(len(index))])


def _constraints(linked: LinkedCounts, facts: Facts) -> tuple[list[dict[Key, float]], list[dict[Key, float]]]:
    """Equalities and inequalities (<= 0) a reader can write: the arithmetic plus every shown percentage."""
    upper = list(linked.inequalities)
    for (num, den), pct in facts.shares.items():
        high, low = (pct + 0.5) / 100, max(pct - 0.5, 0) / 100
        upper.append({num: 1.0, den: -high} if num != den else {num: 1.0 - high})
        upper.append({num: -1.0, den: low} if num != den else {num: low - 1.0})
    return linked.equations, upper


def feasible_ranges(linked: LinkedCounts, facts: Facts, targets: Iterable[Key]) -> dict[Key, tuple[float, float]]:
    """The least and greatest value of each target count consistent with everything the reader knows.

    Solved as linear programmes (the relaxation of the integer problem, as tau-ARGUS audits tables), one
    connected group of linked counts at a time. Each solution found is a reading the reader cannot rule out; a
    target with two readings a whole number apart cannot be pinned, and its range is reported as those readings
    (inside its full range). Only targets the first few solutions leave undecided get programmes of their own,
    whose solutions decide others too. A pinned target's range is exact.
    """
    targets = list(dict.fromkeys(targets))
    keys = list(linked.values)
    index = {k: i for i, k in enumerate(keys)}
    equalities, upper = _constraints(linked, facts)
    group = _components(linked, index, equalities + upper)
    ranges: dict[Key, tuple[float, float]] = {}
    for label in np.unique(group[[index[t] for t in targets]]) if targets else []:
        members = [keys[i] for i in np.flatnonzero(group == label)]
        wanted = [t for t in targets if group[index[t]] == label]
        ranges.update(_group_ranges(members, wanted, equalities, upper, facts))
    return ranges


class _Solver:
    """One group's linear programme held by HiGHS, solved again for each objective from the last basis (warm)."""

    def __init__(self, a_eq, a_ub, bounds: list[tuple[float, float]]):
        import highspy

        rows = [a for a in (a_eq, a_ub) if a is not None]
        n = len(bounds)
        a = sparse.vstack(rows).tocsc() if rows else sparse.csc_matrix((0, n))
        equal = 0 if a_eq is None else a_eq.shape[0]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, a.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.array([b[0] for b in bounds], dtype=float)
        lp.col_upper_ = np.array([b[1] for b in bounds], dtype=float)
        lp.row_lower_ = np.concatenate([np.zeros(equal), np.full(a.shape[0] - equal, -highspy.kHighsInf)])
        lp.row_upper_ = np.zeros(a.shape[0])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        self.columns = np.arange(n, dtype=np.int32)
        self.bounds = bounds
        self.optimal = highspy.HighsModelStatus.kOptimal
        self.infeasible = highspy.HighsModelStatus.kInfeasible

    def __call__(self, objective: np.ndarray) -> np.ndarray | None:
        """The solution minimising `objective`, or None when the programme has none (unbounded)."""
        self.highs.changeColsCost(len(self.columns), self.columns, np.asarray(objective, dtype=float))
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == self.infeasible:
            raise RuntimeError("The published facts are inconsistent with the arithmetic: a release bug.")
        if status != self.optimal:
            return None
        return np.asarray(self.highs.getSolution().col_value)


def _group_ranges(members: list[Key], wanted: list[Key], equalities, upper, facts: Facts):
    local = {k: i for i, k in enumerate(members)}
    n = len(members)

    def matrix(rows: list[dict[Key, float]]):
        rows = [r for r in rows if next(iter(r)) in local]
        if not rows:
            return None
        data, ri, ci = [], [], []
        for r, terms in enumerate(rows):
            for key, coef in terms.items():
                data.append(coef)
                ri.append(r)
                ci.append(local[key])
        return sparse.csr_matrix((data, (ri, ci)), shape=(len(rows), n))

    a_eq, a_ub = matrix(equalities), matrix(upper)
    solve = _Solver(a_eq, a_ub, [facts.bounds[k] for k in members])
    bounds = solve.bounds

    columns = np.array([local[k] for k in wanted])
    low = np.full(len(wanted), np.inf)  # least and greatest reading of each target over the solutions found
    high = np.full(len(wanted), -np.inf)
    exact_low = np.full(len(wanted), np.nan)  # a target's own minimum and maximum, where solved for
    exact_high = np.full(len(wanted), np.nan)

    def witness(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(low, x[columns], out=low)
            np.maximum(high, x[columns], out=high)

    rng = np.random.default_rng(0)
    undecided = np.arange(len(wanted))
    while len(undecided):  # push random halves of the undecided targets up and the rest down, while that decides some
        for _ in range(2):
            objective = np.zeros(n)
            objective[columns[undecided]] = rng.uniform(-1.0, 1.0, len(undecided))
            witness(solve(objective))
        still = undecided[high[undecided] - low[undecided] < 1 - 1e-7]
        if len(still) == len(undecided):
            break
        undecided = still
    for j in undecided:
        if high[j] - low[j] >= 1 - 1e-7:
            continue  # two solutions a whole number apart: this target cannot be pinned
        objective = np.zeros(n)
        objective[columns[j]] = -1.0
        x = solve(objective)
        witness(x)
        exact_high[j] = x[columns[j]] if x is not None else math.inf
        if high[j] - low[j] >= 1 - 1e-7:
            continue
        objective[columns[j]] = 1.0
        x = solve(objective)
        witness(x)
        exact_low[j] = x[columns[j]] if x is not None else bounds[columns[j]][0]
    return {key: (float(np.nanmin([low[j], exact_low[j]])), float(np.nanmax([high[j], exact_high[j]])))
            for j, key in enumerate(wanted)}


def pinned(low: float, high: float) -> bool:
    """True when at most one whole number lies in [low, high]: the count has been worked out."""
    return math.floor(high + 1e-7) - math.ceil(low - 1e-7) < 1
