"""Time the exhaustive depth-2 policy-tree search (analysis.targeting.rules) and one fit of
the pooled loss model (analysis.targeting.pooled) on large n.

Usage: python benchmarks/bench_targeting.py [n_episodes ...]
Tree: cause (3 levels), borrower type (3 levels), two numeric columns (9 thresholds
each): 24 candidate splits; 5 arms. Pooled model: 37 standardised covariates (intercept
included), 5 arms (189 coefficients), a loss rate that is 0 for 75 % of episodes.
Prints seconds and peak RSS per n (targeting fits the pooled model 6 times: full sample
and one per fold).
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from analysis.targeting import fit_policy_tree, fit_pooled_loss


def main(sizes: list[int]) -> None:
    arms = ("none", "deferral", "instalment", "rate_reduction", "counselling")
    for n in sizes:
        rng = np.random.default_rng(0)
        f = pd.DataFrame({"cause": rng.choice(["economic", "management", "personal"], n),
                          "borrower_type": rng.choice(["individual", "micro", "sole"], n),
                          "ead": rng.lognormal(10, 1, n), "credit_score": rng.normal(650, 80, n)})
        s = rng.normal(size=(n, 5))
        s[:, 0] = 0
        treated = rng.integers(0, 5, n)
        t = time.perf_counter()
        tree = fit_policy_tree(f, s, arms, ["cause", "borrower_type"], ["ead", "credit_score"],
                               treated=treated, min_leaf=n // 20, min_arm=10)
        dt = time.perf_counter() - t
        x = np.column_stack([np.ones(n), rng.normal(size=(n, 36))])
        y = np.where(rng.uniform(size=n) < 0.25, rng.uniform(0.6, 1.0, n), 0.0)
        t = time.perf_counter()
        fit_pooled_loss(arms, None, x, y, treated)
        dt_pool = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"n={n:>9,}  search {dt:6.2f} s  pooled fit {dt_pool:6.2f} s  peak RSS {peak:,.0f} MB  "
              f"leaves {len(tree.leaves())}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
