"""Parts of a book: what was known at a month-end, the loans of a segment.

Both are row- and loan-wise rules, so the Dask engine applies them per loan partition
with the same result as on the whole book (:mod:`analysis.dask.report_pass`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from analysis.data.book import Book
from analysis.errors import ParameterError

# Table -> the column that dates each row (what was known when).
_EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("origination_date", "origination_month"),
    "performance": ("month",),
    "signals": ("month",),
    "relief": ("granted_date", "granted_month", "grant_date"),
    "reasons": ("reported_date", "reported_month", "report_date"),
}


def _event_column(table: str, df: pd.DataFrame) -> str | None:
    for c in _EVENT_COLUMNS.get(table, ()):
        if c in df.columns:
            return c
    return None


def latest_month(book: Book) -> pd.Timestamp:
    """Last month-end with performance rows."""
    return pd.Timestamp(book.performance["month"].max()) + pd.offsets.MonthEnd(0)


def restrict_to(book: Book, as_of: pd.Timestamp) -> Book:
    """The book as known at the month-end ``as_of`` (rows dated later are dropped)."""
    changes: dict[str, pd.DataFrame] = {}
    for table in _EVENT_COLUMNS:
        df = getattr(book, table)
        if df is None:
            continue
        col = _event_column(table, df)
        if col is None:
            continue
        keep = pd.to_datetime(df[col]) <= as_of
        if not keep.all():
            changes[table] = df.loc[keep].reset_index(drop=True)
    return replace(book, **changes) if changes else book


def filter_segment(book: Book, conditions: Sequence[tuple[str, str]], check: bool = True) -> Book:
    """Keep the loans whose attributes match every ``(column, value)`` condition.

    ``check=False`` (a loan partition of the Dask engine, checked once for the whole
    book) skips the error for a value no loan of ``book`` has."""
    if not conditions:
        return book
    loans = book.loans
    mask = pd.Series(True, index=loans.index)
    for col, val in conditions:
        if col not in loans.columns or col in ("loan_id", "borrower_id"):
            allowed = [c for c in loans.columns if c not in ("loan_id", "borrower_id")]
            raise ParameterError(
                f"parameter segment: {col!r} is not a loan attribute; use one of {allowed}"
            )
        as_text = loans[col].astype(str)
        if check and not (as_text == val).any():
            seen = sorted(as_text.unique())[:20]
            raise ParameterError(
                f"parameter segment: no loan has {col}={val!r}; values seen: {seen}"
            )
        mask &= as_text == val
    ids = loans.loc[mask, "loan_id"]
    changes: dict[str, pd.DataFrame] = {"loans": loans.loc[mask].reset_index(drop=True)}
    for table in ("performance", "relief", "signals", "reasons"):
        df = getattr(book, table)
        if df is not None and "loan_id" in df.columns:
            changes[table] = df.loc[df["loan_id"].isin(ids)].reset_index(drop=True)
    return replace(book, **changes)



__all__ = ["filter_segment", "latest_month", "restrict_to"]
