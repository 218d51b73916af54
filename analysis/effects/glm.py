"""Nuisance models of the relief effects: per-arm outcome GLMs and the propensity.

Method
------
* Outcome models: one GLM per arm (statsmodels), binomial-logit for binary and
  fractional outcomes (quasi-likelihood), Gaussian identity otherwise
  (:func:`fit_arm_model`). On more than ``2 * MAX_HESSIAN_ROWS`` rows the fit starts
  from a subsample fit and finishes with Newton steps on all rows.
* Propensity: a multinomial logit of the arm (reference ``none``; statsmodels
  ``MNLogit`` with a vectorised Hessian, :func:`fit_propensity_penalised`).
  Probabilities come from :func:`mn_probs`, the average Fisher information from
  :func:`mn_information` (estimated on a fixed subset of at most ``MAX_HESSIAN_ROWS``
  rows, :func:`row_sample`).

Small samples: an outcome model with fewer than :data:`EPV_MIN` events per parameter
gets an L2 penalty 0.2 / EPV on its standardised slopes (:func:`small_sample_penalty`),
the propensity a ten times lighter one; a separated or non-converged fit is refitted
with a small penalty. Every penalised or refitted model says so in its note. A model
that even the penalised fit cannot estimate (non-finite data, a singular penalised
system) raises :class:`~analysis.errors.EstimationError`.

Every heavy step runs with BLAS single-threaded (:func:`blas_limit`).
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits

from analysis.errors import FIT_ERRORS, EstimationError
from analysis.models import independent_columns

EPV_MIN = 10  # events per parameter below which models are penalised
RIDGE_SCALE = 0.2  # outcome models: penalty = RIDGE_SCALE / (events per parameter)
PROPENSITY_RIDGE_SCALE = 0.02  # propensity: ten times lighter (shrinking it leaves confounding)
MAX_HESSIAN_ROWS = 50_000


def blas_limit(n_rows: int) -> threadpool_limits:
    """Run BLAS single-threaded: on this shared 2-core machine multithreaded OpenBLAS
    was up to 50 times slower on small and mid-sized matrices (thread contention), and
    the heavy steps here are many modest GEMMs rather than one large one. ``n_rows`` is
    kept for a future size rule. Use as a context manager."""
    return threadpool_limits(limits=1, user_api="blas")


def row_sample(n: int, max_rows: int = MAX_HESSIAN_ROWS, seed: int = 2) -> np.ndarray | slice:
    """All rows, or a fixed random subset of ``max_rows`` (for expectations of p x p
    matrices, which 50,000 rows estimate to about 1 %)."""
    if n <= max_rows:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


# --------------------------------------------------------------------------- outcome models


@dataclass(frozen=True)
class ArmModel:
    """A fitted per-arm GLM on design columns ``cols`` (indices into [1, Z])."""

    arm: str
    cols: np.ndarray
    params: np.ndarray
    link: str  # "logit" or "identity"
    note: str = ""
    penalty: float = 0.0  # L2 penalty per observation on the slopes (0 = plain GLM)

    def predict(self, x: np.ndarray) -> np.ndarray:
        eta = x[:, self.cols] @ self.params
        return 1.0 / (1.0 + np.exp(-eta)) if self.link == "logit" else eta

    def derivative(self, mu: np.ndarray) -> np.ndarray:
        """d mu / d eta (also the IRLS weight for the canonical link)."""
        return mu * (1.0 - mu) if self.link == "logit" else np.ones_like(mu)


def _usable_cols(x: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``x`` an outcome GLM can use: the intercept (column 0)
    and a maximal linearly independent set of the non-constant columns; the intercept
    alone when there are no more rows than candidate columns."""
    sd = x[:, 1:].std(axis=0)
    cols = np.concatenate([[0], 1 + np.flatnonzero(sd > 1e-12)])
    if len(x) <= len(cols):
        return cols[:1]
    return cols[independent_columns(x[row_sample(len(x))][:, cols])]


def small_sample_penalty(n_events: float, n_params: int, scale: float = RIDGE_SCALE) -> float:
    """L2 penalty (per observation, on standardised slopes) for a model with
    ``n_events`` of the rarer outcome (or arm) and ``n_params`` parameters: 0 when there
    are at least :data:`EPV_MIN` events per parameter, else RIDGE_SCALE / EPV (about half
    shrinkage at one event per parameter), so small arms borrow strength from the
    intercept instead of overfitting."""
    epv = n_events / max(n_params, 1)
    return 0.0 if epv >= EPV_MIN else scale / max(epv, 1e-3)


