"""The one-time alignment of a book in any layout (``analysis.dask.realign``), measured.

``layout SRC OUT --as one-file|by-month|csv`` rewrites a synthetic book (streaming, any
size) as users export it: one Parquet file per table, performance and signals as one
Parquet part per month, or one CSV file per table.

``align DIR --method pyarrow|duckdb [--cache DIR]`` rewrites the book's loan tables into
loan-aligned parts and prints the wall time and the process's peak RSS (``ru_maxrss``;
DuckDB and pyarrow work in this one process). ``pyarrow`` is the engine's
(:func:`analysis.dask.realign.build_aligned`); ``duckdb`` is the alternative measured
against it: a block table from the sorted distinct loan IDs, then one
``COPY (SELECT t.*, block ... LEFT JOIN blocks) TO ... (PARTITION_BY (block))`` per table
with ``memory_limit`` and ``temp_directory`` (install it first:
``pip install --target DIR duckdb`` and put DIR on ``PYTHONPATH``).

Results and commands: ``benchmarks/README.md``, section "Alignment".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq

from analysis.dask.realign import LOANS_PER_PART, build_aligned, loan_table_paths
from analysis.data.files import LOAN_TABLES, dataset_parts


def _scan(path: Path) -> pds.Dataset:
    files = dataset_parts(path) if path.is_dir() else [str(path)]
    return pds.dataset(files, format="parquet")


def write_layout(src: Path, out: Path, layout: str) -> None:
    """``src`` (any Parquet layout) rewritten into ``out`` as ``layout``, batch by batch."""
    out.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        table = f.name.removesuffix(".parquet")
        if f.name == "truth" or (f.is_file() and f.suffix != ".parquet"):
            continue
        ds = _scan(f)
        if layout == "csv":
            import pyarrow.csv as pcsv

            with pcsv.CSVWriter(out / f"{table}.csv", ds.schema) as w:
                for b in ds.to_batches(batch_size=1_000_000):
                    w.write_batch(b)
        elif layout == "by-month" and table in ("performance", "signals"):
            (out / table).mkdir()
            months = pc.unique(ds.to_table(columns=["month"])["month"]).to_pylist()
            for m in sorted(months):
                t = ds.to_table(filter=pds.field("month") == pa.scalar(m, ds.schema.field("month").type))
                pq.write_table(t, out / table / f"{m:%Y-%m}.parquet")
        else:
            with pq.ParquetWriter(out / f"{table}.parquet", ds.schema) as w:
                for b in ds.to_batches(batch_size=1_000_000):
                    w.write_table(pa.Table.from_batches([b]))


def align_duckdb(base: Path, out: Path, loans_per_part: int = LOANS_PER_PART,
                 memory_limit: str = "2GB") -> None:
    """The DuckDB alternative: blocks of ``loans_per_part`` sorted distinct IDs, then a
    partitioned COPY of every loan table joined to its block."""
    import duckdb

    paths = loan_table_paths(base)
    con = duckdb.connect()
    tmp = out / "_duckdb_tmp"
    con.execute(f"SET memory_limit='{memory_limit}'; SET temp_directory='{tmp}';"
                "SET preserve_insertion_order=false;")

    def source(p: Path) -> str:
        if p.is_dir() or p.suffix == ".parquet":
            files = dataset_parts(p) if p.is_dir() else [str(p)]
            return f"read_parquet({files!r})"
        return f"read_csv('{p}', all_varchar=true)"

    con.execute(f"CREATE TEMP TABLE blocks AS SELECT loan_id, (row_number() OVER "
                f"(ORDER BY loan_id) - 1) // {loans_per_part} AS block FROM "
                f"(SELECT DISTINCT CAST(loan_id AS VARCHAR) AS loan_id FROM "
                f"{source(paths['loans'])} WHERE loan_id IS NOT NULL)")
    for t, p in paths.items():
        con.execute(f"COPY (SELECT s.*, coalesce(b.block, 0) AS block FROM {source(p)} s "
                    f"LEFT JOIN blocks b ON CAST(s.loan_id AS VARCHAR) = b.loan_id) "
                    f"TO '{out / t}' (FORMAT parquet, PARTITION_BY (block), "
                    f"COMPRESSION zstd)")
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lay = sub.add_parser("layout")
    lay.add_argument("src", type=Path)
    lay.add_argument("out", type=Path)
    lay.add_argument("--as", dest="layout", choices=("one-file", "by-month", "csv"),
                     required=True)
    al = sub.add_parser("align")
    al.add_argument("data", type=Path)
    al.add_argument("--method", choices=("pyarrow", "duckdb"), default="pyarrow")
    al.add_argument("--cache", type=Path, default=Path("/tmp/align_bench"))
    a = ap.parse_args()
    t0 = time.perf_counter()
    if a.cmd == "layout":
        write_layout(a.src, a.out, a.layout)
        print(f"{a.out}: written as {a.layout} in {time.perf_counter() - t0:.1f} s")
        return 0
    out = a.cache / f"{a.data.name}-{a.method}"
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.method == "pyarrow":
        build_aligned(a.data, loan_table_paths(a.data), out)
    else:
        out.mkdir()
        align_duckdb(a.data, out)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    size = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 1024**3
    tables = [t for t in LOAN_TABLES if (out / t).exists()]
    print(f"{a.data} {a.method}: {secs:.1f} s, peak RSS {peak:.2f} GiB, "
          f"{size:.2f} GiB written ({', '.join(tables)}), load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
