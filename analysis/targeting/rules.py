"""Interpretable treatment rules for targeting: a depth-2 policy tree, a cell grid, a budget.

Used by :mod:`analysis.targeting.policies`; every function here takes per-episode *scores*
(an n x K array, one column per arm, whose mean over a group estimates the group's mean
net benefit of that arm, e.g. doubly robust scores) and returns a rule that assigns one
arm to every episode from start-of-episode features only.

Policy tree (:func:`fit_policy_tree`)
-------------------------------------
Depth at most 2 (at most four leaves), each leaf one arm, chosen to maximise the sum of
the leaves' scores (Athey and Wager 2021, "Policy learning with observational data").
Candidate splits: for a categorical feature every subset of its levels against the rest
(features with more than ``MAX_TREE_LEVELS`` levels keep the most frequent ones and pool
the rest on the right side); for a numeric feature ``x <= t`` at ``n_thresholds``
interior quantiles (missing values go right). The search is *exhaustive* and vectorised:
episodes are collapsed into atoms (identical membership of every candidate split), the
atoms' score sums give, for every pair of splits (s1, s2), the sums in the four cells of
s1 x s2 in one ``einsum``; the best child of each root side is a max over s2 and the best
tree a max over s1 (cost O(atoms x S^2 x K), independent of n). A child may stay a leaf,
and the root may stay a single leaf (one arm for everybody).
Guards against learning from too little: every leaf holds at least ``min_leaf``
episodes, and an arm is eligible in a leaf only if at least ``min_arm`` episodes of that
leaf actually received it (else its score there is pure extrapolation of the outcome
model); ``none`` is always eligible. Optional pessimism (``spread``, ``pessimism``): a leaf's
value of an arm is its score sum minus kappa standard errors of the sum of ``spread``
(:func:`leaf_values`); the per-cell sums and sums of squares ride along in the same einsum.

Grid (:func:`fit_grid_rule`): the best arm in each cell of two categorical features
(cause family x borrower type); a cell with fewer than ``min_leaf`` episodes takes the
arm that is best over all episodes.

Budget (:func:`fit_budget_rule`): starting from a rule, groups = the rule's leaves x
cause family x borrower type, each keeping its rule arm. Groups are taken greedily in
decreasing order of score sum per unit of budget (CNY of cost, or treated episodes), only
while the score sum is positive, skipping any group that no longer fits (the classic
greedy for the 0/1 knapsack; zero-cost groups come first). Groups not taken get
``none``. Budgets are shares (of the total EAD, or of episodes) so a rule learned on
one set of episodes applies to another.

Known drawbacks: a depth-2 tree cannot express more than four distinct treatments
groups; numeric thresholds at quantiles are coarse; the greedy knapsack is not optimal
when a large group nearly fills the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from analysis.definitions import NO_RELIEF

MISSING = "<NA>"
MAX_TREE_LEVELS = 8


def category_values(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A categorical feature as strings (object array), missing as ``<NA>``."""
    s = frame[col]
    arr = s.to_numpy(dtype=object, na_value=MISSING) if s.hasnans else s.to_numpy(dtype=object)
    return arr.astype(str).astype(object)


