"""Targeting: rule search by hand and by brute force, out-of-fold scoring, policy values
against the synthetic truth, budget, recommendations and the command."""

from __future__ import annotations

import dataclasses
import warnings
from itertools import product

import numpy as np
import pandas as pd
import pytest

from analysis.targeting import (
    POLICY_COLUMNS,
    RECOMMEND_COLUMNS,
    Node,
    Split,
    TargetingWarning,
    candidate_splits,
    compare_policies,
    fit_budget_rule,
    fit_grid_rule,
    fit_policy_tree,
    open_mask,
)
from tests.helpers.targeting import ARMS
from tests.helpers.targeting import frame as _frame

# ----------------------------------------------------------------------------- rules


def _value(rule, f: pd.DataFrame, s: np.ndarray) -> float:
    idx = {a: i for i, a in enumerate(ARMS)}
    c = np.array([idx[a] for a in rule.assign(f)])
    return float(s[np.arange(len(c)), c].sum())


def _brute_force(f: pd.DataFrame, s: np.ndarray, min_leaf: int) -> float:
    """Best depth-2 tree value by enumerating every tree (slow, tiny data)."""
    splits = candidate_splits(f, ["cause", "btype"], ["x"], n_thresholds=3)

    def best_side(rows: np.ndarray) -> float:
        vals = [s[rows].sum(0).max()]
        for sp in splits:
            go = sp.left(f)
            a, b = rows & go, rows & ~go
            if a.sum() >= min_leaf and b.sum() >= min_leaf:
                vals.append(s[a].sum(0).max() + s[b].sum(0).max())
        return max(vals)

    best = s.sum(0).max()
    for sp in splits:
        go = sp.left(f)
        if go.sum() >= min_leaf and (~go).sum() >= min_leaf:
            best = max(best, best_side(go) + best_side(~go))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tree_search_matches_brute_force(seed: int) -> None:
    f, s = _frame(120, seed)
    tree = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=8, n_thresholds=3)
    assert _value(tree, f, s) == pytest.approx(_brute_force(f, s, 8), rel=1e-9)
    assert all(np.bincount(tree.leaf_ids(f)) >= 8)


def test_tree_recovers_planted_rule() -> None:
    f, _ = _frame(600, 3)
    s = np.zeros((600, 3))
    s[:, 1] = np.where(f["cause"] == "eco", 5.0, -1.0)  # a: only for eco
    s[:, 2] = np.where((f["cause"] != "eco") & (f["x"] > 0.5), 3.0, -2.0)  # b: others with x > 0.5
    tree = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=20, n_thresholds=19)
    got = tree.assign(f)
    want = np.where(f["cause"] == "eco", "a", np.where(f["x"] > 0.5, "b", "none"))
    assert (got == want).mean() > 0.97
    assert tree.split.feature == "cause"
    assert tree.text().startswith("if cause in {")


def test_tree_single_leaf_when_no_split_helps() -> None:
    f, _ = _frame(200, 4)
    s = np.column_stack([np.zeros(200), np.ones(200), np.zeros(200)])
    tree = fit_policy_tree(f, s, ARMS, ["cause", "btype"], ["x"], min_leaf=10)
    assert tree.is_leaf and tree.arm == "a"
    assert tree.one_line() == "a"


def test_min_arm_blocks_arms_too_rarely_given_in_a_leaf() -> None:
    f, _ = _frame(300, 5)
    s = np.zeros((300, 3))
    s[:, 2] = 10.0  # b looks great everywhere...
    eco = np.flatnonzero(f["cause"] == "eco")
    treated = np.zeros(300, int)
    treated[eco[:5]] = 2  # ...but only 5 episodes received it
    treated[eco[5:40]] = 1
    tree = fit_policy_tree(f, s, ARMS, ["cause"], [], treated=treated, min_leaf=10, min_arm=10)
    assert set(tree.assign(f)) == {"none"}
    treated[eco[:12]] = 2  # 12 received it, all in eco: b only where it was seen often enough
    tree = fit_policy_tree(f, s, ARMS, ["cause"], [], treated=treated, min_leaf=10, min_arm=10)
    assert "b" in set(tree.assign(f))
    assert set(tree.assign(f)) == {"b"}  # the root leaf holds the 12: b for everyone is allowed
    assert set(fit_policy_tree(f, s, ARMS, ["cause"], []).assign(f)) == {"b"}


