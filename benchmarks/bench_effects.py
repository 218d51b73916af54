"""Benchmark: AIPW effects of every measure on 1M episodes with 30 covariates.

Run: ``.venv/bin/python benchmarks/bench_effects.py [--episodes 1000000] [--methods aipw]``.
Prints wall time per stage and the process's peak resident memory; numbers go into
``benchmarks/README.md`` by hand with the machine description.

The episode frame is simulated here (a synthetic *book* of 1M episodes would need
millions of loans): 24 numeric covariates and 2 categoricals with 5 levels (together
30 covariate columns, 32 design columns with the intercept), five arms with a
multinomial-logit assignment and a logistic cure outcome.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np
import pandas as pd

from analysis.effects import estimate_effects

ARMS = np.array(["none", "deferral", "instalment", "rate_reduction", "counselling"])


def _draw(n: int, seed: int) -> tuple:
    """The simulated covariates, arms, linear outcome index and cures (one seeded stream)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 24)).astype(float)
    cat1 = rng.integers(0, 5, n)
    cat2 = rng.integers(0, 5, n)
    beta = rng.normal(0, 0.3, (24, 4))
    eta = np.column_stack([np.zeros(n), x @ beta + np.array([-1.0, -1.5, -2.0, -1.5]) + 0.2 * (cat1[:, None] == 1)])
    p = np.exp(eta - eta.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    a = (p.cumsum(1) > rng.random(n)[:, None]).argmax(1)
    lin = 0.1 + x[:, :6] @ np.array([0.5, -0.4, 0.3, 0.2, -0.2, 0.1]) + 0.2 * (cat2 == 3)
    cured = rng.random(n) < 1 / (1 + np.exp(-(lin + LIFT[a])))
    return x, cat1, cat2, a, lin, cured


#: Logit-scale lift of cure under each arm of :data:`ARMS` (the simulation's truth).
LIFT = np.array([0.0, 0.4, 0.3, 0.1, 0.2])


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    """The episode frame: 24 normal covariates ``x00..x23``, ``industry`` and ``region``
    (5 levels each), ``measure`` (multinomial-logit assignment) and ``is_cured``."""
    x, cat1, cat2, a, _, cured = _draw(n, seed)
    df = pd.DataFrame(x, columns=[f"x{j:02d}" for j in range(24)])
    df["industry"] = np.array(list("abcde"))[cat1]
    df["region"] = np.array(list("vwxyz"))[cat2]
    df["measure"] = ARMS[a]
    df["is_cured"] = pd.array(cured, dtype="boolean")
    return df


def true_effects(n: int, seed: int = 0) -> pd.DataFrame:
    """Sample ATE and ATT of cure of every measure vs none on the frame of
    :func:`simulate` (same ``n`` and ``seed``): the mean over its episodes (or its treated
    ones) of P(cure | arm) - P(cure | none) under the simulation's model."""
    _, _, _, a, lin, _ = _draw(n, seed)
    p0 = 1 / (1 + np.exp(-lin))
    rows = []
    for k, m in enumerate(ARMS[1:], start=1):
        d = 1 / (1 + np.exp(-(lin + LIFT[k]))) - p0
        rows += [(m, "ATE", d.mean()), (m, "ATT", d[a == k].mean())]
    return pd.DataFrame(rows, columns=["measure", "estimand", "truth"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1_000_000)
    ap.add_argument("--methods", default="aipw", help="comma-separated methods")
    ap.add_argument("--crossfit", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df = simulate(args.episodes)
    t1 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = estimate_effects(df, "cure", covariates=[c for c in df.columns if c not in ("measure", "is_cured")],
                         methods=args.methods.split(","), crossfit_folds=args.crossfit, followup=None)
    t2 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    rss1 = ru1.ru_maxrss / 1024
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, python {platform.python_version()}")
    print(f"episodes: {args.episodes:,}; covariate columns: 30; design columns: {r.nuisance.x.shape[1]}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    print(f"simulate: {t1 - t0:.1f} s; estimate_effects(methods={args.methods}, crossfit={args.crossfit}): "
          f"wall {t2 - t1:.1f} s, CPU {cpu:.1f} s")
    print(f"peak RSS: {rss1:.0f} MiB (after simulating the frame: {rss0:.0f} MiB; frame {df.memory_usage(deep=True).sum() / 2**20:.0f} MiB)")
    print(r.table.query("segment_type == 'all'")[["measure", "estimand", "method", "estimate", "std_error"]].to_string(index=False))
    print("warnings:", r.warnings)


if __name__ == "__main__":
    main()
