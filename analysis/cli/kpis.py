"""``python -m analysis kpis --data DIR [--as-of YYYY-MM]``: print the headline KPIs.

Loads and validates the book, builds the overdue episodes with the default definitions
and prints :func:`analysis.kpis.metrics.headline_kpis` as a table (metrics down, segments
across). ``--csv FILE`` also writes the tidy table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

_RATES = ("rate", "ratio")


def _cell(metric: str, value: float, n: int) -> str:
    if pd.isna(value):
        return f"- (n={n:,})"
    if any(w in metric for w in _RATES):
        return f"{100 * value:.1f}% (n={n:,})"
    return f"{value:,.0f}"


def format_kpis(table: pd.DataFrame, as_of: pd.Timestamp | None = None) -> str:
    """A readable text table of :func:`headline_kpis` output: one row per metric, one
    column per segment ("all" first); rates in %, with the n behind each."""
    t = table.copy()
    t["column"] = t["segment"].where(t["segment_type"] != "all", "all")
    cells = zip(t["metric"], t["value"], t["n"], strict=True)
    t["cell"] = [_cell(m, v, n) for m, v, n in cells]
    metrics = list(dict.fromkeys(t["metric"]))
    columns = list(dict.fromkeys(t["column"]))
    wide = t.pivot_table(index="metric", columns="column", values="cell", aggfunc="first")
    wide = wide.reindex(index=metrics, columns=columns).fillna("")
    wide.index.name, wide.columns.name = None, None
    head = "Headline KPIs" + (f" as of {as_of:%Y-%m}" if as_of is not None else "")
    with pd.option_context("display.width", 200, "display.max_columns", None,
                           "display.max_colwidth", 40):
        return head + "\n" + wide.to_string()


def _run(args: argparse.Namespace) -> int:
    from analysis.data.validate import load_book
    from analysis.episodes import build_episodes
    from analysis.kpis.metrics import headline_kpis, resolve_as_of

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
