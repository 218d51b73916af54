"""Reading a SQL source of an import spec: a database table or query, as text, in chunks.

A spec names the source as ``{format: sql, url_env: VAR, table: T}`` or ``{..., query: Q}``
(:mod:`analysis.importers.spec`). The SQLAlchemy URL (``postgresql+psycopg://user@host/db``,
``sqlite:////data/tape.db``) is read from the environment variable ``VAR`` when the import
runs: the connection string, and any password in it, never sits in the spec or the
repository. SQLAlchemy and the database's driver are the optional ``[sql]`` extra
(``pip install 'overdue-relief[sql]'`` plus e.g. ``psycopg[binary]``).

The rows are read with :func:`pandas.read_sql_query` ``chunksize`` rows at a time; each
chunk is turned into text at once, as the CSV reader sees a file (``None`` and the spec's
``na_values`` are missing; a float column whose values are all whole numbers, as an
integer column with NULLs arrives, is written without ``.0``), so the spec's transforms
give the same book from the database as from a CSV export of the same table. The typed
result of the query is never held whole. A table source selects only the columns the
spec uses. Each record keeps its 1-based row number (the ``line`` of quarantined records).

Known drawbacks: dates and timestamps arrive as ISO text (``2018-12-01``,
``2018-12-01 00:00:00``): declare that format in the spec, or format them in the query
(``to_char(issue_d, 'Mon-YYYY')``). A query without ``ORDER BY`` may return rows in a
different order on each run: the book is the same, the row numbers of quarantined records
are not.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import pandas as pd

from analysis.importers.spec import ImportInputError, SourceSpec


def connection_url(s: SourceSpec) -> str:
    """The SQLAlchemy URL of a SQL source, from its environment variable."""
    url = os.environ.get(s.url_env or "", "").strip()
    if not url:
        raise ImportInputError(
            f"source {s.name!r}: the environment variable {s.url_env} is not set; it holds the "
            "SQLAlchemy URL of the database (e.g. postgresql+psycopg://user@host/db), kept out "
            "of the spec and the repository"
        )
    return url


def as_text(chunk: pd.DataFrame, na_values: tuple[str, ...]) -> pd.DataFrame:
    """A chunk of typed database values as the CSV reader would give them: text, with
    NULL and the spec's ``na_values`` missing (NaN). Whole-number floats lose ``.0``."""
    out = {}
    for name in chunk.columns:
        col = chunk[name]
        if pd.api.types.is_float_dtype(col):
            values = col.dropna()
            if len(values) and bool(np.all(np.isfinite(values))) and bool((values % 1 == 0).all()):
                col = col.astype("Int64")
        text = col.astype(str).where(col.notna(), np.nan)
        out[str(name)] = text.mask(text.isin(na_values), np.nan).astype(object)
    return pd.DataFrame(out, index=chunk.index)


def select_statement(s: SourceSpec, engine: Any, columns: set[str] | None) -> tuple[str, tuple]:
    """The SQL text to run and the table's columns (empty for a query): for a table, only
    ``columns`` (those the spec uses) that the table has, identifiers quoted."""
    if s.query is not None:
        return s.query, ()
    import sqlalchemy  # the optional [sql] extra, imported by read_sql_source

    *schema, table = s.table.split(".")
    try:
        found = sqlalchemy.inspect(engine).get_columns(table, schema=schema[0] if schema else None)
    except sqlalchemy.exc.NoSuchTableError:
        raise ImportInputError(f"source {s.name!r}: the database has no table {s.table!r}") from None
    header = tuple(str(c["name"]) for c in found)
    quote = engine.dialect.identifier_preparer.quote
    keep = [c for c in header if columns is None or c.strip() in columns] or list(header)
    name = ".".join(quote(part) for part in (*schema, table))
    return f"SELECT {', '.join(quote(c) for c in keep)} FROM {name}", header


def read_sql_source(s: SourceSpec, columns: set[str] | None = None) -> tuple[pd.DataFrame, str, tuple]:
    """Read a SQL source: ``(frame as text, sha256 of its content, header)``; the frame's
    index is the record number. Every failure is an :class:`ImportInputError` naming the
    source (the URL is not repeated: it may hold a password)."""
    try:
        import sqlalchemy  # optional [sql] extra: only a spec with a SQL source needs it
    except ImportError:
        raise ImportInputError(f"source {s.name!r} is a SQL source: install SQLAlchemy and the "
                               "database's driver (pip install 'overdue-relief[sql]')") from None
    url = connection_url(s)
    digest, chunks, header = hashlib.sha256(), [], ()
    try:
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as con:
                statement, header = select_statement(s, engine, columns)
                for chunk in pd.read_sql_query(sqlalchemy.text(statement), con,
                                               chunksize=s.chunksize, coerce_float=True):
                    text = as_text(chunk, s.na_values)
                    digest.update(pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes())
                    chunks.append(text)
        finally:
            engine.dispose()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ImportInputError(f"source {s.name!r}: cannot read from the database in "
                               f"{s.url_env}: {type(exc).__name__}: {detail}") from None
    if not chunks or not sum(len(c) for c in chunks):
        raise ImportInputError(f"source {s.name!r}: the {'query' if s.query else 'table'} "
                               "returned no rows")
    frame = pd.concat(chunks, ignore_index=True)
    del chunks
    if columns is not None and s.query is not None:
        header = tuple(frame.columns)
        frame = frame[[c for c in frame.columns if c.strip() in columns]]
    return frame, digest.hexdigest(), header or tuple(frame.columns)


__all__ = ["as_text", "connection_url", "read_sql_source", "select_statement"]
