"""A pooled outcome model for targeting: one fractional logit of the loss rate for all arms.

Why. :func:`analysis.effects.fit_nuisance` fits one GLM per arm. A measure given to a few
hundred episodes has 50-150 loss events for some 37 parameters, so its GLM is fitted with
an L2 penalty that shrinks its slopes toward zero, i.e. its predictions toward the mean
of the (better-scored) episodes that received it. The *difference* between that arm's
prediction and the ``none`` arm's then grows with the episode's risk, and the targeting
rule, which maximises that difference, chases it. The pooled model shrinks each arm's
slopes toward the slopes shared by all arms instead of toward zero:

    logit E[loss | x, arm a] = x'beta + alpha_a + x'delta_a        (alpha_none = delta_none = 0)

with covariates ``x`` the standardised design of the per-arm models (intercept first),
``beta`` and ``alpha`` unpenalised and the arm x covariate interactions ``delta_a``
penalised by ``lambda / 2 x ||delta_a||^2`` per observation (binomial quasi-likelihood,
logit link; fitted by Newton's method, whose Hessian is assembled from per-arm blocks
without forming the pooled design, :class:`ArmDesign`). As the data grow the penalty's weight vanishes and
the model tends to the per-arm GLMs; with little data an arm's effect is that of the
shared slopes plus a shrunk deviation, the usual multi-task ("borrow strength") prior.
``lambda = 0.01`` was chosen between 0.001 and 0.01 on six development books and checked on
four others (``benchmarks/README.md``). Used only to *learn* the rule; the policy values
stay doubly robust with the per-arm models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.errors import EstimationError

DEFAULT_PENALTY = 0.01


def pooled_design(x: np.ndarray, arm: np.ndarray, n_arms: int) -> np.ndarray:
    """[x, arm dummies (arms 1..K-1), arm dummies x x[:, 1:]] for arm codes ``arm``."""
    d = np.eye(n_arms)[arm][:, 1:]
    inter = (d[:, :, None] * x[:, None, 1:]).reshape(len(x), -1)
    return np.column_stack([x, d, inter])


def _penalty_vector(p: int, n_arms: int, penalty: float) -> np.ndarray:
    pen = np.zeros(p + (n_arms - 1) * p)
    pen[p + n_arms - 1:] = penalty
    return pen


class DenseDesign:
    """A design matrix ``z`` as the Newton loop of :func:`fit_pooled_logit` uses it."""

    def __init__(self, z: np.ndarray) -> None:
        self.z = z

    def eta(self, b: np.ndarray) -> np.ndarray:
        """Linear predictor ``z @ b``."""
        return self.z @ b

    def score(self, r: np.ndarray) -> np.ndarray:
        """``z' r``."""
        return self.z.T @ r

    def gram(self, v: np.ndarray) -> np.ndarray:
        """``z' diag(v) z``."""
        return (self.z * v[:, None]).T @ self.z


class ArmDesign:
    """The pooled design ``pooled_design(x, a, k)`` without forming it: ``x`` has its
    intercept first, so on the rows of arm ``j >= 1`` the arm's columns (its dummy and
    its interactions) repeat ``x``. Every product then comes from per-arm blocks
    ``x_j' diag(v_j) x_j`` (p x p), K times cheaper than the (Kp x Kp) Gram matrix of
    ``z``; the numbers equal the dense ones up to the order of summation."""

    def __init__(self, x: np.ndarray, a: np.ndarray, k: int) -> None:
        self.p, self.k, self.n = x.shape[1], k, len(x)
        self.rows = [np.flatnonzero(a == j) for j in range(k)]
        self.xs = [x[r] for r in self.rows]
        base = self.p + k - 1  # interactions start after x and the k - 1 dummies
        self.cols = [np.arange(self.p)] + [np.r_[self.p + j - 1, base + (j - 1) * (self.p - 1)
                                                 + np.arange(self.p - 1)] for j in range(1, k)]

    def eta(self, b: np.ndarray) -> np.ndarray:
        """Linear predictor of every row (arm j: ``x_j @ (beta + (alpha_j, delta_j))``)."""
        out = np.empty(self.n)
        for j in range(self.k):  # K arms
            c = b[:self.p] + (b[self.cols[j]] if j else 0.0)
            out[self.rows[j]] = self.xs[j] @ c
        return out

    def score(self, r: np.ndarray) -> np.ndarray:
        """``z' r`` by arm."""
        out = np.zeros(self.p * self.k)
        for j in range(self.k):
            g = self.xs[j].T @ r[self.rows[j]]
            out[:self.p] += g
            if j:
                out[self.cols[j]] = g
        return out

    def gram(self, v: np.ndarray) -> np.ndarray:
        """``z' diag(v) z`` from the per-arm blocks (block-diagonal across arms)."""
        q = self.p * self.k
        out = np.zeros((q, q))
        top = self.cols[0]
        for j in range(self.k):
            xj = self.xs[j]
            g = (xj * v[self.rows[j], None]).T @ xj
            out[:self.p, :self.p] += g
            if j:
                c = self.cols[j]
                out[np.ix_(top, c)] = g
                out[np.ix_(c, top)] = g
                out[np.ix_(c, c)] = g
        return out