def _numeric(frame: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").astype(float).to_numpy()


@dataclass(frozen=True)
class Split:
    """``feature in levels`` (categorical) or ``feature <= threshold`` (numeric) goes left."""

    feature: str
    kind: str  # "categorical" or "numeric"
    levels: tuple[str, ...] = ()
    threshold: float = float("nan")

    def left(self, frame: pd.DataFrame, values: np.ndarray | None = None) -> np.ndarray:
        """Rows going left; ``values``: the feature already read (see :func:`feature_values`)."""
        v = feature_values(frame, self) if values is None else values
        if self.kind == "categorical":
            return np.isin(v, list(self.levels))
        return np.nan_to_num(v, nan=np.inf) <= self.threshold

    def text(self, side: str = "left") -> str:
        if self.kind == "categorical":
            op = "in" if side == "left" else "not in"
            return f"{self.feature} {op} {{{', '.join(self.levels)}}}"
        op = "<=" if side == "left" else ">"
        return f"{self.feature} {op} {self.threshold:,.4g}"


def feature_values(frame: pd.DataFrame, split: Split) -> np.ndarray:
    """The column a split reads, as strings (categorical) or floats (numeric)."""
    if split.kind == "categorical":
        return category_values(frame, split.feature)
    return _numeric(frame, split.feature)


def split_masks(frame: pd.DataFrame, splits: Sequence[Split]) -> np.ndarray:
    """n x S boolean matrix of the rows going left at every split (each column read once)."""
    cache: dict[tuple[str, str], np.ndarray] = {}
    cols = []
    for sp in splits:
        key = (sp.feature, sp.kind)
        if key not in cache:
            cache[key] = feature_values(frame, sp)
        cols.append(sp.left(frame, cache[key]))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0), bool)


@dataclass(frozen=True)
class Node:
    """A policy tree node: a leaf (``arm``) or a split with two children."""

    arm: str | None = None
    split: Split | None = None
    left: Node | None = None
    right: Node | None = None

    @property
    def is_leaf(self) -> bool:
        return self.split is None

    def leaves(self) -> list[tuple[tuple[str, ...], str]]:
        """(conditions, arm) for every leaf, left to right (bounds on one numeric feature
        merged: ``x <= 5 & x <= 3`` reads ``x <= 3``)."""
        return [(_simplify(path), arm) for path, arm in self._paths(())]

    def _paths(self, path: tuple) -> list[tuple[tuple, str]]:
        if self.is_leaf:
            return [(path, str(self.arm))]
        return (self.left._paths((*path, (self.split, "left")))
                + self.right._paths((*path, (self.split, "right"))))

    def leaf_ids(self, frame: pd.DataFrame) -> np.ndarray:
        """Index (0-based, left to right) of the leaf each row falls in."""
        out = np.zeros(len(frame), int)
        self._fill(frame, np.ones(len(frame), bool), out, [0])
        return out

    def _fill(self, frame, mask, out, counter) -> None:
        if self.is_leaf:
            out[mask] = counter[0]
            counter[0] += 1
            return
        go = self.split.left(frame)
        self.left._fill(frame, mask & go, out, counter)
        self.right._fill(frame, mask & ~go, out, counter)

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        """The arm of every row (object array)."""
        arms = np.array([a for _, a in self.leaves()], dtype=object)
        return arms[self.leaf_ids(frame)]

    def text(self, indent: str = "") -> str:
        """The rule as nested if / else lines."""
        if self.is_leaf:
            return f"{indent}-> {self.arm}"
        return (f"{indent}if {self.split.text('left')}:\n{self.left.text(indent + '    ')}\n"
                f"{indent}else:\n{self.right.text(indent + '    ')}")

    def one_line(self) -> str:
        """The rule on one line (for a table cell)."""
        if self.is_leaf:
            return f"{self.arm}"
        return "; ".join(f"{' & '.join(c) or 'all'} -> {a}" for c, a in self.leaves())

    @property
    def features(self) -> tuple[str, ...]:
        if self.is_leaf:
            return ()
        return tuple(dict.fromkeys((self.split.feature, *self.left.features, *self.right.features)))


def _simplify(path: tuple) -> tuple[str, ...]:
    """Render a leaf's (split, side) conditions, keeping the tightest numeric bounds."""
    out: list[str] = []
    upper: dict[str, float] = {}
    lower: dict[str, float] = {}
    for sp, side in path:
        if sp.kind == "numeric":
            if side == "left":
                upper[sp.feature] = min(upper.get(sp.feature, np.inf), sp.threshold)
            else:
                lower[sp.feature] = max(lower.get(sp.feature, -np.inf), sp.threshold)
        else:
            out.append(sp.text(side))
    for f in dict.fromkeys([*lower, *upper]):
        lo, hi = lower.get(f), upper.get(f)
        if lo is not None and hi is not None:
            out.append(f"{lo:,.4g} < {f} <= {hi:,.4g}")
        elif hi is not None:
            out.append(f"{f} <= {hi:,.4g}")
        else:
            out.append(f"{f} > {lo:,.4g}")
    return tuple(out)


