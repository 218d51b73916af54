"""Benchmark: CPU of the analyses of report pages 03, 04 and 05 on the demo book (issue #17).

Run::

    .venv/bin/python -m analysis synth --loans 20000 --seed 1 --out /tmp/sp/demo
    .venv/bin/python benchmarks/bench_demo_analyses.py /tmp/sp/demo --as-of 2024-12 \
        --save /tmp/sp/after.pkl [--compare /tmp/sp/before.pkl]

Calls the analysis functions the way the notebooks do (same arguments, same order, so
the memoised nuisances are reused as in a report run) and prints the CPU seconds
(user + sys of this process) of each step. ``--save`` keeps every published table;
``--compare`` checks them against a saved run (largest absolute difference per table),
the "identical before and after" check of issue #17. The context (book, episodes,
attribution) is built before the clock starts: it is the report layer's shared work.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from contextlib import nullcontext

import numpy as np
import pandas as pd

from analysis.effects import (
    OUTCOMES,
    PRIMARY_OUTCOME,
    Followup,
    cache_info,
    estimate_effects,
    refute_effects,
    shared_fits,
)
from analysis.effects.losses import CostParameters, net_benefit
from analysis.report.context import open_context
from analysis.scenarios import backtest, fit_models, forecast
from analysis.targeting.policies import compare_policies


def cpu() -> float:
    """CPU seconds (user + sys) of this process so far."""
    t = os.times()
    return t.user + t.system


def context(data_dir: str, as_of: str, state: str) -> dict:
    """The notebooks' shared inputs (book, episodes with their cause, attribution), kept
    in ``state`` (a pickle) when given, so that runs before and after a change see the
    same inputs whatever else changes in the tree."""
    if state and os.path.exists(state):
        with open(state, "rb") as f:
            return pickle.load(f)
    ctx = open_context(data_dir=data_dir, as_of=as_of, tables_dir="/tmp/bench_demo_tables")
    out = {"episodes": ctx.with_cause()[0], "attribution": ctx.attribution(n_boot=200),
           "book": ctx.book, "as_of": ctx.as_of, "all_episodes": ctx.episodes,
           "definitions": ctx.definitions}
    if state:
        with open(state, "wb") as f:
            pickle.dump(out, f)
    return out


def run(data_dir: str, as_of: str, state: str = "", shared: bool = False
        ) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Time every step; return ({step: CPU s}, {table name: table}). ``shared``: page 03's
    analyses inside one :func:`analysis.effects.shared_fits` scope, as the notebook does."""
    c = context(data_dir, as_of, state)
    episodes, att, book = c["episodes"], c["attribution"], c["book"]
    times, tables = {}, {}

    def step(name, fn, *a, **k):
        t0 = cpu()
        out = fn(*a, **k)
        times[name] = times.get(name, 0.0) + cpu() - t0
        return out

    followup = Followup(6, 3, c["definitions"].redefault_months, c["as_of"])
    by = ["cause_family", "borrower_type"]
    results = {}
    scope = shared_fits() if shared else nullcontext()
    scope.__enter__()
    for outcome in OUTCOMES:
        results[outcome] = step("03 estimate_effects", estimate_effects, episodes, outcome, by=by,
                                crossfit_folds=5, learner="auto", clip=0.01, min_cell=10,
                                followup=followup)
        tables[f"effects_{outcome}"] = results[outcome].table
    ref = step("03 refute_effects", refute_effects, episodes, PRIMARY_OUTCOME, learner="auto",
               crossfit_folds=5, clip=0.01, min_cell=10, followup=followup)
    tables["refutation"] = ref.table
    nb = step("03 net_benefit", net_benefit, episodes, CostParameters(), by=by,
              nuisance=results["loss_rate"].nuisance, min_cell=10)
    tables["net_benefit"] = nb.table
    print("page 03 fit cache:", cache_info())
    scope.__exit__(None, None, None)
    res = step("04 compare_policies", compare_policies, episodes, rule_class="tree",
               budget_share_ead=0.005, min_cell=10)
    tables["targeting"] = res.table
    tables["targeting_differences"] = res.differences("learned")
    tables["budget_curve"] = res.budget_curve
    models = step("05 fit_models", fit_models, book, c["as_of"], attribution=att,
                  episodes=c["all_episodes"], definitions=c["definitions"])
    run_kw = dict(models=models, policy="learned", n_draws=40)
    for sc in ("baseline", "regional_demand_shock"):
        fc = step("05 forecast", forecast, book, c["as_of"], sc, 6, **run_kw)
        tables[f"forecast_{sc}"] = fc.table
        tables[f"relief_{sc}"] = fc.relief
    bt = step("05 backtest", backtest, book, 6, episodes=c["all_episodes"], attribution=att,
              strict=False, n_draws=40)
    tables["backtest"] = bt.table
    tables["backtest_outcomes"] = bt.outcomes if hasattr(bt, "outcomes") else pd.DataFrame()
    return times, tables


def compare(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    """Print the largest absolute (and relative) difference of every numeric column per table."""
    for name in a:
        x, y = a[name], b.get(name)
        if y is None or x.shape != y.shape:
            print(f"{name:28s} SHAPE/MISSING {x.shape} vs {None if y is None else y.shape}")
            continue
        num = x.select_dtypes("number").columns
        other = [c for c in x.columns if c not in num]
        same_other = all(x[c].astype(str).equals(y[c].astype(str)) for c in other)
        xv, yv = x[num].to_numpy(float), y[num].to_numpy(float)
        d = np.where(np.isnan(xv) & np.isnan(yv), 0.0, np.abs(xv - yv))
        rel = np.where(np.abs(yv) > 0, d / np.where(np.abs(yv) > 0, np.abs(yv), 1.0), d)
        print(f"{name:30s} max|diff| {np.nanmax(d, initial=0):.3g}  max relative "
              f"{np.nanmax(rel, initial=0):.3g}  NaN mismatch {int(np.isnan(d).sum())}  "
              f"non-numeric identical {same_other}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--as-of", default="2024-12")
    ap.add_argument("--save", default="")
    ap.add_argument("--compare", default="")
    ap.add_argument("--state", default="", help="pickle of the shared inputs (built if absent)")
    ap.add_argument("--shared", action="store_true", help="page 03 inside one shared_fits scope")
    args = ap.parse_args()
    context(args.data_dir, args.as_of, args.state)
    t0, w0 = cpu(), time.perf_counter()
    times, tables = run(args.data_dir, args.as_of, args.state, args.shared)
    print(f"load average {os.getloadavg()[0]:.2f}; total CPU {cpu() - t0:.1f} s, "
          f"wall {time.perf_counter() - w0:.1f} s")
    for k, v in times.items():
        print(f"{k:24s} {v:6.1f} s CPU")
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(tables, f)
    if args.compare:
        with open(args.compare, "rb") as f:
            compare(tables, pickle.load(f))


if __name__ == "__main__":
    main()
