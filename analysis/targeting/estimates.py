"""Per-episode, per-arm estimates for targeting: expected cure and net benefit, DR scores.

See :mod:`analysis.targeting.policies` for the method. :func:`arm_estimates` fits two cross-fitted
nuisances with :func:`analysis.effects.fit_nuisance` (cure and loss rate) on the episodes
whose horizon outcome is observed (their doubly robust scores value the policies), the
cross-fitted pooled loss model of :mod:`analysis.targeting.pooled` (the expected net
benefit the rule learns from), adds the costs of :func:`analysis.effects.losses.cost_matrix`,
and, for each fold, loss models fitted without the fold (the fold's rule learns from them).
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.checks import require
from analysis.definitions import NO_RELIEF
from analysis.effects import CostParameters, cost_matrix, fit_nuisance, fold_ids, shared_fits
from analysis.errors import InputError, ParameterError
from analysis.targeting.pooled import crossfit_pooled_loss

DEFAULT_NUMERIC: tuple[str, ...] = ("ead", "credit_score")


class TargetingWarning(UserWarning):
    """Something the reader of a targeting result must know (e.g. an arm left out)."""


def cause_column(episodes: pd.DataFrame) -> str:
    """``primary_family`` (attributed cause) if present, else ``reported_family``."""
    for c in ("primary_family", "reported_family"):
        if c in episodes:
            return c
    raise InputError("episodes: a cause column is needed for targeting: 'primary_family' "
                     "(from analysis.causes.attribute) or 'reported_family'")


def analysed_rows(episodes: pd.DataFrame) -> pd.Series:
    """Episodes with an observed horizon outcome: cure and loss rate known, not censored."""
    for c in ("is_cured", "loss_rate", "ead", "measure"):
        require(c in episodes, f"episodes: column {c!r} is missing (targeting needs it)")
    keep = episodes["is_cured"].notna() & episodes["loss_rate"].notna()
    if "is_censored" in episodes:
        keep &= ~episodes["is_censored"].fillna(True).astype(bool)
    return keep.astype(bool)


# ----------------------------------------------------------------------------- estimates


@dataclass(frozen=True, eq=False)
class ArmEstimates:
    """Per-episode, per-arm estimates on the analysed episodes (see module docstring).

    Arrays are n x K with columns ``arms`` (``none`` first); ``index`` the episodes'
    index labels; ``a`` the arm received (code); ``folds`` the cross-fitting folds.
    """

    index: pd.Index
    arms: tuple[str, ...]
    a: np.ndarray
    folds: np.ndarray
    ead: np.ndarray
    cost: np.ndarray
    p_cure: np.ndarray
    loss_rate: np.ndarray
    net_benefit: np.ndarray
    cure_score: np.ndarray
    nb_score: np.ndarray
    features: pd.DataFrame
    warnings: tuple[str, ...]
    loss_score: np.ndarray = field(repr=False, default=None)
    y_cure: np.ndarray = field(repr=False, default=None)
    y_loss: np.ndarray = field(repr=False, default=None)
    nuisance_cure: object = field(repr=False, default=None)
    nuisance_loss: object = field(repr=False, default=None)
    fold_learning: dict = field(repr=False, default_factory=dict)
    loss_model: object = field(repr=False, default=None)

    def predict_loss(self, episodes: pd.DataFrame) -> pd.DataFrame:
        """Expected loss rate under every arm for new episodes, from the model the rule
        was learned on (the pooled model, else the per-arm GLMs)."""
        model = self.loss_model if self.loss_model is not None else self.nuisance_loss
        return model.predict_outcomes(episodes)

    def learning_scores(self, fold: int | None, learn_on: str) -> np.ndarray:
        """Net benefit a rule is learned from: on all episodes (``fold=None``: the
        cross-fitted ones), or on the episodes outside ``fold`` from loss models fitted
        without ``fold`` (so the rule scored on ``fold`` never saw it)."""
        if fold is None or fold not in self.fold_learning:
            return self.net_benefit if learn_on == "model" else self.nb_score
        model_nb, dr_nb = self.fold_learning[fold]
        return model_nb if learn_on == "model" else dr_nb

    @property
    def table(self) -> pd.DataFrame:
        """Long table: episode (index label), arm, p_cure, expected_loss_rate, cost_cny,
        net_benefit_cny (model-based, out of fold)."""
        n, k = self.p_cure.shape
        return pd.DataFrame({
            "episode": np.repeat(self.index.to_numpy(), k),
            "arm": np.tile(np.array(self.arms, dtype=object), n),
            "p_cure": self.p_cure.ravel(), "expected_loss_rate": self.loss_rate.ravel(),
            "cost_cny": self.cost.ravel(), "net_benefit_cny": self.net_benefit.ravel(),
        })

    def summary(self) -> pd.DataFrame:
        """Per arm: mean expected cure probability, net benefit (model and DR), cost."""
        return pd.DataFrame({
            "arm": self.arms, "p_cure": self.p_cure.mean(0), "p_cure_dr": self.cure_score.mean(0),
            "net_benefit_cny": self.net_benefit.mean(0), "net_benefit_dr_cny": self.nb_score.mean(0),
            "cost_cny": self.cost.mean(0), "n_received": np.bincount(self.a, minlength=len(self.arms)),
        })


def _warn(msgs: list[str], msg: str) -> None:
    msgs.append(msg)
    _warnings.warn(msg, TargetingWarning, stacklevel=3)


def arm_estimates(episodes: pd.DataFrame, costs: CostParameters | None = None, *,
                  covariates: Sequence[str] | None = None, crossfit_folds: int = 5,
                  clip: float = 0.01, min_cell: int = 10, seed: int = 0,
                  numeric_features: Sequence[str] | None = None,
                  loss_model: str = "pooled") -> ArmEstimates:
    """Expected cure probability and net benefit of every arm for every analysed episode,
    with their doubly robust scores (see module docstring). ``loss_model``: the model
    behind the expected net benefit the rule learns from: ``pooled``
    (:mod:`analysis.targeting.pooled`, default) or ``per_arm`` (the per-arm GLMs of the
    doubly robust scores)."""
    require(loss_model in ("pooled", "per_arm"), f"loss_model must be 'pooled' or 'per_arm', got {loss_model!r}",
             ParameterError)

    costs = costs or CostParameters()
    require(isinstance(episodes, pd.DataFrame), "episodes must be a pandas DataFrame")
    require(crossfit_folds >= 2, f"crossfit_folds must be >= 2, got {crossfit_folds}", ParameterError)
    require(int(min_cell) >= 1, f"min_cell must be >= 1, got {min_cell}", ParameterError)
    cause = cause_column(episodes)
    msgs: list[str] = []
    if cause == "reported_family":
        _warn(msgs, "cause: no attributed 'primary_family'; using the reported family "
                    "(missing = '<NA>') as the cause")
    rows = episodes.loc[analysed_rows(episodes)]
    require(len(rows) > 0, "episodes: no episode with an observed outcome (all censored)")
    counts = rows["measure"].astype("string").value_counts()
    small = sorted(m for m, c in counts.items() if c < min_cell and m != NO_RELIEF)
    for m in small:
        _warn(msgs, f"arm {m!r}: only {int(counts[m])} analysed episodes (< min_cell={min_cell}); "
                    "left out of the models and of every policy, its episodes are not compared")
    extra = [cause] + [c for c in ("borrower_type",) if c in rows]
    with _warnings.catch_warnings(), shared_fits():  # the two nuisances share the propensity
        _warnings.simplefilter("ignore")
        nu_c = fit_nuisance(rows, "cure", covariates, crossfit_folds, clip, min_cell, seed,
                            extra_covariates=extra)
        nu_l = fit_nuisance(rows, "loss_rate", covariates, crossfit_folds, clip, min_cell, seed,
                            extra_covariates=extra)
    require(nu_c.index.equals(nu_l.index) and nu_c.arms == nu_l.arms,
             "targeting: the cure and loss models were fitted on different episodes")
    notes = list(dict.fromkeys((*nu_c.notes, *nu_l.notes)))
    refits = [x for x in notes if "penalty" in x]
    msgs += [x for x in notes if "covariate" not in x and "penalty" not in x]
    if refits:
        msgs.append(f"outcome/propensity models: {len(refits)} fit(s) separated or did not converge "
                    "and were refitted with a light L2 penalty (small arms; see estimates.nuisance_*.notes)")
    sub = rows.loc[nu_c.index]
    arms = nu_c.arms
    ead = sub["ead"].astype(float).to_numpy()
    cost = cost_matrix(sub, arms, costs).to_numpy()
    folds = fold_ids(nu_c.a, crossfit_folds, seed)
    pooled, pooled_without = None, {}
    if loss_model == "pooled":
        pooled, loss, pooled_without = crossfit_pooled_loss(nu_l, folds)
    else:
        loss = nu_l.mu_cf
    nb = ead[:, None] * (loss[:, :1] - loss) - cost
    phi_l = nu_l.aipw_scores().to_numpy()
    nb_score = ead[:, None] * (phi_l[:, :1] - phi_l) - cost
    fold_learning = {}
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        for fo in range(crossfit_folds):  # loss models without each fold, for its rule
            tr = folds != fo
            nu_f = fit_nuisance(sub.loc[tr], "loss_rate", covariates, 0, clip, 1, seed,
                                extra_covariates=extra)
            require(nu_f.arms == arms, f"targeting: fold {fo} lacks an arm; use fewer crossfit_folds")
            lf = pooled_without[fo] if pooled is not None else nu_f.mu
            phi_f = nu_f.aipw_scores().to_numpy()
            fold_learning[fo] = (ead[tr, None] * (lf[:, :1] - lf) - cost[tr],
                                 ead[tr, None] * (phi_f[:, :1] - phi_f) - cost[tr])
    numeric = [c for c in (numeric_features if numeric_features is not None else DEFAULT_NUMERIC) if c in sub]
    feat_cols = list(dict.fromkeys([cause, *[c for c in ("borrower_type",) if c in sub], *numeric]))
    return ArmEstimates(
        index=sub.index, arms=arms, a=nu_c.a, folds=folds, ead=ead,
        cost=cost, p_cure=nu_c.mu_cf, loss_rate=loss, net_benefit=nb,
        cure_score=nu_c.aipw_scores().to_numpy(), nb_score=nb_score,
        features=sub[feat_cols].copy(), warnings=tuple(msgs), loss_score=phi_l, y_cure=nu_c.y,
        y_loss=nu_l.y, nuisance_cure=nu_c, nuisance_loss=nu_l,
        fold_learning=fold_learning, loss_model=pooled)
