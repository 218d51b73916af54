"""Reading the sources of an import spec: CSV as text, Parquet, or SQL, with record lines.

Every CSV value is read as text (``dtype=str``) with the spec's encoding, delimiter and
missing-value markers, so the transforms see exactly what the file says and quarantined
records can show their raw values. Each record keeps the physical line where it starts
(header = line 1; quoted fields spanning lines are accounted for); a Parquet record keeps
its 1-based row number, and so does a SQL record (:mod:`analysis.importers.sql`: a table or
query read in chunks, as text). Unreadable files raise :class:`ImportInputError` naming the
file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.importers.spec import ImportInputError, SourceSpec
from analysis.importers.sql import read_sql_source


@dataclass
class Source:
    spec: SourceSpec
    frame: pd.DataFrame  # index = record number 0..n-1
    lines: np.ndarray  # line (CSV) or row (Parquet) of each record, 1-based
    sha256: str
    header: tuple[str, ...] = ()  # every column of the file (frame holds those needed)


def _record_lines(data: bytes, enc: str, delimiter: str, n: int) -> np.ndarray:
    """Physical line where each CSV record starts (header = line 1)."""
    if data.count(b"\n") - (1 if data.endswith(b"\n") else 0) + 1 == n + 1:
        return np.arange(2, n + 2)
    # quoted fields span lines: ask the csv module where each record starts
    reader = csv.reader(io.StringIO(data.decode(enc, errors="replace"), newline=""),
                        delimiter=delimiter)
    starts, prev = [], 0
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    return np.asarray(starts[1:n + 1], dtype=np.int64)


def read_source(s: SourceSpec, columns: set[str] | None = None) -> Source:
    """Read one source; every failure is an :class:`InputError` naming the file.

    ``columns``: read only these (names compared after stripping blanks); None = all.
    """
    if s.format == "sql":
        frame, digest, header = read_sql_source(s, columns)
        return Source(s, frame, np.arange(1, len(frame) + 1), digest, header)
    if not s.path.exists():
        raise ImportInputError(f"source {s.name!r}: file {s.path} does not exist "
                           "(override with --source NAME=PATH)")
    if s.format == "parquet":
        try:
            frame = pd.read_parquet(s.path)
            header = tuple(str(c) for c in frame.columns)
            if columns is not None:
                frame = frame[[c for c in frame.columns if str(c) in columns]]
        except Exception as exc:  # pyarrow raises many types
            raise ImportInputError(f"source {s.name!r}: cannot read Parquet {s.path}: {exc}") from None
        digest = hashlib.sha256(s.path.read_bytes()).hexdigest() if s.path.is_file() else ""
        frame = frame.reset_index(drop=True)
        return Source(s, frame, np.arange(1, len(frame) + 1), digest, header)
    data = s.path.read_bytes()
    if not data.strip():
        raise ImportInputError(f"source {s.name!r}: file {s.path} is empty")
    try:
        text = data.decode(s.encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportInputError(f"source {s.name!r}: file {s.path} is not valid {s.encoding} "
                           f"(line {line}, byte {exc.start}); declare its encoding in the spec"
                           ) from None
    except LookupError:
        raise ImportInputError(f"source {s.name!r}: unknown encoding {s.encoding!r}") from None
    seen: dict[str, None] = {}  # pandas may ask about a column more than once

    def wanted(name: str) -> bool:
        seen[str(name).strip()] = None
        return columns is None or str(name).strip() in columns

    try:
        frame = pd.read_csv(io.StringIO(text), sep=s.delimiter, dtype=str, usecols=wanted,
                            keep_default_na=False, na_values=list(s.na_values))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ImportInputError(f"source {s.name!r}: cannot parse CSV {s.path} with delimiter "
                           f"{s.delimiter!r}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = _record_lines(data, s.encoding, s.delimiter, len(frame))
    return Source(s, frame, lines, hashlib.sha256(data).hexdigest(), tuple(seen))


def check_columns(src: Source, needed: set[str], optional: set[str], where: str) -> None:
    missing = sorted(needed - optional - set(src.frame.columns))
    if missing:
        cols = list(src.header or src.frame.columns)
        hint = (f"; the file has a single column {cols[0][:60]!r}: wrong delimiter?"
                if len(cols) == 1 else f"; it has {cols[:12]}{' ...' if len(cols) > 12 else ''}")
        raise ImportInputError(f"{where}: source {src.spec.name!r} ({src.spec.path}) lacks "
                           f"column(s) {missing}{hint}")
