"""The loan-month frame every KPI reads: performance rows sorted by loan and month, with
integer loan codes, month numbers and the absorbing written-off flag.

Populations
-----------
* **Active loan-month**: a performance row with ``balance > 0`` and no write-off of the
  loan at or before that month. Overdue rates are over active loan-months.
* **Written off**: from the first month with ``write_off > 0`` on, a loan is written off
  for good (absorbing), whatever its later DPD.
* **Closed**: a row with ``balance == 0`` and no write-off (repaid in full). A loan whose
  rows stop with a positive balance before the data end is censored, as in ``episodes``.

Units: months are calendar month-ends (``mi`` holds month numbers, see
:mod:`analysis.months`), DPD in days, balances in the book's currency (CNY).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from analysis.checks import require_columns
from analysis.data.book import Book
from analysis.kpis.segments import segment_codes
from analysis.months import month_end, month_index


def codes_of(values: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` as (codes, object uniques), cheaper when equal
    values are contiguous (rows grouped by loan, as performance parts and the sorted
    loan-month frames are): only the first value of each run is hashed and sorted.
    Falls back to the full factorisation when a value occurs in several runs or is NA.
    A categorical with sorted categories (the loader's IDs) is recoded from its integer
    codes, with no text touched per row."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        cat = pd.Categorical(values)
        if cat.categories.is_monotonic_increasing:
            return _observed_codes(cat)
    values = np.asarray(values, dtype=object)
    n = len(values)
    if n > 1:
        start = np.empty(n, dtype=bool)
        start[0] = True
        start[1:] = values[1:] != values[:-1]
        heads = values[start]
        run_codes, uniques = pd.factorize(heads, sort=True)
        if len(uniques) == len(heads):  # each run a distinct value, no NA
            return run_codes[np.cumsum(start) - 1], np.asarray(uniques, dtype=object)
    codes, uniques = pd.factorize(values, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def _observed_codes(cat: pd.Categorical) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of a categorical with sorted categories, as ``pd.factorize(sort=True)``
    gives them: unused categories dropped, codes renumbered, -1 kept for NA."""
    codes = cat.codes.astype(np.intp)
    present = np.bincount(codes[codes >= 0], minlength=len(cat.categories)) > 0
    renumber = np.append(np.cumsum(present) - 1, -1)  # the appended -1 is what code -1 takes
    return renumber[codes], np.asarray(cat.categories, dtype=object)[present]


#: The last few sorted loan-month frames, keyed by the performance frame they came from
#: (``id`` plus a weak reference, so a freed frame's id cannot be mistaken for it).
_SORTED: list[tuple[Any, pd.DataFrame, np.ndarray, np.ndarray]] = []


_SORTED_KEEP = 2


def _forget(dead: Any) -> None:
    _SORTED[:] = [e for e in _SORTED if e[0] is not dead and e[0]() is not None]


def _sorted_loan_months(perf: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``perf`` sorted by loan and month with ``mi``, ``write_off``, ``written_off``;
    with each row's loan code and the sorted loan IDs the codes index.

    Memoised per performance frame (the last :data:`_SORTED_KEEP` frames): the KPI
    functions of one report or one Dask partition call this 10-20 times on the same
    frame, and the sort of the loan-ID strings was most of their cost. Callers copy
    before adding columns. Frames are never mutated in place by this module.
    """
    for ref, lm, codes, uniques in _SORTED:
        if ref() is perf:
            return lm, codes, uniques
    mi = month_index(perf["month"])
    codes, uniques = codes_of(perf["loan_id"])  # sort integer codes, not text
    lo, width = (int(mi.min()), int(mi.max()) - int(mi.min()) + 1) if len(mi) else (0, 1)
    if (len(uniques) + 1) * width < 2**62:  # one stable sort of code x month (= lexsort)
        order = np.argsort((codes.astype(np.int64) + 1) * width + (mi - lo), kind="stable")
    else:  # a key too wide for int64 (NaT months)
        order = np.lexsort((mi, codes))
    in_order = bool((order[1:] > order[:-1]).all())  # parts often come sorted: no take

    def sort(values: Any) -> Any:
        return values if in_order else values[order]

    def column(name: str) -> Any:
        col = perf[name]
        return sort(col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array)

    write_off = (
        perf["write_off"].fillna(0.0).astype(float).to_numpy()
        if "write_off" in perf.columns else np.zeros(len(perf))
    )
    mi, codes, write_off = sort(mi), sort(codes), sort(write_off)
    lm = pd.DataFrame({"loan_id": column("loan_id")})
    # column by column: a frame built from a dict stacks same-typed columns (a slow copy)
    lm["month"] = month_end(mi)
    lm["balance"] = column("balance")
    lm["days_past_due"] = column("days_past_due")
    lm["write_off"] = write_off
    lm["mi"] = mi
    lm["written_off"] = _written_off(write_off, codes)
    uniques = np.asarray(uniques, dtype=object)
    try:  # the entry goes when the performance frame does (no frame kept alive)
        ref = weakref.ref(perf, _forget)
    except TypeError:  # pragma: no cover - pandas frames accept weak references
        return lm, codes, uniques
    _SORTED.insert(0, (ref, lm, codes, uniques))
    del _SORTED[_SORTED_KEEP:]
    return lm, codes, uniques


def coded_loan_months(book: Book) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The shared sorted loan-month frame of ``book`` (not to be modified), its rows'
    loan codes and the loan IDs they index (see :func:`_sorted_loan_months`)."""
    require_columns(book.performance, ["loan_id", "month", "balance", "days_past_due"], "performance")
    require_columns(book.loans, ["loan_id"], "loans")
    return _sorted_loan_months(book.performance)


def _written_off(write_off: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row (sorted by loan code ``codes``): the loan's cumulative write-off is > 0.

    Without negative write-offs that is "some write-off > 0 so far", counted with an
    integer cumulative sum; otherwise the float cumulative sum per loan (a group-by on the
    integer codes). An NA loan ID (code -1) is never written off (no group)."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if not (write_off >= 0).all():
        cum = pd.Series(write_off).groupby(codes, sort=False).cumsum().to_numpy()
        return (cum > 0) & (codes >= 0)
    hits = np.cumsum(write_off > 0)
    start = np.ones(n, dtype=bool)
    start[1:] = codes[1:] != codes[:-1]
    first = np.flatnonzero(start)
    before = np.repeat(hits[first] - (write_off[first] > 0), np.diff(np.append(first, n)))
    return (hits > before) & (codes >= 0)


def loan_months(book: Book, by: str | None) -> pd.DataFrame:
    """Performance rows sorted by loan and month, with ``mi`` (month index),
    ``write_off`` (0 if absent), ``written_off`` (absorbing flag) and the segment."""
    lm, codes, uniques = coded_loan_months(book)
    lm = lm.copy()
    st, seg, seg_values = segment_codes(book.loans, codes, uniques, by)
    lm["segment_type"] = st
    lm["segment"] = seg_values[seg]
    return lm
