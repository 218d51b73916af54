"""Privacy in every report: no identifiers, and no cell built on too few loans.

Method
------
Small-cell suppression, the rule statistical offices use for tabular output: a
row of a tidy table whose *count* (loans or episodes behind it) is below
``min_cell`` has its count and every value column replaced by "suppressed".
Rows are never dropped, so a reader sees that a segment exists but is too
small to show. In CSV files the suppressed cells are empty (NaN) and the row
carries ``is_suppressed = True``; on screen they read ``suppressed`` and the
count reads ``< min_cell``.

Which columns are counts
    ``n``, ``count``, any ``n_*`` or ``*_n`` column, unless the caller names
    them (``n_col=``). When a row has several counts, the smallest decides
    (a rate on 8 episodes of 500 loans is still a rate on 8 episodes).
Which columns are values
    every numeric column that is not a count and not declared as a key
    (``keep=``); key columns (segment names, months, measure codes) are never
    touched, because they are labels, not statistics.
Identifiers
    ``loan_id`` and ``borrower_id`` (and any column whose name ends in
    ``loan_id``/``borrower_id``) are refused outright: no table that leaves
    the process may hold them. Before a report is published, :func:`privacy_scan`
    reads every file it wrote for an identifier column or any identifier value of
    the input (:func:`id_values`).

Assumptions and known drawbacks
-------------------------------
* Primary suppression only: with a published total and all but one cell of a
  row, a suppressed cell can sometimes be recovered by subtraction
  (complementary suppression is not done). Totals in our reports are rounded
  rates, which limits this.
* A table with no count column cannot be checked; :func:`suppress` refuses it
  unless the caller declares ``n_col=None`` (a table of parameters or of
  model coefficients that are not cell statistics).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError

ID_COLUMNS: tuple[str, ...] = ("loan_id", "borrower_id")
SUPPRESSED_FLAG = "is_suppressed"
SUPPRESSED_TEXT = "suppressed"
#: ``n_col`` default: find the count columns by name (:func:`count_columns`).
AUTO = object()


class PrivacyError(InputError):
    """A table would leak identifiers or cannot be checked for small cells."""


def id_columns(df: pd.DataFrame) -> list[str]:
    """Names of identifier columns (and index levels) present in ``df``."""
    names = [str(c) for c in df.columns] + [str(n) for n in df.index.names if n is not None]
    return [c for c in names if any(c.endswith(i) for i in ID_COLUMNS)]


def assert_no_ids(df: pd.DataFrame, name: str = "table") -> None:
    """Raise :class:`PrivacyError` when ``df`` has an identifier column."""
    found = id_columns(df)
    if found:
        raise PrivacyError(
            f"{name}: refuses identifier column(s) {found}; reports may not hold "
            f"{', '.join(ID_COLUMNS)}. Aggregate first (counts, rates by segment)."
        )


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns that look like counts: ``n``, ``count``, ``n_*``, ``*_n``."""
    out = []
    for c in df.columns:
        s = str(c)
        if s in ("n", "count") or s.startswith("n_") or s.endswith("_n"):
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                out.append(c)
    return out


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def small_cell_mask(
    df: pd.DataFrame, min_cell: int, n_col: str | Sequence[str] | None | object = AUTO
) -> pd.Series:
    """Boolean Series: True where the row rests on fewer than ``min_cell`` units.

    A missing count (NaN) counts as small: what cannot be checked is not shown.
    """
    cols = count_columns(df) if n_col is AUTO else _as_list(n_col)  # type: ignore[arg-type]
    if not cols:
        return pd.Series(False, index=df.index)
    counts = df[cols].apply(pd.to_numeric, errors="coerce")
    smallest = counts.min(axis=1, skipna=False)
    return smallest.isna() | (smallest < min_cell)


