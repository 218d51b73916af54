"""Fitted nuisances of one outcome: propensities and per-arm outcome models, cross-fitted.

Method
------
:func:`fit_nuisance` takes the analysed episodes of an outcome
(:func:`analysis.effects.design.outcome_frame`), leaves out arms with fewer than
``min_cell`` episodes (a note says so), builds the standardised design
(:func:`analysis.effects.design.build_design`) and fits the multinomial-logit propensity
and one GLM per arm (:mod:`analysis.effects.glm`). With ``crossfit_folds=K >= 2`` the
same models are refitted K times, each on all folds but one, and predict the held-out
fold (folds stratified by arm, :func:`fold_ids`); the AIPW scores then use these
out-of-fold predictions.

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
    build_design,
    check_frame,
    default_covariates,
    outcome_frame,
)
from analysis.effects.glm import (
    ArmModel,
    blas_limit,
    fit_arm_model,
    fit_propensity_penalised,
    mn_information,
    mn_probs,
)
from analysis.errors import InputError, ParameterError


@dataclass(frozen=True, eq=False)
class Nuisance:
    """Fitted per-arm outcome models and propensities, for reuse (targeting).

    ``index`` are the analysed episodes' index labels; ``a`` their arm codes (0 =
    ``none``); ``y`` the outcome; ``x`` the design matrix; ``mu``/``e`` full-sample
    predictions (n x K); ``mu_cf``/``e_cf`` out-of-fold ones (equal to the full-sample
    ones without cross-fitting). ``e`` and ``e_cf`` are clipped below at ``clip``.
    """

    outcome: str
    kind: str
    arms: tuple[str, ...]
    design: Design
    models: tuple[ArmModel, ...]
    gamma: np.ndarray
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
    gamma_penalty: float = 0.0

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
        """P(arm | covariates) from the multinomial logit (columns = arms)."""
        x = self._x(episodes)
        e = mn_probs(x, self.gamma)
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
                 followup: Followup | None = DEFAULT_FOLLOWUP) -> Nuisance:
    """Fit propensities and per-arm outcome models for ``outcome`` on ``episodes``.

    Arms with fewer than ``min_cell`` analysed episodes are left out (a note says so).
    ``loss_model``: ``auto`` (fractional logit when the outcome lies in [0, 1]),
    ``fractional_logit`` or ``gaussian``. ``extra_covariates`` are added to the
    covariates (segment variables). Reuse the result for targeting:
    ``predict_outcomes``, ``propensities``, ``aipw_scores``, ``att_scores``.
    """
    with blas_limit(len(episodes) if isinstance(episodes, pd.DataFrame) else 0):
        return _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell,
                             seed, loss_model, extra_covariates, followup)


def _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                  loss_model, extra_covariates, followup=DEFAULT_FOLLOWUP) -> Nuisance:
    """:func:`fit_nuisance` inside its BLAS thread limit (same arguments)."""
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
    rows, y = rows.loc[keep], y[keep]
    a = pd.Categorical(rows["measure"].astype("string"), categories=list(arms)).codes.astype(int)
    covs = list(covariates) if covariates is not None else default_covariates(rows)
    covs += [c for c in extra_covariates if c not in covs]
    missing = [c for c in covs if c not in rows]
    require(not missing, f"episodes: covariate column(s) not found: {missing}")
    design = build_design(rows, covs)
    notes += [f"{outcome}: covariate {c!r} dropped ({why})" for c, why in design.dropped]
    x = design.transform(rows)
    k_arms = len(arms)

    def fit_all(idx: np.ndarray) -> tuple[list[ArmModel], np.ndarray, str, float]:
        gamma, note, pen = fit_propensity_penalised(x[idx], a[idx], k_arms)
        models = [fit_arm_model(arms[k], x[idx][a[idx] == k], y[idx][a[idx] == k], kind)
                  for k in range(k_arms)]
        return models, gamma, note, pen

    models, gamma, pnote, gpen = fit_all(np.arange(len(y)))
    notes += [n for n in [pnote, *(m.note for m in models)] if n]
    mu = np.column_stack([m.predict(x) for m in models])
    e_raw = mn_probs(x, gamma)
    if crossfit_folds >= 2:
        folds = fold_ids(a, crossfit_folds, seed)
        mu_cf, e_cf = np.empty_like(mu), np.empty_like(e_raw)
        for f in range(crossfit_folds):
            tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            if len(np.unique(a[tr])) < k_arms:
                raise InputError(f"cross-fitting: a training fold lacks an arm; use fewer folds than {crossfit_folds}")
            ms, g, note, _ = fit_all(tr)
            mu_cf[te] = np.column_stack([m.predict(x[te]) for m in ms])
            e_cf[te] = mn_probs(x[te], g)
            bad = [n for n in [note, *(m.note for m in ms)] if "converge" in n or "failed" in n]
            if bad:  # penalised small-sample fits are already named by the full-sample fit
                notes.append(f"cross-fitting fold {f}: " + "; ".join(bad))
    else:
        mu_cf, e_cf = mu, e_raw
    return Nuisance(outcome, kind, arms, design, tuple(models), gamma, rows.index, a, y, x,
                    mu, e_raw, mu_cf, e_cf, clip, crossfit_folds, tuple(dict.fromkeys(notes)), gpen)

