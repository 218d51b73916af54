"""The four estimators of one effect cell, with influence-function standard errors.

A cell is one measure ``a`` against ``none`` on one segment, for one estimand (ATE =
E[Y(a) - Y(none)] over the segment, ATT = E[Y(a) - Y(none) | A = a]) and one method.
:func:`estimate_cell` returns the estimate (a difference, as a fraction) and its
standard error from the fitted :class:`~analysis.effects.nuisance.Nuisance`;
:func:`ci` turns them into normal intervals.

Methods (:data:`METHODS`)
-------------------------
* ``naive``: difference of arm means, Welch standard error (shown only to make the
  confounding visible).
* ``regression`` (g-computation): one GLM per arm (statsmodels; binomial-logit for
  binary outcomes). ATE = mean over all episodes of mu_a(X) - mu_none(X); ATT = mean
  over arm a of Y - mu_none(X). Standard errors from the influence function, including
  the term for the estimated GLM coefficients (M-estimation sandwich).
* ``ipw``: multinomial-logit propensity (statsmodels ``MNLogit``), stabilised
  (Hajek, normalised) weights 1/e_a for the ATE and odds weights e_a/e_none for the
  controls in the ATT. Propensities are clipped below at ``clip`` (default 0.01, i.e.
  weights at most 100). Standard errors from the influence function including the
  propensity-estimation term (clipped episodes contribute no derivative: an
  approximation).
* ``aipw`` (doubly robust): score phi_a = mu_a + 1{A=a}/e_a (Y - mu_a); ATE = mean of
  phi_a - phi_none. ATT uses only the control outcome model and odds weights:
  [1{A=a}(Y - mu_none) - 1{A=none} e_a/e_none (Y - mu_none)] / P(A=a). Standard
  errors are the sample standard deviation of the influence function over sqrt(n).
  With ``crossfit_folds=K >= 2`` the nuisances in the score are fitted out of fold.

Penalised fits enter the influence functions through their penalised Hessian.

Intervals and precision (:func:`finish_table`)
----------------------------------------------
For rate outcomes (binary and fractional; kind in :data:`RATE_KINDS`) an effect is a
difference of rates, so estimates and interval limits are clipped to [-1, 1]. A
cell whose standard error exceeds :data:`MAX_RATE_SE` (0.15, i.e. an interval wider
than about +/- 29 percentage points) shows no estimate: its ``status`` says
``imprecise`` and only the standard error is kept, so the reader sees why. The
``status`` column holds a code (:data:`STATUSES`), translated by the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg, stats

from analysis.effects.nuisance import Nuisance
from analysis.errors import ParameterError

METHODS: tuple[str, ...] = ("naive", "regression", "ipw", "aipw")
#: Methods available with a learner without coefficients (boosting): their standard
#: errors need no derivative of the nuisance models.
SCORE_METHODS: tuple[str, ...] = ("naive", "aipw")
ESTIMANDS: tuple[str, ...] = ("ATE", "ATT")
#: The ATE on the Crump overlap population (:mod:`analysis.effects.overlap`).
ATE_OVERLAP = "ATE_overlap"
TABLE_COLUMNS: tuple[str, ...] = (
    "outcome", "measure", "estimand", "segment_type", "segment", "method",
    "estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_control",
    "population_share", "learner", "status",
)
#: Outcome kinds whose effects are differences of rates, bounded by [-1, 1].
RATE_KINDS: tuple[str, ...] = ("binary", "fraction")
#: Largest standard error (difference of rates, fraction) at which an effect on a rate
#: is shown; above it the cell shows no estimate (status ``imprecise``).
MAX_RATE_SE = 0.15
#: Cell status codes: ``ok``; ``too_few`` (fewer than min_cell treated or control
#: episodes, or an arm left out of the models); ``imprecise`` (standard error above
#: :data:`MAX_RATE_SE`); ``no_overlap`` (no episode left in the overlap population).
STATUSES: tuple[str, ...] = ("ok", "too_few", "imprecise", "no_overlap")


def _ra_correction(nu: Nuisance, k: int, weights_rows: np.ndarray) -> np.ndarray:
    """Influence-function term for the coefficients of arm k's GLM when estimating
    the mean of mu_k(X) weighted by ``weights_rows`` (weights sum to 1 over n rows).
    Returns n-vector c with (1/n) sum c_i the linearised coefficient effect."""
    m = nu.models[k]
    xs = nu.x[:, m.cols]
    mu_k = nu.mu[:, k]
    deriv = m.derivative(mu_k)
    g = xs.T @ (weights_rows * deriv)  # gradient of the weighted mean
    ink = nu.a == k
    h = (xs[ink] * deriv[ink][:, None]).T @ xs[ink] / len(nu.y)
    if m.penalty:  # Hessian of the penalised objective, in the same (1/n) units
        h = h + np.diag(np.r_[0.0, np.full(len(m.cols) - 1, m.penalty)]) * ink.sum() / len(nu.y)
    v = linalg.lstsq(h, g)[0]
    c = np.zeros(len(nu.y))
    c[ink] = (xs[ink] @ v) * (nu.y[ink] - mu_k[ink])
    return c


def _gamma_correction(nu: Nuisance, grad: np.ndarray) -> np.ndarray:
    """Influence term grad' I^{-1} s_i of the multinomial-logit coefficients.
    ``grad`` is p x (K-1) (derivative of the estimating equation, averaged over n)."""
    p, k1 = grad.shape
    v = (nu.info_inv @ grad.ravel(order="F")).reshape(p, k1, order="F")
    return ((nu.x @ v) * (nu.d[:, 1:] - nu.e_raw[:, 1:])).sum(axis=1)


def _se(infl: np.ndarray) -> float:
    n = len(infl)
    return float(np.sqrt(np.sum(infl ** 2)) / n)


def estimate_cell(nu: Nuisance, k: int, seg: np.ndarray, method: str, estimand: str) -> tuple[float, float]:
    """(estimate, standard error) of arm k vs reference on segment mask ``seg``."""
    y, d, n = nu.y, nu.d, len(nu.y)
    da, d0 = d[:, k] * seg, d[:, 0] * seg
    na, n0, ns = da.sum(), d0.sum(), seg.sum()
    if method == "naive":
        m1, m0 = y[da > 0].mean(), y[d0 > 0].mean()
        v1 = y[da > 0].var(ddof=1) if na > 1 else np.nan
        v0 = y[d0 > 0].var(ddof=1) if n0 > 1 else np.nan
        return m1 - m0, float(np.sqrt(v1 / na + v0 / n0))
    if method == "regression":
        if estimand == "ATE":
            v = nu.mu[:, k] - nu.mu[:, 0]
            tau = v[seg].mean()
            w = seg / ns
            infl = (n / ns) * seg * (v - tau) + _ra_correction(nu, k, w) - _ra_correction(nu, 0, w)
        else:
            r = y - nu.mu[:, 0]
            tau = (da * r).sum() / na
            infl = (n / na) * da * (r - tau) - _ra_correction(nu, 0, da / na)
        return float(tau), _se(infl)
    if method == "ipw":
        e, e_raw = nu.e, nu.e_raw
        unclipped = (e_raw >= nu.clip)
        if estimand == "ATE":
            tau, infl = 0.0, np.zeros(n)
            for j, sign in ((k, 1.0), (0, -1.0)):
                w = d[:, j] * seg / e[:, j]
                wbar = w.sum() / n
                m = (w * y).sum() / w.sum()
                res = y - m
                # d/d gamma_l of 1{A=j} (Y-m)/e_j: -1{A=j}(Y-m)(1{j=l}-e_l) x / e_j
                coef = -(w * res * unclipped[:, j])[:, None] * ((np.arange(1, d.shape[1]) == j) - e_raw[:, 1:])
                grad = nu.x.T @ coef / n / wbar
                infl += sign * (w * res / wbar + _gamma_correction(nu, grad))
                tau += sign * m
            return float(tau), _se(infl)
        m1 = y[da > 0].mean()
        odds = e_raw[:, k] / e[:, 0]
        w = d0 * odds
        wbar = w.sum() / n
        m0 = (w * y).sum() / w.sum()
        grad = np.zeros((nu.x.shape[1], d.shape[1] - 1))
        grad[:, k - 1] = nu.x.T @ (w * (y - m0)) / n / wbar
        infl = (n / na) * da * (y - m1) - (w * (y - m0) / wbar + _gamma_correction(nu, grad))
        return float(m1 - m0), _se(infl)
    if method == "aipw":
        if estimand == "ATE":
            phi = nu.phi
            v = phi[:, k] - phi[:, 0]
            tau = v[seg].mean()
            infl = (n / ns) * seg * (v - tau)
        else:
            s = nu.att_scores(nu.arms[k]).to_numpy() * seg
            tau = s.sum() / na
            infl = (n / na) * (s - da * tau)
        return float(tau), _se(infl)
    raise ParameterError(f"unknown method {method!r}; choose from {METHODS}")


def ci(est: pd.Series, se: pd.Series, level: float) -> tuple[pd.Series, pd.Series]:
    """Normal (Wald) interval ``est -/+ z se`` at ``level`` (0.95: z = 1.96)."""
    z = stats.norm.ppf(0.5 + level / 2)
    return est - z * se, est + z * se


def finish_table(table: pd.DataFrame, kind: str, level: float) -> pd.DataFrame:
    """Intervals at ``level``, bounded to [-1, 1] for rate outcomes, and no estimate
    where a rate effect's standard error exceeds :data:`MAX_RATE_SE` (see module doc).

    ``table`` needs ``estimate``, ``std_error`` and ``status`` (``ok`` or another code of
    :data:`STATUSES`); returns a copy with ``ci_low``, ``ci_high`` and the updated status.
    """
    out = table.copy()
    est, se = out["estimate"].astype(float), out["std_error"].astype(float)
    lo, hi = ci(est, se, level)
    if kind in RATE_KINDS:
        est, lo, hi = est.clip(-1, 1), lo.clip(-1, 1), hi.clip(-1, 1)
        vague = (out["status"] == "ok") & (se > MAX_RATE_SE)
        out.loc[vague, "status"] = "imprecise"
    hide = out["status"] != "ok"
    out["estimate"] = est.mask(hide)
    out["ci_low"], out["ci_high"] = lo.mask(hide), hi.mask(hide)
    return out

