"""Nuisance models of the relief effects: per-arm outcome GLMs and the propensity.

Method
------
* Outcome models: one GLM per arm, binomial-logit for binary and fractional outcomes
  (quasi-likelihood), Gaussian identity otherwise (:func:`fit_arm_model`). The logit,
  plain or L2-penalised, is fitted by Newton's method in float64 here
  (:func:`logit_newton`: the maximum of the same objective as statsmodels' ``GLM.fit``
  and ``GLM.fit_regularized(L1_wt=0)``, to a step below :data:`NEWTON_TOL`); the
  Gaussian GLM by statsmodels. On more than ``2 * MAX_HESSIAN_ROWS`` rows the fit starts
  from a subsample fit, so two or three passes over all rows finish it.
* Propensity: a multinomial logit of the arm (reference ``none``), Newton's method with
  the exact gradient on all rows and the average Fisher information
  (:func:`mn_information`) on a fixed subset of at most ``MAX_HESSIAN_ROWS`` rows
  (:func:`row_sample`; a chord method above that size: the optimum is the exact MLE),
  started from a subsample fit on large data (:func:`fit_propensity_penalised`).
  Probabilities come from :func:`mn_probs`.

Small samples: an outcome model with fewer than :data:`EPV_MIN` events per parameter
gets an L2 penalty 0.2 / EPV on its standardised slopes (:func:`small_sample_penalty`),
the propensity a ten times lighter one; a separated or non-converged fit is refitted
with a small penalty. Every penalised or refitted model says so in its note. A model
that even the penalised fit cannot estimate (non-finite data, a singular penalised
system) raises :class:`~analysis.errors.EstimationError`.

Every heavy step runs with BLAS single-threaded (:func:`blas_limit`), on blocks of at
most :data:`CHUNK_ROWS` rows (no n x p temporary beside the design).

Why not statsmodels for the logits: on 1M episodes its IRLS spent most of the time in an
n x p QR and pseudo-inverse per iteration and ``MNLogit`` in a rank check of the whole
design (benchmarks/README.md, relief effects); the estimates agree to 1e-6 or better.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
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
#: Newton stops when the largest coefficient step is below this (statsmodels' Newton
#: stops at 1e-8; a step of 1e-10 leaves the estimates exact to far below 1e-6).
NEWTON_TOL = 1e-10
#: Rows per block of the gradient and Hessian sums (bounds the temporaries at
#: CHUNK_ROWS x p floats, 17 MiB for 65,536 x 33).
CHUNK_ROWS = 65_536
#: A logit coefficient beyond this (on standardised covariates) means separation.
MAX_LOGIT_COEF = 15.0


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


def column_sd(x: np.ndarray) -> np.ndarray:
    """Population standard deviation of each column of ``x``, two passes over blocks of
    :data:`CHUNK_ROWS` rows (``x.std(axis=0)`` up to rounding, without its n x p
    temporary)."""
    n = len(x)
    if n == 0:
        return np.zeros(x.shape[1])
    m = x.mean(axis=0)
    ss = np.zeros(x.shape[1])
    for i in range(0, n, CHUNK_ROWS):
        d = x[i:i + CHUNK_ROWS] - m
        ss += np.einsum("ij,ij->j", d, d)
    return np.sqrt(ss / n)


def _usable_cols(x: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``x`` an outcome GLM can use: the intercept (column 0)
    and a maximal linearly independent set of the non-constant columns; the intercept
    alone when there are no more rows than candidate columns."""
    sd = column_sd(x[:, 1:])
    cols = np.concatenate([[0], 1 + np.flatnonzero(sd > 1e-12)])
    if len(x) <= len(cols):
        return cols[:1]
    return cols[independent_columns(x[row_sample(len(x))][:, cols])]