@dataclass(frozen=True)
class GridRule:
    """Best arm per cell of two categorical features; ``default`` for unseen or small cells."""

    features: tuple[str, str]
    cells: tuple[tuple[str, str, str], ...]  # (level 1, level 2, arm)
    default: str

    def leaf_ids(self, frame: pd.DataFrame) -> np.ndarray:
        keys = [f"{a}\x1f{b}" for a, b, _ in self.cells]
        v = (pd.Series(category_values(frame, self.features[0]))
             + "\x1f" + pd.Series(category_values(frame, self.features[1])))
        return v.map({k: i for i, k in enumerate(keys)}).fillna(len(keys)).astype(int).to_numpy()

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        arms = np.array([c[2] for c in self.cells] + [self.default], dtype=object)
        return arms[self.leaf_ids(frame)]

    def leaves(self) -> list[tuple[tuple[str, ...], str]]:
        f1, f2 = self.features
        return [((f"{f1} = {a}", f"{f2} = {b}"), arm) for a, b, arm in self.cells] + [
            (("any other cell",), self.default)]

    def text(self, indent: str = "") -> str:
        return "\n".join(f"{indent}if {' & '.join(c)}: -> {a}" for c, a in self.leaves())

    def one_line(self) -> str:
        return "; ".join(f"{' & '.join(c)} -> {a}" for c, a in self.leaves())


Rule = Node | GridRule


# ----------------------------------------------------------------------------- tree search


def candidate_splits(frame: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str],
                     n_thresholds: int = 9) -> list[Split]:
    """Every candidate split (see module docstring)."""
    out: list[Split] = []
    for c in categorical:
        counts = pd.Series(category_values(frame, c)).value_counts()
        levels = sorted(counts.index[:MAX_TREE_LEVELS])
        if len(levels) < 2:
            continue
        first, rest = levels[0], levels[1:]
        for r in range(0, len(rest) + 1):
            for sub in combinations(rest, r):
                left = (first, *sub)
                if len(left) < len(levels):  # proper subset
                    out.append(Split(c, "categorical", tuple(left)))
    qs = np.arange(1, n_thresholds + 1) / (n_thresholds + 1)
    for c in numeric:
        v = _numeric(frame, c)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        ts = np.unique(np.quantile(v, qs))
        ts = ts[ts < v.max()]
        out += [Split(c, "numeric", threshold=float(t)) for t in ts]
    return out


