"""Time the scenario forecast (issue #20): fit, one 6-month forecast with intervals, backtest.

Usage::

    .venv/bin/python benchmarks/bench_scenarios.py --loans 20000 --seed 1 [--book DIR]
        [--draws 100] [--backtest]

Generates the synthetic book (unless ``--book`` names one), then reports wall and CPU time
of: loading, the cause attribution (no bootstrap; a report run reuses its own), the
forecast's model fit (hazards and outcome models), one forecast of the baseline and one of
the regional demand shock (``--draws`` draws), and optionally the backtest. Also peak RSS
and the load average before the run (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

from analysis.causes import attribute
from analysis.data import load_book
from analysis.episodes import build_episodes
from analysis.scenarios import backtest, fit_models, forecast
from analysis.synthetic.generate import generate_book


def _timed(label: str, fn, *args, **kw):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    print(f"{label:<28} wall {time.perf_counter() - t0:7.1f} s   CPU {time.process_time() - c0:7.1f} s",
          flush=True)
    return out


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--book", default=None, help="an existing book directory")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--backtest", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    book_dir = Path(args.book) if args.book else Path(tempfile.mkdtemp()) / "book"
    if not args.book:
        _timed(f"generate {args.loans:,} loans", generate_book, args.loans, args.seed, book_dir)
    book = _timed("load", load_book, book_dir)
    episodes = _timed("episodes", build_episodes, book)
    att = _timed("attribution (n_boot=0)", attribute, book, episodes, n_boot=0)
    as_of = book.performance["month"].max()
    models = _timed("fit hazards + outcomes", fit_models, book, as_of, attribution=att,
                    episodes=episodes)
    base = _timed(f"forecast baseline ({args.draws})", forecast, book, as_of, "baseline",
                  models=models, n_draws=args.draws)
    _timed(f"forecast shock ({args.draws})", forecast, book, as_of, "regional_demand_shock",
           models=models, n_draws=args.draws)
    print(f"loans forecast: {base.n_loans:,}")
    if args.backtest:
        bt = _timed("backtest (reusing attribution)", backtest, book, 6, episodes=episodes,
                    attribution=att, strict=False, n_draws=args.draws)
        print(bt.summary().round(2).to_string(index=False))
        print(f"monthly interval coverage: {bt.coverage:.0%}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
