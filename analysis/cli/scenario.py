"""``python -m analysis scenario --data DIR --as-of YYYY-MM --scenario FILE --out FILE``.

Loads and validates the book, fits the forecast's models on the book as known at
``--as-of`` and writes the scenario forecast for analysts: per future month and cause
family the expected new overdue episodes and their EAD with intervals, then (in a second
block of rows, ``quantity`` not empty) the relief granted, its cost, expected cures and
losses under no relief, current practice and ``--policy``. Aggregates only (no loan IDs).
CSV (spreadsheet-safe) or Parquet by the extension of ``--out``. A scenario naming an
unknown signal, region, industry or month exits 2 with the reason.
"""

from __future__ import annotations

import argparse

import pandas as pd

from analysis.cli.common import checked_table_args, write_table_file
from analysis.data import load_book
from analysis.errors import ParameterError
from analysis.scenarios import POLICIES, forecast


def _run(args: argparse.Namespace) -> int:
    out = checked_table_args(args.out, args.as_of)
    if args.horizon_months < 1 or args.draws < 1:
        raise ParameterError("--horizon-months and --draws must be >= 1")
    book = load_book(args.data)
    res = forecast(book, args.as_of, args.scenario, args.horizon_months, args.policy,
                   n_draws=args.draws, seed=args.seed)
    table = pd.concat([res.table.assign(policy="", quantity=""),
                       res.relief], ignore_index=True)
    table.insert(0, "scenario", res.scenario)
    write_table_file(table, out)
    tot = res.totals()
    print(f"scenario {res.scenario!r} from {res.as_of:%Y-%m}, {res.horizon_months} months, "
          f"{res.n_loans:,} loans: new overdue episodes "
          + ", ".join(f"{r.family} {r.new_episodes:,.0f} ({r.ci_low:,.0f}-{r.ci_high:,.0f})"
                      for r in tot.itertuples()))
    print(f"wrote {out} ({len(table):,} rows)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``scenario`` command."""
    p = subparsers.add_parser(
        "scenario",
        help="forecast next months' overdue by cause under an economic scenario",
        description="Fit the per-family onset hazards and the relief outcome models on the "
        "book known at --as-of, simulate the loans performing then under --scenario (a YAML "
        "file or a shipped name: baseline, regional_demand_shock, input_cost_shock) and write "
        "new overdue episodes and EAD by month and family, and the relief, cost, cures and "
        "losses under no relief, current practice and --policy, with intervals.",
    )
    p.add_argument("--data", required=True, help="data directory in the contract")
    p.add_argument("--as-of", required=True, metavar="YYYY-MM", help="last month of data used")
    p.add_argument("--scenario", required=True, metavar="FILE",
                   help="scenario YAML file or shipped name (see data/scenarios)")
    p.add_argument("--out", required=True, metavar="FILE", help="table to write (.csv or .parquet)")
    p.add_argument("--horizon-months", type=int, default=6, help="months to forecast (default 6)")
    p.add_argument("--policy", choices=POLICIES, default="learned",
                   help="relief policy to cost beside none and current practice (default learned)")
    p.add_argument("--draws", type=int, default=100,
                   help="parameter draws x Monte Carlo paths (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_run)


__all__ = ["register"]
