"""``python -m analysis attribute --data DIR --out FILE``: per-episode cause attribution.

Loads and validates the book, builds the overdue episodes (default definitions unless
given) and writes one row per episode: ``loan_id``, ``start_month``, ``p_economic``,
``p_management``, ``p_personal``, ``primary_family``, ``source`` (see
:mod:`analysis.causes.attribution`), and prints the estimated report rate and reliability of each true
family when the latent competing-causes model was used. The file holds loan IDs: it is for analysts and collections, not
a report. CSV or Parquet by the extension of ``--out``. ``--shares FILE`` also writes the
shares table (``attribution.csv`` columns, suppressed at ``--min-cell``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from analysis.data import load_book
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import ParameterError
from analysis.report.privacy import write_csv

_FORMATS = (".csv", ".parquet")


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        df.to_parquet(path, index=False)
    else:
        write_csv(df, path)  # spreadsheet-safe text cells


def _check_out(value: str, flag: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in _FORMATS:
        raise ParameterError(f"{flag} {value!r}: use a .csv or .parquet file name")
    return path


def _run(args: argparse.Namespace) -> int:
    out = _check_out(args.out, "--out")
    shares_out = _check_out(args.shares, "--shares") if args.shares else None
    if args.bootstrap < 0:
        raise ParameterError(f"--bootstrap {args.bootstrap}: must be >= 0")
    if args.min_cell < 1:
        raise ParameterError(f"--min-cell {args.min_cell}: must be >= 1")
    from analysis.causes import attribute  # statsmodels: only when the command runs

    defs = Definitions(overdue_dpd=args.overdue_dpd, probation_months=args.probation_months)
    book = load_book(args.data)
    episodes = episodes_from_definitions(book, defs)
    n_boot = args.bootstrap if shares_out else 0
    att = attribute(book, episodes, definitions=defs, n_boot=n_boot, seed=args.seed,
                    min_cell=args.min_cell)
    _write(att.per_episode, out)
    print(f"wrote {out} ({len(att.per_episode):,} episodes; method {att.method})")
    src = att.per_episode["source"].value_counts()
    print("sources: " + ", ".join(f"{k} {v:,}" for k, v in src.items()))
    if len(att.reporting):
        print("estimated reporting by true family (latent model): " + "; ".join(
            f"{r.family} reports {r.report_rate:.0%}, named correctly "
            f"{getattr(r, 'reported_as_' + r.family):.0%}" for r in att.reporting.itertuples()
        ))
    if shares_out:
        _write(att.table, shares_out)
        print(f"wrote {shares_out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "attribute",
        help="attribute each overdue episode to economic, management or personal causes",
        description="Validate the book, build overdue episodes and write the per-episode "
        "cause attribution (p_economic, p_management, p_personal, primary_family, source). "
        "The output holds loan IDs: it is not a report.",
    )
    p.add_argument("--data", required=True, help="data directory in the contract")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="per-episode table to write (.csv or .parquet)")
    p.add_argument("--shares", default=None, metavar="FILE",
                   help="also write the shares table with bootstrap intervals (.csv/.parquet)")
    p.add_argument("--bootstrap", type=int, default=200,
                   help="bootstrap replicates for --shares (default 200)")
    p.add_argument("--min-cell", type=int, default=10,
                   help="segments with fewer episodes are suppressed in --shares (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--overdue-dpd", type=int, default=1,
                   help="a month is overdue at this many days past due (default 1)")
    p.add_argument("--probation-months", type=int, default=3,
                   help="clean months that end an episode (default 3)")
    p.set_defaults(func=_run)
