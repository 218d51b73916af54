"""Newton fits of the binary and multinomial logits of the cause attribution, on rows or cells.

Part of :mod:`analysis.causes.attribution` (read its docstring first). The onset logit
(:mod:`analysis.causes.model`) and the label model (:mod:`analysis.causes.labels`) are fitted
here with closed-form scores and Hessians (the formulas of ``statsmodels``' ``Logit`` and
``MNLogit``), so that their cost is a few matrix products per Newton step.

Method
------
*Cells.* Both likelihoods depend on the data only through, for each distinct design row
``x``, the number of rows ``m`` and the counts of each outcome: a binomial logit on
``(x, successes s, trials m)`` has the log-likelihood ``sum s eta - m log(1 + e^eta)``,
exactly the sum over the ``m`` rows it replaces, so its maximiser, score and Hessian (and
hence the standard errors) are the row-level ones (the same holds class by class for the
multinomial logit). :func:`collapse_rows` finds the distinct rows (hashing each row, then
checking that every row equals its cell's row exactly) and :func:`logit_fit` /
:func:`mnlogit_fit` take the counts. With continuous covariates (most real signals) the
cells are the rows and nothing is gained; with flags and categorical attributes the fit
costs the number of cells, not of rows.

*Newton.* Start at zero (logit; statsmodels' start) or at given values (multinomial),
iterate ``theta - H^-1 g`` until the largest step is below ``tol`` (the last step is then
``tol`` and the error after it of order ``tol^2``). The covariance is the inverse of the
(penalised) information at the estimate.

Known drawbacks: no step-halving; a singular information raises
:class:`numpy.linalg.LinAlgError` and separation drifts to large coefficients, as with
``statsmodels``; callers handle both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Cells:
    """Distinct design rows: ``x`` ``(c, k)``, ``counts`` ``(c, J)`` of each outcome class
    (``J`` classes, codes ``0..J-1``), and ``inverse`` ``(n,)``, each input row's cell."""

    x: np.ndarray
    counts: np.ndarray
    inverse: np.ndarray

    @property
    def trials(self) -> np.ndarray:
        """Rows per cell ``(c,)``."""
        return self.counts.sum(axis=1)


def collapse_rows(x: np.ndarray, y: np.ndarray, n_classes: int = 2, *,
                  probe: int = 2000) -> Cells:
    """Group the rows of ``x`` ``(n, k)`` into distinct cells with outcome counts.

    ``y``: class codes ``0..n_classes-1`` per row (for a binary logit: 0/1). Rows are
    hashed (``pandas.util.hash_array`` per column, combined) and the grouping is verified
    exactly; on a hash collision every row is its own cell. When ``probe`` evenly spaced
    rows are more than half distinct (continuous covariates), grouping cannot pay and
    every row is its own cell without hashing (the fit is then the row-level one, to the
    last bit).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y).astype(np.int64)
    n = len(x)
    few = x[:: max(1, n // probe)]
    if n > probe and 2 * len(np.unique(few, axis=0)) > len(few):
        return Cells(x, np.eye(n_classes)[y], np.arange(n))
    h = np.zeros(n, dtype=np.uint64)
    for j in range(x.shape[1]):  # a loop over the design's few columns
        h = h * np.uint64(1_000_003) ^ pd.util.hash_array(x[:, j])
    inverse = pd.factorize(h)[0]
    # codes are numbered in order of first appearance: a cell's first row raises the maximum
    first = np.flatnonzero(np.r_[True, inverse[1:] > np.maximum.accumulate(inverse)[:-1]])
    cx = x[first]
    if not np.array_equal(cx[inverse], x, equal_nan=True):  # a collision: no grouping
        inverse, cx = np.arange(n), x
    counts = np.bincount(inverse * n_classes + y, minlength=len(cx) * n_classes)
    return Cells(cx, counts.reshape(len(cx), n_classes).astype(float), inverse)


@dataclass(frozen=True)
class NewtonFit:
    """Estimate ``params``, covariance ``cov`` (inverse information), Newton ``n_iter`` and
    whether the largest step fell below the tolerance (``converged``)."""

    params: np.ndarray
    cov: np.ndarray
    n_iter: int
    converged: bool


def logit_fit(x: np.ndarray, successes: np.ndarray, trials: np.ndarray | None = None, *,
              tol: float = 1e-10, max_iter: int = 100) -> NewtonFit:
    """Maximum-likelihood binary logit of ``successes`` out of ``trials`` on ``x`` (with
    its constant column, if any); ``trials`` None: one trial per row (``successes`` 0/1).

    Score ``x' (s - m p)``, information ``x' diag(m p (1 - p)) x``: the same estimate and
    covariance as ``statsmodels.Logit`` on the expanded rows.
    """
    s = np.asarray(successes, dtype=float)
    m = np.ones_like(s) if trials is None else np.asarray(trials, dtype=float)

    def score_info(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        return x.T @ (s - m * p), _gram(x, m * p * (1.0 - p))

    return _newton(score_info, np.zeros(x.shape[1]), tol, max_iter)


def _newton(score_info, start: np.ndarray, tol: float, max_iter: int) -> NewtonFit:
    """Newton-Raphson from ``start``: ``score_info(theta)`` returns (score, information);
    stops when the largest step is below ``tol``; covariance at the estimate."""
    theta = np.asarray(start, dtype=float).copy()
    converged = False
    n_iter = 0
    while n_iter < max_iter and not converged:  # Newton iterations (a handful)
        n_iter += 1
        step = np.linalg.solve(*reversed(score_info(theta)))
        theta = theta + step
        converged = bool(np.max(np.abs(step)) < tol)
    cov = np.linalg.inv(score_info(theta)[1])
    return NewtonFit(theta, (cov + cov.T) / 2, n_iter, converged)


def _gram(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x' diag(w) x``."""
    return (x * w[:, None]).T @ x