def test_split_sides_and_missing_values() -> None:
    f = pd.DataFrame({"c": ["u", None, "v"], "x": [1.0, np.nan, 3.0]})
    assert list(Split("c", "categorical", ("u",)).left(f)) == [True, False, False]
    assert list(Split("x", "numeric", threshold=2.0).left(f)) == [True, False, False]  # NaN right
    node = Node(split=Split("x", "numeric", threshold=2.0), left=Node(arm="a"), right=Node(arm="none"))
    assert list(node.assign(f)) == ["a", "none", "none"]
    assert node.leaves() == [(("x <= 2",), "a"), (("x > 2",), "none")]


def test_grid_rule_by_hand() -> None:
    f = pd.DataFrame({"cause": ["e", "e", "m", "m", "m"], "bt": ["i", "i", "i", "i", "s"]})
    s = np.array([[0, 1, 0], [0, 2, -5], [0, -1, 3], [0, 0, 1], [0, 9, 9]], float)
    g = fit_grid_rule(f, s, ARMS, ("cause", "bt"), min_leaf=2)
    assert g.cells == (("e", "i", "a"), ("m", "i", "b"))
    assert g.default == "a"  # best overall: a 11 vs b 8
    assert list(g.assign(f)) == ["a", "a", "b", "b", "a"]


def test_budget_rule_greedy_by_hand() -> None:
    # one leaf (everyone 'a'); groups by g: gains 10, 6, -1; costs 1, 6, 1 per episode
    f = pd.DataFrame({"g": ["x", "y", "z"]})
    base = Node(arm="a")
    s = np.array([[0, 10, 0], [0, 6, 0], [0, -1, 0]], float)
    cost = np.array([[0, 1, 0], [0, 6, 0], [0, 1, 0]], float)
    ead = np.array([100.0, 100.0, 100.0])
    b = fit_budget_rule(base, f, s, cost, ead, ARMS, ["g"], budget_share=2 / 300, budget_kind="ead")
    assert list(b.assign(f)) == ["a", "none", "none"]  # y (cost 6) does not fit in 2
    b = fit_budget_rule(base, f, s, cost, ead, ARMS, ["g"], budget_share=7 / 300, budget_kind="ead")
    assert list(b.assign(f)) == ["a", "a", "none"]  # z has negative gain: never
    b = fit_budget_rule(base, f, s, cost, ead, ARMS, ["g"], budget_share=1 / 3, budget_kind="treated")
    assert list(b.assign(f)) == ["a", "none", "none"]
    assert "everyone else -> none" in b.text()


# ----------------------------------------------------------------------------- policies


@pytest.fixture(scope="module")
def policy(synth_episodes: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TargetingWarning)
        return compare_policies(synth_episodes, seed=1)


def _nb(policy, po: pd.DataFrame, episodes: pd.DataFrame) -> np.ndarray:
    est = policy.estimates
    key = pd.MultiIndex.from_frame(episodes.loc[est.index, ["loan_id", "start_month"]])
    loss = (po.pivot_table(index=["loan_id", "start_month"], columns="arm", values="exp_loss_rate")
            .reindex(key)[list(est.arms)].to_numpy())
    return (loss[:, :1] - loss) * est.ead[:, None] - est.cost


def _true_value(policy, true_nb: np.ndarray, name: str) -> float:
    idx = {a: i for i, a in enumerate(policy.estimates.arms)}
    c = policy.assignments[name].map(idx).to_numpy()
    return float(true_nb[np.arange(len(c)), c].mean())