def fit_arm_model(arm: str, x: np.ndarray, y: np.ndarray, kind: str,
                  ridge: float = 1e-3) -> ArmModel:
    """Fit a GLM of ``y`` on ``x`` (statsmodels): binomial-logit for binary and
    fractional outcomes, Gaussian identity otherwise. With fewer than ``EPV_MIN`` events
    per parameter it is fitted with the L2 penalty of :func:`small_sample_penalty`; on
    separation or non-convergence it is refitted with at least ``ridge``. Either is
    said in ``note``."""
    import statsmodels.api as sm  # heavy (about a second): imported on the first fit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    cols = _usable_cols(x)
    xs = x[:, cols]
    family = sm.families.Binomial() if kind in ("binary", "fraction") else sm.families.Gaussian()
    link = "logit" if kind in ("binary", "fraction") else "identity"
    note = ""
    events = min(y.sum(), (1 - y).sum()) if kind in ("binary", "fraction") else len(y)
    alpha = small_sample_penalty(events, xs.shape[1])
    ok = False
    if alpha == 0:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                start = None
                if len(y) > 2 * MAX_HESSIAN_ROWS:
                    # warm start from a subsample, then Newton on all rows (a p x p
                    # Hessian per step, no n x p pseudo-inverse as in IRLS)
                    sub = row_sample(len(y), MAX_HESSIAN_ROWS, seed=3)
                    start = sm.GLM(y[sub], xs[sub], family=family).fit(maxiter=50, wls_method="qr").params
                    res = sm.GLM(y, xs, family=family).fit(method="newton", start_params=start,
                                                          maxiter=20, disp=False)
                    res.converged = bool(res.mle_retvals.get("converged", False))
                else:
                    res = sm.GLM(y, xs, family=family).fit(maxiter=50, wls_method="qr")
                params = np.asarray(res.params)
                ok = np.isfinite(params).all() and bool(res.converged)
            except Exception as exc:  # noqa: BLE001 - statsmodels raises several kinds
                ok, params, note = False, None, f"GLM failed ({type(exc).__name__})"
        trouble = [w for w in caught if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))]
        if link == "logit" and ok and (trouble or np.abs(params).max() > 15):
            ok = False
        if not ok:
            alpha = ridge
            note = (note + "; " if note else "") + (
                f"arm {arm!r}: outcome GLM separated or did not converge, refitted with L2 penalty {ridge}")
    elif len(y) > 0:
        note = (f"arm {arm!r}: {events:.0f} events for {xs.shape[1]} parameters; outcome GLM "
                f"fitted with L2 penalty {alpha:.3g}")
    if not ok:
        pen = np.full(xs.shape[1], alpha)
        pen[0] = 0.0
        try:
            res = sm.GLM(y, xs, family=family).fit_regularized(alpha=pen, L1_wt=0.0)
            params = np.asarray(res.params)
        except (*FIT_ERRORS, ValueError) as exc:
            raise EstimationError(f"arm {arm!r}: outcome GLM could not be fitted even with an "
                                  f"L2 penalty ({type(exc).__name__}: {exc})") from exc
        if not np.all(np.isfinite(params)):
            raise EstimationError(f"arm {arm!r}: outcome GLM gave non-finite estimates even "
                                  "with an L2 penalty")
    return ArmModel(arm, cols, params, link, note, alpha if not ok else 0.0)


# --------------------------------------------------------------------------- propensity


