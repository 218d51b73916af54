"""Pessimistic (lower-confidence-bound) rule search: hand-computed leaf values, the
exhaustive search against brute force, and the behaviour it is there for (an arm that
looks best only where the data say little about it is not chosen)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.targeting import (
    candidate_splits,
    fit_grid_rule,
    fit_policy_tree,
    leaf_values,
)
from tests.helpers.targeting import ARMS
from tests.helpers.targeting import frame as base_frame


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The policy-search frame of test_targeting plus noisier per-episode scores."""
    f, s = base_frame(n, seed)
    rng = np.random.default_rng(seed + 10_000)
    spread = s + rng.normal(scale=rng.uniform(0.5, 4, size=(1, 3)), size=(n, 3))
    spread[:, 0] = 0.0
    return f, s, spread


def test_leaf_values_by_hand() -> None:
    # two rows; arm scores (0, 1, 5) and (0, 3, 1); spreads of arm b: 4 and -2 (mean 1,
    # squared deviations 9 + 9 = 18, sd of the sum sqrt(18)); arm a spreads equal (no spread)
    s = np.array([[0, 1, 5], [0, 3, 1]], float)
    d = np.array([[0, 2, 4], [0, 2, -2]], float)
    onehot = np.array([[1, 0, 0], [0, 1, 0]], float)
    cell = np.concatenate([s, onehot, d, d ** 2, np.ones((2, 1))], axis=1).sum(0)
    v = leaf_values(cell, 3, min_arm=0, pessimism=1.0)
    np.testing.assert_allclose(v, [0.0, 4.0, 6.0 - np.sqrt(18.0)])
    v2 = leaf_values(cell, 3, min_arm=0, pessimism=2.0)
    assert v2.argmax() == 1 and v.argmax() == 1  # a: 4 > 6 - 4.24
    assert leaf_values(cell, 3, min_arm=0, pessimism=0.0).argmax() == 2
    v3 = leaf_values(cell, 3, min_arm=1, pessimism=0.0)  # nobody received b
    assert v3[2] == -np.inf and v3[1] == 4.0


def _brute_force(f, s, spread, kappa: float, min_leaf: int) -> float:
    """Best penalised value over every depth-2 tree (slow, tiny data)."""
    splits = candidate_splits(f, ["cause", "btype"], ["x"], n_thresholds=3)

    def leaf(rows: np.ndarray) -> float:
        d = spread[rows]
        pen = np.sqrt(((d - d.mean(0)) ** 2).sum(0))
        return float((s[rows].sum(0) - kappa * pen).max())

    def best_side(rows: np.ndarray) -> float:
        vals = [leaf(rows)]
        for sp in splits:
            go = sp.left(f)
            a, b = rows & go, rows & ~go
            if a.sum() >= min_leaf and b.sum() >= min_leaf:
                vals.append(leaf(a) + leaf(b))
        return max(vals)

    best = leaf(np.ones(len(f), bool))
    for sp in splits:
        go = sp.left(f)
        if go.sum() >= min_leaf and (~go).sum() >= min_leaf:
            best = max(best, best_side(go) + best_side(~go))
    return best


def _penalised_value(tree, f, s, spread, kappa: float) -> float:
    idx = {a: i for i, a in enumerate(ARMS)}
    lid = tree.leaf_ids(f)
    arm = np.array([idx[a] for _, a in tree.leaves()])
    out = 0.0
    for j in np.unique(lid):
        rows = lid == j
        d = spread[rows, arm[j]]
        out += s[rows, arm[j]].sum() - kappa * np.sqrt(((d - d.mean()) ** 2).sum())
    return out


@pytest.mark.parametrize(("seed", "kappa"), [(0, 0.5), (1, 1.0), (2, 3.0)])
def test_pessimistic_tree_matches_brute_force(seed: int, kappa: float) -> None:
    f, s, spread = _frame(120, seed)
    tree = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=8, n_thresholds=3,
                           spread=spread, pessimism=kappa)
    assert _penalised_value(tree, f, s, spread, kappa) == pytest.approx(
        _brute_force(f, s, spread, kappa, 8), rel=1e-9)


def test_pessimism_passes_over_an_arm_the_data_say_little_about() -> None:
    """Arm b's scores are higher than a's everywhere by 0.2 on average, but b's doubly
    robust scores spread 50 times wider (few episodes got b): the plain search picks b,
    the pessimistic one picks a, and with equal spreads it picks b again."""
    rng = np.random.default_rng(7)
    n = 2000
    f = pd.DataFrame({"cause": rng.choice(["eco", "man"], n), "btype": "ind", "x": rng.normal(size=n)})
    s = np.column_stack([np.zeros(n), np.full(n, 1.0), np.full(n, 1.2)])
    spread = np.column_stack([np.zeros(n), s[:, 1] + rng.normal(scale=1.0, size=n),
                              s[:, 2] + rng.normal(scale=50.0, size=n)])
    kw = {"min_leaf": 50, "spread": spread}
    assert set(fit_policy_tree(f, s, ARMS, ["cause"], ["x"], pessimism=0.0, **kw).assign(f)) == {"b"}
    assert set(fit_policy_tree(f, s, ARMS, ["cause"], ["x"], pessimism=1.0, **kw).assign(f)) == {"a"}
    same = np.column_stack([np.zeros(n), spread[:, 1], s[:, 2] + (spread[:, 1] - s[:, 1])])
    assert set(fit_policy_tree(f, s, ARMS, ["cause"], ["x"], min_leaf=50, spread=same,
                               pessimism=1.0).assign(f)) == {"b"}
    g = fit_grid_rule(f, s, ARMS, ("cause", "btype"), min_leaf=50, spread=spread, pessimism=1.0)
    assert {c[2] for c in g.cells} == {"a"}


def test_pessimism_zero_is_the_plain_search() -> None:
    f, s, spread = _frame(300, 5)
    plain = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=10)
    zero = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=10, spread=spread, pessimism=0.0)
    assert plain == zero


def test_compare_policies_checks_pessimism() -> None:
    from analysis.targeting import compare_policies

    with pytest.raises(ParameterError, match="pessimism"):
        compare_policies(pd.DataFrame(), pessimism=-1.0)