def columns_of(x: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x[:, cols]``, or ``x`` itself (no copy) when ``cols`` are all its columns in order."""
    if len(cols) == x.shape[1] and np.array_equal(cols, np.arange(x.shape[1])):
        return x
    return x[:, cols]


@dataclass(frozen=True)
class NewtonResult:
    """A Newton fit: coefficients, convergence, iterations, and the largest absolute
    gradient component of the (penalised, per-row) objective at the estimate."""

    params: np.ndarray
    converged: bool
    iterations: int
    max_grad: float


def _logit_parts(x: np.ndarray, y: np.ndarray, beta: np.ndarray, pen: np.ndarray,
                 hessian: bool) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Per-row mean binomial log-likelihood minus ``sum(pen * beta**2) / 2``, its gradient
    and (if ``hessian``) the negative Hessian, summed over blocks of rows."""
    n, p = x.shape
    ll, g = 0.0, np.zeros(p)
    h = np.zeros((p, p)) if hessian else None
    for i in range(0, n, CHUNK_ROWS):
        xc, yc = x[i:i + CHUNK_ROWS], y[i:i + CHUNK_ROWS]
        eta = xc @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        # log(1 + exp(eta)) without overflow; y log mu + (1 - y) log(1 - mu) = y eta - that
        ll += float(yc @ eta - np.logaddexp(0.0, eta).sum())
        g += xc.T @ (yc - mu)
        if hessian:
            h += (xc * (mu * (1.0 - mu))[:, None]).T @ xc
    obj = ll / n - float(pen @ beta**2) / 2
    grad = g / n - pen * beta
    return obj, grad, (h / n + np.diag(pen) if hessian else None)


def _halving_step(objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
                  current: np.ndarray, step: np.ndarray,
                  obj: float) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The Newton step ``step`` from ``current``, halved until the objective (maximised;
    ``obj`` at ``current``) does not fall by more than rounding (or the step is below a
    millionth of the full one): the log-likelihoods here are concave, so a full step
    rarely fails. ``objective(b)`` gives (objective, gradient) at ``b``. Returns (the new
    coefficients, their objective and gradient, the largest absolute change)."""
    t = 1.0
    while True:
        new = current + t * step
        obj_new, grad_new = objective(new)
        if obj_new >= obj - 1e-15 * abs(obj) or t < 1e-6:
            break
        t /= 2
    return new, obj_new, grad_new, float(np.abs(t * step).max())


def logit_newton(x: np.ndarray, y: np.ndarray, pen: np.ndarray | float = 0.0,
                 start: np.ndarray | None = None, max_iter: int = 100,
                 tol: float = NEWTON_TOL) -> NewtonResult:
    """Maximise the per-row mean binomial log-likelihood of ``y`` (0/1 or a fraction) on
    ``x`` with a logit link, minus ``sum(pen * beta**2) / 2`` (``pen`` per coefficient or
    one value; 0 = the plain MLE). This is the objective of statsmodels ``GLM(y, x,
    Binomial()).fit()`` and, with a penalty, of ``fit_regularized(alpha=pen, L1_wt=0)``.

    Newton's method in float64 with step halving when the objective would fall; the
    Hessian is recomputed at every step (an exact Newton method) until the steps shrink
    by at least 100-fold per iteration, then kept (chord steps, gradient still exact).
    Stops when the largest step or the largest gradient component is below ``tol``
    (converged; the gradient rule also ends a quasi-separated fit whose fitted values
    have reached 0 or 1 to about ``tol``, as statsmodels' IRLS stops on the deviance,
    and the caller then judges its coefficients), after ``max_iter`` steps, or when a
    coefficient passes ``3 * MAX_LOGIT_COEF`` (separation: not converged).
    Raises ``LinAlgError`` or ``ValueError`` on a singular or non-finite system.
    """
    n, p = x.shape
    pen = np.broadcast_to(np.asarray(pen, dtype=float), (p,)).copy()
    beta = np.zeros(p) if start is None else np.asarray(start, dtype=float).copy()
    obj, grad, hess = _logit_parts(x, y, beta, pen, True)
    last = np.inf
    for it in range(1, max_iter + 1):
        step = linalg.solve(hess, grad, assume_a="pos")  # raises on singular or non-finite
        beta, obj, grad, size = _halving_step(
            lambda b: _logit_parts(x, y, b, pen, False)[:2], beta, step, obj)
        if size < tol or np.abs(grad).max() < tol:
            return NewtonResult(beta, True, it, float(np.abs(grad).max()))
        if not np.isfinite(beta).all() or np.abs(beta).max() > 3 * MAX_LOGIT_COEF:
            return NewtonResult(beta, False, it, float(np.abs(grad).max()))
        if size > 1e-2 * last or it < 2:  # not yet in the quadratic regime: refresh
            hess = _logit_parts(x, y, beta, pen, True)[2]
        last = size
    return NewtonResult(beta, False, max_iter, float(np.abs(grad).max()))


def small_sample_penalty(n_events: float, n_params: int, scale: float = RIDGE_SCALE) -> float:
    """L2 penalty (per observation, on standardised slopes) for a model with
    ``n_events`` of the rarer outcome (or arm) and ``n_params`` parameters: 0 when there
    are at least :data:`EPV_MIN` events per parameter, else RIDGE_SCALE / EPV (about half
    shrinkage at one event per parameter), so small arms borrow strength from the
    intercept instead of overfitting."""
    epv = n_events / max(n_params, 1)
    return 0.0 if epv >= EPV_MIN else scale / max(epv, 1e-3)


def _gaussian_glm(xs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray | None, bool, str]:
    """Unpenalised Gaussian identity GLM (statsmodels; on large data warm-started from a
    subsample, then Newton on all rows): (params, converged cleanly, note)."""
    import statsmodels.api as sm  # heavy (about a second): imported on the first fit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    family = sm.families.Gaussian()
    note = ""
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            if len(y) > 2 * MAX_HESSIAN_ROWS:
                sub = row_sample(len(y), MAX_HESSIAN_ROWS, seed=3)
                start = sm.GLM(y[sub], xs[sub], family=family).fit(maxiter=50, wls_method="qr").params
                res = sm.GLM(y, xs, family=family).fit(method="newton", start_params=start,
                                                      maxiter=20, disp=False)
                res.converged = bool(res.mle_retvals.get("converged", False))
            else:
                res = sm.GLM(y, xs, family=family).fit(maxiter=50, wls_method="qr")
            params = np.asarray(res.params)
            ok = bool(np.isfinite(params).all() and res.converged)
        except Exception as exc:  # noqa: BLE001 - statsmodels raises several kinds
            ok, params, note = False, None, f"GLM failed ({type(exc).__name__})"
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        ok = False
    return params, ok, note


def logit_mle(xs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, bool, str]:
    """Unpenalised logit MLE (:func:`logit_newton`; on more than ``2 * MAX_HESSIAN_ROWS``
    rows started from a fit on a fixed subsample): (params, converged cleanly, note).
    Not clean: no convergence (separation) or a coefficient beyond :data:`MAX_LOGIT_COEF`.
    Raises ``LinAlgError`` / ``ValueError`` on a singular or non-finite system."""
    start = None
    if len(y) > 2 * MAX_HESSIAN_ROWS:
        sub = row_sample(len(y), MAX_HESSIAN_ROWS, seed=3)
        start = logit_newton(xs[sub], y[sub]).params
    r = logit_newton(xs, y, start=start)
    ok = r.converged and bool(np.isfinite(r.params).all()) and np.abs(r.params).max() <= MAX_LOGIT_COEF
    return r.params, ok, ""


def fit_arm_model(arm: str, x: np.ndarray, y: np.ndarray, kind: str,
                  ridge: float = 1e-3) -> ArmModel:
    """Fit a GLM of ``y`` on ``x``: binomial-logit for binary and fractional outcomes
    (:func:`logit_newton`), Gaussian identity otherwise (statsmodels). With fewer than
    ``EPV_MIN`` events per parameter it is fitted with the L2 penalty of
    :func:`small_sample_penalty`; on separation or non-convergence it is refitted with
    at least ``ridge``. Either is said in ``note``."""
    cols = _usable_cols(x)
    xs = columns_of(x, cols)
    logit = kind in ("binary", "fraction")
    link = "logit" if logit else "identity"
    note = ""
    events = min(y.sum(), (1 - y).sum()) if logit else len(y)
    alpha = small_sample_penalty(events, xs.shape[1])
    ok = False
    if alpha == 0:
        try:
            params, ok, note = (logit_mle if logit else _gaussian_glm)(xs, y)
        except (*FIT_ERRORS, ValueError) as exc:
            params, ok, note = None, False, f"GLM failed ({type(exc).__name__})"
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
            if logit:
                params = logit_newton(xs, y, pen).params
            else:
                import statsmodels.api as sm

                res = sm.GLM(y, xs, family=sm.families.Gaussian()).fit_regularized(alpha=pen, L1_wt=0.0)
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


def _mn_objective(x: np.ndarray, a: np.ndarray, gamma: np.ndarray,
                  pen: np.ndarray) -> tuple[float, np.ndarray]:
    """Per-row mean multinomial log-likelihood minus ``sum(pen * gamma**2) / 2`` (``pen``
    per design column) and its gradient (p x (K-1)), summed over blocks of rows."""
    n, p = x.shape
    ll, g = 0.0, np.zeros_like(gamma)
    for i in range(0, n, CHUNK_ROWS):
        xc, ac = x[i:i + CHUNK_ROWS], a[i:i + CHUNK_ROWS]
        e = mn_probs(xc, gamma)
        ll += float(np.log(e[np.arange(len(ac)), ac]).sum())
        r = -e[:, 1:]
        r[np.arange(len(ac)), ac - 1] += ac > 0  # one-hot of the arm, reference dropped
        g += xc.T @ r
    return ll / n - float((pen[:, None] * gamma**2).sum()) / 2, g / n - pen[:, None] * gamma


def mn_newton(x: np.ndarray, a: np.ndarray, n_arms: int, pen: np.ndarray | float = 0.0,
              start: np.ndarray | None = None, max_iter: int = 100,
              tol: float = NEWTON_TOL) -> NewtonResult:
    """Maximise the per-row mean multinomial-logit log-likelihood of arm codes ``a``
    (reference 0) on ``x`` minus ``sum(pen * gamma**2) / 2`` (``pen`` per design column,
    0 = the MLE of statsmodels ``MNLogit``). Newton's method with the exact gradient and
    the information of :func:`mn_information` (exact and recomputed every step up to
    ``MAX_HESSIAN_ROWS`` rows; above that estimated once, at the start, on a fixed subset
    of that many rows: a chord method, the optimum is still the exact maximum; step
    halving when the objective would fall). Returns
    ``params`` as p x (K-1). Raises ``LinAlgError`` / ``ValueError`` on a singular or
    non-finite system."""
    n, p = x.shape
    k1 = n_arms - 1
    pen = np.broadcast_to(np.asarray(pen, dtype=float), (p,)).copy()
    gamma = np.zeros((p, k1)) if start is None else np.asarray(start, dtype=float).reshape(p, k1).copy()
    xs = x[row_sample(n, MAX_HESSIAN_ROWS)]
    pen_info = np.kron(np.eye(k1), np.diag(pen))
    obj, grad = _mn_objective(x, a, gamma, pen)
    info = None
    for it in range(1, max_iter + 1):
        if info is None or n <= MAX_HESSIAN_ROWS:  # above that a chord method: fixed info
            info = mn_information(xs, mn_probs(xs, gamma), max_rows=len(xs)) + pen_info
        step = linalg.solve(info, grad.ravel(order="F"), assume_a="pos").reshape(p, k1, order="F")
        gamma, obj, grad, size = _halving_step(
            lambda g: _mn_objective(x, a, g, pen), gamma, step, obj)
        if size < tol:
            return NewtonResult(gamma, True, it, float(np.abs(grad).max()))
        if not np.isfinite(gamma).all():
            break
    return NewtonResult(gamma, False, max_iter, float(np.abs(grad).max()))


def mn_mle(x: np.ndarray, a: np.ndarray, n_arms: int) -> NewtonResult:
    """Unpenalised multinomial logit (:func:`mn_newton`); on more than
    ``MAX_HESSIAN_ROWS`` rows started from the fit on a fixed subsample (when every arm
    is in it), so the chord steps on all rows start near the optimum."""
    start = None
    if len(a) > MAX_HESSIAN_ROWS:
        sub = row_sample(len(a), MAX_HESSIAN_ROWS, seed=1)
        if len(np.unique(a[sub])) == n_arms:
            start = mn_newton(x[sub], a[sub], n_arms, max_iter=30).params
    return mn_newton(x, a, n_arms, start=start, max_iter=50)


def fit_propensity(x: np.ndarray, a: np.ndarray, n_arms: int,
                   ridge: float = 1e-3) -> tuple[np.ndarray, str]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``; returns
    (gamma p x (K-1), note). See :func:`fit_propensity_penalised` for the penalty."""
    gamma, note, _ = fit_propensity_penalised(x, a, n_arms, ridge)
    return gamma, note


def fit_propensity_penalised(x: np.ndarray, a: np.ndarray, n_arms: int,
                             ridge: float = 1e-3) -> tuple[np.ndarray, str, float]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``.

    The MLE (:func:`mn_mle`). When the smallest arm has fewer than ``EPV_MIN`` episodes
    per parameter, or the MLE fails, does not converge or has a coefficient of 20 or
    more, a Newton fit with an L2 penalty on the slopes (:func:`small_sample_penalty`,
    at least ``ridge``), noted. Returns (gamma, note, penalty per observation).
    """
    n, p = x.shape
    note = ""
    alpha = small_sample_penalty(np.bincount(a, minlength=n_arms).min(), p, PROPENSITY_RIDGE_SCALE)
    if alpha == 0:
        try:
            r = mn_mle(x, a, n_arms)
            gamma = r.params
            if r.converged and np.isfinite(gamma).all() and np.abs(gamma).max() < 20:
                return gamma, note, 0.0
        except (*FIT_ERRORS, ValueError) as exc:
            note = f"MNLogit failed ({type(exc).__name__})"
        alpha = ridge
        note = (note + "; " if note else "") + (
            f"propensity MNLogit did not converge cleanly; refitted with L2 penalty {ridge}")
    else:
        note = (f"propensity: smallest arm has {np.bincount(a, minlength=n_arms).min()} episodes "
                f"for {p} parameters per arm; multinomial logit fitted with L2 penalty {alpha:.3g}")
    pen = np.full(p, alpha)
    pen[0] = 0.0
    try:
        gamma = mn_newton(x, a, n_arms, pen).params
    except (linalg.LinAlgError, ValueError) as exc:  # singular or non-finite
        raise EstimationError(f"propensity: the penalised multinomial logit cannot be "
                              f"solved ({type(exc).__name__}: {exc})") from exc
    return gamma, note, alpha
