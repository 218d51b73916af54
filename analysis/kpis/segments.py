"""Segment cuts shared by every KPI table: ``segment_type`` and ``segment`` columns.

Each KPI can be cut by a loan attribute (``by=None | "borrower_type" | "industry" |
"region"``, or any other loan column); the output always carries ``segment_type`` ("all"
or the column name) and ``segment`` ("all", the value, or "missing"), so tables for
different cuts stack with ``pd.concat`` (:func:`by_segments` does exactly that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import ParameterError

SEGMENT_COLUMNS: tuple[str, ...] = ("borrower_type", "industry", "region")
ALL = "all"
#: The key columns of every segmented KPI table (a list: it indexes frames as columns).
SEGMENT_KEYS = ["segment_type", "segment"]


def segment_of(loans: pd.DataFrame, loan_ids: pd.Series, by: str | None) -> pd.DataFrame:
    """``segment_type`` and ``segment`` columns for ``loan_ids`` (index aligned)."""
    if by is None:
        return pd.DataFrame({"segment_type": ALL, "segment": ALL}, index=loan_ids.index)
    if not isinstance(by, str) or by not in loans.columns or by == "loan_id":
        raise ParameterError(
            f"by={by!r} is not a loan column; use None or one of {list(SEGMENT_COLUMNS)}"
        )
    values = pd.Series(loan_values(loans, by, loan_ids), index=loan_ids.index)
    seg = values.where(values.notna(), "missing").astype(str)
    return pd.DataFrame({"segment_type": by, "segment": seg}, index=loan_ids.index)


def loan_values(loans: pd.DataFrame, column: str, loan_ids: pd.Series) -> np.ndarray:
    """The loan attribute ``column`` of each of ``loan_ids`` as an object array (missing
    where the loan is unknown), whether the IDs and values are text or categorical: a
    categorical column of IDs is looked up once per category and taken by its codes."""
    first = loans.drop_duplicates("loan_id")
    lookup = pd.Series(first[column].to_numpy(dtype=object),
                       index=first["loan_id"].to_numpy(dtype=object))
    if isinstance(loan_ids.dtype, pd.CategoricalDtype):
        per_cat = lookup.reindex(loan_ids.cat.categories.to_numpy(dtype=object)).to_numpy()
        return np.append(per_cat, np.nan).astype(object)[loan_ids.cat.codes.to_numpy()]
    return loan_ids.astype(object).map(lookup).to_numpy(dtype=object)


def segment_codes(
    loans: pd.DataFrame, codes: np.ndarray, uniques: np.ndarray, by: str | None
) -> tuple[str, np.ndarray, np.ndarray]:
    """``segment_type``, each row's segment code and the segment values (object array)
    for rows whose loan IDs are ``uniques[codes]``: the values of :func:`segment_of`,
    looked up once per loan and taken by the integer codes (no text hashing per row).
    A row with an NA loan ID (code -1) gets "missing" (or "all")."""
    if by is None:
        return ALL, np.zeros(len(codes), dtype=np.intp), np.array([ALL], dtype=object)
    per_loan = segment_of(loans, pd.Series(uniques, dtype=object), by)["segment"].to_numpy()
    # the appended "missing" is what code -1 (the last entry) takes
    seg, seg_values = pd.factorize(np.append(per_loan, "missing").astype(object))
    return by, seg[codes], np.asarray(seg_values, dtype=object)


def by_segments(
    func: Callable[..., pd.DataFrame],
    *args: Any,
    segments: Iterable[str | None] = (None, *SEGMENT_COLUMNS),
    **kwargs: Any,
) -> pd.DataFrame:
    """Stack ``func(*args, by=s, **kwargs)`` for every ``s`` in ``segments``."""
    return pd.concat([func(*args, by=s, **kwargs) for s in segments], ignore_index=True)