def _atoms(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inverse codes, first row of each atom) of the distinct rows of a bool matrix."""
    packed = np.packbits(members, axis=1)
    packed = np.ascontiguousarray(packed)
    void = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inv = np.unique(void, return_index=True, return_inverse=True)
    return inv.ravel(), first


def fit_policy_tree(frame: pd.DataFrame, scores: np.ndarray, arms: Sequence[str],
                    categorical: Sequence[str], numeric: Sequence[str], *,
                    treated: np.ndarray | None = None, min_leaf: int = 20, min_arm: int = 10,
                    n_thresholds: int = 9, depth: int = 2, spread: np.ndarray | None = None,
                    pessimism: float = 0.0) -> Node:
    """Exhaustive depth-``depth`` (1 or 2) policy tree maximising the sum of ``scores``.

    ``scores``: n x K (columns in the order of ``arms``, ``arms[0]`` is ``none``);
    ``treated``: the arm code actually received by each row (for ``min_arm``; None: no
    such check). ``spread`` (n x K) and ``pessimism`` (kappa >= 0): a leaf's value of arm a
    is its score sum minus kappa x the standard error of the sum of ``spread[:, a]`` over
    the leaf (sqrt of n x the within-leaf variance; see :func:`leaf_values`), so an arm
    whose value in a leaf rests on little information must win by more. None or 0: plain
    sums.
    """
    n, k = scores.shape
    splits = candidate_splits(frame, categorical, numeric, n_thresholds)
    if treated is None:  # no check of the arms received
        onehot, min_arm = np.ones((n, k)), 0
    else:
        onehot = np.eye(k)[treated]
    pes = float(pessimism) if spread is not None else 0.0
    sp = spread if pes > 0 else np.zeros((n, k))
    per_row = np.concatenate([scores, onehot, sp, sp ** 2, np.ones((n, 1))], axis=1)

    def pick(rows: np.ndarray) -> str:
        return arms[int(leaf_values(per_row[rows].sum(0), k, min_arm, pes).argmax())]

    if not splits or n == 0:
        return Node(arm=pick(np.ones(n, bool)))
    members = split_masks(frame, splits)
    inv, first = _atoms(members)
    g = np.zeros((len(first), per_row.shape[1]))
    np.add.at(g, inv, per_row)  # per atom: scores, arm counts, spread sums and squares, n
    m = members[first].astype(float)  # atoms x S
    tot = g.sum(0)
    both = np.einsum("as,at,ak->stk", m, m, g, optimize=True)  # s1 & s2
    left = m.T @ g  # s1
    best = lambda cell: leaf_values(cell, k, min_arm, pes).max(-1)  # noqa: E731

    def side(whole: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best value of one root side (S x ...): a leaf, or split by s2 into part / rest."""
        leaf = best(whole)
        if depth < 2:
            return leaf, np.full(leaf.shape, -1)
        rest = whole[:, None] - part
        val = best(part) + best(rest)
        val = np.where((part[..., -1] >= min_leaf) & (rest[..., -1] >= min_leaf), val, -np.inf)
        j = val.argmax(1)
        bv = val[np.arange(len(j)), j]
        use = bv > leaf + 1e-9 * (1 + np.abs(leaf))
        return np.where(use, bv, leaf), np.where(use, j, -1)

    right = tot[None] - left
    lval, lj = side(left, both)
    rval, rj = side(right, left[None] - both)  # (not s1) & s2
    val = np.where((left[:, -1] >= min_leaf) & (right[:, -1] >= min_leaf), lval + rval, -np.inf)
    single = float(best(tot))
    s1 = int(val.argmax())
    if not np.isfinite(val[s1]) or val[s1] <= single + 1e-9 * (1 + abs(single)):
        return Node(arm=pick(np.ones(n, bool)))

    def child(rows: np.ndarray, j: int) -> Node:
        if j < 0:
            return Node(arm=pick(rows))
        go = members[:, j]
        return Node(split=splits[j], left=Node(arm=pick(rows & go)), right=Node(arm=pick(rows & ~go)))

    go1 = members[:, s1]
    return Node(split=splits[s1], left=child(go1, int(lj[s1])), right=child(~go1, int(rj[s1])))


def leaf_values(cell: np.ndarray, k: int, min_arm: int, pessimism: float = 0.0) -> np.ndarray:
    """Value of each arm in a leaf from its summed per-row statistics.

    ``cell`` (..., 4K + 1): sums of the scores (K), of the arm-received indicators (K), of
    the spread (K), of its squares (K), and the row count. Value = score sum - pessimism x
    sqrt(count x within-leaf variance of the spread); -inf for an arm received by fewer
    than ``min_arm`` rows of the leaf (``none``, column 0, is always eligible).
    """
    v, na, d, d2, c = (cell[..., :k], cell[..., k:2 * k], cell[..., 2 * k:3 * k],
                       cell[..., 3 * k:4 * k], cell[..., -1:])
    if pessimism > 0:
        var_sum = np.maximum(d2 - d ** 2 / np.maximum(c, 1.0), 0.0)  # n x variance
        v = v - pessimism * np.sqrt(var_sum)
    ok = na >= min_arm
    ok[..., 0] = True
    return np.where(ok, v, -np.inf)