def test_policy_table_shape(policy, synth_episodes) -> None:
    t = policy.table
    assert tuple(t.columns) == POLICY_COLUMNS
    arms = policy.estimates.arms
    assert list(t["policy"]) == ["current_practice", "no_relief", *[f"all_{a}" for a in arms[1:]],
                                 "learned", "learned_budget"]
    assert (t["n_episodes"] == len(policy.estimates.index)).all()
    nr = t.set_index("policy").loc["no_relief"]
    assert nr["value_net_benefit"] == 0 and nr["ci_low"] == 0 and nr["cost"] == 0
    assert (t["ci_low"] <= t["value_net_benefit"]).all() and (t["value_net_benefit"] <= t["ci_high"]).all()
    # all_<arm> value = mean DR net-benefit score of that arm; cost = mean cost
    est = policy.estimates
    for j, a in enumerate(arms):
        if j:
            row = t.set_index("policy").loc[f"all_{a}"]
            assert row["value_net_benefit"] == pytest.approx(est.nb_score[:, j].mean())
            assert row["cost"] == pytest.approx(est.cost[:, j].mean())
    # current practice: observed outcomes of the arms received (on-policy)
    cp = t.set_index("policy").loc["current_practice"]
    assert cp["cure_rate"] == pytest.approx(est.y_cure.mean())
    assert cp["cost"] == pytest.approx(est.cost[np.arange(len(est.a)), est.a].mean())
    assert cp["value_net_benefit"] == pytest.approx(
        (est.ead * (est.loss_score[:, 0] - est.y_loss)).mean() - cp["cost"])
    assert policy.summary()["gain_vs_current_cny"].notna().all()
    assert "Targeting policies" in policy._repr_html_()
    # reported family stands in for the cause on this fixture, with a warning
    assert any("reported family" in w for w in policy.warnings)


def test_estimates_are_net_benefit_of_cost_and_loss(policy) -> None:
    est = policy.estimates
    np.testing.assert_allclose(est.net_benefit,
                               est.ead[:, None] * (est.loss_rate[:, :1] - est.loss_rate) - est.cost)
    assert ((est.p_cure >= 0) & (est.p_cure <= 1)).all()
    assert (est.net_benefit[:, 0] == 0).all()
    long = est.table
    assert len(long) == len(est.index) * len(est.arms)


def test_learned_rules_are_scored_out_of_fold(policy) -> None:
    """Nothing about fold 0 (its scores, its rows in any learning scores) changes the arms
    the learned policies assign to fold 0; the value, scored on fold 0, does change."""
    est = policy.estimates
    rng = np.random.default_rng(0)
    f0 = est.folds == 0
    k = len(est.arms)

    def noise(m: int) -> np.ndarray:
        out = rng.normal(scale=1e6, size=(m, k))
        out[:, 0] = 0.0
        return out

    nb_score, model = est.nb_score.copy(), est.net_benefit.copy()
    nb_score[f0], model[f0] = noise(f0.sum()), noise(f0.sum())
    learning = {}
    for g, (m_nb, d_nb) in est.fold_learning.items():
        assert len(m_nb) == len(d_nb) == (est.folds != g).sum()
        in0 = est.folds[est.folds != g] == 0
        m_nb, d_nb = m_nb.copy(), d_nb.copy()
        m_nb[in0], d_nb[in0] = noise(in0.sum()), noise(in0.sum())
        learning[g] = (m_nb, d_nb)
    changed = dataclasses.replace(est, nb_score=nb_score, net_benefit=model, fold_learning=learning)
    for learn_on in ("model", "dr"):
        base = compare_policies(None, estimates=est, seed=1, learn_on=learn_on, budget_points=2)
        res2 = compare_policies(None, estimates=changed, seed=1, learn_on=learn_on, budget_points=2)
        for name in ("learned", "learned_budget"):
            assert (res2.assignments[name][f0] == base.assignments[name][f0]).all(), (learn_on, name)
        assert res2.table.set_index("policy").loc["learned", "value_net_benefit"] != pytest.approx(
            base.table.set_index("policy").loc["learned", "value_net_benefit"])


def test_policy_values_cover_their_true_values(policy, synth_episodes, synth_dir) -> None:
    """Each policy's estimated value lies within its 95 % interval of its true value.

    About 620 episodes and heavy-tailed scores (EAD x inverse-propensity-weighted loss
    residuals): with seven estimated policies at 95 % each, one miss is expected now and
    then (about 30 % of books if independent), two would be a 4 % event; the large-book
    slow test requires all seven."""
    from analysis.targeting import true_policy_values

    po = pd.read_parquet(synth_dir / "truth" / "potential_outcomes.parquet")
    tv = true_policy_values(policy, synth_episodes, po)
    nb = _nb(policy, po, synth_episodes)
    assert np.isfinite(nb).all()
    for name in tv["policy"]:  # the helper agrees with a direct computation
        assert tv.set_index("policy").loc[name, "true_value"] == pytest.approx(_true_value(policy, nb, name))
    missed = tv.loc[~tv["covered"], "policy"].tolist()
    assert len(missed) <= 1, tv
    assert tv.set_index("policy").loc["no_relief", "covered"]


