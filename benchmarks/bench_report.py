"""Benchmark: the whole report on the default demo book (20,000 loans, seed 1).

Generates the book into ``benchmarks/_work/demo`` (once), runs
``python -m analysis report`` into ``benchmarks/_work/reports`` and prints the wall time
of each notebook and the whole run, as a markdown table for ``benchmarks/README.md``.
Target (issue #17): the whole run in <= 20 s.

    .venv/bin/python benchmarks/bench_report.py [--loans 20000] [--seed 1] [--as-of YYYY-MM]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--as-of", default="", help="reporting month (default: latest in the data)")
    ap.add_argument("--work", type=Path, default=HERE / "_work")
    ap.add_argument("--jobs", type=int, default=0,
                    help="notebooks at once (default 0: the runner's automatic choice)")
    args = ap.parse_args()

    from analysis.data import latest_month, load_book
    from analysis.report.options import ReportOptions
    from analysis.report.runner import run_report
    from analysis.synthetic.generate import generate_book

    book = args.work / f"demo_{args.loans}_{args.seed}"
    if not (book / ".complete").exists():
        t = time.perf_counter()
        generate_book(args.loans, args.seed, book)
        (book / ".complete").write_text("ok")
        print(f"generated {args.loans} loans in {time.perf_counter() - t:.1f} s")
    as_of = args.as_of or f"{latest_month(load_book(book)):%Y-%m}"
    out = args.work / "reports"
    load_before = os.getloadavg()[0]
    ru0 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    t0 = time.perf_counter()
    result = run_report(ReportOptions(data_dir=book, as_of=as_of, out_dir=out, quiet=False,
                                      cell_timeout_s=900, run_timeout_s=3600, jobs=args.jobs))
    wall = time.perf_counter() - t0
    ru1 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(ru0, ru1, strict=True))
    if result.exit_code != 0:
        print(f"run failed: {result.message}")
        return result.exit_code
    info = json.loads((result.path / "run.json").read_text())
    notebooks = info["notebook_durations_s"]
    pages = info["page_bytes"]
    print()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"Book: {args.loans:,} loans, seed {args.seed}; reporting month {as_of}")
    print()
    print(f"Notebooks at once: {args.jobs or 'automatic'} (the pages overlap, so their "
          "seconds add up to more than the run)")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for name, sec in notebooks.items():
        print(f"| {name} | {sec:.1f} |")
    print(f"| **whole run** | **{wall:.1f}** |")
    print(f"\nCPU time (runner and kernels, user + system): {cpu:.1f} s")
    print()
    print("Largest page: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in
                                       sorted(pages.items(), key=lambda kv: -kv[1])[:1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
