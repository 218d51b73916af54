"""The overlap population of an ATE when propensities are extreme (Crump et al. 2009).

Method
------
The ATE of measure ``a`` against ``none`` averages over every analysed episode, so it
needs each episode to have a fair chance of both arms. When a large share of episodes
has an extreme propensity (``min(e_a, e_none) < clip`` for more than
:data:`OVERLAP_EXTREME_SHARE` of the segment), the full-population ATE is an
extrapolation: the outcome model alone fills in the counterfactuals of those episodes
and the influence function, computed with clipped weights, does not know it. The
estimators then report the ATE on the **overlap population** instead (estimand
``ATE_overlap``, with its share of the segment in ``population_share``).

The overlap population is Crump, Hotz, Imbens and Mitnik's (2009) optimal subpopulation,
generalised to a pairwise contrast of a multi-valued treatment. With
``gamma(x) = 1 / e_a(x) + 1 / e_none(x)`` (the factor of the semiparametric variance
bound of the contrast), the variance of the effect on a set A is proportional to
``E[gamma 1_A] / P(A)^2``; among the sets ``{gamma <= t}`` we keep the one that
minimises its sample analogue (an exact search over the sorted values). Where the
distribution is smooth, the minimiser solves Crump et al.'s ``t = 2 E[gamma | gamma <=
t]``; for a binary treatment it is their rule ``alpha <= e(x) <= 1 - alpha`` (alpha
about 0.1 in practice). When few episodes are extreme it keeps everyone.

Known drawbacks: the overlap population is defined by the estimated propensities, so
it is itself estimated (its sampling variation is ignored, as in Crump et al.); the
estimand is no longer the ATE of the whole book, which the label and the share say.
"""

from __future__ import annotations

import numpy as np

#: Above this share of a segment's episodes with ``min(e_a, e_none) < clip``, the ATE
#: is reported on the overlap population (the same 5 % at which the overlap
#: diagnostics warn that the ATE extrapolates).
OVERLAP_EXTREME_SHARE = 0.05


def extreme_share(e_a: np.ndarray, e_0: np.ndarray, clip: float) -> float:
    """Share of episodes whose propensity of either arm is below ``clip`` (fraction)."""
    if not len(e_a):
        return 0.0
    return float(np.mean(np.minimum(e_a, e_0) < clip))


def crump_set(e_a: np.ndarray, e_0: np.ndarray) -> np.ndarray:
    """Boolean mask of the Crump et al. (2009) optimal overlap population of the contrast
    ``a`` vs ``none`` given the (unclipped) propensities of both arms: the set
    ``{gamma <= t}`` minimising ``sum(gamma in set) / size^2`` (see module doc)."""
    g = 1.0 / np.maximum(e_a, 1e-12) + 1.0 / np.maximum(e_0, 1e-12)
    if not len(g):
        return np.zeros(0, bool)
    s = np.sort(g)
    size = np.arange(1, len(s) + 1)
    last = np.flatnonzero(s[1:] > s[:-1])  # cut only between distinct values
    cuts = np.r_[last, len(s) - 1]
    j = cuts[np.argmin(np.cumsum(s)[cuts] / size[cuts] ** 2)]
    return g <= s[j]
