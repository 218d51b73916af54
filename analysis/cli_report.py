"""Commands ``report`` (one reporting month) and ``refresh`` (the scheduled job).

Exit status: 0 published (or, for ``refresh``, already up to date); 1 a notebook
failed or timed out; 2 bad input or parameter (nothing ran); 3 another run holds the
lock longer than ``--lock-timeout``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.nbcontext import SUPPORTED_LANGUAGES
from analysis.report import DEFAULT_KERNEL, ReportOptions
from analysis.report_params import default_notebooks_dir


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="data directory (the contract)")
    p.add_argument("--out", type=Path, default=Path("reports"),
                   help="reports directory (default: reports)")
    p.add_argument("-p", "--parameter", dest="params", action="append", default=[],
                   metavar="NAME=VALUE",
                   help="notebook parameter, e.g. -p min_cell=20 -p horizon_months=12 "
                        "(checked against the notebooks' parameters cells)")
    p.add_argument("--only", nargs="+", default=[], metavar="NOTEBOOK",
                   help="run only these notebooks (e.g. 01 or 01_portfolio_overview)")
    p.add_argument("--language", default="en", choices=list(SUPPORTED_LANGUAGES),
                   help="report language (default: en)")
    p.add_argument("--notebooks", type=Path, default=None,
                   help="folder of report notebooks (default: the repository's notebooks/)")
    p.add_argument("--kernel", default=DEFAULT_KERNEL,
                   help=f"Jupyter kernel name (default: {DEFAULT_KERNEL}, else python3)")
    p.add_argument("--cell-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="stop a notebook whose cell runs longer (default: 600)")
    p.add_argument("--run-timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="stop the run after this long in total (default: 3600)")
    p.add_argument("--lock-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="wait this long for another run's lock, then exit 3 (default: 600)")
    p.add_argument("--analyst", action="store_true",
                   help="also write pages with code under <month>/analyst/")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _options(args: argparse.Namespace, as_of: str) -> ReportOptions:
    return ReportOptions(
        data_dir=args.data, as_of=as_of, out_dir=args.out, params=tuple(args.params),
        only=tuple(args.only), language=args.language,
        notebooks_dir=args.notebooks or default_notebooks_dir(), kernel_name=args.kernel,
        cell_timeout_s=args.cell_timeout, run_timeout_s=args.run_timeout,
        lock_timeout_s=args.lock_timeout, analyst=args.analyst, quiet=args.quiet,
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import run_report

    result = run_report(_options(args, args.as_of))
    _summary(result)
    return result.exit_code


def _cmd_refresh(args: argparse.Namespace) -> int:
    from analysis.report_refresh import refresh

    result = refresh(_options(args, ""), force=args.force, completeness=args.completeness)
    if result is None:
        return 0
    _summary(result)
    return result.exit_code


def _summary(result) -> None:
    status = "published" if result.status == "ok" else "FAILED"
    print(f"{status}: {result.as_of} run {result.run_id} -> {result.path}")
    if result.status != "ok":
        print(result.message)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="run the report notebooks for one month and publish HTML",
        description="Validate the input, run the notebooks with papermill, publish "
                    "reports/<as_of>/ atomically and append the KPIs to the history.",
    )
    p.add_argument("--as-of", required=True, help="reporting month YYYY-MM")
    _common(p)
    p.set_defaults(func=_cmd_report)

    r = subparsers.add_parser(
        "refresh", help="report the latest complete month if not yet published (cron)",
        description="Find the latest complete month in the data; run the report only if "
                    "that month is unpublished or its input changed.",
    )
    _common(r)
    r.add_argument("--force", action="store_true", help="run even if up to date")
    r.add_argument("--completeness", type=float, default=0.95,
                   help="share of open loans a month needs to count as complete (0.95)")
    r.set_defaults(func=_cmd_refresh)