def mnlogit_information(x: np.ndarray, prob: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Information of a multinomial logit (base class 0) at class probabilities ``prob``
    ``(n, J)``: blocks ``x' diag(m p_j (1[j=l] - p_l)) x`` for ``j, l = 1..J-1``, in the
    order of ``params.ravel(order="F")`` (class by class), as ``statsmodels.MNLogit``."""
    k, j_free = x.shape[1], prob.shape[1] - 1
    out = np.empty((k * j_free, k * j_free))
    for a in range(j_free):  # (J-1)^2 blocks; J is 3 families at most
        for b in range(j_free):
            w = trials * prob[:, a + 1] * (float(a == b) - prob[:, b + 1])
            out[a * k:(a + 1) * k, b * k:(b + 1) * k] = _gram(x, w)
    return out


def mnlogit_probabilities(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Class probabilities ``(n, J)`` of a multinomial logit, ``params`` ``(k, J-1)``."""
    eta = np.column_stack([np.zeros(len(x)), x @ params])
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def mnlogit_fit(x: np.ndarray, counts: np.ndarray, start: np.ndarray, penalty: np.ndarray, *,
                tol: float = 1e-8, max_iter: int = 100) -> NewtonFit:
    """Penalised multinomial logit (base class 0) of the class ``counts`` ``(n, J)`` of
    each row of ``x`` ``(n, k)`` (one-hot rows for row-level data).

    Maximises the log-likelihood minus ``penalty @ theta**2 / 2`` (``penalty`` and
    ``start`` flat in ``params.ravel(order="F")`` order) by Newton from ``start``; the
    covariance is the inverse penalised information. Raises ``LinAlgError`` when singular.
    """
    k, j_free = x.shape[1], counts.shape[1] - 1
    m = counts.sum(axis=1)

    def score_info(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob = mnlogit_probabilities(x, theta.reshape((k, j_free), order="F"))
        g = (x.T @ (counts[:, 1:] - m[:, None] * prob[:, 1:])).ravel(order="F")
        return g - penalty * theta, mnlogit_information(x, prob, m) + np.diag(penalty)

    return _newton(score_info, start, tol, max_iter)


__all__ = ["Cells", "NewtonFit", "collapse_rows", "logit_fit", "mnlogit_fit",
           "mnlogit_information", "mnlogit_probabilities"]
