"""Targeting: which relief measure for which episode, what it is worth, and for whom now.

Method
------
*Per-episode estimates* (:func:`arm_estimates`). Two doubly robust nuisance fits from
:func:`analysis.effects.fit_nuisance` (multinomial-logit propensity, one GLM per arm),
cross-fitted on K folds, on the episodes whose horizon outcome is observed (not
censored): one for ``cure`` and one for ``loss_rate``. The cause family is added to the
covariates (per-arm models then carry arm x cause interactions). For every episode i and
arm a (``none`` first):

* expected cure probability ``p_cure[i, a]`` = out-of-fold outcome-model prediction;
* expected net benefit ``nb[i, a] = EAD_i (L[i, none] - L[i, a]) - cost[i, a]`` (CNY):
  loss avoided against no relief minus the measure's cost, with ``L`` the out-of-fold
  loss rate of the pooled loss model (:mod:`analysis.targeting.pooled`; ``loss_model=
  "per_arm"``: of the per-arm GLMs) and the costs of :func:`analysis.effects.losses.cost_matrix` (the same
  :class:`~analysis.effects.losses.CostParameters` as the effects report);
* doubly robust (AIPW) scores of both: ``phi`` from ``Nuisance.aipw_scores()`` and the net
  benefit score ``EAD_i (phi_loss[i, none] - phi_loss[i, a]) - cost[i, a]``, whose mean over
  any set of episodes fixed in advance estimates the set's mean net benefit of arm a.

*Policies* (:func:`compare_policies`). A policy assigns an arm to each episode; its value
is the mean over episodes of the net-benefit score of the assigned arm (CNY per episode,
``none`` = 0 by construction), its cure rate the mean cure score, its cost the mean cost.
Intervals: mean +- z sd / sqrt(n) of the per-episode scores (the AIPW influence
function; costs are treated as known). For ``current_practice`` the received arm's
outcome is observed, so its score uses it directly (EAD (phi_none - loss rate) - cost,
cure rate = observed cure): no inverse weighting where none is needed. Compared on the same episodes:
``current_practice`` (the measures given), ``no_relief``, ``all_<measure>``, ``learned``
and ``learned_budget``. The two learned policies are evaluated *out of fold*: the rule
applied to the episodes of fold f is learned on the scores of the other folds (the same
folds as the nuisance cross-fitting), so no episode is scored by a rule that saw it.
The rule reported in ``.rule`` is the one learned on all episodes (the one
:func:`recommend` applies); its value is estimated by the out-of-fold procedure.

*Rule class.* Default ``rule_class="tree"``: a depth-2 policy tree over the cause family,
the borrower type and up to two numeric covariates (default ``ead`` and
``credit_score``), searched exhaustively (:mod:`analysis.targeting.rules`). Why a tree
rather than the full cause x borrower-type grid: the grid has cells x arms free choices
(9 x 5 on the demo book) and overfits noisy doubly robust scores in small cells, while
a depth-2 tree has at most four leaves, can still separate the causes and types where it
matters, and can use exposure, which matters because loss avoided grows with EAD and a
counselling session costs the same for every loan. ``rule_class="grid"`` is available
(best arm per cause x borrower type cell) and the report always shows the learned
rule's arm per cell.

*What the rule maximises.* The issue asks for the rule that maximises doubly robust net
benefit (``learn_on="dr"``, Athey and Wager). In CNY the DR scores are extremely noisy:
their per-episode standard deviation is about 100,000 CNY on the synthetic books (EAD x an
inverse-propensity-weighted residual of a loss rate that is 0 or 60-100 %), against
differences of 1,000-3,000 CNY between measures, so a rule fitted to them chases noise
(true value 40-70 % of the best rule of the class on 40,000-loan books, see
``benchmarks/README.md``). The default ``learn_on="model"`` fits the rule to the
cross-fitted expected net benefit of an outcome model (the "direct method": far less
variance, biased only if the model is), and keeps the doubly robust scores for what they
do well: the out-of-fold *evaluation* of every policy, including the learned ones, so a
misspecified outcome model shows up as a learned value no better than the alternatives,
never as a hidden one. The model (``loss_model="pooled"``, :mod:`analysis.targeting.pooled`)
is one fractional logit for all arms whose arm x covariate interactions are shrunk toward
the shared slopes; the per-arm GLMs (``loss_model="per_arm"``) shrink a small arm's slopes
toward zero instead, which biases its difference from ``none`` in proportion to the
episode's risk.

*Pessimism* (``pessimism`` = kappa, default 0). Optionally the search maximises a lower
confidence bound: a leaf's value of measure a is the sum of its learning scores minus
kappa x the standard error of the sum of its doubly robust scores over the leaf,
sqrt(n_leaf x within-leaf variance), large where a measure was rarely given or had small
propensities (``none`` carries no penalty; Jin, Ren, Yang and Wang 2022, "Policy learning
'without' overlap"). On the synthetic books kappa = 1 did not raise the learned rule's
true value on average (it helped on some books and hurt on others, figures in
``benchmarks/README.md``), so it is off by default; it is there for books where a measure
is given very rarely.

*Budget.* ``learned_budget`` keeps the learned rule's arm in the groups (leaf x cause x
borrower type) taken greedily by net benefit (the learning scores) per CNY of cost until the total
cost reaches ``budget_share_ead`` x total EAD, or by net benefit per treated episode until
``budget_share_treated`` of the episodes receive a costly measure; others get ``none``.
``budget_curve`` repeats this for a range of budgets.

*Too little data.* An arm with fewer than ``min_cell`` analysed episodes is left out of
the models and of every policy (a warning says so; its episodes are not in the
comparison). Within a leaf, an arm needs ``min_cell`` episodes that received it.

Assumptions: those of :mod:`analysis.effects.estimators` (no unmeasured confounding given the
covariates, overlap, no interference), costs known. The rule scored on fold f is learned from loss models fitted without fold f (one extra
loss-rate fit per fold), so fold f's outcomes reach neither the rule nor, through the
cross-fitted nuisances, its scores. Known drawbacks: the value interval ignores the variability of the learned rule
across folds; expected cure probabilities refer to the horizon from the episode's start,
not from today, for episodes that are already some months old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.checks import require
from analysis.effects import CostParameters
from analysis.errors import ParameterError
from analysis.targeting.estimates import ArmEstimates, arm_estimates
from analysis.targeting.paired import policy_differences
from analysis.targeting.rules import (
    BudgetRule,
    Rule,
    budget_groups,
    category_values,
    fit_budget_rule,
    fit_grid_rule,
    fit_policy_tree,
    group_keys,
)

POLICY_COLUMNS: tuple[str, ...] = (
    "policy", "rule", "value_net_benefit", "ci_low", "ci_high", "cure_rate", "cost", "n_episodes",
)
BUDGET_COLUMNS: tuple[str, ...] = (
    "budget_kind", "budget_share", "value_net_benefit", "ci_low", "ci_high", "cure_rate",
    "cost", "cost_share_ead", "share_treated", "n_episodes",
)


# ----------------------------------------------------------------------------- policies


@dataclass(frozen=True, eq=False)
class PolicyResult:
    """Policies compared on the same episodes (see :func:`compare_policies`).

    ``table``: :data:`POLICY_COLUMNS` (value and cost in CNY per episode, cure rate a
    fraction); ``rule``: the learned rule (fitted on all episodes); ``budget_rule``: it
    under the budget; ``budget_curve``: :data:`BUDGET_COLUMNS`; ``scores``: per-episode
    net-benefit scores of every policy (out of fold for the learned ones; index = episode
    index labels); ``estimates``: the :class:`ArmEstimates`; ``warnings``.
    """

    table: pd.DataFrame
    rule: Rule
    budget_rule: BudgetRule
    budget_curve: pd.DataFrame
    warnings: tuple[str, ...]
    scores: pd.DataFrame = field(repr=False)
    cure_scores: pd.DataFrame = field(repr=False)
    assignments: pd.DataFrame = field(repr=False)
    estimates: ArmEstimates = field(repr=False)
    level: float = 0.95

    def gain(self, vs: str = "current_practice", level: float | None = None) -> pd.DataFrame:
        """Each policy's value minus ``vs``'s (CNY per episode) with a paired interval,
        and the total over the episodes compared (:func:`policy_differences`)."""
        d = self.differences(vs, level)
        n = len(self.scores)
        return pd.DataFrame({"policy": d["policy"], "vs": vs,
                             "gain_per_episode_cny": d["difference_cny"], "ci_low": d["ci_low"],
                             "ci_high": d["ci_high"], "gain_total_cny": d["difference_cny"] * n,
                             "n_episodes": n})

    def differences(self, vs: str = "learned", level: float | None = None) -> pd.DataFrame:
        """Each policy's value minus ``vs``'s with its paired interval, the unpaired one for
        comparison, and whether the data separate the two
        (:func:`analysis.targeting.paired.policy_differences`; CNY per episode)."""
        return policy_differences(self.scores, vs, level or self.level)

    def rule_cells(self) -> pd.DataFrame:
        """The learned rule read as a cause x borrower-type grid: for each cell the arm
        most episodes get, its share of the cell, and the cell's size."""
        f = self.estimates.features
        cause = f.columns[0]
        bt = "borrower_type" if "borrower_type" in f else cause
        arm = self.assignments["learned_full"].to_numpy()
        d = pd.DataFrame({"cause": category_values(f, cause), "borrower_type": category_values(f, bt), "arm": arm})
        g = d.groupby(["cause", "borrower_type", "arm"]).size().rename("n").reset_index()
        tot = g.groupby(["cause", "borrower_type"])["n"].transform("sum")
        g["share"] = g["n"] / tot
        g["n_episodes"] = tot
        top = g.sort_values(["cause", "borrower_type", "n"], ascending=[True, True, False])
        return (top.drop_duplicates(["cause", "borrower_type"])
                .drop(columns="n").rename(columns={"arm": "measure"}).reset_index(drop=True))

    def summary(self) -> pd.DataFrame:
        """The policy table with the gain over current practice (CNY per episode)."""
        g = self.gain().set_index("policy")
        t = self.table.set_index("policy")
        t["gain_vs_current_cny"] = g["gain_per_episode_cny"]
        t["gain_ci_low"], t["gain_ci_high"] = g["ci_low"], g["ci_high"]
        return t.reset_index()

    def _repr_html_(self) -> str:
        head = (f"<h4>Targeting policies (net benefit vs no relief, CNY per episode; "
                f"{self.level:.0%} intervals; n = {len(self.scores):,} episodes)</h4>")
        body = self.summary().drop(columns="rule").to_html(index=False, float_format="{:,.2f}".format)
        rule = f"<p>Learned rule:</p><pre>{self.rule.text()}</pre>"
        warn = "".join(f"<li>{w}</li>" for w in self.warnings)
        return head + body + rule + (f"<ul>{warn}</ul>" if warn else "")


