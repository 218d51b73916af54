"""Any layout on the Dask engine: rewrite a book once into loan-aligned parts, cached.

The engine's fast path (:mod:`analysis.dask.aligned`) needs every loan whole in one small
group of parts. A book exported the ordinary way is not like that: one Parquet file per
table (one group of a million loans: validation's group task alone went over a 5.3 GiB
worker), parts by month (every loan in every part), parts by loan whose IDs do not
prove the blocks, or CSV (no footers). The general fallback, a hash shuffle of every
loan-month through worker memory, is what killed workers at 1 million loans.

Method
------
:func:`aligned_source` decides from the Parquet footers (no data read) whether a book
is already usable: aligned, and no group over :data:`MAX_GROUP_LOANS` loans. If not,
:func:`build_aligned` rewrites the five loan tables **once** into
``<cache>/<key>/<table>/part-00000.parquet ...``, one part per block of
:data:`~analysis.dask.partition.LOANS_PER_PARTITION` loans:

1. the ``loans`` table's ``loan_id`` column is read and sorted; every
   ``loans_per_part``-th distinct ID is a block boundary (text IDs in byte order, as
   Parquet statistics order them, so the parts' ID ranges are disjoint and the footers
   *prove* the alignment);
2. each loan table is streamed in Arrow batches of :data:`BATCH_ROWS` rows (pyarrow
   dataset scan of a Parquet file or folder, or pandas' chunked CSV reader with the
   exact options of :func:`analysis.data.read.read_csv`); every row gets its block by a
   binary search of its loan ID among the boundaries (one search per distinct ID of the
   batch) and is appended to its block's part, keeping the source order. Missing IDs go
   to block 0. Each row keeps its position in the source table as :data:`SOURCE_ROW`,
   the label :mod:`analysis.data` gives it, so validation of the cache reports the
   **original** file, part and row (``performance.csv line 17``);
3. integer loan IDs are written as text (``analysis.data.coerce`` types IDs as text
   anyway), so that every table orders its IDs alike. Other columns keep their Arrow
   types exactly (CSV columns stay text, typed later by ``coerce`` as for the CSV).

Memory: a few batches (read-ahead kept at 2) plus buffered rows of at most about 2
million rows in all: 1.4 GiB peak at 1 million loans, growing with the batch size and the
row width, not with the number of loans; disk: about the book's size again (Parquet,
zstd-compressed; CSV input shrinks about 5-fold). Time: one read and one write of the
loan tables (``benchmarks/README.md``, "Alignment").

The cache
---------
Key: a hash of the data directory's real path and the path, size and modification time
(ns) of every loan-table file, plus the block size and :data:`CACHE_VERSION`. A changed,
added or removed file gives a new key; the next run rewrites, and the entries of the
same source with other keys are deleted, so one source costs one copy. The root is
``$OVERDUE_RELIEF_ALIGN_CACHE`` when set, else ``$XDG_CACHE_HOME/overdue-relief/aligned``
(``~/.cache/...``). On a remote cluster, point it at a path the workers see too.
A cache is written under a temporary name and renamed when complete; a run that dies
half-way leaves no usable entry behind.

Known drawbacks
---------------
A malformed input (unreadable Parquet, a CSV whose header fails the contract's checks or
whose text does not parse) is not rewritten: :func:`aligned_source` returns None and the
engine validates the original the slow way, which reports the problem. The rewrite runs in
the client process, on one core for the Python part (pyarrow decodes and encodes on
several threads). Rows whose loan ID is not in ``loans`` may break the footers' proof;
validation then confirms on the data and, refuted, shuffles (the book is invalid anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.dask.aligned import find_alignment
from analysis.dask.partition import LOANS_PER_PARTITION
from analysis.data.files import LOAN_TABLES, dataset_parts, table_candidates
from analysis.data.schema import NA_STRINGS
from analysis.progress import progress

#: Environment variable naming the cache root.
CACHE_ENV = "OVERDUE_RELIEF_ALIGN_CACHE"
#: Bumped when the cache's layout changes (old entries are then ignored).
CACHE_VERSION = 1
#: Column of the cached parts: the row's position in its source table (``io``'s label).
SOURCE_ROW = "_source_row"
#: A usable aligned book has no group of parts above this many loans (the synthetic
#: writer's groups are 200,000 loans; validation checks one group per task).
MAX_GROUP_LOANS = 250_000
#: Loans per block of the aligned copy (one loan partition of the engine each).
LOANS_PER_PART = LOANS_PER_PARTITION
#: Rows per Arrow batch read from the source (1M rows: 2.2 GiB peak at 1M loans, 500k:
#: 1.4 GiB and as fast, 250k: 1.2 GiB, 0.4 s slower per million loan-months).
BATCH_ROWS = 500_000


class NotAlignable(Exception):
    """The book cannot be rewritten (malformed input): validate the original."""


@dataclass(frozen=True)
class AlignedSource:
    """A loan-aligned copy of a book's loan tables: ``root`` holds ``<table>/part-*.parquet``
    for each table of ``tables``; ``tables[t]`` describes the source (``file``: the name
    the report shows, e.g. ``performance.csv`` or ``performance/``; ``fmt``: ``csv`` or
    ``parquet``; ``parts``: (part name, first row) of a source folder; ``columns``: the
    source's column names)."""

    root: Path
    tables: dict[str, dict[str, Any]]

    def path(self, table: str) -> Path:
        """The folder of parts of ``table`` in the cache."""
        return self.root / table


def cache_root() -> Path:
    """The cache root: ``$OVERDUE_RELIEF_ALIGN_CACHE``, else
    ``$XDG_CACHE_HOME/overdue-relief/aligned`` (``~/.cache/overdue-relief/aligned``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "overdue-relief" / "aligned"


def _one_path(base: Path, table: str) -> Path | None:
    cands = table_candidates(base, table)
    if len(cands) > 1:
        raise NotAlignable(f"{table}: several files")
    return cands[0] if cands else None


def loan_table_paths(base: Path) -> dict[str, Path]:
    """The file or folder of each loan table present (NotAlignable when a table has
    several: validation reports that)."""
    out = {}
    for t in LOAN_TABLES:
        p = _one_path(base, t)
        if p is not None:
            out[t] = p
    return out


def _source_files(path: Path) -> list[str]:
    return dataset_parts(path) if path.is_dir() else [str(path)]


def fingerprint(base: Path, paths: dict[str, Path], loans_per_part: int) -> str:
    """The cache key of a book: a hash of its real path and the (relative path, size,
    mtime in ns) of every loan-table file, with the block size and cache version."""
    items: list[Any] = [CACHE_VERSION, loans_per_part, os.path.realpath(base)]
    for t in sorted(paths):
        for f in _source_files(paths[t]):
            st = os.stat(f)
            items.append([t, os.path.relpath(f, base), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:20]


def needs_rewrite(paths: dict[str, Path]) -> bool:
    """True when the loan tables are not loan-aligned in groups of at most
    :data:`MAX_GROUP_LOANS` loans (footers only)."""
    try:
        al = find_alignment(paths, LOANS_PER_PARTITION)
    except Exception:  # unreadable footers: not aligned
        return True
    return al is None or max(al.group_loans, default=0) > MAX_GROUP_LOANS


def aligned_source(data_dir: str | os.PathLike, *, loans_per_part: int | None = None,
                   build: bool = True, force: bool = False) -> AlignedSource | None:
    """The aligned copy of ``data_dir``'s loan tables, from the cache or written now
    (``build``); None when the book is aligned already (unless ``force``), has no
    ``loans`` table, or cannot be rewritten (malformed input; see the module docstring).
    ``loans_per_part`` defaults to :data:`LOANS_PER_PART`."""
    base = Path(data_dir)
    loans_per_part = int(loans_per_part or LOANS_PER_PART)
    try:
        paths = loan_table_paths(base)
    except NotAlignable:
        return None
    if "loans" not in paths or not (force or needs_rewrite(paths)):
        return None
    key = fingerprint(base, paths, loans_per_part)
    root = cache_root() / key
    got = read_manifest(root)
    if got is not None or not build:
        return got
    try:
        return build_aligned(base, paths, root, loans_per_part)
    except (NotAlignable, OSError):  # malformed input, or no room in the cache: original
        return None


def read_manifest(root: Path) -> AlignedSource | None:
    """The cache entry at ``root`` (None when absent or incomplete)."""
    try:
        meta = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    tables = {t: dict(v, parts=tuple(tuple(p) for p in v["parts"]))
              for t, v in meta["tables"].items()}
    return AlignedSource(root, tables)


# ----------------------------------------------------------------------------- reading


def _csv_header(path: Path) -> list[str]:
    """The CSV's column names; NotAlignable when ``read_csv`` would report the file."""
    import csv

    if path.stat().st_size == 0:
        raise NotAlignable("empty CSV")
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        header = first.decode("utf-8-sig").strip("\r\n")
        names = next(csv.reader([header]), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise NotAlignable(str(exc)) from exc
    names = [n.strip() for n in names]
    if len(names) < 2 or len(set(names)) != len(names):
        raise NotAlignable("CSV header")
    return names


def _csv_batches(path: Path) -> Iterator[Any]:
    """Arrow batches of a CSV read as ``analysis.data.read.read_csv`` reads it (text,
    the contract's missing-value strings, blank lines dropped), labelled by line."""
    import pandas as pd
    import pyarrow as pa

    names = _csv_header(path)
    schema = pa.schema([(n, pa.string()) for n in names] + [(SOURCE_ROW, pa.int64())])
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(NA_STRINGS),
                             skip_blank_lines=False, encoding="utf-8-sig", chunksize=BATCH_ROWS)
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            chunk = chunk.dropna(how="all")
            chunk[SOURCE_ROW] = chunk.index.to_numpy(dtype=np.int64)
            yield pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as exc:
        raise NotAlignable(f"{path.name}: {exc}") from exc


def _parquet_dataset(path: Path) -> Any:
    """A Parquet file or folder as ``io`` reads it (a folder as one dataset with Hive
    partitions, as ``read_parquet`` does)."""
    import pyarrow.dataset as pds

    if path.is_dir():
        return pds.dataset(dataset_parts(path), format="parquet", partitioning="hive",
                           partition_base_dir=str(path))
    return pds.dataset(str(path), format="parquet")


def _parquet_batches(path: Path, columns: list[str] | None = None) -> Iterator[Any]:
    """Arrow batches of a Parquet file or folder in the order ``io`` reads the rows,
    labelled (``columns``: only these, e.g. ``loan_id``)."""
    import pyarrow as pa

    try:
        ds = _parquet_dataset(path)
        n = 0
        # little read-ahead: each batch read ahead is held in memory (about 100 MB each)
        for batch in ds.to_batches(columns=columns, batch_size=BATCH_ROWS, batch_readahead=2,
                                   fragment_readahead=1):
            if batch.num_rows == 0:
                continue
            t = pa.Table.from_batches([batch])
            t = t.rename_columns([str(c).strip() for c in t.column_names])
            if len(set(t.column_names)) != t.num_columns:
                raise NotAlignable(f"{path.name}: repeated column names")
            yield t.append_column(SOURCE_ROW, pa.array(np.arange(n, n + t.num_rows)))
            n += t.num_rows
    except NotAlignable:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged or mixed files
        raise NotAlignable(f"{path.name}: {exc}") from exc


def _batches(path: Path, columns: list[str] | None = None) -> Iterator[Any]:
    """Labelled Arrow tables of a loan table's source, ``loan_id`` as text when integer
    (``columns``: only these from a Parquet source; a CSV is read whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    src = _parquet_batches(path, columns) if (path.is_dir() or path.suffix == ".parquet") \
        else _csv_batches(path)
    for t in src:
        if "loan_id" not in t.column_names:
            raise NotAlignable(f"{path.name}: no loan_id")
        j = t.column_names.index("loan_id")
        if pa.types.is_integer(t.schema.field(j).type):
            t = t.set_column(j, "loan_id", pc.cast(t.column(j), pa.string()))
        yield t


# ----------------------------------------------------------------------------- writing


def block_bounds(loans: Path, loans_per_part: int) -> list[Any]:
    """The block boundaries: every ``loans_per_part``-th distinct loan ID in Parquet's
    order (the first block starts at the lowest ID, so it is not listed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [t.column("loan_id") for t in _batches(loans, ["loan_id"])]
    if not cols:
        return []
    ids = pa.chunked_array([c for col in cols for c in col.chunks], type=cols[0].type)
    uniq = pc.unique(pc.drop_null(ids))
    uniq = uniq.take(pc.sort_indices(uniq))
    return uniq.to_pylist()[loans_per_part::loans_per_part]


def blocks_of(ids: Any, bounds: np.ndarray) -> np.ndarray:
    """The block of each loan ID (Arrow array): the number of boundaries at or below
    it; missing IDs in block 0. One binary search per distinct ID."""
    import pyarrow.compute as pc

    if len(bounds) == 0:
        return np.zeros(len(ids), dtype=np.int64)
    if hasattr(ids, "combine_chunks"):
        ids = ids.combine_chunks()
    enc = pc.dictionary_encode(ids)
    uniq = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    per = np.searchsorted(bounds, uniq, side="right") if len(uniq) else np.zeros(0, np.int64)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    out = np.zeros(len(ids), dtype=np.int64)
    ok = ~np.isnan(idx) if idx.dtype.kind == "f" else np.ones(len(idx), bool)
    out[ok] = per[idx[ok].astype(np.int64)]
    return out


class _Parts:
    """One Parquet writer per block, rows buffered up to ``flush_rows`` per block."""

    def __init__(self, folder: Path, n_blocks: int):
        folder.mkdir(parents=True)
        self.folder = folder
        self.flush_rows = max(16_384, 2_000_000 // max(n_blocks, 1))
        self.buf: dict[int, list] = {}
        self.rows: dict[int, int] = {}
        self.writers: dict[int, Any] = {}

    def add(self, block: int, table: Any) -> None:
        self.buf.setdefault(block, []).append(table)
        self.rows[block] = self.rows.get(block, 0) + table.num_rows
        if self.rows[block] >= self.flush_rows:
            self.flush(block)

    def flush(self, block: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = self.buf.pop(block, [])
        self.rows[block] = 0
        if not tables:
            return
        t = pa.concat_tables(tables, promote_options="permissive")
        w = self.writers.get(block)
        if w is None:
            w = self.writers[block] = pq.ParquetWriter(
                self.folder / f"part-{block:05d}.parquet", t.schema, compression="zstd")
        w.write_table(t.cast(w.schema), row_group_size=1 << 20)

    def close(self) -> None:
        for b in list(self.buf):
            self.flush(b)
        for w in self.writers.values():
            w.close()


def _write_table(path: Path, folder: Path, bounds: np.ndarray) -> None:
    """Stream one loan table into its block parts under ``folder``."""
    parts = _Parts(folder, len(bounds) + 1)
    try:
        for t in progress(_batches(path), f"aligning {path.name} (batches)"):
            blk = blocks_of(t.column("loan_id"), bounds)
            order = np.argsort(blk, kind="stable")
            blk_sorted = blk[order]
            t = t.take(order)
            edges = np.flatnonzero(np.diff(blk_sorted)) + 1
            for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(blk_sorted)], strict=True):
                if hi > lo:
                    parts.add(int(blk_sorted[lo]), t.slice(lo, hi - lo))
    finally:
        parts.close()


def _describe(path: Path) -> dict[str, Any]:
    """What validation needs to name the source: file name, format, parts, columns."""
    import pyarrow.parquet as pq

    file = path.name + ("/" if path.is_dir() else "")
    if not (path.is_dir() or path.suffix == ".parquet"):
        return {"file": file, "fmt": "csv", "parts": [], "columns": _csv_header(path)}
    parts, n = [], 0
    if path.is_dir():
        for f in dataset_parts(path):
            parts.append([Path(f).name, n])
            n += pq.ParquetFile(f).metadata.num_rows
    return {"file": file, "fmt": "parquet", "parts": parts, "columns": None}


def build_aligned(base: Path, paths: dict[str, Path], root: Path,
                  loans_per_part: int = LOANS_PER_PART) -> AlignedSource:
    """Write the aligned copy of the loan tables at ``paths`` into ``root`` (see the
    module docstring); NotAlignable, with nothing left behind, on malformed input."""
    tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        bounds = np.asarray(block_bounds(paths["loans"], loans_per_part), dtype=object)
        tables = {}
        for t, p in paths.items():
            _write_table(p, tmp / t, bounds)
            tables[t] = _describe(p)
        manifest = {"source": os.path.realpath(base), "version": CACHE_VERSION,
                    "loans_per_part": loans_per_part, "tables": tables}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(root)
    except OSError:  # another process finished first: use its entry
        shutil.rmtree(tmp, ignore_errors=True)
    _drop_stale(root, os.path.realpath(base))
    got = read_manifest(root)
    if got is None:
        raise NotAlignable(f"cache entry {root} unreadable")
    return got


def _drop_stale(keep: Path, source: str) -> None:
    """Delete the other cache entries of the same source (an older state of its files)."""
    for entry in keep.parent.iterdir():
        if entry == keep or not entry.is_dir() or ".tmp-" in entry.name:
            continue
        try:
            meta = json.loads((entry / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source") == source:
            shutil.rmtree(entry, ignore_errors=True)


__all__ = ["CACHE_ENV", "CACHE_VERSION", "LOANS_PER_PART", "MAX_GROUP_LOANS", "SOURCE_ROW", "AlignedSource",
           "NotAlignable", "aligned_source", "block_bounds", "blocks_of", "build_aligned",
           "cache_root", "fingerprint", "loan_table_paths", "needs_rewrite", "read_manifest"]
