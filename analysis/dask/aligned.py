"""Loan-aligned Parquet parts: read loan partitions straight from the files, no shuffle.

The Dask engine needs every loan whole in one partition, in every loan table. In general
that takes a hash shuffle of all loan-months (:func:`analysis.dask.partition.copartition`),
which on two cores costs about as much CPU as the analysis itself. Many books are written
already *loan-aligned*: each writer task produced one part per table for a block of loan
IDs (the synthetic writer, most ETL jobs that partition by loan). This module recognises
such a layout **from the Parquet footers alone** (row-group statistics of ``loan_id``, no
data scan) and turns it into loan partitions that each task reads directly with a
``loan_id`` range filter.

Rule (:func:`find_alignment`)
-----------------------------
* Every loan table present (``loans``, ``performance``, ``relief``, ``signals``,
  ``reasons``) is Parquet and every row group has exact min/max statistics of
  ``loan_id``, of one type across all tables.
* The ``loans`` files cover disjoint ID ranges ``[min, max]`` (a *group* per file).
* Every file of every other loan table lies inside one group's range. A loan's rows can
  then only be in the files of its group.

If any of this fails the book is not aligned and the engine shuffles, as before; the
answer never depends on the layout, only the cost does.

Partitions (*units*)
--------------------
A group larger than ``loans_per_partition`` loans is cut into several units at row-group
boundaries of its ``performance`` files (when those row groups are sorted by ID), so a
unit's working memory stays that of the shuffled engine. A unit is the half-open ID range
``lo <= loan_id < hi`` (the group's last unit includes its maximum): every row of the group
falls in exactly one unit, whatever the row groups look like, so cutting is exact; a row
group straddling a cut is only read twice. IDs are compared as Parquet orders them
(bytes of the UTF-8 text, or numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data.files import LOAN_TABLES, parquet_files


@dataclass(frozen=True)
class Unit:
    """One loan partition of an aligned book: the rows of ``files[table]`` (the files of
    its group) with ``lo <= loan_id < hi``; ``None`` leaves that end open."""

    lo: Any
    hi: Any
    group: int
    files: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Alignment:
    """The groups (one per ``loans`` file: ``files[table]`` of each), the units, and
    whether the footers *prove* the alignment (``proven``) or only the file names suggest
    it (then :func:`verify` must confirm it on the data before it is used)."""

    groups: tuple[dict[str, tuple[str, ...]], ...]
    units: tuple[Unit, ...]
    group_loans: tuple[int, ...]
    schema_files: dict[str, str]
    proven: bool

    def read(self, unit: Unit, table: str) -> pd.DataFrame:
        """The rows of ``table`` in ``unit`` (:func:`read_unit`)."""
        return read_unit(unit, table, self.schema_files[table])


def row_group_stats(path: str, column: str = "loan_id") -> list[tuple[Any, Any, int]] | None:
    """(min, max, rows) of ``column`` per non-empty row group of a Parquet file, from its
    footer; None when the column or its min/max statistics are missing."""
    import pyarrow.parquet as pq

    md = pq.ParquetFile(path).metadata
    names = [md.schema.column(i).name for i in range(md.num_columns)]
    if column not in names:
        return None
    j = names.index(column)
    out = []
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        if rg.num_rows == 0:
            continue
        st = rg.column(j).statistics
        if st is None or not st.has_min_max:
            return None
        out.append((st.min, st.max, rg.num_rows))
    return out


def _parquet_parts(path: Path) -> list[str] | None:
    """The Parquet parts of a table as text paths; None when it is not Parquet."""
    return [str(f) for f in parquet_files(path)] or None


def _relative(path: str, table_path: Path) -> str:
    return str(Path(path).relative_to(table_path)) if table_path.is_dir() else "."


def find_alignment(paths: dict[str, Path], loans_per_partition: int) -> Alignment | None:
    """The aligned partitions of the loan tables at ``paths`` (table -> file or folder),
    or None when the layout is not loan-aligned (see the module docstring).

    Groups are proven by disjoint ``loan_id`` ranges when the footers allow it; otherwise
    files with the same name in every table folder (``loans/part-7.parquet``,
    ``performance/part-7.parquet``, ...) form a group that :func:`verify` must confirm
    (IDs such as ``L999`` / ``L1000`` are aligned but their text ranges overlap)."""
    stats: dict[str, dict[str, list[tuple[Any, Any, int]]]] = {}
    schema_files: dict[str, str] = {}
    kinds: set[type] = set()
    for table in LOAN_TABLES:
        if table not in paths:
            continue
        files = _parquet_parts(paths[table])
        if files is None:
            return None
        stats[table] = {}
        schema_files[table] = files[0]
        for f in files:
            try:
                rgs = row_group_stats(f)
            except Exception:  # unreadable footer: leave it to validation / the shuffle
                return None
            if rgs is None:
                return None
            if rgs:
                stats[table][f] = rgs
                kinds |= {type(x) for r in rgs for x in r[:2]}
    if "loans" not in stats or not stats["loans"] or len(kinds) != 1:
        return None
    loan_files = sorted(stats["loans"], key=lambda f: min(r[0] for r in stats["loans"][f]))
    groups = _groups_by_range(stats, loan_files)
    proven = groups is not None
    if groups is None:
        groups = _groups_by_name(stats, loan_files, paths)
        if groups is None:
            return None
    units: list[Unit] = []
    group_loans = []
    for g, gfiles in enumerate(groups):
        n_loans = sum(r[2] for r in stats["loans"][gfiles["loans"][0]])
        group_loans.append(n_loans)
        perf = [r for pf in gfiles.get("performance", ()) for r in stats["performance"][pf]]
        bounds = [None, *_cuts(perf, math.ceil(n_loans / max(1, loans_per_partition))), None]
        files = {t: tuple(gfiles.get(t, ())) for t in stats}
        units += [Unit(bounds[k], bounds[k + 1], g, files) for k in range(len(bounds) - 1)]
    return Alignment(tuple({t: tuple(v) for t, v in gr.items()} for gr in groups),
                     tuple(units), tuple(group_loans), schema_files, proven)


def _range(rgs: list[tuple[Any, Any, int]]) -> tuple[Any, Any]:
    return min(r[0] for r in rgs), max(r[1] for r in rgs)


def _groups_by_range(stats: dict, loan_files: list[str]) -> list[dict[str, list[str]]] | None:
    import bisect

    ranges = [_range(stats["loans"][f]) for f in loan_files]
    if any(ranges[i][1] >= ranges[i + 1][0] for i in range(len(ranges) - 1)):
        return None
    los = [r[0] for r in ranges]
    groups: list[dict[str, list[str]]] = [{"loans": [f]} for f in loan_files]
    for table, files in stats.items():
        if table == "loans":
            continue
        for f, rgs in files.items():
            lo, hi = _range(rgs)
            g = bisect.bisect_right(los, lo) - 1
            if g < 0 or hi > ranges[g][1]:
                return None
            groups[g].setdefault(table, []).append(f)
    return groups


def _groups_by_name(stats: dict, loan_files: list[str], paths: dict[str, Path]
                    ) -> list[dict[str, list[str]]] | None:
    if not paths["loans"].is_dir():
        return None
    index = {_relative(f, paths["loans"]): g for g, f in enumerate(loan_files)}
    groups: list[dict[str, list[str]]] = [{"loans": [f]} for f in loan_files]
    for table, files in stats.items():
        if table == "loans":
            continue
        if not paths[table].is_dir():
            return None
        for f in files:
            g = index.get(_relative(f, paths[table]))
            if g is None:
                return None
            groups[g].setdefault(table, []).append(f)
    return groups


def _cuts(row_groups: list[tuple[Any, Any, int]], k: int) -> list[Any]:
    """Up to ``k - 1`` increasing cut IDs at row-group starts, splitting the rows about
    equally; none when the row groups are not sorted by ID (each unit would read them all)."""
    k = min(k, len(row_groups))
    if k <= 1:
        return []
    rgs = sorted(row_groups, key=lambda r: (r[0], r[1]))
    if any(rgs[i][1] > rgs[i + 1][0] for i in range(len(rgs) - 1)):
        return []
    total = sum(r[2] for r in rgs)
    before, cum = [], 0
    for r in rgs:
        before.append(cum)
        cum += r[2]
    cuts: list[Any] = []
    for j in range(1, k):
        i = min(range(1, len(rgs)), key=lambda i: abs(before[i] - total * j / k))
        if rgs[i][0] > rgs[0][0] and (not cuts or rgs[i][0] > cuts[-1]):
            cuts.append(rgs[i][0])
    return cuts


def read_unit(unit: Unit, table: str, schema_file: str) -> pd.DataFrame:
    """The rows of ``table`` in ``unit`` as pandas (Parquet types; strings as objects);
    ``schema_file`` gives the columns when the unit's group has no file of ``table``."""
    import pyarrow.dataset as pds
    import pyarrow.parquet as pq

    files = unit.files.get(table, ())
    if not files:
        return pq.read_schema(schema_file).empty_table().to_pandas()
    ds = pds.dataset(list(files), format="parquet")
    f = pds.field("loan_id")
    cond = None
    if unit.lo is not None:
        cond = f >= unit.lo
    if unit.hi is not None:
        cond = (f < unit.hi) if cond is None else cond & (f < unit.hi)
    return ds.to_table(filter=cond).to_pandas()


def fingerprint(paths: dict[str, Path]) -> tuple:
    """(table, file, size, mtime) of every Parquet part: a verification holds while this
    is unchanged."""
    out = []
    for table in sorted(paths):
        for f in _parquet_parts(paths[table]) or []:
            st = Path(f).stat()
            out.append((table, f, st.st_size, st.st_mtime_ns))
    return tuple(out)


_VERIFIED: dict[tuple, bool] = {}


def remember(paths: dict[str, Path], ok: bool) -> None:
    """Record that the data confirmed (or refuted) the named alignment of ``paths``."""
    _VERIFIED[fingerprint(paths)] = ok


def usable(al: Alignment | None, paths: dict[str, Path]) -> bool:
    """True when ``al`` may be used: proven by the footers, or confirmed on the data by
    validation (:func:`remember`) in this process for the unchanged files."""
    return al is not None and (al.proven or _VERIFIED.get(fingerprint(paths), False))


__all__ = ["Alignment", "Unit", "find_alignment", "fingerprint", "read_unit", "remember",
           "row_group_stats", "usable"]