def fit_pooled_logit(z: np.ndarray | DenseDesign | ArmDesign, y: np.ndarray, pen: np.ndarray,
                     max_iter: int = 50, tol: float = 1e-8,
                     start: np.ndarray | None = None) -> np.ndarray:
    """Newton's method for min -loglik/n + 1/2 sum pen_j b_j^2 (binomial quasi-likelihood,
    logit link; ``y`` in [0, 1]). ``z``: the design (an array, or an :class:`ArmDesign`
    for the pooled design without forming it); ``start``: initial coefficients (a warm
    start, e.g. the full-sample fit for a fold; default zeros). A small ridge (1e-8) keeps
    unpenalised columns that are
    constant within the fitted rows (an arm absent from a fold) finite; should a Newton
    system still be numerically singular, the step is the minimum-norm least-squares one
    (the limit of a vanishing extra ridge). Raises
    :class:`~analysis.errors.EstimationError` when the estimates are not finite."""
    d = DenseDesign(z) if isinstance(z, np.ndarray) else z
    n = len(y)
    b = np.zeros(len(pen)) if start is None else np.array(start, float)
    reg = np.diag(pen + 1e-8)
    with threadpool_limits(limits=1, user_api="blas"):  # modest products: threads contend
        for _ in range(max_iter):  # a few Newton steps, each a p x p solve
            mu = 1.0 / (1.0 + np.exp(-np.clip(d.eta(b), -30, 30)))
            grad = d.score(mu - y) / n + reg @ b
            hess = d.gram(mu * (1 - mu)) / n + reg
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            b -= step
            if not np.all(np.isfinite(b)):
                raise EstimationError("pooled loss model: non-finite estimates (check the loss "
                                      "rates and the design for missing or infinite values)")
            if np.abs(step).max() < tol:
                break
    return b


@dataclass(frozen=True, eq=False)
class PooledLossModel:
    """A fitted pooled loss model; ``design``: the per-arm models' design (to encode new
    episodes), ``params``: coefficients of :func:`pooled_design`."""

    arms: tuple[str, ...]
    design: object
    params: np.ndarray

    def predict_x(self, x: np.ndarray) -> np.ndarray:
        """Expected loss rate under every arm (n x K) for design rows ``x``: arm ``j``'s
        linear predictor ``x'beta + alpha_j + x[1:]'delta_j`` from the coefficient blocks
        of :func:`pooled_design`, without forming that n x Kp design per arm."""
        k, p = len(self.arms), x.shape[1]
        beta, alpha = self.params[:p], self.params[p:p + k - 1]
        delta = self.params[p + k - 1:].reshape(k - 1, p - 1)
        eta = np.repeat((x @ beta)[:, None], k, axis=1)
        eta[:, 1:] += alpha + x[:, 1:] @ delta.T
        return 1.0 / (1.0 + np.exp(-np.clip(eta, -30, 30)))

    def predict_outcomes(self, episodes: pd.DataFrame) -> pd.DataFrame:
        """Expected loss rate under every arm (columns = arms) for new episodes."""
        return pd.DataFrame(self.predict_x(self.design.transform(episodes)), columns=list(self.arms),
                            index=episodes.index)


def fit_pooled_loss(arms: tuple[str, ...], design: object, x: np.ndarray, y: np.ndarray,
                    a: np.ndarray, rows: np.ndarray | None = None,
                    penalty: float = DEFAULT_PENALTY, start: np.ndarray | None = None) -> PooledLossModel:
    """Fit the pooled model on ``rows`` (default all) of design ``x``, outcome ``y``, arm
    codes ``a``; ``start``: initial coefficients (warm start). With an intercept first in
    ``x`` the pooled design is never formed (:class:`ArmDesign`)."""
    rows = np.arange(len(y)) if rows is None else rows
    k = len(arms)
    xr, ar = x[rows], a[rows]
    z = ArmDesign(xr, ar, k) if np.all(xr[:, 0] == 1.0) else pooled_design(xr, ar, k)
    b = fit_pooled_logit(z, y[rows], _penalty_vector(x.shape[1], k, penalty), start=start)
    return PooledLossModel(tuple(arms), design, b)


def crossfit_pooled_loss(nuisance, folds: np.ndarray, penalty: float = DEFAULT_PENALTY
                         ) -> tuple[PooledLossModel, np.ndarray, dict[int, np.ndarray]]:
    """The pooled model on the loss nuisance's episodes: (full-sample fit, out-of-fold
    predictions n x K, {fold: predictions on the rows outside the fold from the model
    fitted without it}). The fold fits start from the full-sample coefficients (Newton
    then needs fewer steps to the same optimum)."""
    x, y, a, arms = nuisance.x, nuisance.y, nuisance.a, nuisance.arms
    full = fit_pooled_loss(arms, nuisance.design, x, y, a, penalty=penalty)
    oof = np.empty((len(y), len(arms)))
    without: dict[int, np.ndarray] = {}
    for fo in np.unique(folds):  # a handful of folds
        tr = np.flatnonzero(folds != fo)
        m = fit_pooled_loss(arms, nuisance.design, x, y, a, tr, penalty, start=full.params)
        pred = m.predict_x(x)
        oof[folds == fo] = pred[folds == fo]
        without[int(fo)] = pred[tr]
    return full, oof, without
