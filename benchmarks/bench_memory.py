"""Peak memory of the pandas engine (issue #17): ``load_book``, then episodes and the KPIs.

``.venv/bin/python benchmarks/bench_memory.py DATA [--load-only] [--columns]`` prints the
wall time and the process's peak resident set (``ru_maxrss``, GiB) after each phase: the
load (read, type, validate), ``build_episodes``, and the KPI tables of
``bench_scale.py``'s ``episodes+kpis`` step (overdue rates, roll rates by count and
balance, 30+ and 90+ vintages, the five categories; overall and by borrower type,
industry and region) plus ``headline_kpis``. ``--columns`` adds each loaded table's
memory by column (``memory_usage(deep=True)``) and dtype. Run the code of another
checkout with ``PYTHONPATH=that/checkout`` (how the "before" rows were measured).
"""

from __future__ import annotations

import argparse
import os
import resource
import time


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _now_gib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--load-only", action="store_true")
    ap.add_argument("--columns", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    from bench_scale import kpi_tables  # this folder is on sys.path when run as a script

    from analysis import kpis
    from analysis.data import load_book
    from analysis.episodes import build_episodes

    print(f"code from {os.path.dirname(kpis.__file__)}")
    t = time.time()
    book = load_book(a.data)
    print(f"load {time.time() - t:.1f} s, peak {_peak_gib():.2f} GiB, now {_now_gib():.2f} GiB")
    if a.columns:
        for name in ("loans", "performance", "signals", "relief", "reasons"):
            df = getattr(book, name)
            if df is None:
                continue
            mib = df.memory_usage(deep=True, index=False) / 2**20
            print(f"  {name} {len(df):,} rows, {mib.sum():.0f} MiB:",
                  ", ".join(f"{c} {v:.0f} ({df[c].dtype})" for c, v in mib.items()))
    if not a.load_only:
        t = time.time()
        ep = build_episodes(book)
        print(f"episodes {time.time() - t:.1f} s ({len(ep):,}), peak {_peak_gib():.2f} GiB")
        t = time.time()
        kpi_tables(book)  # the same tables as bench_scale.py's episodes+kpis step
        kpis.headline_kpis(book, ep)
        print(f"kpis {time.time() - t:.1f} s, peak {_peak_gib():.2f} GiB")
    print(f"total {time.time() - t0:.1f} s, peak {_peak_gib():.2f} GiB, "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
