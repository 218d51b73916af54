"""Benchmark: cause attribution (:func:`analysis.causes.attribute`) on a synthetic book.

Run (issue #17)::

    .venv/bin/python -m analysis synth --loans 200000 --seed 1 --out /tmp/cz/b200k
    .venv/bin/python benchmarks/bench_causes.py /tmp/cz/b200k [--n-boot 200] [--profile 25]

Loads and validates the book, builds the episodes (not timed as attribution), then calls
``attribute(book, episodes, definitions=Definitions(), n_boot=200, min_cell=10, seed=0)``
as the report does (:func:`analysis.report.cache.cached_attribution`). Prints one table row
(book size, wall and CPU seconds of the attribution, the process's RSS before it, holding the
book and episodes, and its peak RSS during it) and,
with ``--profile N``, the N functions with the largest cumulative time under cProfile
(a profiled run is slower; time it without ``--profile``). ``--save PATH`` pickles the
result's tables so that two versions of the code can be compared (``--compare PATH``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import platform
import pstats
import resource
import threading
import time

import numpy as np
import pandas as pd

from analysis import build_episodes, load_book
from analysis.causes import attribute
from analysis.definitions import Definitions


class _RssPeak:
    """Samples the resident set size (``VmRSS``) every 50 ms; ``peak`` in MiB."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        self.peak = max(self.peak, int(line.split()[1]) / 1024)
            self._stop.wait(0.05)

    def __enter__(self) -> _RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _rss_now() -> float:
    """Resident set size now, MiB."""
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmRSS:")) / 1024


def _tables(att) -> dict[str, pd.DataFrame]:
    return {"table": att.table, "all_shares": att.all_shares, "per_episode": att.per_episode,
            "drivers": att.drivers, "onset": att.onset, "agreement": att.agreement,
            "reporting": att.reporting, "trends": att.trends}


def _compare(new: dict[str, pd.DataFrame], old: dict[str, pd.DataFrame]) -> None:
    """Largest relative difference of every numeric column between two runs."""
    for name, a in new.items():
        b = old[name]
        if a.shape != b.shape:
            print(f"  {name}: shape {a.shape} vs {b.shape}")
            continue
        worst = 0.0
        for c in a.columns:
            if pd.api.types.is_numeric_dtype(a[c]) and not pd.api.types.is_bool_dtype(a[c]):
                x, y = a[c].to_numpy(float), b[c].to_numpy(float)
                both = np.isfinite(x) & np.isfinite(y)
                if (np.isfinite(x) != np.isfinite(y)).any():
                    print(f"  {name}.{c}: NaN pattern differs")
                d = np.abs(x[both] - y[both]) / np.maximum(np.abs(y[both]), 1e-12)
                worst = max(worst, float(d.max()) if d.size else 0.0)
            elif not a[c].astype(str).equals(b[c].astype(str)):
                print(f"  {name}.{c}: values differ")
        print(f"  {name}: max relative difference {worst:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--profile", type=int, default=0, help="print the top N functions")
    ap.add_argument("--save", default="", help="pickle the result tables here")
    ap.add_argument("--compare", default="", help="compare with tables pickled by --save")
    args = ap.parse_args()

    t0 = time.perf_counter()
    book = load_book(args.data_dir)
    d = Definitions()
    episodes = build_episodes(book, horizon_months=d.horizon_months,
                              probation_months=d.probation_months)
    t1 = time.perf_counter()
    rss_before = _rss_now()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    prof = cProfile.Profile() if args.profile else None
    with _RssPeak() as rss:
        w0 = time.perf_counter()
        if prof is not None:
            prof.enable()
        att = attribute(book, episodes, definitions=d, n_boot=args.n_boot, min_cell=10, seed=0)
        if prof is not None:
            prof.disable()
        wall = time.perf_counter() - w0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}; load average (1 min) {os.getloadavg()[0]:.2f}")
    print(f"load + episodes: {t1 - t0:.1f} s")
    print("| loans | loan-months | episodes | labelled | onset fit rows | n_boot | wall s | CPU s "
          "| RSS before MiB | peak RSS MiB |")
    print(f"| {len(book.loans):,} | {len(book.performance):,} | {len(episodes):,} "
          f"| {att.info.get('n_labelled', 0):,} | {att.info.get('n_fit_rows', 0):,} "
          f"| {args.n_boot} | {wall:.1f} | {cpu:.1f} | {rss_before:.0f} | {rss.peak:.0f} |")
    if prof is not None:
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(args.profile)
    if args.save:
        with open(args.save, "wb") as fh:
            pickle.dump(_tables(att), fh)
    if args.compare:
        with open(args.compare, "rb") as fh:
            _compare(_tables(att), pickle.load(fh))


if __name__ == "__main__":
    main()
