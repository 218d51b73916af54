"""Benchmark: build overdue episodes from a generated book; throughput and peak memory.

Run on demand (not in CI)::

    .venv/bin/python benchmarks/bench_episodes.py --loans 1000000

Generates the book once into ``benchmarks/_work/book_<N>`` (reused when present), then in
a fresh subprocess loads the performance, loans and relief tables and times
:func:`analysis.episodes.build_episodes` alone (wall and CPU), printing loan-months per
second and the subprocess's peak resident memory (load + build).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from analysis.data import load_book
from analysis.episodes import build_episodes
t0 = time.perf_counter()
book = load_book(sys.argv[1])
t1 = time.perf_counter(); c1 = time.process_time()
ep = build_episodes(book)
t2 = time.perf_counter(); c2 = time.process_time()
print(json.dumps({
    "loan_months": len(book.performance), "episodes": len(ep),
    "load_s": round(t1 - t0, 2), "build_wall_s": round(t2 - t1, 2),
    "build_cpu_s": round(c2 - c1, 2),
    "loan_months_per_s": round(len(book.performance) / (t2 - t1)),
    "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "_work")
    args = ap.parse_args()
    book = args.work / f"book_{args.loans}"
    if not (book / "truth").exists():
        subprocess.run(
            [sys.executable, "-m", "analysis", "synth", "--loans", str(args.loans),
             "--seed", str(args.seed), "--out", str(book)],
            check=True,
        )
    out = subprocess.run([sys.executable, "-c", CHILD, str(book)], check=True,
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(loans=args.loans, load_avg_1min=round(os.getloadavg()[0], 1),
                  machine=f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