def _fit_rule(est: ArmEstimates, rows: np.ndarray, rule_class: str, min_leaf: int,
              min_cell: int, numeric: Sequence[str], learn_on: str, fold: int | None,
              pessimism: float) -> Rule:
    """The rule learned on ``rows`` (all episodes when ``fold`` is None, else those outside
    ``fold``, with the fold-free learning scores); leaf values penalised by ``pessimism``
    standard errors of the doubly robust scores."""
    f = est.features.iloc[rows]
    fold_free = fold is not None and fold in est.fold_learning
    sc = est.learning_scores(fold, learn_on)
    spread = est.learning_scores(fold, "dr")
    if not fold_free:
        sc, spread = sc[rows], spread[rows]
    cause = f.columns[0]
    cats = [c for c in (cause, "borrower_type") if c in f]
    kw = {"treated": est.a[rows], "min_leaf": min_leaf, "min_arm": min_cell, "spread": spread,
          "pessimism": pessimism}
    if rule_class == "grid":
        return fit_grid_rule(f, sc, est.arms, (cats[0], cats[-1]), **kw)
    return fit_policy_tree(f, sc, est.arms, cats, list(numeric), **kw)


def _codes(est: ArmEstimates, assigned: np.ndarray) -> np.ndarray:
    idx = {a: i for i, a in enumerate(est.arms)}
    return np.fromiter((idx[a] for a in assigned), int, len(assigned))


