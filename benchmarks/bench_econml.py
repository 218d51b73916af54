"""Benchmark: the project's cross-fitted AIPW against EconML ``LinearDRLearner``, like for like.

Run: ``.venv/bin/python benchmarks/bench_econml.py --loans 420000`` (the episodes of a
synthetic book, as in issue #15) or ``--episodes 1000000`` (the simulated frame of
``bench_effects.py``). EconML lives in a **separate** virtual environment, never the
project's (``python3 -m venv /tmp/econml-venv && /tmp/econml-venv/bin/pip install econml
pandas pyarrow``; ``--econml-python`` points elsewhere); without it the script says so
and exits 0.

How it measures:

1. This process (the project's venv) builds the analysed episodes of ``cure`` (calendar
   follow-up rule off: every episode with a known outcome), encodes the project's
   default covariates with :func:`analysis.effects.design.build_design` (standardised,
   constant and collinear columns dropped) and writes the outcome ``y``, the arm and the
   design columns to one Parquet file, so both sides see the same numbers.
2. Two child processes, one after the other, each load that file and fit: EconML
   ``LinearDRLearner`` (multinomial ``LogisticRegression(C=1e4)`` propensity, ``LinearRegression``
   outcome on covariates and arm, ``cv=2``, ``min_propensity=0.01``, ``none`` the control)
   and the project's ``estimate_effects(..., methods=["aipw"], estimands=["ATE"],
   crossfit_folds=2, learner="glm", clip=0.01)`` (its balance, overlap and E-value
   tables included). Both children run with one BLAS/OpenMP thread
   (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1).
3. Each child reports wall and CPU time of the fit (after the load) and of load + fit,
   and its peak resident memory (``VmHWM`` of /proc/self/status, imports and the table
   load included; not ``ru_maxrss``, which Linux carries over from the parent across
   ``exec``); the parent prints both, their ratios, the ATE of every measure
   vs ``none`` from both with standard errors, and the load average.

The two estimators are not identical: EconML's outcome model is one linear regression
with the arm as a feature, the project's one logit per arm, so the estimates agree to
sampling noise, not to rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ECONML_CHILD = r'''
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
import pandas as pd
from econml.dr import LinearDRLearner
from sklearn.linear_model import LinearRegression, LogisticRegression
path, folds = sys.argv[1], int(sys.argv[2])
df = pd.read_parquet(path)
xcols = [c for c in df.columns if c.startswith("x")]
arms = ["none", *sorted(a for a in df["arm"].unique() if a != "none")]
t1, c1 = time.perf_counter(), time.process_time()
est = LinearDRLearner(model_propensity=LogisticRegression(C=1e4, max_iter=2000),
                      model_regression=LinearRegression(), categories=arms, cv=folds,
                      min_propensity=0.01, random_state=0)
est.fit(df["y"].to_numpy(), df["arm"].to_numpy(), X=None, W=df[xcols].to_numpy())
ate = {a: [float(np.ravel(est.intercept_(T=a))[0]),
           float(np.ravel(est.intercept__inference(T=a).stderr)[0])] for a in arms[1:]}
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"fit_wall": t2 - t1, "fit_cpu": c2 - c1, "total_wall": t2 - t0,
                  "total_cpu": c2 - c0, "rss_mib": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024,
                  "ate": ate}))
'''


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB) since its ``exec``: ``VmHWM`` of
    /proc/self/status. Not ``ru_maxrss``: Linux carries that over ``execve``, so a child
    of a parent that built a large book would report the parent's peak."""
    with open("/proc/self/status") as fh:
        return int(fh.read().split("VmHWM:")[1].split()[0]) / 1024


def _ours(path: str, folds: int) -> None:
    """Child: the project's cross-fitted AIPW on the Parquet frame; prints one JSON line."""
    t0, c0 = time.perf_counter(), time.process_time()
    import pandas as pd

    from analysis.effects import estimate_effects

    df = pd.read_parquet(path).rename(columns={"arm": "measure", "y": "is_cured"})
    xcols = [c for c in df.columns if c.startswith("x")]
    t1, c1 = time.perf_counter(), time.process_time()
    r = estimate_effects(df, "cure", covariates=xcols, methods=["aipw"], estimands=["ATE"],
                         crossfit_folds=folds, learner="glm", clip=0.01, followup=None)
    t = r.table[r.table["segment_type"] == "all"]
    ate = {m: [float(e), float(s)] for m, e, s in zip(t["measure"], t["estimate"], t["std_error"], strict=True)}
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"fit_wall": t2 - t1, "fit_cpu": c2 - c1, "total_wall": t2 - t0,
                      "total_cpu": c2 - c0, "rss_mib": peak_rss_mib(), "ate": ate,
                      "estimands": sorted(set(t["estimand"]))}))