def test_budget_curve(policy) -> None:
    c = policy.budget_curve
    assert c["budget_share"].is_monotonic_increasing and c["budget_share"].iloc[0] == 0
    assert c["value_net_benefit"].iloc[0] == 0 and c["cost"].iloc[0] == 0
    # out-of-fold rules can overshoot a little on the fold they are applied to, not much
    assert (c["cost_share_ead"] <= c["budget_share"] * 1.5 + 1e-4).all()
    cells = policy.rule_cells()
    assert set(cells.columns) == {"cause", "borrower_type", "measure", "share", "n_episodes"}


def test_small_arm_is_left_out_with_a_warning(synth_episodes) -> None:
    ep = synth_episodes.copy()
    idx = ep.index[ep["measure"] == "rate_reduction"]
    ep.loc[idx[5:], "measure"] = "none"  # keep 5 < min_cell
    with pytest.warns(TargetingWarning, match="rate_reduction"):
        res = compare_policies(ep, min_cell=10, crossfit_folds=2)
    assert "all_rate_reduction" not in set(res.table["policy"])
    assert "rate_reduction" not in res.estimates.arms
    assert any("rate_reduction" in w and "left out" in w for w in res.warnings)


def test_parameters_are_checked(synth_episodes) -> None:
    from analysis.errors import ParameterError

    with pytest.raises(ParameterError):
        compare_policies(synth_episodes, rule_class="forest")
    with pytest.raises(ParameterError):
        compare_policies(synth_episodes, budget_share_ead=None, budget_share_treated=None)


# ----------------------------------------------------------------------------- recommend


def test_open_mask_by_hand() -> None:
    m = pd.Timestamp("2024-06-30")
    ep = pd.DataFrame({
        "start_month": pd.to_datetime(["2024-05-31", "2024-07-31", "2024-01-31", "2024-03-31", "2024-04-30"]),
        "end_month": pd.to_datetime(["2024-12-31", "2024-12-31", "2024-12-31", "2024-05-31", "2024-12-31"]),
        "cure_month": pd.to_datetime([None, None, "2024-06-30", None, "2024-08-31"]),
        "default_month": pd.to_datetime([None, None, None, None, None]),
    })
    # open; starts later; cured (returned) at as_of; ended before; returns later -> open
    assert list(open_mask(ep, m)) == [True, False, False, False, True]


def test_recommend_command(synth_dir, tmp_path, capsys) -> None:
    """No open episode at --as-of: a header-only file, a message, exit 0; bad input: exit 2."""
    from analysis.cli.main import main

    out = tmp_path / "none.csv"
    assert main(["recommend", "--data", str(synth_dir), "--as-of", "2019-01", "--out", str(out)]) == 0
    empty = pd.read_csv(out)
    assert len(empty) == 0 and tuple(empty.columns) == RECOMMEND_COLUMNS
    printed = capsys.readouterr().out
    assert "no episode is open at 2019-01" in printed and "0 rows" in printed
    assert main(["recommend", "--data", str(synth_dir), "--as-of", "2024-06", "--out", str(out),
                 "--pessimism", "-1"]) == 2
    assert main(["recommend", "--data", str(synth_dir), "--as-of", "2024-13", "--out", str(out)]) == 2
    assert main(["recommend", "--data", str(synth_dir), "--as-of", "2024-06", "--out", str(tmp_path / "x.txt")]) == 2


def test_recommend_open_episodes(synth_book, synth_episodes, policy) -> None:
    from analysis.targeting import recommend

    ep = synth_episodes
    as_of = pd.Timestamp(ep["start_month"].max())
    recs = recommend(synth_book, ep, as_of, result=policy)
    n_open = int(open_mask(ep, as_of).sum())
    assert len(recs) == n_open > 0
    assert tuple(recs.columns) == RECOMMEND_COLUMNS
    assert set(recs["recommended_measure"]) <= set(policy.estimates.arms)
    assert recs["p_cure_with"].between(0, 1).all() and recs["p_cure_without"].between(0, 1).all()
    none = recs["recommended_measure"] == "none"
    assert (recs.loc[none, "expected_net_benefit_cny"] == 0).all()
    np.testing.assert_allclose(recs["expected_net_benefit_cny"],
                               recs["expected_loss_avoided_cny"] - recs["cost_cny"])
    assert recs["priority"].tolist() == list(range(1, len(recs) + 1))
    assert recs["attributed_cause"].notna().all()


