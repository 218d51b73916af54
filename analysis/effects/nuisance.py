"""Fitted nuisances of one outcome: propensities and per-arm outcome models, cross-fitted.

Method
------
:func:`fit_nuisance` takes the analysed episodes of an outcome
(:func:`analysis.effects.design.outcome_frame`), leaves out arms with fewer than
``min_cell`` episodes (a note says so), builds the standardised design
(:func:`analysis.effects.design.build_design`) and fits the propensity and one outcome
model per arm with a learner of :mod:`analysis.effects.learners` (``glm``: the
multinomial logit and per-arm GLMs of :mod:`analysis.effects.glm`; ``boosting``:
gradient-boosted trees). With ``crossfit_folds=K >= 2`` the models are fitted K times,
each on all folds but one, and predict the held-out fold (one fold assignment for the
propensity and the outcome models, stratified by arm, :func:`fold_ids`); the AIPW
scores then use these out-of-fold predictions, so their influence-function standard
errors stay valid for flexible learners (Chernozhukov et al. 2018). This function is
the one place where folds are dealt and the out-of-fold predictions assembled.

Full-sample models: the GLM learner also fits every model on all rows (the
``regression`` and ``ipw`` estimators and their influence functions use those
coefficients). The boosting learner does not: its full-sample predictions are the
out-of-fold ones, and new episodes get the average of the K fold models.

Heterogeneity: segment variables are added to the covariates (``extra_covariates``), so
one set of models serves every segment.

The :class:`Nuisance` it returns is reused by the estimators, the diagnostics, the net
benefit and targeting (``predict_outcomes``, ``propensities``, ``aipw_scores``,
``att_scores``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg

from analysis.checks import require
from analysis.definitions import NO_RELIEF
from analysis.effects.design import (
    DEFAULT_FOLLOWUP,
    Design,
    Followup,
    check_frame,
    default_covariates,
    design_matrix,
    outcome_frame,
    rows_where,
)
from analysis.effects.glm import blas_limit, mn_information
from analysis.effects.learners import (
    FoldAverage,
    GlmPropensity,
    Learner,
    choose_learner,
)
from analysis.effects.memo import memoised
from analysis.errors import InputError, ParameterError
from analysis.progress import progress


@dataclass(frozen=True, eq=False)
class Nuisance:
    """Fitted per-arm outcome models and propensities, for reuse (targeting).

    ``index`` are the analysed episodes' index labels; ``a`` their arm codes (0 =
    ``none``); ``y`` the outcome; ``x`` the design matrix; ``mu``/``e`` full-sample
    predictions (n x K); ``mu_cf``/``e_cf`` out-of-fold ones (equal to the full-sample
    ones without cross-fitting). ``e`` and ``e_cf`` are clipped below at ``clip``.
    ``models`` (one per arm) and ``propensity`` predict new design rows; ``learner``
    names the learner (:data:`analysis.effects.learners.LEARNERS`); ``folds`` the
    cross-fitting fold of each row (None without cross-fitting).
    """

    outcome: str
    kind: str
    arms: tuple[str, ...]
    design: Design
    models: tuple
    propensity: object
    index: pd.Index
    a: np.ndarray
    y: np.ndarray
    x: np.ndarray
    mu: np.ndarray
    e_raw: np.ndarray
    mu_cf: np.ndarray
    e_cf_raw: np.ndarray
    clip: float
    crossfit_folds: int
    notes: tuple[str, ...] = ()
    learner: str = "glm"
    folds: np.ndarray | None = None

    @property
    def gamma(self) -> np.ndarray:
        """Multinomial-logit coefficients (p x (K-1)) of the GLM learner's propensity."""
        require(isinstance(self.propensity, GlmPropensity),
                f"the {self.learner!r} learner has no propensity coefficients; the regression "
                "and ipw estimators need learner='glm'", ParameterError)
        return self.propensity.gamma

    @property
    def gamma_penalty(self) -> float:
        """L2 penalty per observation of the propensity fit (0 = plain MNLogit)."""
        return float(getattr(self.propensity, "penalty", 0.0))

    @cached_property
    def info_inv(self) -> np.ndarray:
        """Inverse average Hessian of the (penalised) propensity objective (IPW errors)."""
        p, k1 = self.gamma.shape
        pen = np.kron(np.eye(k1), np.diag(np.r_[0.0, np.full(p - 1, self.gamma_penalty)]))
        return linalg.pinvh(mn_information(self.x, self.e_raw) + pen)

    @property
    def e(self) -> np.ndarray:
        return np.maximum(self.e_raw, self.clip)

    @property
    def e_cf(self) -> np.ndarray:
        return np.maximum(self.e_cf_raw, self.clip)

    @cached_property
    def d(self) -> np.ndarray:
        """One-hot arm indicators (n x K)."""
        return np.eye(len(self.arms))[self.a]

    @cached_property
    def phi(self) -> np.ndarray:
        """AIPW scores (n x K) as an array; :meth:`aipw_scores` labels them."""
        resid = (self.y[:, None] - self.mu_cf) * self.d / self.e_cf
        return self.mu_cf + resid

    def _x(self, episodes: pd.DataFrame | np.ndarray) -> np.ndarray:
        return episodes if isinstance(episodes, np.ndarray) else self.design.transform(episodes)

    def predict_outcomes(self, episodes: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Expected outcome under every arm (columns = arms), full-sample models."""
        x = self._x(episodes)
        idx = episodes.index if isinstance(episodes, pd.DataFrame) else None
        return pd.DataFrame(np.column_stack([m.predict(x) for m in self.models]),
                            columns=list(self.arms), index=idx)

    def propensities(self, episodes: pd.DataFrame | np.ndarray, clipped: bool = False) -> pd.DataFrame:
        """P(arm | covariates) from the propensity model (columns = arms)."""
        x = self._x(episodes)
        e = self.propensity.predict(x)
        if clipped:
            e = np.maximum(e, self.clip)
        idx = episodes.index if isinstance(episodes, pd.DataFrame) else None
        return pd.DataFrame(e, columns=list(self.arms), index=idx)

    def aipw_scores(self) -> pd.DataFrame:
        """AIPW score phi_a = mu_a + 1{A=a}/e_a (Y - mu_a) per analysed episode and arm
        (out of fold when cross-fitted); the mean of a column estimates E[Y(a)]."""
        return pd.DataFrame(self.phi, columns=list(self.arms), index=self.index)

    def att_scores(self, arm: str) -> pd.Series:
        """Per-episode ATT numerator 1{A=a}(Y-mu_none) - 1{A=none} e_a/e_none (Y-mu_none);
        its sum over the segment divided by the segment's treated count is the ATT."""
        k = self.arms.index(arm)
        r0 = self.y - self.mu_cf[:, 0]
        odds = self.e_cf_raw[:, k] / self.e_cf[:, 0]
        v = self.d[:, k] * r0 - self.d[:, 0] * odds * r0
        return pd.Series(v, index=self.index, name=arm)


def fold_ids(a: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cross-fitting fold (0..k-1) of each episode, stratified by arm code ``a``: a seeded
    permutation, sorted by arm, dealt round-robin (the folds :func:`fit_nuisance` uses for
    ``crossfit_folds=k`` and ``seed``)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(a))
    order = order[np.argsort(a[order], kind="stable")]
    f = np.empty(len(a), int)
    f[order] = np.arange(len(a)) % k
    return f


def fit_nuisance(episodes: pd.DataFrame, outcome: str = "cure",
                 covariates: Sequence[str] | None = None, crossfit_folds: int = 0,
                 clip: float = 0.01, min_cell: int = 10, seed: int = 0,
                 loss_model: str = "auto", extra_covariates: Sequence[str] = (),
                 followup: Followup | None = DEFAULT_FOLLOWUP, learner: str = "glm",
                 full_sample: bool = True) -> Nuisance:
    """Fit propensities and per-arm outcome models for ``outcome`` on ``episodes``.

    Arms with fewer than ``min_cell`` analysed episodes are left out (a note says so).
    ``loss_model``: ``auto`` (fractional logit when the outcome lies in [0, 1]),
    ``fractional_logit`` or ``gaussian`` (GLM learner). ``extra_covariates`` are added
    to the covariates (segment variables). ``learner``: ``glm``, ``boosting`` or
    ``auto`` (:func:`analysis.effects.learners.choose_learner`; GLM whenever
    ``crossfit_folds < 2``); boosting needs ``crossfit_folds >= 2``. ``full_sample=False`` skips the GLM learner's fit on all
    rows when cross-fitting (only the ``naive`` and ``aipw`` estimators are then
    available; the models for new episodes average the fold models, as for boosting).
    Reuse the result for targeting: ``predict_outcomes``,
    ``propensities``, ``aipw_scores``, ``att_scores``.
    """
    with blas_limit(len(episodes) if isinstance(episodes, pd.DataFrame) else 0):
        return _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell,
                             seed, loss_model, extra_covariates, followup, learner, full_sample)


