"""``python -m analysis recommend --data DIR --as-of YYYY-MM --out FILE``: what to offer now.

Loads and validates the book, builds the overdue episodes, attributes their causes,
learns the targeting rule on the episodes whose outcome is known by ``--as-of`` (see
:mod:`analysis.targeting.policies` and :mod:`analysis.targeting.recommendations`) and writes one row per
episode open at ``--as-of``: recommended measure, expected cure probability with and
without it, expected net benefit (CNY), attributed cause, priority. CSV or Parquet by
the extension of ``--out``. No open episode: an empty file (header only) and a message,
exit 0. The file holds loan IDs: it is for collections teams, not a report.
"""

from __future__ import annotations

import argparse
import sys

from analysis.cli.common import checked_table_args, write_table_file
from analysis.data import load_book
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import ParameterError


def _run(args: argparse.Namespace) -> int:
    from analysis.effects import CostParameters  # the models: only when the command runs
    from analysis.targeting import as_of_month, recommend

    out = checked_table_args(args.out, args.as_of)
    if args.min_cell < 1:
        raise ParameterError(f"--min-cell {args.min_cell}: must be >= 1")
    if not args.pessimism >= 0:
        raise ParameterError(f"--pessimism {args.pessimism}: must be >= 0")
    if (args.budget_share_ead is not None and args.budget_share_ead < 0) or (
            args.budget_share_treated is not None and not 0 <= args.budget_share_treated <= 1):
        raise ParameterError("--budget-share-ead must be >= 0 and --budget-share-treated in [0, 1]")
    month = as_of_month(args.as_of)
    defs = Definitions(horizon_months=args.horizon_months, probation_months=args.probation_months)
    book = load_book(args.data)
    episodes = episodes_from_definitions(book, defs)
    costs = CostParameters(funding_cost=args.funding_cost, cost_per_session_cny=args.cost_per_session)
    kw = {"budget_share_ead": args.budget_share_ead if args.budget_share_ead is not None else 0.005,
          "budget_share_treated": args.budget_share_treated}
    recs = recommend(book, episodes, month, costs, horizon_months=args.horizon_months,
                     probation_months=args.probation_months, definitions=defs, seed=args.seed,
                     min_cell=args.min_cell, rule_class=args.rule_class, pessimism=args.pessimism, **kw)
    write_table_file(recs, out)
    print(recs.attrs.get("message", ""))
    for w in recs.attrs.get("warnings", ()):
        print(f"warning: {w}", file=sys.stderr)
    if len(recs):
        counts = recs["recommended_measure"].value_counts()
        print("recommended: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"wrote {out} ({len(recs):,} rows)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recommend",
        help="recommend a relief measure for every episode open at a month",
        description="Learn the targeting rule (doubly robust net benefit, depth-2 policy tree) "
        "and write, for every episode open at --as-of, the recommended measure, expected cure "
        "probability with and without it, expected net benefit (CNY) and attributed cause. "
        "The output holds loan IDs: it is not a report.",
    )
    p.add_argument("--data", required=True, help="data directory in the contract")
    p.add_argument("--as-of", required=True, metavar="YYYY-MM", help="reporting month")
    p.add_argument("--out", required=True, metavar="FILE", help="recommendations to write (.csv or .parquet)")
    p.add_argument("--rule-class", choices=("tree", "grid"), default="tree",
                   help="depth-2 policy tree (default) or cause x borrower-type grid")
    p.add_argument("--pessimism", type=float, default=0.0,
                   help="standard errors of the doubly robust net benefit a measure must win by in a "
                   "rule leaf (lower-confidence-bound search; default 0 = plain maximum)")
    p.add_argument("--budget-share-ead", type=float, default=None,
                   help="budget for within_budget: total relief cost <= this share of EAD (default 0.005)")
    p.add_argument("--budget-share-treated", type=float, default=None,
                   help="alternative budget: at most this share of episodes get a costly measure")
    p.add_argument("--funding-cost", type=float, default=0.04, help="annual cost of funds (default 0.04)")
    p.add_argument("--cost-per-session", type=float, default=300.0,
                   help="cost of one counselling session, CNY (default 300)")
    p.add_argument("--min-cell", type=int, default=10,
                   help="fewest episodes of a measure to learn from it (default 10)")
    p.add_argument("--horizon-months", type=int, default=6, help="outcome window, months (default 6)")
    p.add_argument("--probation-months", type=int, default=3,
                   help="clean months that confirm a cure (default 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the folds (default 0)")
    p.set_defaults(func=_run)
