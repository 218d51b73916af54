"""Loading a data directory into a validated :class:`~analysis.data.book.Book` (pandas).

The one loader of notebooks, the command line and the importer. Books larger than
memory go through :mod:`analysis.engine` (``load_book_any``), which hands them to the
Dask engine.
"""

from __future__ import annotations

from pathlib import Path

from analysis.data.book import Book
from analysis.data.problems import BookValidationError
from analysis.data.validate import read_and_validate


def load_book(data_dir: str | Path) -> Book:
    """Load and validate a data directory into a :class:`~analysis.data.book.Book`.

    Dates are ``datetime64[ns]``, ``month`` columns month-ends, IDs text (the IDs and
    codes of ``loans``, ``performance`` and ``signals`` as ``category`` with sorted
    categories, to keep 1M-loan books in memory: ``schema.category_columns``),
    ``write_off``/``recovery`` filled with 0, relief parameters present (missing
    where not given). ``Book.measures`` lists the standard four measures plus
    any declared (columns ``code, description, is_concession, is_standard``).
    Raises :class:`~analysis.data.problems.BookValidationError` with the full report
    when the data break the contract.
    """
    report, dfs = read_and_validate(data_dir)
    if not report.ok:
        raise BookValidationError(report)
    return Book(
        loans=dfs["loans"],
        performance=dfs["performance"],
        relief=dfs["relief"],
        measures=dfs["measures"],
        signals=dfs.get("signals"),
        reasons=dfs.get("reasons"),
        cause_map=dfs.get("cause_map"),
        source=Path(data_dir),
    )


__all__ = ["load_book"]
