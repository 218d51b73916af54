"""Validating a data directory against the contract (``analysis.data.schema``).

:func:`validate_book` returns the :class:`~analysis.data.problems.ValidationReport`;
:func:`analysis.data.load.load_book` raises it as a
:class:`~analysis.data.problems.BookValidationError` or returns the typed book.

Method, in four passes that never stop at the first problem:

1. files (:mod:`analysis.data.files`, :mod:`analysis.data.read`): each table is
   ``<table>.parquet``, ``<table>.csv`` or a folder ``<table>/`` of Parquet parts.
   Missing, empty, unreadable, non-UTF-8 (byte offset and line named), wrongly
   delimited files and missing columns are report rows, not tracebacks. CSV is read as
   text so that every value that does not parse can be shown as it was written.
2. types (:mod:`analysis.data.coerce`): values are coerced by the declared kind (IDs to
   text, held as ``category`` in the large tables, dates to ``datetime64[ns]``, months to month-end, integers checked whole),
   defaults filled (``write_off``, ``recovery`` = 0); failures are reported with the raw
   value.
3. values (:mod:`analysis.data.checks`): the declared rules (``>= 0``, allowed codes,
   ...) and non-null checks, by pandera up to
   :data:`~analysis.data.checks.PANDERA_MAX_ROWS` rows and by the same rules as
   vectorised masks above. Missing values are counted once (values that failed to parse
   are not reported twice).
4. across rows and tables (:mod:`analysis.data.checks`): unique keys, known
   ``loan_id``, month-ends, no performance before origination, contiguous months,
   declared measure codes, numeric and mapped signals, a signal for every cause family,
   mapped reason codes. Everything is vectorised on integer loan positions and month
   numbers (no loop over loans).

The loaded ``performance`` and ``signals`` are sorted by loan (in the order of
``loans``) and month, with a fresh index.

Known drawbacks: CSV line numbers assume no quoted field spans several lines; rows of a
Parquet folder are numbered within their part. Books larger than memory are validated
by :mod:`analysis.dask.validate` (choose with :mod:`analysis.engine`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.checks import (
    book_measures,
    check_cause_map,
    check_monthly,
    check_values,
    columns_ok,
    loan_pos,
    unique_key,
)
from analysis.data.coerce import coerce
from analysis.data.files import locate, table_candidates
from analysis.data.problems import Loaded, Report, ValidationReport
from analysis.data.read import read_table, release_arrow_memory
from analysis.data.schema import TABLES
from analysis.months import NAT_MONTH, month_index


def _read_files(data_dir: Path, rep: Report) -> dict[str, Loaded]:
    """Pass 1: every table found and readable, by name (``cause_map`` is required once
    ``signals`` or ``reasons`` exist)."""
    lds: dict[str, Loaded] = {}
    found: set[str] = set()
    for name, t in TABLES.items():
        path = locate(data_dir, name, rep, t.required == "always")
        if table_candidates(data_dir, name):
            found.add(name)
        if path is not None:
            ld = read_table(path, name, rep, compact=True)
            if ld is not None:
                lds[name] = ld
    for name in ("signals", "reasons"):
        if name in lds and "cause_map" not in found:
            locate(data_dir, "cause_map", rep, True, why=f" (required because {lds[name].file} exists)")
            break
    return lds


def _typed(lds: dict[str, Loaded], rep: Report
           ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, np.ndarray]]]:
    """Pass 2: the tables with their required columns, typed, and their raw-null flags."""
    dfs: dict[str, pd.DataFrame] = {}
    raw_nulls: dict[str, dict[str, np.ndarray]] = {}
    for name, ld in lds.items():
        if not columns_ok(ld.file, name, list(ld.df.columns), len(ld.df), rep):
            continue
        dfs[name], raw_nulls[name] = coerce(ld, rep, compact=True)
    return dfs, raw_nulls


def _across_tables(lds: dict[str, Loaded], dfs: dict[str, pd.DataFrame], rep: Report
                   ) -> dict[str, np.ndarray | None]:
    """Pass 4: keys, loans, months and mappings across rows and tables; the sort order
    (by loan and month) of ``performance`` and ``signals`` (None when already sorted)."""
    loans = dfs.get("loans")
    loan_index = origin = None
    if loans is not None:
        unique_key(lds["loans"], loans, rep, ["loan_id"])
        first = loans.drop_duplicates("loan_id").dropna(subset=["loan_id"])
        loan_index = pd.Index(first["loan_id"].to_numpy(dtype=object))
        origin = (month_index(first["origination_date"]), first["origination_date"])
    orders: dict[str, np.ndarray | None] = {}
    for name in ("performance", "signals"):
        if name in dfs:
            pos = loan_pos(lds[name], dfs[name], rep, loan_index)
            orders[name] = check_monthly(lds[name], dfs[name], rep, pos,
                                         origin if name == "performance" else None,
                                         contiguous=name == "performance")
    for name in ("relief", "reasons"):
        if name in dfs:
            pos = loan_pos(lds[name], dfs[name], rep, loan_index)
            unique_key(lds[name], dfs[name], rep, list(TABLES[name].primary_key))
            if name == "relief" and pos is not None:
                df = dfs[name]
                g = month_index(df["granted_date"])
                early = (pos >= 0) & (g != NAT_MONTH) & (g < origin[0][np.where(pos >= 0, pos, 0)])
                rep.add_mask(lds[name], "granted_date", "not_before_origination", early, df,
                             ["loan_id", "granted_date", "measure"])
    for name in ("cause_map", "measures"):
        if name in dfs:
            unique_key(lds[name], dfs[name], rep, list(TABLES[name].primary_key))
    check_cause_map(lds, dfs, rep)
    return orders


def _counts(dfs: dict[str, pd.DataFrame]) -> dict:
    """Sizes of the book for :meth:`ValidationReport.message`."""
    loans, perf, meas = dfs.get("loans"), dfs.get("performance"), dfs["measures"]
    counts = {
        "loans": 0 if loans is None else len(loans),
        "loan_months": 0 if perf is None else len(perf),
        "relief": len(dfs.get("relief", ())),
        "measures": len(meas),
        "signal_columns": 0 if "signals" not in dfs else len(dfs["signals"].columns) - 2,
        "reasons": len(dfs.get("reasons", ())),
    }
    if perf is not None and perf["month"].notna().any():
        counts["first_month"] = perf["month"].min().strftime("%Y-%m")
        counts["last_month"] = perf["month"].max().strftime("%Y-%m")
    return counts


def read_and_validate(data_dir: str | Path) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    """The four passes: the report and the typed tables by name (``measures`` always:
    the standard four plus those declared; ``performance`` and ``signals`` sorted by loan
    and month). The tables are complete only when the report is ``ok``."""
    data_dir = Path(data_dir)
    rep = Report(data_dir)
    if not data_dir.is_dir():
        rep.add(str(data_dir), "", "", "directory_exists", 1,
                [f"{data_dir} is not a directory" if data_dir.exists() else f"{data_dir} not found"])
        return rep.result(), {}
    lds = _read_files(data_dir, rep)
    dfs, raw_nulls = _typed(lds, rep)
    release_arrow_memory()  # the Arrow buffers of the columns typing replaced
    meas = book_measures(lds.get("measures"), dfs.get("measures"), rep)
    codes = list(meas["code"])
    for name, df in dfs.items():
        check_values(lds[name], df, raw_nulls[name], rep, codes)
    orders = _across_tables(lds, dfs, rep)
    for name, order in orders.items():
        if order is not None:
            dfs[name] = dfs[name].take(order)
    for df in dfs.values():
        df.index = pd.RangeIndex(len(df))
    dfs["measures"] = meas
    return rep.result(_counts(dfs)), dfs


def validate_book(data_dir: str | Path) -> ValidationReport:
    """Validate a data directory against the contract; never raises for bad data.

    Returns a :class:`~analysis.data.problems.ValidationReport` (``.ok``, ``.table``,
    ``.format()``).
    """
    return read_and_validate(data_dir)[0]


__all__ = ["read_and_validate", "validate_book"]
