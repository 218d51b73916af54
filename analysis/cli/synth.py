"""Command ``synth``: write the synthetic loan book with its ground truth.

``python -m analysis synth --loans N --seed S --out DIR`` (see :mod:`analysis.synthetic.generate`).
"""

from __future__ import annotations

import argparse
import time

from analysis.cli.common import add_engine_arguments
from analysis.engine import synth_with_engine


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _synth(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out = synth_with_engine(args.loans, args.seed, args.out, args.chunk_loans, args.engine,
                            args.scheduler)
    print(f"synthetic book: {args.loans:,} loans, seed {args.seed} -> {out} "
          f"(truth in {out / 'truth'}) in {time.perf_counter() - t0:.1f} s")
    return 0


def register(sub) -> None:
    """Add ``synth`` to the ``python -m analysis`` sub-parsers."""
    p = sub.add_parser(
        "synth",
        help="generate the synthetic loan book with ground truth",
        description="Write a synthetic book of an online small-business lender (contract "
        "tables as Parquet) and its ground truth (true cause per episode, potential "
        "outcomes, true effects and cause shares) into DIR/truth/. Deterministic for a "
        "seed and chunk size. The model is described in data/README.md section 4.",
    )
    p.add_argument("--loans", type=_positive, default=20_000, metavar="N",
                   help="number of loans (default 20000)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--out", required=True, metavar="DIR", help="output data directory")
    p.add_argument("--chunk-loans", type=_positive, default=200_000, metavar="K",
                   help="loans simulated and written per chunk (bounds memory; default 200000)")
    add_engine_arguments(p, auto="--loans is above 1,000,000; chunks run in parallel")
    p.set_defaults(func=_synth)