def fit_grid_rule(frame: pd.DataFrame, scores: np.ndarray, arms: Sequence[str],
                  features: tuple[str, str], *, treated: np.ndarray | None = None,
                  min_leaf: int = 20, min_arm: int = 10, spread: np.ndarray | None = None,
                  pessimism: float = 0.0) -> GridRule:
    """Best arm per cell of ``features`` (two categorical columns); ``spread`` and
    ``pessimism`` as in :func:`fit_policy_tree`."""
    n, k = scores.shape
    onehot = np.ones((n, k)) if treated is None else np.eye(k)[treated]
    min_arm = 0 if treated is None else min_arm
    pes = float(pessimism) if spread is not None else 0.0
    sp = spread if pes > 0 else np.zeros((n, k))
    per_row = np.concatenate([scores, onehot, sp, sp ** 2, np.ones((n, 1))], axis=1)

    def pick(rows: np.ndarray) -> str:
        return arms[int(leaf_values(per_row[rows].sum(0), k, min_arm, pes).argmax())]

    default = pick(np.ones(n, bool))
    a = category_values(frame, features[0])
    b = category_values(frame, features[1])
    cells = []
    for la in sorted(set(a)):
        for lb in sorted(set(b)):  # a handful of cells
            rows = (a == la) & (b == lb)
            if rows.sum() >= min_leaf:
                cells.append((str(la), str(lb), pick(rows)))
    return GridRule(features, tuple(cells), default)


# ----------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class BudgetRule:
    """A rule whose arm is given only to the selected groups (others get ``none``).

    Groups are (leaf of ``base``, cause, borrower type); ``selected`` lists them in the
    order the greedy took them, with their priority (score per budget unit).
    """

    base: Rule
    group_features: tuple[str, ...]
    selected: tuple[tuple[int, tuple[str, ...], str, float], ...]  # leaf, levels, arm, priority
    budget_kind: str  # "ead" or "treated"
    budget_share: float
    reference: str = NO_RELIEF

    def group_keys(self, frame: pd.DataFrame) -> pd.MultiIndex:
        return group_keys(self.base, frame, self.group_features)

    def assign(self, frame: pd.DataFrame, keys: pd.MultiIndex | None = None,
               base_arms: np.ndarray | None = None) -> np.ndarray:
        """Arms per row (``keys``/``base_arms``: precomputed group keys and base arms)."""
        arms = self.base.assign(frame) if base_arms is None else base_arms
        keys = self.group_keys(frame) if keys is None else keys
        chosen = pd.MultiIndex.from_tuples([(lf, *lv) for lf, lv, _, _ in self.selected],
                                           names=keys.names) if self.selected else None
        keep = keys.isin(chosen) if chosen is not None else np.zeros(len(keys), bool)
        return np.where(keep, arms, self.reference).astype(object)

    def text(self) -> str:
        unit = "CNY of cost" if self.budget_kind == "ead" else "treated episode"
        lim = (f"total cost <= {self.budget_share:.3%} of EAD" if self.budget_kind == "ead"
               else f"at most {self.budget_share:.1%} of episodes treated")
        leaves = self.base.leaves()
        lines = [f"budget: {lim}; groups in order of net benefit per {unit}:"]
        for lf, lv, arm, pr in self.selected:
            cond = " & ".join((*leaves[lf][0], *(f"{f} = {v}" for f, v in zip(self.group_features, lv, strict=True))))
            lines.append(f"  {cond} -> {arm} (priority {pr:,.3g})")
        lines.append(f"  everyone else -> {self.reference}")
        return "\n".join(lines)

    def one_line(self) -> str:
        lim = (f"cost <= {self.budget_share:.3%} of EAD" if self.budget_kind == "ead"
               else f"<= {self.budget_share:.1%} treated")
        return f"learned rule within budget ({lim}): {len(self.selected)} groups treated, rest none"


