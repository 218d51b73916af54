"""Commands ``report`` (one reporting month) and ``refresh`` (the scheduled job).

Exit status: 0 published (or, for ``refresh``, already up to date); 1 a notebook
failed or timed out; 2 bad input or parameter (nothing ran); 3 another run holds the
lock longer than ``--lock-timeout``.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.cli.common import add_engine_arguments
from analysis.cli.logs import log_level
from analysis.report import DEFAULT_KERNEL, SUPPORTED_LANGUAGES, ReportOptions

if TYPE_CHECKING:
    from analysis.report.runner import RunResult

# The runner, the refresh logic and the provenance record (papermill, nbformat, jsonschema:
# about 3 s) are imported by the commands that run, so ``--help`` and the other commands
# start without them.


def parse_languages(value: str) -> tuple[str, ...]:
    """``"en,zh-CN"`` -> ``("en", "zh-CN")``; an unknown language is a usage error (exit 2)."""
    langs = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    bad = [v for v in langs if v not in SUPPORTED_LANGUAGES]
    if not langs or bad:
        raise argparse.ArgumentTypeError(
            f"{value!r}: languages are one or more of {list(SUPPORTED_LANGUAGES)}, joined by ','"
        )
    return langs


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
    p.add_argument("--language", default=("en",), type=parse_languages,
                   help="report language(s), e.g. zh-CN or en,zh-CN: each is run and "
                        "published side by side, pages linked (default: en)")
    p.add_argument("--notebooks", type=Path, default=None,
                   help="folder of report notebooks (default: the checkout's notebooks/, "
                        "else those installed with the package)")
    p.add_argument("--kernel", default=DEFAULT_KERNEL,
                   help=f"Jupyter kernel name (default: {DEFAULT_KERNEL}, else python3)")
    p.add_argument("--cell-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="stop a notebook whose cell runs longer (default: 600)")
    p.add_argument("--run-timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="stop the run after this long in total (default: 3600)")
    p.add_argument("--lock-timeout", type=float, default=600.0, metavar="SECONDS",
                   help="wait this long for another run's lock, then exit 3 (default: 600)")
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="notebooks run at once (default 0: automatic, one per core up to 2, "
                        "1 for a book over 1 GiB in memory)")
    p.add_argument("--analyst", action="store_true",
                   help="also write pages with code under <month>/analyst/")
    # --engine pandas|dask|auto, --scheduler ADDRESS (docs/dask.md); auto: measured at 1M
    # loans, the Dask report takes 247 s and 4.8 GiB, pandas 604 s and 12.0 GiB
    add_engine_arguments(p, default="auto")


def _options(args: argparse.Namespace, as_of: str) -> ReportOptions:
    from analysis.report.provenance import notebooks_dir

    return ReportOptions(
        data_dir=args.data, as_of=as_of, out_dir=args.out, params=tuple(args.params),
        only=tuple(args.only), language=args.language[0], languages=args.language,
        notebooks_dir=args.notebooks or notebooks_dir(), kernel_name=args.kernel,
        cell_timeout_s=args.cell_timeout, run_timeout_s=args.run_timeout,
        lock_timeout_s=args.lock_timeout, analyst=args.analyst,
        quiet=log_level(args) > logging.INFO,
        engine=args.engine, scheduler=args.scheduler, jobs=args.jobs,
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report.runner import run_report

    opts = _options(args, args.as_of)
    for lang in opts.languages:  # one run per language; stop at the first failure
        result = run_report(replace(opts, language=lang))
        _summary(result)
        if result.exit_code:
            return result.exit_code
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    from analysis.report.refresh import refresh
    from analysis.report.runner import run_report

    opts = _options(args, "")
    first, *others = opts.languages
    result = refresh(replace(opts, language=first), force=args.force,
                     completeness=args.completeness, check_versions=not args.ignore_version)
    if result is not None:
        _summary(result)
        if result.exit_code:
            return result.exit_code
    for lang in others:
        if result is None:  # first language up to date: run another only if it is missing
            other = refresh(replace(opts, language=lang), completeness=args.completeness,
                            check_versions=not args.ignore_version)
        else:  # the first language was re-run: the others follow for the same month
            other = run_report(replace(opts, language=lang, as_of=result.as_of))
        if other is not None:
            _summary(other)
            if other.exit_code:
                return other.exit_code
    return 0


def _summary(result: RunResult) -> None:
    status = "published" if result.status == "ok" else "FAILED"
    print(f"{status}: {result.as_of} run {result.run_id} -> {result.path}")
    if result.status != "ok":
        print(result.message)


def register(subparsers: argparse._SubParsersAction) -> None:
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
    r.add_argument("--ignore-version", action="store_true",
                   help="a month published by another package version or library "
                        "environment counts as up to date (default: publish it again)")
    r.add_argument("--completeness", type=float, default=0.95,
                   help="share of open loans a month needs to count as complete (0.95)")
    r.set_defaults(func=_cmd_refresh)