def _analysed(episodes, outcome, covariates, min_cell, loss_model, extra_covariates, followup):
    """The analysed rows of ``outcome``: (rows, y, kind, arms, a, design, x, notes)."""
    check_frame(episodes)
    rows, y, kind = outcome_frame(episodes, outcome, followup)
    if loss_model == "gaussian" and kind == "fraction":
        kind = "continuous"
    elif loss_model == "fractional_logit" and kind == "continuous":
        raise ParameterError(f"loss_model='fractional_logit' needs {outcome!r} in [0, 1]")
    notes: list[str] = []
    if kind == "fraction":
        notes.append(f"{outcome}: outcome model is a fractional logit (binomial quasi-likelihood)")
    elif kind == "continuous":
        notes.append(f"{outcome}: outcome model is a Gaussian identity GLM")
    arm_s = rows["measure"].astype("string")
    counts = arm_s.value_counts()
    require(NO_RELIEF in counts.index,
            f"episodes: no episode with measure {NO_RELIEF!r} and an observed {outcome!r}; "
            "the reference arm is needed")
    small = [m for m, c in counts.items() if c < min_cell and m != NO_RELIEF]
    if small:
        notes.append(f"{outcome}: arm(s) {sorted(small)} have fewer than min_cell={min_cell} "
                     "episodes and are left out of the models (no estimate)")
    arms = (NO_RELIEF, *sorted(m for m in counts.index if m not in small and m != NO_RELIEF))
    require(len(arms) >= 2,
            f"episodes: only the {NO_RELIEF!r} arm has >= {min_cell} episodes with an observed "
            f"{outcome!r}; nothing to compare (arm counts: {counts.to_dict()})")
    keep = arm_s.isin(arms).to_numpy()
    rows, y = rows_where(rows, keep), y[keep]
    a = pd.Categorical(rows["measure"].astype("string"), categories=list(arms)).codes.astype(int)
    covs = list(covariates) if covariates is not None else default_covariates(rows)
    covs += [c for c in extra_covariates if c not in covs]
    missing = [c for c in covs if c not in rows]
    require(not missing, f"episodes: covariate column(s) not found: {missing}")
    design, x = design_matrix(rows, covs)  # x: design.transform(rows), without re-encoding
    notes += [f"{outcome}: covariate {c!r} dropped ({why})" for c, why in design.dropped]
    return rows, y, kind, arms, a, design, x, notes