def _frame(args: argparse.Namespace, work: Path) -> Path:
    """Write the analysed episodes (y, arm, design columns) to Parquet; return its path."""
    import numpy as np
    import pandas as pd

    from analysis.effects.design import build_design, default_covariates, outcome_frame

    if args.episodes:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_effects import simulate

        eps = simulate(args.episodes).assign(is_censored=False)
        name = f"sim_{args.episodes}"
    else:
        from analysis.data import load_book
        from analysis.episodes import build_episodes
        from analysis.synthetic import generate_book

        book = work / f"book_{args.loans}_{args.seed}"
        if not (book / "truth").exists():
            generate_book(args.loans, args.seed, book)
        eps = build_episodes(load_book(book))
        name = f"book_{args.loans}_{args.seed}"
    rows, y, _ = outcome_frame(eps, "cure", None)
    covs = [c for c in default_covariates(rows) if c not in ("is_cured", "is_censored")]
    design = build_design(rows, covs)
    x = design.transform(rows)[:, 1:]
    df = pd.DataFrame(x, columns=[f"x{j:03d}" for j in range(x.shape[1])])
    df["y"] = y
    df["arm"] = rows["measure"].astype("string").to_numpy(dtype=object)
    path = work / f"{name}.parquet"
    df.to_parquet(path, index=False)
    print(f"frame: {name}: {len(df):,} episodes, {x.shape[1]} design columns "
          f"(from {len(covs)} covariates), arms {df['arm'].value_counts().to_dict()}, "
          f"mean outcome {np.mean(y):.3f}")
    return path


def _run(cmd: list[str]) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed ({' '.join(cmd[:3])} ...):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the arguments, export the frame, run both children, print the comparison."""
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--loans", type=int, default=420_000, help="synthetic book size (loans)")
    src.add_argument("--episodes", type=int, default=0, help="simulated episode frame instead")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--econml-python", default="/tmp/econml-venv/bin/python")
    ap.add_argument("--work", default=str(Path(__file__).parent / "_work" / "econml"))
    ap.add_argument("--child", nargs=2, metavar=("PARQUET", "FOLDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _ours(args.child[0], int(args.child[1]))
        return
    py = Path(args.econml_python)
    probe = subprocess.run([str(py), "-c", "import econml, pyarrow"], capture_output=True,
                           check=False) if py.exists() else None
    if probe is None or probe.returncode != 0:
        print(f"EconML is not available at {py} (install it into a separate venv: python3 -m venv "
              "/tmp/econml-venv && /tmp/econml-venv/bin/pip install econml pandas pyarrow); skipped")
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = _frame(args, work)
    load0 = os.getloadavg()
    res = {"econml": _run([str(py), "-c", ECONML_CHILD, str(path), str(args.folds)]),
           "ours": _run([sys.executable, __file__, "--child", str(path), str(args.folds)])}
    version = subprocess.run([str(py), "-c", "import econml, sklearn; print(econml.__version__, sklearn.__version__)"],
                             capture_output=True, text=True, check=False).stdout.split()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"econml {version[0]}, scikit-learn {version[1]} (separate venv); folds {args.folds}")
    print(f"load average (1 min): {load0[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for k, r in res.items():
        print(f"{k:7s} fit: wall {r['fit_wall']:.1f} s, CPU {r['fit_cpu']:.1f} s; load + fit: wall "
              f"{r['total_wall']:.1f} s, CPU {r['total_cpu']:.1f} s; peak RSS {r['rss_mib']:.0f} MiB")
    e, o = res["econml"], res["ours"]
    print(f"ratio ours / EconML: fit CPU {o['fit_cpu'] / e['fit_cpu']:.2f}, fit wall "
          f"{o['fit_wall'] / e['fit_wall']:.2f}, peak RSS {o['rss_mib'] / e['rss_mib']:.2f}")
    print(f"ours estimand(s): {o['estimands']}")
    print(f"{'measure':16s} {'EconML ATE':>11s} {'(SE)':>8s} {'ours ATE':>10s} {'(SE)':>8s} {'diff':>8s}")
    for m in sorted(e["ate"]):
        ee, es = e["ate"][m]
        oe, os_ = o["ate"].get(m, [float("nan")] * 2)
        print(f"{m:16s} {ee:11.4f} {es:8.4f} {oe:10.4f} {os_:8.4f} {oe - ee:8.4f}")


if __name__ == "__main__":
    main()
