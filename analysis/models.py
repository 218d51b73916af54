"""Numerical helpers shared by the analyses' model fits (causes, effects, targeting).

Two ways of choosing the columns of a design matrix that keep it of full column rank,
because the two callers need different things:

* :func:`independent_columns` (relief effects): a maximal independent set chosen by
  pivoted Cholesky, numerically robust for wide designs of dummies; the intercept stays.
* :func:`independent_columns_ordered` (cause hazards): greedy from left to right, so the
  order of the columns states which to keep when two are collinear (signals before
  controls). :func:`independent_gram_ordered` is the same choice on any positive
  semi-definite matrix (the Cox model gives it its information matrix, so that a
  covariate constant within every risk set goes too).

And one fallback for a fit whose information matrix is singular:
:func:`penalised_newton` maximises a log-likelihood minus a small L2 (ridge) penalty by
Newton's method with step halving, on a Cholesky factor (scipy), and returns the
inverse penalised information as covariance (what R's ``coxph`` reports for a ridge
term). The penalty makes the problem strictly concave, so it has one finite optimum
whatever the design; the estimates are shrunk toward zero, by little where the data are
informative.

:func:`random_rows` is the one way a fit on a big book takes a seeded equal-probability
subset of its rows (capped nuisance training, the Cox fit, the diagnostics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from analysis.errors import EstimationError


def independent_columns(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Sorted indices of a maximal set of linearly independent columns of ``x``, always
    including column 0 (the intercept): pivoted Cholesky (LAPACK ``dpstrf``) of the
    correlation-scaled Gram matrix, keeping pivots above ``tol``."""
    g = x.T @ x
    dg = np.sqrt(np.maximum(np.diag(g), 1e-300))
    g = g / np.outer(dg, dg)
    _, piv, rank, _ = lapack.dpstrf(g, lower=1, tol=tol)
    good = np.sort(piv[:rank] - 1)
    return good if 0 in good else np.sort(np.concatenate([[0], good[:-1]]))


def independent_columns_ordered(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Mask of columns to keep so that [1, x] has full column rank (greedy, left to right).

    Works on the centred Gram matrix (k x k), so it costs one pass over the rows. Earlier
    columns win: a column collinear with those before it is dropped.
    """
    if x.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    xc = x - x.mean(axis=0)
    return independent_gram_ordered(xc.T @ xc, tol)


def independent_gram_ordered(gram: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Mask of the rows/columns of a positive semi-definite ``gram`` (k x k) to keep so that
    the kept block is non-singular: greedy from left to right, a column whose residual
    variance given the kept earlier ones is at most ``tol`` times its own is dropped (so is
    one with no variance at all)."""
    k = gram.shape[0]
    keep = np.zeros(k, dtype=bool)
    for j in range(k):  # loop over a few dozen columns, not rows
        s = np.flatnonzero(keep)
        resid = gram[j, j]
        if len(s):
            g = gram[np.ix_(s, [j])]
            resid -= float((g.T @ np.linalg.solve(gram[np.ix_(s, s)], g))[0, 0])
        keep[j] = resid > tol * max(gram[j, j], 1e-300) and gram[j, j] > 0
    return keep


@dataclass(frozen=True)
class PenalisedFit:
    """Result of :func:`penalised_newton`: ``params``, ``cov`` (inverse penalised
    information), ``converged`` and the ``penalty`` vector used."""

    params: np.ndarray
    cov: np.ndarray
    converged: bool
    penalty: np.ndarray


def penalised_newton(loglike: Callable[[np.ndarray], float],
                     score: Callable[[np.ndarray], np.ndarray],
                     hessian: Callable[[np.ndarray], np.ndarray],
                     start: np.ndarray, penalty: np.ndarray | float,
                     max_iter: int = 100, tol: float = 1e-8, what: str = "model") -> PenalisedFit:
    """Maximise ``loglike(b) - 1/2 sum penalty_j b_j^2`` (a concave log-likelihood: logit,
    Cox partial likelihood) by Newton's method with step halving.

    ``score`` and ``hessian`` are the log-likelihood's gradient and Hessian (as statsmodels
    models give them); ``penalty`` is per coefficient (0 leaves one free, e.g. an
    intercept) on the same scale as ``loglike`` (a sum over observations). Steps are
    solved on a Cholesky factor of the penalised information (scipy). Raises
    :class:`~analysis.errors.EstimationError` (naming ``what``) when the penalised
    information is not positive definite or the estimates are not finite.
    """
    b = np.asarray(start, dtype=float).copy()
    pen = np.broadcast_to(np.asarray(penalty, dtype=float), b.shape)

    def objective(v: np.ndarray) -> float:
        return float(loglike(v)) - 0.5 * float(np.sum(pen * v ** 2))

    def information(v: np.ndarray) -> tuple:
        info = -np.asarray(hessian(v), dtype=float) + np.diag(pen)
        if not np.all(np.isfinite(info)):
            raise EstimationError(f"{what}: the penalised information is not finite")
        try:
            return linalg.cho_factor((info + info.T) / 2)
        except linalg.LinAlgError as exc:
            raise EstimationError(f"{what}: the penalised information is not positive "
                                  f"definite ({exc})") from exc

    f0 = objective(b)
    converged = False
    for _ in range(max_iter):  # Newton iterations; each a k x k Cholesky
        grad = np.asarray(score(b), dtype=float) - pen * b
        step = linalg.cho_solve(information(b), grad)
        t = 1.0
        for _ in range(30):  # step halving keeps the objective rising
            f1 = objective(b + t * step)
            if np.isfinite(f1) and f1 >= f0 - 1e-12 * (1 + abs(f0)):
                break
            t /= 2
        b, f0 = b + t * step, f1
        if np.abs(t * step).max() < tol:
            converged = True
            break
    if not (np.all(np.isfinite(b)) and np.isfinite(f0)):
        raise EstimationError(f"{what}: the penalised fit gave non-finite estimates")
    cov = linalg.cho_solve(information(b), np.eye(len(b)))
    return PenalisedFit(b, (cov + cov.T) / 2, converged, np.array(pen))


def random_rows(n: int, cap: int | None, seed: int | np.random.SeedSequence) -> np.ndarray | None:
    """Sorted positions of a seeded equal-probability subset of ``cap`` of ``n`` rows
    (without replacement), or None when ``cap`` is None or ``n <= cap`` (use every row)."""
    if cap is None or n <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


__all__ = ["PenalisedFit", "random_rows", "independent_columns", "independent_columns_ordered",
           "independent_gram_ordered", "penalised_newton"]
