"""Benchmark: generate a synthetic book of N loans; wall time, CPU time, peak memory.

Run on demand (not in CI)::

    .venv/bin/python benchmarks/bench_synthetic.py --loans 1000000 [--chunk-loans 200000]

Each run is a fresh subprocess (``python -m analysis synth``), so the peak resident
set size (``ru_maxrss`` of the child) is that of the generation alone. The load
average before the run is printed too: on a shared machine other processes slow
the wall time, the CPU time (user + system) much less.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(loans: int, seed: int, chunk_loans: int, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "analysis", "synth", "--loans", str(loans), "--seed", str(seed),
         "--out", str(out), "--chunk-loans", str(chunk_loans)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    import pyarrow.parquet as pq

    perf = out / "performance"
    files = sorted(perf.glob("*.parquet")) if perf.is_dir() else [out / "performance.parquet"]
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"loans": loans, "chunk_loans": chunk_loans, "wall_s": wall, "cpu_s": cpu,
            "peak_rss_gib": after.ru_maxrss / 2**20, "loan_months": rows,
            "disk_mib": size / 2**20, "load_before": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-loans", type=int, default=200_000)
    ap.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    args = ap.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    if args.out:
        r = run_once(args.loans, args.seed, args.chunk_loans, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            r = run_once(args.loans, args.seed, args.chunk_loans, Path(tmp) / "book")
    print(
        f"{r['loans']:,} loans ({r['loan_months']:,} loan-months, chunks of {r['chunk_loans']:,}): "
        f"wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_gib']:.2f} GiB, "
        f"{r['disk_mib']:.0f} MiB on disk; load average before {r['load_before']:.1f}"
    )


if __name__ == "__main__":
    main()
