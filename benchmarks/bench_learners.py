"""Benchmark: cross-fitted AIPW of every measure with the GLM and the boosting learners.

Run: ``.venv/bin/python benchmarks/bench_learners.py --episodes 1000000 --learner boosting``
(one learner per process, so each peak memory is its own). The episode frame is the one
of ``bench_effects.py`` (24 numeric covariates and 2 five-level categoricals: 30
covariate columns; five arms; logistic cure outcome). Times
``estimate_effects(..., methods=["aipw"], crossfit_folds=K, learner=...)`` for all
measures vs none (ATE and ATT) and prints wall time, CPU time (user + system), peak
resident memory (``ru_maxrss``), the machine and its load, and each ATE and ATT against
the simulation's truth (``z`` = (estimate - truth) / SE; ``ATE_overlap`` rows have no
truth column: their population is the estimator's own trimmed set); numbers go into
``benchmarks/README.md`` by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

from bench_effects import simulate, true_effects  # benchmarks/ is the script's directory

from analysis.effects import estimate_effects


def main() -> None:
    """Parse the arguments, simulate the frame, time one learner, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--learner", default="boosting", choices=["glm", "boosting", "boosting_pooled", "auto"])
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df = simulate(args.episodes)
    t1 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rss0 = ru0.ru_maxrss / 1024
    load0 = os.getloadavg()[0]
    covs = [c for c in df.columns if c not in ("measure", "is_cured")]
    r = estimate_effects(df, "cure", covariates=covs, methods=["aipw"], crossfit_folds=args.folds,
                         followup=None, learner=args.learner)
    t2 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()}, python {platform.python_version()}")
    print(f"episodes: {args.episodes:,}; covariate columns: {len(covs)}; learner: {r.learner}; "
          f"folds: {args.folds}")
    print(f"load average (1 min): {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"simulate: {t1 - t0:.1f} s; cross-fitted AIPW: wall {t2 - t1:.1f} s, CPU {cpu:.1f} s")
    print(f"peak RSS: {ru1.ru_maxrss / 1024:.0f} MiB (after simulating the frame: {rss0:.0f} MiB)")
    tab = r.table[["measure", "estimand", "estimate", "std_error", "status"]].merge(
        true_effects(args.episodes), on=["measure", "estimand"], how="left")
    tab["z"] = (tab["estimate"] - tab["truth"]) / tab["std_error"]
    print(tab.to_string(index=False))
    if r.reliability is not None:
        g = r.reliability.assign(w=r.reliability["gap"].abs() * r.reliability["n"]).groupby("arm")
        print("propensity calibration error (weighted mean |gap|):",
              (g["w"].sum() / g["n"].sum()).round(4).to_dict())
    print("warnings:", r.warnings)


if __name__ == "__main__":
    main()