# ----------------------------------------------------------------------------- truth (slow)


def _oracle_ratio(res, ep: pd.DataFrame, po: pd.DataFrame) -> dict[str, float]:
    """True values (CNY per episode, net benefit against no relief) of the learned rule
    (fitted on all episodes: the one ``recommend`` applies), of the oracle (the depth-2
    tree of the same class fitted to the true net benefits of the same episodes), of
    current practice and of the best single measure."""
    est = res.estimates
    key = pd.MultiIndex.from_frame(ep.loc[est.index, ["loan_id", "start_month"]])
    loss = (po.pivot_table(index=["loan_id", "start_month"], columns="arm", values="exp_loss_rate")
            .reindex(key)[list(est.arms)].to_numpy())
    nb = (loss[:, :1] - loss) * est.ead[:, None] - est.cost
    f = est.features
    oracle = fit_policy_tree(f, nb, est.arms, [c for c in (f.columns[0], "borrower_type") if c in f],
                             list(f.columns[2:]), min_leaf=max(10, int(np.ceil(0.05 * len(f)))))
    idx = {a: i for i, a in enumerate(est.arms)}
    rows = np.arange(len(f))

    def value(rule) -> float:
        return float(nb[rows, [idx[a] for a in rule.assign(f)]].mean())

    return {"learned": value(res.rule), "oracle": value(oracle), "current": float(nb[rows, est.a].mean()),
            "best_single": float(nb.mean(0).max())}


@pytest.mark.slow
@pytest.mark.parametrize("book_seed", [17])
def test_learned_policy_near_oracle_on_a_large_book(tmp_path, book_seed: int) -> None:
    """On a 160,000-loan synthetic book (about 29,000 compared episodes) the learned rule's
    true value is >= 90 % of the oracle's and above current practice, and every policy's
    estimate lies within its interval of its true value.

    The book size is the point: on 40,000-loan books (6,000-10,000 compared episodes) the
    ratio was 0.85-1.00 (7 of 10 books >= 0.9): on the three that fell short the standard
    error of the doubly robust estimate of the gap to the oracle (480-750 CNY) exceeds the
    gap itself (440-640 CNY), so the data cannot tell such rules apart
    (benchmarks/README.md); on five 160,000-loan books it was 0.999-1.000.
    Intervals: the eight are checked together at a simultaneous 95 % level (Bonferroni,
    z = 2.73): they share the estimate of the none arm's loss, so their errors move
    together (on this book all seven estimated values lie below the truth, two by just
    over 2 standard errors), and asking eight 95 % intervals to cover at once would fail
    on a good share of books by design."""
    from scipy import stats

    from analysis.causes import with_cause
    from analysis.data import load_book
    from analysis.episodes import build_episodes
    from analysis.synthetic.generate import generate_book
    from analysis.targeting import true_policy_values

    d = generate_book(160_000, book_seed, tmp_path / "book")
    book = load_book(d)
    ep, _ = with_cause(book, build_episodes(book))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compare_policies(ep, seed=0, budget_points=2)
    po = pd.read_parquet(d / "truth" / "potential_outcomes.parquet")
    v = _oracle_ratio(res, ep, po)
    assert v["learned"] >= 0.9 * v["oracle"], v
    assert v["learned"] > v["current"], v
    tv = true_policy_values(res, ep, po)
    z = float(stats.norm.ppf(0.5 + res.level / 2))
    se = (tv["ci_high"] - tv["ci_low"]) / (2 * z)
    z_sim = float(stats.norm.ppf(1 - (1 - res.level) / 2 / len(tv)))
    err = (tv["value_net_benefit"] - tv["true_value"]).abs()
    assert (err <= z_sim * se + 1e-9).all(), tv.assign(z=err / se)


def test_all_trees_enumerated_in_candidate_splits() -> None:
    f = pd.DataFrame({"c": ["a", "b", "c", "a"], "x": [1.0, 2.0, 3.0, 4.0]})
    sp = candidate_splits(f, ["c"], ["x"], n_thresholds=3)
    cats = {s.levels for s in sp if s.kind == "categorical"}
    assert cats == {("a",), ("a", "b"), ("a", "c")}  # 2^(3-1) - 1 subsets up to complement
    assert all(s.threshold < 4.0 for s in sp if s.kind == "numeric")
    assert len(list(product(sp, sp))) == len(sp) ** 2