def suppress(
    df: pd.DataFrame,
    min_cell: int,
    *,
    n_col: str | Sequence[str] | None | object = AUTO,
    keep: Iterable[str] = (),
    name: str = "table",
) -> pd.DataFrame:
    """Tidy copy of ``df`` with rows on fewer than ``min_cell`` units suppressed.

    Parameters
    ----------
    df: tidy table, one statistic per row (wide tables: one row per cell group).
    min_cell: smallest number of loans/episodes a shown number may rest on (>= 1).
    n_col: count column(s); default: detected by name (see module docstring);
        ``None`` declares that the table holds no cell statistics.
    keep: numeric columns that are labels (e.g. ``term_months`` as a segment)
        and must not be blanked.
    name: used in error messages.

    Returns
    -------
    A copy with the counts and value columns of small rows set to NaN and a
    boolean ``is_suppressed`` column (always present when counts exist).
    """
    if not isinstance(min_cell, (int, np.integer)) or isinstance(min_cell, bool) or min_cell < 1:
        raise PrivacyError(f"{name}: min_cell must be an integer >= 1, got {min_cell!r}")
    assert_no_ids(df, name)
    if n_col is None:
        return df.copy()
    cols = count_columns(df) if n_col is AUTO else _as_list(n_col)  # type: ignore[arg-type]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PrivacyError(f"{name}: count column(s) {missing} not in {list(df.columns)}")
    if not cols:
        raise PrivacyError(
            f"{name}: no count column (n, count, n_*, *_n) to check small cells against "
            f"min_cell={min_cell}; columns are {list(df.columns)}. Add the number of "
            "loans/episodes behind each row, name it with n_col=..., or pass n_col=None "
            "if the table holds no cell statistics."
        )
    out = df.copy()
    small = small_cell_mask(out, min_cell, cols)
    keep_set = set(keep)
    values = [
        c
        for c in out.columns
        if c not in keep_set
        and c != SUPPRESSED_FLAG
        and (c in cols or (pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])))
    ]
    if small.any():
        for c in values:
            if pd.api.types.is_integer_dtype(out[c]) and not pd.api.types.is_extension_array_dtype(out[c]):
                out[c] = out[c].astype("float64")
            out.loc[small, c] = np.nan
    prior = out[SUPPRESSED_FLAG].astype(bool) if SUPPRESSED_FLAG in out.columns else False
    out[SUPPRESSED_FLAG] = small.to_numpy() | np.asarray(prior)
    return out


def for_display(df: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Presentation copy of a suppressed table: counts ``< min_cell``, values ``suppressed``.

    Expects the output of :func:`suppress`; the ``is_suppressed`` column is
    dropped when nothing is suppressed.
    """
    if SUPPRESSED_FLAG not in df.columns:
        return df
    small = df[SUPPRESSED_FLAG].astype(bool)
    out = df.drop(columns=[SUPPRESSED_FLAG])
    if not small.any():
        return out
    counts = set(count_columns(df))
    out = out.astype({c: object for c in out.columns})
    for c in out.columns:
        if c in counts:
            whole = df[c].notna() & (df[c] == df[c].round())
            out.loc[whole, c] = df.loc[whole, c].astype("int64")
        blank = small & df[c].isna()
        if blank.any():
            out.loc[blank, c] = f"< {min_cell}" if c in counts else SUPPRESSED_TEXT
    return out


def id_values(table: pd.DataFrame) -> set[str]:
    """Identifier values of a table of the input (``loans``, episodes) worth scanning the
    output for: every ``loan_id`` / ``borrower_id`` that is not a pure small number."""
    ids: set[str] = set()
    for col in ("loan_id", "borrower_id"):
        if col in table.columns:
            vals = table[col].astype(str).unique()
            ids.update(v for v in vals if not v.isdigit() or len(v) >= 8)
    return ids


def privacy_scan(folder: Path, ids: set[str]) -> list[str]:
    """Problems found in ``folder``: ID column headers or ID values in any output file."""
    problems = []
    token = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".html", ".csv", ".ipynb", ".json"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(folder)
        if path.suffix == ".csv":
            header = text.split("\n", 1)[0]
            if re.search(r"(^|,)\"?[a-z_]*(loan_id|borrower_id)\"?(,|$)", header):
                problems.append(f"{rel}: has an identifier column")
        if ids:
            hits = ids.intersection(token.findall(text))
            if hits:
                problems.append(f"{rel}: contains {len(hits)} loan/borrower id(s), e.g. {sorted(hits)[:3]}")
    return problems

