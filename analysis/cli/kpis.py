"""``python -m analysis kpis --data DIR [--as-of YYYY-MM]``: print the headline KPIs.

Loads and validates the book, builds the overdue episodes with the default definitions
and prints :func:`analysis.kpis.headline_kpis` as a table (metrics down, segments
across; :func:`analysis.report.text.kpis.format_kpis`). ``--csv FILE`` also writes the
tidy table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.data import load_book
from analysis.episodes import build_episodes
from analysis.kpis import headline_kpis, resolve_as_of
from analysis.report import format_kpis


def _run(args: argparse.Namespace) -> int:
    book = load_book(args.data)
    month = resolve_as_of(book, args.as_of)
    episodes = build_episodes(book)
    table = headline_kpis(book, episodes, as_of=month)
    print(format_kpis(table, month))
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        table.assign(as_of=f"{month:%Y-%m}").to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "kpis",
        help="print the headline portfolio KPIs of a data directory",
        description="Validate the book, build overdue episodes (default definitions) and "
        "print the headline KPIs overall and by borrower type.",
    )
    p.add_argument("--data", required=True, help="data directory in the contract")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM",
                   help="reporting month (default: the latest month in the data)")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write the tidy table")
    p.set_defaults(func=_run)