def _row(name: str, rule: str, v: np.ndarray, cure: np.ndarray, cost: np.ndarray, z: float) -> dict:
    n = len(v)
    m, se = float(v.mean()), float(v.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    return {"policy": name, "rule": rule, "value_net_benefit": m, "ci_low": m - z * se,
            "ci_high": m + z * se, "cure_rate": float(cure.mean()), "cost": float(cost.mean()),
            "n_episodes": n}


def compare_policies(
    episodes: pd.DataFrame,
    costs: CostParameters | None = None,
    *,
    rule_class: str = "tree",
    learn_on: str = "model",
    pessimism: float = 0.0,
    loss_model: str = "pooled",
    numeric_features: Sequence[str] | None = None,
    budget_share_ead: float | None = 0.005,
    budget_share_treated: float | None = None,
    budget_points: int = 11,
    covariates: Sequence[str] | None = None,
    crossfit_folds: int = 5,
    clip: float = 0.01,
    min_cell: int = 10,
    min_leaf_share: float = 0.05,
    level: float = 0.95,
    seed: int = 0,
    estimates: ArmEstimates | None = None,
) -> PolicyResult:
    """Compare relief policies on the same episodes by doubly robust net benefit.

    ``episodes``: :func:`analysis.episodes.build_episodes` output, ideally with
    ``primary_family`` from :func:`analysis.causes.attribute` (else the reported family
    is the cause, with a warning). ``costs``: the measures' cost parameters.
    ``rule_class``: ``tree`` (depth-2 policy tree) or ``grid`` (cause x borrower type).
    ``learn_on``: what the rule maximises: ``model`` (cross-fitted outcome-model net
    benefit, default) or ``dr`` (doubly robust scores); values are DR either way.
    ``pessimism``: kappa of the lower-confidence-bound rule search (a leaf's value of a
    measure is penalised by kappa standard errors of its doubly robust net benefit there;
    0 = plain maximisation, the default; see the module docstring). ``loss_model``: the
    loss model the rule learns from, ``pooled`` (default) or ``per_arm``.
    ``numeric_features``: numeric columns the tree may split on (default ``ead``,
    ``credit_score``; at most two are sensible). Budget: ``budget_share_ead`` (total cost
    <= this share of total EAD, a fraction) or ``budget_share_treated`` (share of episodes
    given a costly measure); give one. ``budget_points``: points of the budget curve.
    ``budget_share_treated`` takes precedence when given.
    ``clip``: lower bound on propensities in the doubly robust scores (as in the effects
    report; a larger clip lowers the variance of the values but biases them where
    overlap is poor).
    ``crossfit_folds``: folds for the nuisances and for scoring the learned rules out of
    fold. ``min_cell``: fewest episodes of an arm (overall and within a leaf) to use it.
    ``min_leaf_share``: fewest episodes in a leaf, as a share of the episodes (and at
    least ``min_cell``). ``level`` of the intervals; ``seed`` of the folds.
    ``estimates``: reuse an :func:`arm_estimates` result.
    """
    kind, share = _check_policy_arguments(
        rule_class=rule_class, learn_on=learn_on, pessimism=pessimism, level=level,
        budget_share_ead=budget_share_ead, budget_share_treated=budget_share_treated,
        min_leaf_share=min_leaf_share, budget_points=budget_points)
    costs = costs or CostParameters()
    est = estimates if estimates is not None else arm_estimates(
        episodes, costs, covariates=covariates, crossfit_folds=crossfit_folds, clip=clip,
        min_cell=min_cell, seed=seed, numeric_features=numeric_features, loss_model=loss_model)
    msgs = list(est.warnings)
    n = est.nb_score.shape[0]
    z = float(stats.norm.ppf(0.5 + level / 2))
    f = est.features
    numeric = [c for c in f.columns[1:] if c != "borrower_type"]
    group_feats = [c for c in (f.columns[0], "borrower_type") if c in f]
    min_leaf = max(int(min_cell), int(np.ceil(min_leaf_share * n)))

    board = _Scoreboard(est, z)
    _add_fixed_policies(board)
    learn = est.learning_scores(None, learn_on)
    full_rule, fold_rules, oof = _learn_out_of_fold(est, rule_class, min_leaf, min_cell, numeric,
                                                    learn_on, pessimism)
    board.add("learned", full_rule.one_line(), oof)
    full_codes = _codes(est, full_rule.assign(f))
    board.assign["learned_full"] = np.asarray(est.arms, dtype=object)[full_codes]

    fold_groups = _fold_budget_groups(est, fold_rules, learn_on, group_feats, kind)
    budget_rule = fit_budget_rule(full_rule, f, learn, est.cost, est.ead, est.arms,
                                  group_feats, share, kind)
    board.add("learned_budget", budget_rule.one_line(), _budget_oof(est, fold_groups, share))
    table = pd.DataFrame(board.rows, columns=list(POLICY_COLUMNS))
    curve_df = _budget_curve(board, fold_groups, full_codes, kind, share, budget_points)
    return PolicyResult(table, full_rule, budget_rule, curve_df, tuple(dict.fromkeys(msgs)),
                        pd.DataFrame(board.score_cols, index=est.index),
                        pd.DataFrame(board.cure_cols, index=est.index),
                        pd.DataFrame(board.assign, index=est.index), est, level)


def _check_policy_arguments(*, rule_class: str, learn_on: str, pessimism: float, level: float,
                            budget_share_ead: float | None, budget_share_treated: float | None,
                            min_leaf_share: float, budget_points: int) -> tuple[str, float]:
    """Check the arguments of :func:`compare_policies`; return the budget's kind
    (``treated`` or ``ead``) and share."""
    require(rule_class in ("tree", "grid"), f"rule_class must be 'tree' or 'grid', got {rule_class!r}",
            ParameterError)
    require(learn_on in ("model", "dr"), f"learn_on must be 'model' or 'dr', got {learn_on!r}",
            ParameterError)
    require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
    require(np.isfinite(pessimism) and pessimism >= 0, f"pessimism must be >= 0, got {pessimism}",
            ParameterError)
    require(budget_share_ead is not None or budget_share_treated is not None,
            "give budget_share_ead or budget_share_treated", ParameterError)
    if budget_share_treated is not None:
        kind, share = "treated", float(budget_share_treated)
        require(0 <= share <= 1, f"budget_share_treated must be in [0, 1], got {share}", ParameterError)
    else:
        kind, share = "ead", float(budget_share_ead)
        require(share >= 0, f"budget_share_ead must be >= 0, got {share}", ParameterError)
    require(0 <= min_leaf_share < 0.5, f"min_leaf_share must be in [0, 0.5), got {min_leaf_share}",
            ParameterError)
    require(budget_points >= 2, f"budget_points must be >= 2, got {budget_points}", ParameterError)
    return kind, share


class _Scoreboard:
    """The policies compared so far, on the same episodes: rows of the policy table,
    per-episode net-benefit and cure scores, and the arm each policy assigns."""

    def __init__(self, est: ArmEstimates, z: float) -> None:
        self.est, self.z = est, z
        self.rows_all = np.arange(est.nb_score.shape[0])
        self.rows: list[dict] = []
        self.score_cols: dict[str, np.ndarray] = {}
        self.cure_cols: dict[str, np.ndarray] = {}
        self.assign: dict[str, np.ndarray] = {}

    def scored(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-episode net-benefit score, cure score and cost of the arms ``codes``."""
        est, rows_all = self.est, self.rows_all
        return est.nb_score[rows_all, codes], est.cure_score[rows_all, codes], est.cost[rows_all, codes]

    def add(self, name: str, rule_text: str, codes: np.ndarray) -> None:
        """Score the policy assigning arms ``codes`` and keep it as ``name``."""
        v, c, cs = self.scored(codes)
        self.rows.append(_row(name, rule_text, v, c, cs, self.z))
        self.score_cols[name], self.cure_cols[name] = v, c
        self.assign[name] = np.asarray(self.est.arms, dtype=object)[codes]


def _add_fixed_policies(board: _Scoreboard) -> None:
    """Current practice (scored on its observed outcomes where known), no relief, and
    every measure for everybody."""
    est = board.est
    n, rows_all, z = len(board.rows_all), board.rows_all, board.z
    board.add("current_practice", "the measures actually given", est.a)
    if est.y_loss is not None and est.loss_score is not None:
        # on-policy: the received arm's outcome is observed, no weighting needed for it
        v = est.ead * (est.loss_score[:, 0] - est.y_loss) - est.cost[rows_all, est.a]
        board.rows[-1] = _row("current_practice", "the measures actually given", v, est.y_cure,
                              est.cost[rows_all, est.a], z)
        board.score_cols["current_practice"], board.cure_cols["current_practice"] = v, est.y_cure
    board.add("no_relief", "none for everybody", np.zeros(n, int))
    for j, arm in enumerate(est.arms[1:], start=1):
        board.add(f"all_{arm}", f"{arm} for everybody", np.full(n, j))


def _learn_out_of_fold(est: ArmEstimates, rule_class: str, min_leaf: int, min_cell: int,
                       numeric: Sequence[str], learn_on: str,
                       pessimism: float) -> tuple[Rule, dict, np.ndarray]:
    """The rule learned on all episodes, the rule of each fold (learned without it) and
    the out-of-fold arm codes those fold rules assign."""
    f = est.features
    n = est.nb_score.shape[0]
    full_rule = _fit_rule(est, np.arange(n), rule_class, min_leaf, min_cell, numeric, learn_on,
                          None, pessimism)
    oof = np.zeros(n, int)
    fold_rules = {}
    for fo in np.unique(est.folds):  # a handful of folds
        tr, te = est.folds != fo, est.folds == fo
        r = _fit_rule(est, np.flatnonzero(tr), rule_class, min_leaf, min_cell, numeric, learn_on, int(fo),
                      pessimism)
        fold_rules[fo] = r
        oof[te] = _codes(est, r.assign(f.iloc[np.flatnonzero(te)]))
    return full_rule, fold_rules, oof


def _fold_budget_groups(est: ArmEstimates, fold_rules: dict, learn_on: str,
                        group_feats: Sequence[str], kind: str) -> dict:
    """Per fold: the budget groups of its rule (learned without the fold), the fold's
    rows, their group keys and base arms; learned once, reused for every budget."""
    f = est.features
    fold_groups = {}
    for fo, r in fold_rules.items():
        tr, te = np.flatnonzero(est.folds != fo), np.flatnonzero(est.folds == fo)
        lf = est.learning_scores(int(fo), learn_on)
        lf = lf[tr] if int(fo) not in est.fold_learning else lf
        bg = budget_groups(r, f.iloc[tr], lf, est.cost[tr], est.ead[tr], est.arms, group_feats, kind)
        fold_groups[fo] = (bg, te, group_keys(r, f.iloc[te], group_feats), r.assign(f.iloc[te]))
    return fold_groups


def _budget_oof(est: ArmEstimates, fold_groups: dict, b: float) -> np.ndarray:
    """Out-of-fold arm codes of the learned rule under budget share ``b``."""
    codes = np.zeros(est.nb_score.shape[0], int)
    for bg, te, keys, base_arms in fold_groups.values():
        codes[te] = _codes(est, bg.select(b).assign(None, keys=keys, base_arms=base_arms))
    return codes


def _budget_curve(board: _Scoreboard, fold_groups: dict, full_codes: np.ndarray, kind: str,
                  share: float, budget_points: int) -> pd.DataFrame:
    """Value of the budgeted rule (out of fold) from budget 0 to a little beyond what the
    unconstrained rule spends (:data:`BUDGET_COLUMNS`)."""
    est = board.est
    full_cost = est.cost[board.rows_all, full_codes]
    top = full_cost.sum() / est.ead.sum() if kind == "ead" else float((full_cost > 0).mean())
    grid = np.unique(np.concatenate([np.linspace(0, max(top, 1e-12) * 1.1, budget_points), [share]]))
    curve = []
    for b in grid:  # a handful of budgets
        codes = _budget_oof(est, fold_groups, float(b))
        v, c, cs = board.scored(codes)
        r = _row("", "", v, c, cs, board.z)
        curve.append({"budget_kind": kind, "budget_share": float(b), **{
            key: r[key] for key in ("value_net_benefit", "ci_low", "ci_high", "cure_rate", "cost", "n_episodes")},
            "cost_share_ead": float(cs.sum() / est.ead.sum()), "share_treated": float((cs > 0).mean())})
    return pd.DataFrame(curve, columns=list(BUDGET_COLUMNS))


def true_policy_values(result: PolicyResult, episodes: pd.DataFrame,
                       potential_outcomes: pd.DataFrame) -> pd.DataFrame:
    """Each policy's estimate beside its true value on a synthetic book.

    ``potential_outcomes``: ``truth/potential_outcomes.parquet`` (long: ``loan_id``,
    ``start_month``, ``arm``, ``exp_loss_rate``). True net benefit of arm a for episode i =
    (exp_loss_rate_none - exp_loss_rate_a) x EAD - cost (the same costs); a policy's true
    value is its mean over the compared episodes of the arm it assigns (for the learned
    policies: the out-of-fold assignment that was scored).
    """
    est = result.estimates
    sub = episodes.loc[est.index, ["loan_id", "start_month"]]
    po = potential_outcomes.assign(loan_id=potential_outcomes["loan_id"].astype(str),
                                   start_month=pd.to_datetime(potential_outcomes["start_month"]))
    wide = po.pivot_table(index=["loan_id", "start_month"], columns="arm", values="exp_loss_rate")
    key = pd.MultiIndex.from_arrays([sub["loan_id"].astype(str), pd.to_datetime(sub["start_month"])])
    missing = [a for a in est.arms if a not in wide.columns]
    require(not missing, f"potential outcomes: arm(s) {missing} missing")
    loss = wide.reindex(key)[list(est.arms)].to_numpy()
    require(np.isfinite(loss).all(), "potential outcomes: some compared episodes have no true values")
    nb = (loss[:, :1] - loss) * est.ead[:, None] - est.cost
    idx = {a: i for i, a in enumerate(est.arms)}
    rows = np.arange(len(nb))
    t = result.table[["policy", "value_net_benefit", "ci_low", "ci_high"]].copy()
    t["true_value"] = [float(nb[rows, result.assignments[p].map(idx).to_numpy()].mean()) for p in t["policy"]]
    t["covered"] = (t["ci_low"] <= t["true_value"]) & (t["true_value"] <= t["ci_high"])
    t["true_value_full_rule"] = np.where(
        t["policy"] == "learned",
        float(nb[rows, result.assignments["learned_full"].map(idx).to_numpy()].mean()), np.nan)
    return t


__all__ = ["BUDGET_COLUMNS", "POLICY_COLUMNS", "PolicyResult", "compare_policies",
           "true_policy_values"]