def group_keys(base: Rule, frame: pd.DataFrame, group_features: Sequence[str]) -> pd.MultiIndex:
    """Each row's budget group: its leaf of ``base`` and its levels of ``group_features``."""
    return pd.MultiIndex.from_arrays([base.leaf_ids(frame), *[category_values(frame, f) for f in group_features]],
                                     names=["leaf", *group_features])


@dataclass(frozen=True)
class BudgetGroups:
    """The groups of a rule with their score sums and budget units, in priority order;
    :meth:`select` applies a budget (cheap: reuse for a budget curve)."""

    base: Rule
    group_features: tuple[str, ...]
    table: pd.DataFrame  # index: group keys; gain, units, arm (code), priority
    arms: tuple[str, ...]
    total: float  # budget base: total EAD or number of episodes
    budget_kind: str

    def select(self, budget_share: float) -> BudgetRule:
        cap = budget_share * self.total
        units = self.table["units"].to_numpy()
        used, chosen = 0.0, []
        for j in range(len(units)):  # a handful of groups, not episodes
            if used + units[j] <= cap + 1e-9:
                used += units[j]
                key = self.table.index[j]
                key = key if isinstance(key, tuple) else (key,)
                chosen.append((int(key[0]), tuple(str(x) for x in key[1:]),
                               self.arms[int(self.table["arm"].iloc[j])], float(self.table["priority"].iloc[j])))
        return BudgetRule(self.base, self.group_features, tuple(chosen), self.budget_kind, float(budget_share))


def budget_groups(base: Rule, frame: pd.DataFrame, scores: np.ndarray, costs: np.ndarray,
                  ead: np.ndarray, arms: Sequence[str], group_features: Sequence[str],
                  budget_kind: str = "ead") -> BudgetGroups:
    """Groups (leaf x ``group_features``) of ``base`` with positive score sum for their rule
    arm, sorted by score per budget unit (CNY of cost, or treated episodes)."""
    if budget_kind not in ("ead", "treated"):
        raise ValueError(f"budget_kind must be 'ead' or 'treated', got {budget_kind!r}")
    arm_idx = {a: i for i, a in enumerate(arms)}
    rule_arm = np.array([arm_idx[a] for a in base.assign(frame)], int)
    n = len(frame)
    rows = np.arange(n)
    cost = costs[rows, rule_arm]
    units = cost if budget_kind == "ead" else (cost > 0).astype(float)
    keys = group_keys(base, frame, group_features)
    agg = (pd.DataFrame({"gain": scores[rows, rule_arm], "units": units, "arm": rule_arm}, index=keys)
           .groupby(level=list(range(keys.nlevels)), sort=True)
           .agg(gain=("gain", "sum"), units=("units", "sum"), arm=("arm", "first")))
    agg = agg[(agg["gain"] > 0) & (agg["arm"] != 0)].copy()
    agg["priority"] = np.where(agg["units"] > 0, agg["gain"] / agg["units"].where(agg["units"] > 0, 1.0), np.inf)
    agg = agg.sort_values("priority", ascending=False, kind="stable")
    total = float(ead.sum()) if budget_kind == "ead" else float(n)
    return BudgetGroups(base, tuple(group_features), agg, tuple(arms), total, budget_kind)


def fit_budget_rule(base: Rule, frame: pd.DataFrame, scores: np.ndarray, costs: np.ndarray,
                    ead: np.ndarray, arms: Sequence[str], group_features: Sequence[str],
                    budget_share: float, budget_kind: str = "ead") -> BudgetRule:
    """Greedy selection of groups under a budget (see module docstring).

    ``costs``: n x K cost of each arm (CNY); ``budget_kind`` ``ead`` (total cost <=
    ``budget_share`` x total EAD) or ``treated`` (episodes given a costly arm <=
    ``budget_share`` x n).
    """
    return budget_groups(base, frame, scores, costs, ead, arms, group_features, budget_kind).select(budget_share)
