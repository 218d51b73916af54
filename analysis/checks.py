"""Small checks shared by every layer: a condition that must hold, columns a table must
have. They raise :class:`~analysis.errors.InputError` (exit 2 on the command line) or the
exception type given, with a message that names what is wrong."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from analysis.errors import InputError


def require(cond: bool, msg: str, exc: type[Exception] = InputError) -> None:
    """Raise ``exc(msg)`` unless ``cond`` holds."""
    if not cond:
        raise exc(msg)


def require_columns(df: pd.DataFrame | None, columns: Iterable[str], table: str) -> None:
    """Raise :class:`InputError` when table ``table`` is missing or lacks a column."""
    if df is None:
        raise InputError(f"table {table!r} is required for this KPI but missing")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"table {table!r}: missing column(s) {missing}; present: {list(df.columns)}"
        )


def shown_count(n: int | float, min_cell: int) -> str:
    """A count of loans or episodes for a note a reader may see: the number, or "fewer
    than min_cell" for 1..min_cell-1, so that warnings never disclose a cell the
    published tables suppress (the report's sentences do the same in their language)."""
    n = int(n)
    return f"fewer than {min_cell}" if 0 < n < min_cell else f"{n:,}"


__all__ = ["require", "require_columns", "shown_count"]
