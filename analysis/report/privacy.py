"""Privacy in every report: no identifiers, no count built on too few loans, no live formula.

Method
------
Small-cell suppression, the rule statistical offices use for tabular output, applied
to every published count of loans or episodes, denominators and numerators alike.

Primary suppression
    * a row whose *base* count (the loans or episodes a row's statistics rest on:
      ``n``, ``count``, any ``n_*`` or ``*_n`` column, or ``n_col=``) is below
      ``min_cell`` has its counts and every value column blanked. When a row has
      several base counts, the smallest decides;
    * a *numerator* (a count of the row's units with a characteristic, held in a
      column or implied by a count rate times its base; :data:`NUMERATORS`,
      :data:`COUNT_RATES`) between 1 and ``min_cell - 1`` is blanked with every value
      that rests on the same units (its rate, interval, balance share): the row's base
      stays shown. Zero is shown (no unit is described).
Complementary suppression (cells that could be recovered from the cells around them)
    * the complement of a numerator, base minus numerator (the loans *without* the
      characteristic), must not be small either;
    * nested counts (overdue ⊇ 30+ ⊇ 90+) and cumulative curves (``n_ever`` by months
      on book) must not differ from the previous shown cell of the chain by a small
      count: a cell that does is blanked;
    * in a partition (segments of a segment type adding up to the ``all`` row;
      categories of a month; destination buckets of a roll-rate row; cure and default
      of a denominator with the open episodes as remainder) the hidden part
      (total minus every shown part) must be 0 or at least ``min_cell``, and a single
      blanked part whose total is shown is never left alone: the smallest other
      non-zero part is blanked with it.
    The rules are applied until nothing changes. Rows are never dropped, so a reader
    sees that a segment exists but is too small to show. In CSV files the suppressed
    cells are empty (NaN) and the row carries ``is_suppressed = True``; on screen they
    read ``suppressed``.

Which columns are values
    every numeric column that is not a count and not a label: declared ``keep=`` columns
    and :data:`LABEL_COLUMNS` (months on book, thresholds) are never touched, nor are
    text columns (segment names, months, measure codes), because they are labels.
Identifiers
    ``loan_id`` and ``borrower_id`` (and any column whose name ends in
    ``loan_id``/``borrower_id``) are refused outright: no table that leaves
    the process may hold them. Before a report is published, :func:`privacy_scan`
    reads every file it wrote for an identifier column or any identifier value of
    the input (:func:`id_values`).
Spreadsheet-safe files
    :func:`write_csv` is the one writer of every published CSV (report tables and the
    analyst exports of ``attribute`` and ``recommend``). It prefixes ``'`` to every text
    cell (and header) that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return,
    so that a spreadsheet shows it as text instead of evaluating it (OWASP, "CSV
    injection"). Numbers are never touched: a negative number stays a number.

Assumptions and known drawbacks
-------------------------------
* Complementary suppression is a greedy heuristic over the relations above, checked
  one relation at a time (the derivations a reader can make with a calculator: a share
  times its base, a total minus the shown cells, the difference of two cells of a
  chain). A determined reader solving all the linear relations of a table at once
  could narrow a blanked cell further; optimal cell suppression (linear programming
  over the whole table) is not done.
* Counts implied by a rate are recovered as ``round(rate * base)``; a rate on
  amounts (balance shares, loss rates) is blanked only as the twin of a count rate.
* A table with no count column cannot be checked; :func:`suppress` refuses it
  unless the caller declares ``n_col=None`` (a table of parameters or of
  model coefficients that are not cell statistics).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


#: Numerator columns: ``{count column: (its base column, values resting on the same units)}``.
#: ``numerator`` is a count only in the rows of a count-rate metric (:data:`COUNT_RATES`).
NUMERATORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "n_ever": ("n_observed", ("share_ever",)),
    "transitions": ("n_from", ("balance", "share")),
    "numerator": ("denominator", ()),
}
#: Rates of counts (a column of a wide table, or a ``metric`` of a long one), with the
#: values that rest on the same loans/episodes (their balance twins, the loss rate of
#: the defaults): ``rate * base`` is a count of units with a characteristic.
COUNT_RATES: dict[str, tuple[str, ...]] = {
    "overdue_rate_count": ("overdue_rate_balance",),
    "rate_30plus_count": ("rate_30plus_balance",),
    "rate_90plus_count": ("rate_90plus_balance", "npl_ratio_balance"),
    "cure_rate": (),
    "default_rate": ("loss_rate",),
    "redefault_rate": (),
    "sustained_cure_rate": (),
}
#: Nested counts of one base (each a subset of the one before).
NESTED: tuple[str, ...] = ("overdue_rate_count", "rate_30plus_count", "rate_90plus_count")
#: Competing outcomes of one base (their remainder, the open episodes, is not published).
COMPETING: tuple[str, ...] = ("cure_rate", "default_rate")
#: Cumulative counts: ``{count column: the column along which it accumulates}``.
CUMULATIVE: dict[str, str] = {"n_ever": "months_on_book"}
#: Label columns whose values split a total into exhaustive parts (besides segments).
PART_COLUMNS: tuple[str, ...] = ("category", "to_bucket")
#: Base columns that are the same for every part of a partition (never parts).
ROW_BASES: tuple[str, ...] = ("n_from", "n_observed", "denominator")
#: Numeric columns that are labels, never blanked.
LABEL_COLUMNS: tuple[str, ...] = ("months_on_book", "dpd_threshold", "term_months")
#: Text cells starting with one of these are evaluated by spreadsheets (OWASP CSV injection).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class CellGrid:
    """The counts of a table and the relations a reader could recover them from.

    A cell is one count (loans or episodes) in one row: ``value`` (NaN when already
    blank), ``row`` (position), ``base`` (True: the row's statistics rest on it; hiding
    it blanks the row), ``targets`` (the ``(row, column)`` cells blanked with it).
    ``partitions``: ``(total cell or -1, total value or NaN for the sum of the parts,
    parts, complete)``; complete partitions are known to add up to their total.
    ``chains``: ``(anchor value, cells in order)``, nested or cumulative counts.
    """

    value: list[float] = field(default_factory=list)
    row: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    base: list[bool] = field(default_factory=list)
    targets: list[list[tuple[int, str]]] = field(default_factory=list)
    partitions: list[tuple[int, float, list[int], bool]] = field(default_factory=list)
    chains: list[tuple[float, list[int]]] = field(default_factory=list)

    def add(self, value: float, row: int, kind: str, base: bool,
            targets: list[tuple[int, str]]) -> int:
        """Append one cell; returns its number."""
        self.value.append(float(value))
        self.row.append(row)
        self.kind.append(kind)
        self.base.append(base)
        self.targets.append(targets)
        return len(self.value) - 1


def _row_keys(df: pd.DataFrame, cols: Sequence[str]) -> list[tuple]:
    return list(zip(*(df[c].astype(str).tolist() for c in cols), strict=True)) if cols \
        else [()] * len(df)


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _wide_cells(g: CellGrid, df: pd.DataFrame, bases: list[str], values: list[str],
                base_cell: dict[tuple[int, str], int]) -> None:
    """Numerators held in columns, or implied by count-rate columns, row by row."""
    base = "n_loans" if "n_loans" in bases else (bases[0] if len(bases) == 1 else None)
    if base is not None:
        n = _numbers(df, base)
        rates = [c for c in COUNT_RATES if c in values]
        for r in range(len(df)):
            chain = []
            for c in rates:
                twins = [(r, t) for t in COUNT_RATES[c] if t in values]
                k = g.add(np.rint(_numbers(df, c)[r] * n[r]), r, c, False, [(r, c), *twins])
                g.partitions.append((base_cell[(r, base)], np.nan, [k], False))
                if c in NESTED:
                    chain.append(k)
            if len(chain) > 1:
                g.chains.append((n[r], chain))
    for num, (den, deps) in NUMERATORS.items():
        if num == "numerator" or num not in df.columns or den not in df.columns:
            continue
        counts, dens = _numbers(df, num), _numbers(df, den)
        for r in range(len(df)):
            k = g.add(counts[r], r, num, False, [(r, num), *((r, d) for d in deps if d in values)])
            g.partitions.append((base_cell.get((r, den), -1), dens[r], [k], False))


def _long_cells(g: CellGrid, df: pd.DataFrame, bases: list[str], values: list[str],
                keys: list[str], base_cell: dict[tuple[int, str], int]) -> None:
    """Numerators of a long table (``metric``, ``value``, base): by metric, within a key."""
    base = "n" if "n" in bases else bases[0]
    n, metric = _numbers(df, base), df["metric"].astype(str).to_numpy()
    held = _numbers(df, "numerator") if "numerator" in df.columns else None
    rate = _numbers(df, "value")
    shown = [c for c in values if c not in bases and c != "denominator"]
    groups: dict[tuple, dict[str, int]] = {}
    for r, key in enumerate(_row_keys(df, [k for k in keys if k != "metric"])):
        groups.setdefault(key, {})[metric[r]] = r
    for rows in groups.values():
        cells: dict[str, int] = {}
        for m, twins in COUNT_RATES.items():
            r = rows.get(m)
            if r is None:
                continue
            count = held[r] if held is not None else np.rint(rate[r] * n[r])
            targets = [(rr, c) for rr in (r, *(rows[t] for t in twins if t in rows)) for c in shown]
            cells[m] = g.add(count, r, m, False, targets)
            g.partitions.append((base_cell[(r, base)], np.nan, [cells[m]], False))
        nested = [cells[m] for m in NESTED if m in cells]
        if len(nested) > 1:
            g.chains.append((n[rows[NESTED[0]]] if NESTED[0] in rows else np.nan, nested))
        if all(m in cells for m in COMPETING) and n[rows[COMPETING[0]]] == n[rows[COMPETING[1]]]:
            g.partitions.append((base_cell[(rows[COMPETING[0]], base)], np.nan,
                                 [cells[m] for m in COMPETING], False))


def _group_partitions(g: CellGrid, df: pd.DataFrame, keys: list[str]) -> None:
    """Segments adding up to the ``all`` row, categories adding up to their total, and
    cumulative chains."""
    by_kind: dict[str, list[int]] = {}
    for k, kind in enumerate(g.kind):
        by_kind.setdefault(kind, []).append(k)
    if {"segment_type", "segment"} <= set(df.columns):
        other = [c for c in keys if c not in ("segment_type", "segment")]
        rk, st = _row_keys(df, other), df["segment_type"].astype(str).to_numpy()
        for cells in by_kind.values():
            totals = {rk[g.row[k]]: k for k in cells if st[g.row[k]] == "all"}
            parts: dict[tuple, list[int]] = {}
            for k in cells:
                if st[g.row[k]] != "all":
                    parts.setdefault((rk[g.row[k]], st[g.row[k]]), []).append(k)
            for (key, _), ks in parts.items():
                g.partitions.append((totals.get(key, -1), np.nan, ks, True))
    for col in PART_COLUMNS:
        if col in df.columns:
            rk = _row_keys(df, [c for c in keys if c != col])
            for kind, cells in by_kind.items():
                if kind in ROW_BASES:
                    continue
                parts = {}
                for k in cells:
                    parts.setdefault(rk[g.row[k]], []).append(k)
                g.partitions.extend((-1, np.nan, ks, True) for ks in parts.values())
    for kind, along in CUMULATIVE.items():
        if kind in by_kind and along in df.columns:
            rk = _row_keys(df, [c for c in keys if c != along])
            pos = _numbers(df, along)
            curves: dict[tuple, list[int]] = {}
            for k in by_kind[kind]:
                curves.setdefault(rk[g.row[k]], []).append(k)
            g.chains.extend((0.0, sorted(ks, key=lambda k: pos[g.row[k]])) for ks in curves.values())


def cell_grid(df: pd.DataFrame, bases: list[str], values: list[str],
              labels: Iterable[str] = ()) -> CellGrid:
    """The counts of ``df`` (base columns ``bases``, value columns ``values``) and their
    relations (see the module docstring). Rows are positions."""
    g = CellGrid()
    keys = [c for c in df.columns if c not in values and c != SUPPRESSED_FLAG]
    base_cell: dict[tuple[int, str], int] = {}
    everything = [[(r, c) for c in values] for r in range(len(df))]
    for b in bases:
        counts = _numbers(df, b)
        for r in range(len(df)):
            base_cell[(r, b)] = g.add(counts[r], r, b, True, everything[r])
    if {"metric", "value"} <= set(df.columns):
        _long_cells(g, df, bases, values, keys, base_cell)
    else:
        _wide_cells(g, df, bases, values, base_cell)
    _group_partitions(g, df, keys)
    return g


def _small(x: float, min_cell: int) -> bool:
    return bool(np.isfinite(x) and 1 <= np.rint(abs(x)) < min_cell)


def _settle_partition(g: CellGrid, hidden: np.ndarray, part: tuple[int, float, list[int], bool],
                      min_cell: int) -> bool:
    """Hide parts until the hidden remainder is 0 or >= min_cell and no lone part of a
    complete partition is hidden; True when something was hidden."""
    total, tval, parts, complete = part
    v = g.value
    if total >= 0:
        if hidden[total]:
            return False
        tval = v[total]
    elif np.isnan(tval):
        tval = float(np.sum([v[k] for k in parts]))
    if np.isnan(tval):
        return False
    changed = False
    while True:
        shown = [k for k in parts if not hidden[k]]
        rest = tval - float(np.sum([v[k] for k in shown]))
        lone = complete and len(parts) - len(shown) == 1 and rest >= 0.5
        if not (_small(rest, min_cell) or lone):
            return changed
        candidates = [k for k in shown if v[k] >= 0.5]
        if not candidates:
            if total >= 0:
                hidden[total] = True
                return True
            return changed
        hidden[min(candidates, key=lambda k: v[k])] = True
        changed = True


def hide_cells(g: CellGrid, min_cell: int, small_rows: np.ndarray) -> np.ndarray:
    """Which cells of ``g`` to blank: the primary ones (base counts of ``small_rows``,
    numerators from 1 to ``min_cell - 1``) and their complements, until nothing changes."""
    v = np.asarray(g.value, dtype=float)
    base = np.asarray(g.base, dtype=bool)
    rows = np.asarray(g.row, dtype=int)
    hidden = np.isnan(v) | (base & small_rows[rows] if len(v) else np.zeros(0, dtype=bool))
    hidden |= ~base & np.array([_small(x, min_cell) for x in v], dtype=bool)
    changed = True
    while changed:
        gone = np.zeros(len(small_rows), dtype=bool)
        gone[rows[hidden & base]] = True
        changed = bool((gone[rows] & ~hidden).any())
        hidden |= gone[rows]
        for anchor, chain in g.chains:
            last = anchor
            for k in chain:
                if hidden[k] or np.isnan(last):
                    continue
                if _small(v[k] - last, min_cell):
                    hidden[k] = changed = True
                else:
                    last = v[k]
        for part in g.partitions:
            changed = _settle_partition(g, hidden, part, min_cell) or changed
    return hidden


def suppress(
    df: pd.DataFrame,
    min_cell: int,
    *,
    n_col: str | Sequence[str] | None | object = AUTO,
    keep: Iterable[str] = (),
    name: str = "table",
) -> pd.DataFrame:
    """Tidy copy of ``df`` with small counts, and what they could be recovered from, blanked.

    Parameters
    ----------
    df: tidy table, one statistic per row (wide tables: one row per cell group).
    min_cell: smallest number of loans/episodes a shown count or value may rest on (>= 1).
    n_col: base count column(s); default: detected by name (see module docstring);
        ``None`` declares that the table holds no cell statistics.
    keep: numeric columns that are labels (e.g. ``term_months`` as a segment)
        and must not be blanked.
    name: used in error messages.

    Returns
    -------
    A copy with the suppressed cells set to NaN and a boolean ``is_suppressed`` column
    (always present when counts exist): True on every row with a blanked cell.
    Suppressing an already suppressed table changes nothing.
    """
    if not isinstance(min_cell, (int, np.integer)) or isinstance(min_cell, bool) or min_cell < 1:
        raise PrivacyError(f"{name}: min_cell must be an integer >= 1, got {min_cell!r}")
    assert_no_ids(df, name)
    if n_col is None:
        return df.copy()
    if n_col is AUTO:
        cols = [c for c in count_columns(df) if c not in NUMERATORS]
    else:
        cols = _as_list(n_col)  # type: ignore[arg-type]
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
    labels = set(keep) | {c for c in LABEL_COLUMNS if c in out.columns}
    values = [
        c
        for c in out.columns
        if c not in labels
        and c != SUPPRESSED_FLAG
        and (c in cols or (pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])))
    ]
    grid = cell_grid(out, cols, values, labels)
    hidden = hide_cells(grid, min_cell, small_cell_mask(out, min_cell, cols).to_numpy())
    blank = np.zeros(out.shape, dtype=bool)
    where = {c: i for i, c in enumerate(out.columns)}
    for k in np.flatnonzero(hidden):
        for r, c in grid.targets[k]:
            blank[r, where[c]] = True
    for c in values:
        rows = blank[:, where[c]]
        if rows.any():
            if pd.api.types.is_integer_dtype(out[c]) and not pd.api.types.is_extension_array_dtype(out[c]):
                out[c] = out[c].astype("float64")
            out.loc[out.index[rows], c] = np.nan
    prior = out[SUPPRESSED_FLAG].astype(bool).to_numpy() if SUPPRESSED_FLAG in out.columns else False
    out[SUPPRESSED_FLAG] = blank.any(axis=1) | np.asarray(prior)
    return out


def for_display(df: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Presentation copy of a suppressed table: blanked cells read ``suppressed``.

    Expects the output of :func:`suppress`; the ``is_suppressed`` column is
    dropped. A blanked count says ``suppressed`` rather than ``< min_cell``: a count
    blanked to protect another one (complementary suppression) need not be small.
    ``min_cell`` is kept for the callers' convenience.
    """
    if SUPPRESSED_FLAG not in df.columns:
        return df
    small = df[SUPPRESSED_FLAG].astype(bool)
    out = df.drop(columns=[SUPPRESSED_FLAG])
    if not small.any():
        return out
    counts = set(count_columns(df)) | {c for c in NUMERATORS if c in df.columns}
    out = out.astype({c: object for c in out.columns})
    for c in out.columns:
        if c in counts:
            whole = df[c].notna() & (df[c] == df[c].round())
            out.loc[whole, c] = df.loc[whole, c].astype("int64")
        blank = small & df[c].isna()
        if blank.any():
            out.loc[blank, c] = SUPPRESSED_TEXT
    return out


def neutralise(value: object) -> object:
    """``value`` with ``'`` prefixed when it is text a spreadsheet would evaluate
    (starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return); anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` whose text cells and headers cannot be evaluated by a spreadsheet
    (:func:`neutralise`); numeric, boolean and date columns are returned unchanged."""
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
            continue
        text = col.astype(object)
        fixed = text.map(neutralise)
        if not fixed.equals(text):
            out.isetitem(i, fixed)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike, *, index: bool = False) -> Path:
    """Write ``df`` to ``path`` as a spreadsheet-safe CSV (:func:`spreadsheet_safe`),
    atomically (a temporary file renamed into place); returns the path. The one writer
    of every published CSV."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    spreadsheet_safe(df).to_csv(tmp, index=index)
    os.replace(tmp, path)
    return path


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

