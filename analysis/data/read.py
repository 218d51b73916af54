"""Pass 1 of validation: read a table's file (CSV, Parquet file or folder of parts).

CSV is read as text so that every value that does not parse can be shown as it was
written. Missing, empty, unreadable, non-UTF-8 (byte offset and line named), wrongly
delimited files and repeated column names are report rows, not tracebacks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from analysis.data.files import dataset_parts
from analysis.data.problems import Loaded, Report
from analysis.data.schema import NA_STRINGS, category_columns


def utf8_problem(path: Path) -> str:
    """Byte offset, line and snippet of the first byte sequence that is not UTF-8."""
    base, line, tail = 0, 1, b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            data = tail + chunk
            if not data:
                return "not UTF-8"
            try:
                data.decode("utf-8")
                line += data.count(b"\n")
                base, tail = base + len(data), b""
            except UnicodeDecodeError as e:
                if chunk and e.end >= len(data) - 3 and e.reason == "unexpected end of data":
                    line += data[: e.start].count(b"\n")
                    base, tail = base + e.start, data[e.start:]
                    continue
                line += data[: e.start].count(b"\n")
                ls = data.rfind(b"\n", 0, e.start) + 1
                le = data.find(b"\n", e.start)
                raw_line = data[ls: le if le >= 0 else len(data)]
                hint = "; re-save the file as UTF-8"
                try:
                    as_gb = raw_line.decode("gb18030")
                    hint += f" (read as GB18030/GBK the line is {as_gb[:80]!r})"
                except UnicodeDecodeError:
                    pass
                return (f"byte 0x{data[e.start]:02x} at byte offset {base + e.start} (line {line})"
                        f" is not UTF-8: {raw_line.decode('utf-8', 'replace')[:80]!r}{hint}")
            if not chunk:
                return "not UTF-8"


def read_csv(path: Path, table: str, rep: Report) -> Loaded | None:
    """A CSV file read as text (index = line position); None, reported, when unreadable."""
    name = path.name
    if path.stat().st_size == 0:
        rep.add(name, table, "", "not_empty", 1, ["the file is empty (0 bytes); a CSV needs a header row"])
        return None
    with open(path, "rb") as fh:
        first = fh.readline()
    header = first.decode("utf-8-sig", "replace").strip("\r\n")
    if "," not in header:
        for sep, word in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header:
                rep.add(name, table, "", "delimiter", 1, [
                    f"the header {header[:80]!r} reads as a single column: the file looks "
                    f"{word}-separated; the contract needs comma-separated CSV"])
                return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(NA_STRINGS),
                         skip_blank_lines=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        rep.add(name, table, "", "encoding", 1, [utf8_problem(path)])
        return None
    except pd.errors.EmptyDataError:
        rep.add(name, table, "", "not_empty", 1, ["the file has no header row"])
        return None
    except (pd.errors.ParserError, ValueError, OSError) as e:
        rep.add(name, table, "", "readable", 1, [f"cannot parse as CSV: {str(e).strip()}"])
        return None
    try:
        names = next(csv.reader([header.replace("\r", "").replace("\x00", "")]), [])
    except csv.Error:
        names = []
    dups = sorted({n.strip() for n in names if [m.strip() for m in names].count(n.strip()) > 1})
    if dups:
        rep.add(name, table, ", ".join(dups), "unique_column_names", len(dups),
                [f"column {d!r} appears more than once in the header" for d in dups])
    df.columns = [str(c).strip() for c in df.columns]
    df = df.dropna(how="all")  # blank lines; the index keeps the line position
    return Loaded(table, name, "csv", df)


def _arrow_to_pandas(at, table: str, compact: bool) -> pd.DataFrame:
    """The Arrow table as pandas, freeing Arrow's memory as it goes. With ``compact``, the
    text columns of :func:`~analysis.data.schema.category_columns` are dictionary-encoded
    by Arrow straight into ``category`` (no text object per row is ever made); the memory
    Arrow's pool kept for the freed buffers is given back to the system afterwards (its
    allocator otherwise holds it, about half the table at 1M loans)."""
    import pyarrow as pa

    cats = []
    if compact:
        want = set(category_columns(table))
        for fld in at.schema:
            t = fld.type.value_type if pa.types.is_dictionary(fld.type) else fld.type
            if fld.name in want and (pa.types.is_string(t) or pa.types.is_large_string(t)):
                cats.append(fld.name)
    df = at.to_pandas(split_blocks=True, self_destruct=True, categories=cats or None)
    del at
    release_arrow_memory()
    return df


def release_arrow_memory() -> None:
    """Give the memory Arrow's pool holds for freed buffers back to the system.

    Columns converted without a copy live in Arrow buffers; when typing replaces them,
    or a table is converted, the freed buffers stay in the pool's allocator (mimalloc or
    jemalloc) unless released: about 1 GiB per 10M loan-months."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def read_parquet(path: Path, table: str, rep: Report, *, compact: bool = False) -> Loaded | None:
    """A Parquet file or folder of parts (index = row position, parts with their first
    row); None, reported, when unreadable or empty. ``compact``: IDs and codes of the
    large tables as ``category`` (the pandas loader; see :func:`_arrow_to_pandas`)."""
    import pyarrow.dataset as pds
    import pyarrow.parquet as pq

    name = path.name + ("/" if path.is_dir() else "")
    parts: tuple[tuple[str, int], ...] = ()
    try:
        if path.is_dir():
            files = dataset_parts(path)
            if not files:
                others = sorted(p.name for p in path.iterdir())[:5]
                rep.add(name, table, "", "not_empty", 1, [
                    f"the folder holds no Parquet parts (*.parquet); found {others or 'nothing'}"])
                return None
            ds = pds.dataset(files, format="parquet", partitioning="hive",
                             partition_base_dir=str(path))
            frags = list(ds.get_fragments())
            starts, n = [], 0
            for fr in frags:
                starts.append((Path(fr.path).name, n))
                n += fr.count_rows()
            parts = tuple(starts)
            at = ds.to_table()
        else:
            at = pq.read_table(path)
        df = _arrow_to_pandas(at, table, compact)
    except Exception as e:  # pyarrow raises many types for damaged or mixed files
        rep.add(name, table, "", "readable", 1,
                [f"cannot read as Parquet: {type(e).__name__}: {str(e).strip()[:300]}"])
        return None
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    if not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1):
        df.index = pd.RangeIndex(len(df))
    df.columns = [str(c).strip() for c in df.columns]
    dups = sorted(set(df.columns[df.columns.duplicated()]))
    if dups:
        rep.add(name, table, ", ".join(dups), "unique_column_names", len(dups),
                [f"column {d!r} appears more than once" for d in dups])
        df = df.loc[:, ~df.columns.duplicated()]
    return Loaded(table, name, "parquet", df, parts)


def read_table(path: Path, table: str, rep: Report, *, compact: bool = False) -> Loaded | None:
    """``table`` read from ``path`` by its format (Parquet file or folder, else CSV);
    ``compact`` as in :func:`read_parquet` (CSV is read as text either way)."""
    if path.is_dir() or path.suffix == ".parquet":
        return read_parquet(path, table, rep, compact=compact)
    return read_csv(path, table, rep)


__all__ = ["read_csv", "read_parquet", "read_table", "release_arrow_memory", "utf8_problem"]
