"""Numerical helpers shared by the analyses' model fits (causes, effects, targeting).

Two ways of choosing the columns of a design matrix that keep it of full column rank,
because the two callers need different things:

* :func:`independent_columns` (relief effects): a maximal independent set chosen by
  pivoted Cholesky, numerically robust for wide designs of dummies; the intercept stays.
* :func:`independent_columns_ordered` (cause hazards): greedy from left to right, so the
  order of the columns states which to keep when two are collinear (signals before
  controls).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


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
    k = x.shape[1]
    keep = np.zeros(k, dtype=bool)
    if k == 0:
        return keep
    xc = x - x.mean(axis=0)
    gram = xc.T @ xc
    for j in range(k):  # loop over a few dozen columns, not rows
        s = np.flatnonzero(keep)
        resid = gram[j, j]
        if len(s):
            g = gram[np.ix_(s, [j])]
            resid -= float((g.T @ np.linalg.solve(gram[np.ix_(s, s)], g))[0, 0])
        keep[j] = resid > tol * max(gram[j, j], 1e-300) and gram[j, j] > 0
    return keep


__all__ = ["independent_columns", "independent_columns_ordered"]