def mn_probs(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Multinomial-logit probabilities (n x K, reference class 0) of design ``x`` under
    coefficients ``gamma`` (p x (K-1)); the max-subtraction keeps exp() finite."""
    eta = np.column_stack([np.zeros(len(x)), x @ gamma])
    eta -= eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    return p / p.sum(axis=1, keepdims=True)


def mn_information(x: np.ndarray, e: np.ndarray, max_rows: int = MAX_HESSIAN_ROWS) -> np.ndarray:
    """Average Fisher information of a multinomial logit (reference class 0), blocks
    (k, m) = mean of e_k (1{k=m} - e_m) x x' for the non-reference classes; estimated
    on at most ``max_rows`` rows (a fixed random subset)."""
    rows = row_sample(len(x), max_rows)
    x, e = x[rows], e[rows]
    n, p = x.shape
    k1 = e.shape[1] - 1
    info = np.empty((k1 * p, k1 * p))
    for k in range(k1):
        for m in range(k, k1):
            w = e[:, k + 1] * ((k == m) - e[:, m + 1])
            blk = (x * w[:, None]).T @ x / n
            info[k * p:(k + 1) * p, m * p:(m + 1) * p] = blk
            info[m * p:(m + 1) * p, k * p:(k + 1) * p] = blk.T
    return info


def _mnlogit_class():
    """statsmodels ``MNLogit`` with a vectorised Hessian (same value, far faster on
    large n than the stock per-pair loop). Above ``MAX_HESSIAN_ROWS`` rows the Hessian
    is estimated on a fixed random subset and computed once (a chord Newton method:
    the gradient stays exact, so the optimum is the exact MLE; on large data the fit
    starts from a subsample fit, where the fixed Hessian is accurate)."""
    from statsmodels.discrete.discrete_model import MNLogit  # heavy: imported on first use

    class FastMNLogit(MNLogit):
        _fixed_hessian = None

        def hessian(self, params):
            n = len(self.exog)
            if self._fixed_hessian is not None:
                return self._fixed_hessian
            gamma = np.asarray(params).reshape(self.exog.shape[1], -1, order="F")
            x = self.exog[row_sample(n)]
            h = -n * mn_information(x, mn_probs(x, gamma), max_rows=len(x))
            if n > MAX_HESSIAN_ROWS:
                self._fixed_hessian = h
            return h

    return FastMNLogit


def fit_propensity(x: np.ndarray, a: np.ndarray, n_arms: int,
                   ridge: float = 1e-3) -> tuple[np.ndarray, str]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``; returns
    (gamma p x (K-1), note). See :func:`fit_propensity_penalised` for the penalty."""
    gamma, note, _ = fit_propensity_penalised(x, a, n_arms, ridge)
    return gamma, note


def fit_propensity_penalised(x: np.ndarray, a: np.ndarray, n_arms: int,
                             ridge: float = 1e-3) -> tuple[np.ndarray, str, float]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``.

    statsmodels ``MNLogit`` (Newton with a vectorised Hessian, started from a fit on a
    subsample when n is large). When the smallest arm has fewer than ``EPV_MIN``
    episodes per parameter, or MNLogit fails or does not converge, a Newton fit with an
    L2 penalty on the slopes (:func:`small_sample_penalty`, at least ``ridge``), noted.
    Returns (gamma, note, penalty per observation).
    """
    MNLogit = _mnlogit_class()
    n, p = x.shape
    note = ""
    start = None
    alpha = small_sample_penalty(np.bincount(a, minlength=n_arms).min(), p, PROPENSITY_RIDGE_SCALE)
    ok = False
    if alpha == 0:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                if n > MAX_HESSIAN_ROWS:  # chord Newton below: start near the optimum
                    sub = row_sample(n, MAX_HESSIAN_ROWS, seed=1)
                    if len(np.unique(a[sub])) == n_arms:
                        r0 = MNLogit(a[sub], x[sub]).fit(method="newton", maxiter=30, disp=False)
                        start = np.asarray(r0.params).ravel(order="F")
                res = MNLogit(a, x).fit(method="newton", maxiter=50, disp=False, start_params=start)
                gamma = np.asarray(res.params).reshape(p, n_arms - 1)
                conv = bool(res.mle_retvals.get("converged", True))
                ok = conv and np.isfinite(gamma).all() and np.abs(gamma).max() < 20
            except Exception as exc:  # noqa: BLE001
                ok, gamma, note = False, None, f"MNLogit failed ({type(exc).__name__})"
        if ok and any("separation" in str(w.message).lower() for w in caught):
            ok = False
        if ok:
            return gamma, note, 0.0
        alpha = ridge
        note = (note + "; " if note else "") + (
            f"propensity MNLogit did not converge cleanly; refitted with L2 penalty {ridge}")
    else:
        note = (f"propensity: smallest arm has {np.bincount(a, minlength=n_arms).min()} episodes "
                f"for {p} parameters per arm; multinomial logit fitted with L2 penalty {alpha:.3g}")
    gamma = np.zeros((p, n_arms - 1))
    d = np.eye(n_arms)[a][:, 1:]
    pen = np.full(p, alpha)
    pen[0] = 0.0
    for _ in range(100):
        e = mn_probs(x, gamma)
        grad = ((d - e[:, 1:]).T @ x / n).T - pen[:, None] * gamma
        info = mn_information(x, e) + np.kron(np.eye(n_arms - 1), np.diag(pen))
        try:
            step = linalg.solve(info, grad.ravel(order="F"), assume_a="pos")
        except (linalg.LinAlgError, ValueError) as exc:  # singular or non-finite
            raise EstimationError(f"propensity: the penalised multinomial logit cannot be "
                                  f"solved ({type(exc).__name__}: {exc})") from exc
        gamma = gamma + step.reshape(p, n_arms - 1, order="F")
        if np.abs(step).max() < 1e-8:
            break
    return gamma, note, alpha


