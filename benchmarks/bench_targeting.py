"""Time the exhaustive depth-2 policy-tree search (analysis.targeting_rules) on large n.

Usage: python benchmarks/bench_targeting.py [n_episodes ...]
Features: cause (3 levels), borrower type (3 levels), two numeric columns (9 thresholds
each): 24 candidate splits; 5 arms. Prints seconds and peak RSS per n.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from analysis.targeting_rules import fit_policy_tree


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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"n={n:>9,}  search {dt:6.2f} s  peak RSS {peak:,.0f} MB  leaves {len(tree.leaves())}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
