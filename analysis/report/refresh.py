"""The scheduled job: report the latest complete month, once.

``python -m analysis refresh --data DIR --out reports`` takes the reports lock, finds
the latest *complete* month of the data, and runs the report only when that month is
not yet published, or was published from different input files (fingerprint) or with
different parameters, or by another version of the package or another environment
(:func:`version_change`; ``--ignore-version`` turns that check off); ``--force`` runs it
anyway. Running it twice does the work once.

Versions
    ``run.json`` records the package version and an id of the library versions
    (:mod:`analysis.report.provenance`). When either differs from the running ones, the
    month is published again, so the published numbers are always those of the installed
    code and locked environment. A ``run.json`` that predates these fields is left alone.

Latest complete month
    The last month-end ``M`` of the performance table, unless fewer than
    ``completeness`` (default 0.95) of the loans that were open at ``M - 1`` (a row
    there with a positive balance) have a row at ``M``: then ``M`` is a month still
    being loaded and the rule is applied to ``M - 1``, and so on (at most 12 months
    back). Loans repaid or written off have balance 0 or keep their rows, so a normal
    month passes; a half-loaded month does not.

Known drawbacks: a book where many loans legitimately stop reporting at once (a
portfolio sale) looks incomplete; pass ``--as-of`` to ``report`` for such a month.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.engine import choose_engine
from analysis.errors import InputError
from analysis.report.cache import data_fingerprint
from analysis.report.options import ReportOptions
from analysis.report.pages import SUMMARY_PREFIX, package_version, page_name
from analysis.report.params import parse_assignments
from analysis.report.provenance import environment_id
from analysis.report.publish import publish_name, report_lock
from analysis.report.runner import RunResult, load_and_validate, read_run_info, run_report_locked

log = logging.getLogger(__name__)


def latest_complete_month(book: Book, completeness: float = 0.95) -> str:
    """``YYYY-MM`` of the latest complete month (see module docstring)."""
    perf = book.performance[["loan_id", "month", "balance"]]
    period = pd.to_datetime(perf["month"]).dt.to_period("M")
    months = np.sort(period.unique())
    if len(months) == 0:
        raise InputError("table 'performance' is empty: no month to report")
    for back in range(min(12, len(months) - 1)):
        m, prev = months[-1 - back], months[-2 - back]
        open_prev = set(perf.loc[(period == prev) & (perf["balance"] > 0), "loan_id"])
        if not open_prev:
            return str(m)
        seen = set(perf.loc[period == m, "loan_id"])
        share = len(open_prev & seen) / len(open_prev)
        if share >= completeness:
            return str(m)
    return str(months[0] if len(months) == 1 else months[-1 - min(12, len(months) - 1)])


def is_up_to_date(out_dir: Path, as_of: str, fingerprint: str, parameters: dict) -> bool:
    """Published ``as_of`` with status ok, the same input fingerprint and parameters.

    Languages are published side by side (one run each, the last one's ``run.json``
    kept): the wanted language counts as published when it was the last run's or its
    summary page exists.
    """
    folder = out_dir / publish_name(as_of, str(parameters.get("segment", "")))
    info = read_run_info(folder)
    if not info or info.get("status") != "ok" or info.get("input_fingerprint") != fingerprint:
        return False
    lang = str(parameters.get("language", "en"))
    last = str(info.get("parameters", {}).get("language", "en"))
    if lang != last and not (folder / page_name(SUMMARY_PREFIX, lang)).exists():
        return False
    skip = ("data_dir", "language")
    published = {k: v for k, v in info.get("parameters", {}).items() if k not in skip}
    wanted = {k: v for k, v in parameters.items() if k not in skip}
    return set(published) == set(wanted) and all(
        str(published[k]) == str(v) for k, v in wanted.items()
    )


def version_change(out_dir: Path, as_of: str, segment: str = "") -> str | None:
    """Why the published ``as_of`` is out of date for this installation: the package
    version or the environment id in its ``run.json`` differs from the running one; None
    when they match, or when the month or those fields are absent."""
    info = read_run_info(out_dir / publish_name(as_of, segment)) or {}
    published, running = info.get("package_version"), package_version()
    if published is not None and str(published) != running:
        return f"published by overdue-relief {published}, this is {running}"
    env, here = info.get("environment_id"), environment_id()
    if env is not None and str(env) != here:
        return f"published in environment {env}, this is {here} (library versions changed)"
    return None


def refresh(opts: ReportOptions, force: bool = False, completeness: float = 0.95,
            check_versions: bool = True) -> RunResult | None:
    """Run the report for the latest complete month if needed; None when up to date.
    ``check_versions=False``: a change of package or library versions alone is no reason
    to publish again."""
    out = Path(opts.out_dir)
    with report_lock(out, opts.lock_timeout_s, what="refresh"):
        if choose_engine(opts.data_dir, opts.engine) == "dask":
            # analysis.dask imported here: dask and distributed are heavy optional dependencies
            from analysis.dask.report_pass import latest_complete_month_dask

            month = latest_complete_month_dask(opts.data_dir, completeness, opts.scheduler)
        else:
            book = load_and_validate(Path(opts.data_dir))
            month = latest_complete_month(book, completeness)
            del book
        fingerprint = data_fingerprint(opts.data_dir)
        wanted = {"as_of": month, "language": opts.language,
                  **parse_assignments(opts.params)}
        changed = version_change(out, month, str(wanted.get("segment", "")))
        if not force and is_up_to_date(out, month, fingerprint, wanted):
            if not (check_versions and changed):
                log.info("refresh: %s is published and up to date; nothing to do "
                         "(--force to re-run)", month)
                return None
            log.info("refresh: %s %s: publishing it again", month, changed)
        return run_report_locked(replace(opts, as_of=month))


__all__ = ["is_up_to_date", "latest_complete_month", "refresh", "version_change"]
