"""Paired differences between policies evaluated on the same episodes.

Method
------
Every policy of :func:`analysis.targeting.policies.compare_policies` is valued by the mean
of per-episode doubly robust net-benefit scores (CNY per episode) over the *same*
episodes. The difference of two policies' values is therefore the mean of the per-episode
differences ``d_i = s_i(A) - s_i(B)``, and its standard error is the paired one,

    se_paired = sd(d) / sqrt(n) = sqrt((var_A + var_B - 2 cov_AB) / n),

not the unpaired ``sqrt((var_A + var_B) / n)`` that two separate intervals suggest. The
scores of two policies share every episode's outcome residual wherever the policies
assign the same measure (there ``d_i = 0`` exactly), so ``cov_AB`` is large and the paired
interval much narrower. Two policies the data *cannot separate* are those whose paired
interval contains zero: the table says so (``is_separable`` False) rather than letting
the reader compare point estimates whose intervals overlap.

Assumptions: those of the scores (:mod:`analysis.targeting.policies`); the normal
approximation for the mean of ``n`` per-episode differences. Known drawbacks: the learned
rule's variability across folds is not in the interval (as for its value), and with
several policies compared at once the intervals are not adjusted for multiplicity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.checks import require
from analysis.errors import InputError, ParameterError

DIFFERENCE_COLUMNS: tuple[str, ...] = (
    "policy", "vs", "difference_cny", "ci_low", "ci_high", "std_error_cny",
    "unpaired_ci_low", "unpaired_ci_high", "is_separable", "n_episodes",
)


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95
                      ) -> tuple[float, float, float, float]:
    """Mean of ``a - b`` over the same episodes, its paired standard error and interval.

    ``a``, ``b``: per-episode scores of two policies on the same episodes, in the same
    order (CNY per episode). Returns ``(difference, std_error, ci_low, ci_high)`` in CNY
    per episode at ``level`` (normal approximation). Raises :class:`InputError` for fewer
    than two episodes or arrays of different length.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    require(a.shape == b.shape and a.ndim == 1,
            f"paired scores must be two 1-d arrays of one length, got {a.shape} and {b.shape}",
            InputError)
    require(len(a) >= 2, f"a paired difference needs at least 2 episodes, got {len(a)}",
            InputError)
    require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
    d = a - b
    est = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(len(d)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return est, se, est - z * se, est + z * se


def unpaired_std_error(a: np.ndarray, b: np.ndarray) -> float:
    """The standard error of ``mean(a) - mean(b)`` were the two score sets independent
    (``sqrt(var_a / n_a + var_b / n_b)``, CNY per episode): what comparing two policies'
    separate intervals implicitly assumes."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))


def policy_differences(scores: pd.DataFrame, vs: str = "learned",
                       level: float = 0.95) -> pd.DataFrame:
    """Each policy's value minus policy ``vs``'s, with paired and unpaired intervals.

    ``scores``: per-episode net-benefit scores, one column per policy, one row per episode
    (``PolicyResult.scores``; CNY per episode). Returns :data:`DIFFERENCE_COLUMNS`, one row
    per policy (``vs`` itself included: difference 0, not separable): ``difference_cny`` (positive: the policy is worth more than ``vs``),
    its paired interval ``ci_low``/``ci_high`` and ``std_error_cny``, the unpaired
    interval for comparison, ``is_separable`` (the paired interval excludes 0: the data
    tell the two apart at ``level``) and ``n_episodes``.
    """
    require(vs in scores.columns, f"unknown policy {vs!r}; have {list(scores.columns)}",
            ParameterError)
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    base = scores[vs].to_numpy(float)
    for name in scores.columns:  # a handful of policies
        s = scores[name].to_numpy(float)
        est, se, lo, hi = paired_difference(s, base, level)
        se_u = unpaired_std_error(s, base)
        rows.append({"policy": name, "vs": vs, "difference_cny": est, "ci_low": lo,
                     "ci_high": hi, "std_error_cny": se, "unpaired_ci_low": est - z * se_u,
                     "unpaired_ci_high": est + z * se_u,
                     "is_separable": bool(lo > 0 or hi < 0), "n_episodes": len(s)})
    return pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))


__all__ = ["DIFFERENCE_COLUMNS", "paired_difference", "policy_differences",
           "unpaired_std_error"]
