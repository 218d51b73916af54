"""Where a table of a data directory lives: ``<table>.parquet``, ``<table>.csv`` or a
folder ``<table>/`` of Parquet parts, and the parts of such a folder.

The one home of table-file lookup for the pandas loader, the validator and the Dask
engine. A valid book holds exactly one of the three per table (:func:`locate` reports
several as ``single_file``).
"""

from __future__ import annotations

import os
from pathlib import Path

from analysis.data.problems import Report

#: Tables that carry ``loan_id`` (co-partitioned by the Dask engine); the rest are small.
LOAN_TABLES: tuple[str, ...] = ("loans", "performance", "relief", "signals", "reasons")
SMALL_TABLES: tuple[str, ...] = ("measures", "cause_map")


def table_candidates(data_dir: str | os.PathLike, table: str) -> list[Path]:
    """The paths among ``<table>.parquet``, ``<table>.csv`` and ``<table>/`` (in that
    order) that exist in ``data_dir``."""
    base = Path(data_dir)
    return [p for p in (base / f"{table}.parquet", base / f"{table}.csv", base / table)
            if p.exists()]


def table_path(data_dir: str | os.PathLike, table: str) -> Path | None:
    """The file or folder holding ``table`` in ``data_dir`` (None when absent). When
    several exist (a book validation rejects), the folder, else the ``.parquet`` file."""
    cands = table_candidates(data_dir, table)
    if not cands:
        return None
    return cands[-1] if cands[-1].name == table else cands[0]


def locate(data_dir: Path, table: str, rep: Report, required: bool, why: str = "") -> Path | None:
    """The one file or folder of ``table``; None, with a report row, when there are
    several or (``required``) none. ``why`` explains a conditional requirement."""
    cands = table_candidates(data_dir, table)
    if len(cands) > 1:
        rep.add(", ".join(p.name for p in cands), table, "", "single_file", len(cands),
                [f"found {' and '.join(p.name for p in cands)}: keep exactly one"])
        return None
    if cands:
        return cands[0]
    if required:
        near = sorted(p.name for p in data_dir.iterdir()
                      if p.name.lower().startswith(table.rstrip("s").lower()))
        hint = f"; found {', '.join(near)} (the contract reads .csv, .parquet or a folder)" \
            if near else ""
        rep.add(f"{table}.csv", table, "", "file_present", 1,
                [f"no {table}.parquet, {table}.csv or {table}/ in {data_dir}{why}{hint}"])
    return None


def dataset_parts(folder: Path) -> list[str]:
    """The parts the pandas reader reads from a table folder: every ``*.parquet`` below
    it except names starting with ``.`` or ``_`` (hidden and temporary files, as pyarrow's
    dataset discovery skips them), sorted as text."""
    return sorted(str(p) for p in folder.rglob("*.parquet")
                  if not p.name.startswith((".", "_")))


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a table for the Dask engine and the footer statistics: every
    ``*.parquet`` file below a folder (sorted as paths), the file itself for a
    ``.parquet`` file, none for CSV. Unlike :func:`dataset_parts` it keeps names starting
    with ``.`` or ``_``; kept apart so that neither reader changes what it reads."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return [path] if path.suffix == ".parquet" else []


def table_size(data_dir: str | os.PathLike, table: str = "performance") -> tuple[int | None, int]:
    """(rows, bytes on disk) of a table; rows from the Parquet footers, None for CSV."""
    import pyarrow.parquet as pq

    path = table_path(data_dir, table)
    if path is None:
        return 0, 0
    files = parquet_files(path)
    if not files:
        return None, path.stat().st_size
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return rows, sum(f.stat().st_size for f in files)


__all__ = ["LOAN_TABLES", "SMALL_TABLES", "dataset_parts", "locate", "parquet_files",
           "table_candidates", "table_path", "table_size"]