def _fit_models(learner: Learner, x: np.ndarray, a: np.ndarray, y: np.ndarray, kind: str,
                arms: tuple[str, ...], idx: np.ndarray, seed: int) -> tuple[list, object]:
    """The learner's outcome model of every arm and its propensity, on rows ``idx``
    (memoised inside :func:`analysis.effects.memo.shared_fits`)."""
    xi, ai, yi = x[idx], a[idx], y[idx]
    prop = memoised(learner.fit_propensity, xi, ai, len(arms), seed)
    if learner.fit_outcomes is not None:
        return memoised(learner.fit_outcomes, arms, xi, ai, yi, kind, seed), prop
    models = [memoised(learner.fit_outcome, arms[k], xi[ai == k], yi[ai == k], kind, seed)
              for k in range(len(arms))]
    return models, prop


def _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                  loss_model, extra_covariates, followup=DEFAULT_FOLLOWUP, learner="glm",
                  full_sample=True) -> Nuisance:
    """:func:`fit_nuisance` inside its BLAS thread limit (same arguments)."""
    # a one-episode arm cannot be cross-fitted (its fold's training rows lack it): left out
    smallest = max(min_cell, 2) if crossfit_folds >= 2 else min_cell
    rows, y, kind, arms, a, design, x, notes = _analysed(
        episodes, outcome, covariates, smallest, loss_model, extra_covariates, followup)
    if learner == "auto" and crossfit_folds < 2 and choose_learner("auto", len(y)).name != "glm":
        notes.append(f"{outcome}: learner 'auto' would choose boosting for {len(y):,} episodes, which is "
                     "always cross-fitted; with crossfit_folds=0 the GLM learner is used instead")
        learner = "glm"
    lrn = choose_learner(learner, len(y))
    require(lrn.has_coefficients or crossfit_folds >= 2,
            f"learner {lrn.name!r} is always cross-fitted: crossfit_folds must be >= 2, "
            f"got {crossfit_folds}", ParameterError)
    if not lrn.has_coefficients and kind != "binary":
        notes = [n for n in notes if "outcome model is" not in n]
        notes.append(f"{outcome}: outcome model is gradient boosting (squared error)")
    k_arms = len(arms)
    folds = fold_ids(a, crossfit_folds, seed) if crossfit_folds >= 2 else None
    fold_fits = []
    if folds is not None:
        mu_cf, e_cf = np.empty((len(y), k_arms)), np.empty((len(y), k_arms))
        for f in progress(range(crossfit_folds), f"cross-fitting {outcome}"):
            tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            if len(np.unique(a[tr])) < k_arms:
                raise InputError(f"cross-fitting: a training fold lacks an arm; use fewer folds than {crossfit_folds}")
            ms, prop = _fit_models(lrn, x, a, y, kind, arms, tr, seed + f)
            fold_fits.append((ms, prop))
            xte = x[te]  # one copy of the held-out rows for every model
            mu_cf[te] = np.column_stack([m.predict(xte) for m in ms])
            e_cf[te] = prop.predict(xte)
            bad = [n for n in [prop.note, *(m.note for m in ms)] if "converge" in n or "failed" in n]
            if bad:  # penalised small-sample fits are already named by the full-sample fit
                notes.append(f"cross-fitting fold {f}: " + "; ".join(bad))
    if lrn.has_coefficients and (full_sample or folds is None):
        models, prop = _fit_models(lrn, x, a, y, kind, arms, np.arange(len(y)), seed)
        notes += [n for n in [prop.note, *(m.note for m in models)] if n]
        mu = np.column_stack([m.predict(x) for m in models])
        e_raw = prop.predict(x)
        if folds is None:
            mu_cf, e_cf = mu, e_raw
    else:
        models = [FoldAverage(tuple(ms[k] for ms, _ in fold_fits)) for k in range(k_arms)]
        prop = FoldAverage(tuple(p for _, p in fold_fits))
        notes += list(dict.fromkeys(n for ms, p in fold_fits for n in [p.note, *(m.note for m in ms)] if n))
        mu, e_raw = mu_cf, e_cf
    return Nuisance(outcome, kind, arms, design, tuple(models), prop, rows.index, a, y, x,
                    mu, e_raw, mu_cf, e_cf, clip, crossfit_folds, tuple(dict.fromkeys(notes)),
                    lrn.name, folds)
