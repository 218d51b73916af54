"""Import specs: the YAML that says how a loan tape becomes contract tables.

A spec is configuration, not code. It is read once, checked completely (every problem
reported at once, each naming its place in the spec) and turned into frozen objects
that :mod:`analysis.importers.tape` executes. The keys are documented in ``data/README.md``
section 7; in short::

    name: my_tape
    sources:                      # files read as text (CSV) or as stored (Parquet)
      tape: {path: tape.csv, format: csv, encoding: utf-8, delimiter: ","}
    identifiers:
      drop: [name, phone, address]          # direct identifiers: never output
      pseudonymise: [loan_id, borrower_id]  # output ID columns hashed with HMAC-SHA256
    quarantine: {max_share: 0.01}           # fail (exit 2) above 1 % quarantined records
    tables:
      loans:
        source: tape
        where: {notnull: [contract_no]}
        columns:
          loan_id: contract_no                                 # plain rename
          origination_date: {from: start, parse: date, format: "%d/%m/%Y", month_end: true}
          annual_rate: {from: rate, parse: percent, check: {ge: 0, lt: 1}}
          term_months: {from: term, parse: leading_number}     # " 36 months" -> 36
          principal: {from: amount, parse: number, round: 0, check: {gt: 0}}
          borrower_type: {const: individual}
          region: {from: province, map: {GD: guangdong}, unmapped: keep}
        passthrough: [purpose]                                 # covariates, unchanged
      performance: {source: tape, derive: my_registered_function, params: {...}}
      relief: {empty: true}
      cause_map: {rows: [{source: reason, name: medical, family: personal}]}

A source may instead be a database table or query (``format: sql``; the SQLAlchemy URL is
read from the environment variable that ``url_env`` names, never written in the spec;
:mod:`analysis.importers.sql`)::

    sources:
      tape: {format: sql, url_env: LOAN_TAPE_DB_URL, table: lending.loan_tape}
      perf: {format: sql, url_env: LOAN_TAPE_DB_URL, query: "SELECT * FROM perf WHERE ..."}

Relative source paths are resolved against the spec file's folder. A table is built
from one ``source`` (optionally ``stack``-ed from wide to long), from several ``parts``
that are concatenated, from constant ``rows``, by a registered derivation
(``derive``), or declared ``empty``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import InputError
from analysis.importers.derive import derivations

TABLE_ORDER: tuple[str, ...] = (
    "loans", "performance", "relief", "measures", "signals", "reasons", "cause_map",
)
PARSERS: tuple[str, ...] = (
    "str", "number", "integer", "percent", "leading_number", "date", "bool",
)
COMBINERS: tuple[str, ...] = ("first_non_null", "mean", "sum")
UNMAPPED: tuple[str, ...] = ("quarantine", "keep", "null")
CHECK_OPS: tuple[str, ...] = ("gt", "ge", "lt", "le")
DEFAULT_NA_VALUES: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None")

_COLUMN_KEYS = {
    "from", "const", "optional", "combine", "parse", "format", "lower", "map", "unmapped",
    "scale", "clip", "round", "month_end", "required", "default", "check",
}
_TABLE_KEYS = {"source", "where", "stack", "columns", "passthrough", "parts", "rows",
               "derive", "params", "empty"}
_PART_KEYS = {"source", "where", "stack", "columns", "passthrough"}


class ImportInputError(InputError):
    """The import cannot go ahead (bad spec, unreadable source, no key, invalid output)."""


class SpecError(ImportInputError):
    """The import spec is malformed: every problem is listed, with its place in the spec."""


SOURCE_FORMATS: tuple[str, ...] = ("csv", "parquet", "sql")
#: Rows per chunk when a SQL source is read (``chunksize`` in the spec).
SQL_CHUNK_ROWS = 100_000
_SOURCE_KEYS = {"path", "format", "encoding", "delimiter", "na_values"}
_SQL_KEYS = {"format", "url_env", "table", "query", "chunksize", "na_values"}


@dataclass(frozen=True)
class SourceSpec:
    """One source of a spec: a file (``path``; CSV or Parquet) or, with ``format="sql"``,
    a ``table`` or ``query`` of the database whose SQLAlchemy URL is in the environment
    variable ``url_env``, read ``chunksize`` rows at a time (``path`` is then a label)."""

    name: str
    path: Path
    format: str = "csv"
    encoding: str = "utf-8"
    delimiter: str = ","
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    url_env: str | None = None
    table: str | None = None
    query: str | None = None
    chunksize: int = SQL_CHUNK_ROWS


@dataclass(frozen=True)
class ColumnSpec:
    """How one output column is built from a source record (see module docstring)."""

    name: str
    sources: tuple[str, ...] = ()
    const: Any = None
    has_const: bool = False
    optional: tuple[str, ...] = ()
    combine: str = "first_non_null"
    parse: str = "str"
    format: str | None = None
    lower: bool = False
    mapping: dict | None = None
    unmapped: str = "quarantine"
    scale: float | None = None
    clip: tuple[float | None, float | None] | None = None
    round: int | None = None
    month_end: bool = False
    required: bool = True
    default: Any = None
    check: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PartSpec:
    """One row set of a table: a source, a filter, an optional stack, the columns."""

    source: str
    where: dict = field(default_factory=dict)
    stack: tuple[dict, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    passthrough: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    parts: tuple[PartSpec, ...] = ()
    rows: tuple[dict, ...] | None = None
    derive: str | None = None
    derive_source: str | None = None
    params: dict = field(default_factory=dict)
    empty: bool = False


@dataclass(frozen=True)
class ImportSpec:
    name: str
    path: Path
    sources: dict[str, SourceSpec]
    tables: dict[str, TableSpec]
    drop_identifiers: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ("loan_id", "borrower_id")
    max_quarantine_share: float = 0.0
    description: str = ""

    def with_sources(self, overrides: dict[str, str]) -> ImportSpec:
        """The same spec with some source paths replaced (``--source NAME=PATH``)."""
        unknown = sorted(set(overrides) - set(self.sources))
        if unknown:
            raise SpecError(
                f"--source names unknown source(s) {unknown}; the spec {self.path} declares "
                f"{sorted(self.sources)}"
            )
        new = dict(self.sources)
        for name, p in overrides.items():
            s = new[name]
            new[name] = SourceSpec(name, Path(p).expanduser().resolve(), _format_of(Path(p), None),
                                   s.encoding, s.delimiter, s.na_values)
        return ImportSpec(self.name, self.path, new, self.tables, self.drop_identifiers,
                          self.pseudonymise, self.max_quarantine_share, self.description)


def _format_of(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") or path.is_dir() else "csv"


class _Problems:
    def __init__(self, spec_path: Path) -> None:
        self.spec_path = spec_path
        self.items: list[str] = []

    def add(self, where: str, msg: str) -> None:
        self.items.append(f"{where}: {msg}")

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(
                f"import spec {self.spec_path} has {len(self.items)} problem(s):\n  - "
                + "\n  - ".join(self.items)
            )


def load_spec(path: str | Path) -> ImportSpec:
    """Read and check an import spec; raise :class:`SpecError` listing every problem."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise SpecError(f"import spec {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError(f"import spec {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"import spec {path} must be a mapping with sources and tables")
    return parse_spec(raw, path)


def parse_spec(raw: dict, path: Path) -> ImportSpec:
    """Check a spec already read from YAML (``path`` resolves relative source paths)."""
    known_derivations = derivations()

    pr = _Problems(path)
    unknown = set(raw) - {"name", "description", "sources", "identifiers", "quarantine", "tables"}
    if unknown:
        pr.add("top level", f"unknown key(s) {sorted(unknown)}")
    sources: dict[str, SourceSpec] = {}
    for name, s in (raw.get("sources") or {}).items():
        source = _parse_source(str(name), s, path, pr)
        if source is not None:
            sources[str(name)] = source
    if not sources:
        pr.add("sources", "declare at least one source")

    ident = raw.get("identifiers") or {}
    drop = tuple(str(c) for c in ident.get("drop", ()))
    pseudo = tuple(str(c) for c in ident.get("pseudonymise", ("loan_id", "borrower_id")))
    q = raw.get("quarantine") or {}
    max_share = q.get("max_share", 0.0)
    if not isinstance(max_share, (int, float)) or not 0 <= max_share <= 1:
        pr.add("quarantine.max_share", f"must be a fraction in [0, 1], not {max_share!r}")
        max_share = 0.0

    tables: dict[str, TableSpec] = {}
    for tname, t in (raw.get("tables") or {}).items():
        where = f"tables.{tname}"
        if tname not in TABLE_ORDER:
            pr.add(where, f"unknown table; the contract has {list(TABLE_ORDER)}")
            continue
        if not isinstance(t, dict):
            pr.add(where, "must be a mapping")
            continue
        bad = set(t) - _TABLE_KEYS
        if bad:
            pr.add(where, f"unknown key(s) {sorted(bad)}")
        kinds = [k for k in ("rows", "derive", "empty", "parts", "columns") if t.get(k)]
        if "parts" in kinds and "columns" in kinds:
            pr.add(where, "give either parts or columns, not both")
        if len({k if k != "columns" else "parts" for k in kinds}) != 1:
            pr.add(where, "needs exactly one of columns (with source), parts, rows, derive, empty")
            continue
        if t.get("rows"):
            rows = t["rows"]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                pr.add(where + ".rows", "must be a list of mappings")
                continue
            tables[tname] = TableSpec(tname, rows=tuple(rows))
        elif t.get("empty"):
            tables[tname] = TableSpec(tname, empty=True)
        elif t.get("derive"):
            fn = t["derive"]
            if fn not in known_derivations:
                pr.add(where + ".derive", f"unknown derivation {fn!r}; registered: {sorted(known_derivations)}")
            if t.get("source") not in sources:
                pr.add(where + ".source", f"names no declared source: {t.get('source')!r}")
            tables[tname] = TableSpec(tname, derive=fn, derive_source=t.get("source"),
                                      params=dict(t.get("params") or {}))
        else:
            raw_parts = t["parts"] if t.get("parts") else [
                {k: v for k, v in t.items() if k in _PART_KEYS}]
            parts = []
            for i, rp in enumerate(raw_parts):
                pw = f"{where}.parts[{i}]" if t.get("parts") else where
                part = _parse_part(rp, pw, sources, pr)
                if part is not None:
                    parts.append(part)
            tables[tname] = TableSpec(tname, parts=tuple(parts))
    for required in ("loans", "performance", "relief"):
        if required not in tables and not any(required in p for p in pr.items):
            pr.add("tables", f"the contract requires table {required!r} (use `{required}: "
                             "{empty: true}` for an empty relief table)")
    _check_identifiers(tables, drop, pseudo, pr)
    pr.raise_if_any()
    return ImportSpec(str(raw.get("name", path.stem)), path, sources, tables, drop, pseudo,
                      float(max_share), str(raw.get("description", "")))


def _parse_source(name: str, s: Any, spec_path: Path, pr: _Problems) -> SourceSpec | None:
    """One entry of ``sources``: a file, or a SQL table or query (``format: sql``)."""
    where = f"sources.{name}"
    if isinstance(s, str):
        s = {"path": s}
    if isinstance(s, dict) and s.get("format") == "sql":
        return _parse_sql_source(name, s, pr)
    if not isinstance(s, dict) or "path" not in s:
        pr.add(where, "needs a path (a file), or format: sql with url_env and a table or query")
        return None
    bad = set(s) - _SOURCE_KEYS
    if bad:
        pr.add(where, f"unknown key(s) {sorted(bad)}")
    p = Path(str(s["path"])).expanduser()
    if not p.is_absolute():
        p = (spec_path.parent / p).resolve()
    fmt = _format_of(p, s.get("format"))
    if fmt not in SOURCE_FORMATS:
        pr.add(where, f"format must be one of {list(SOURCE_FORMATS)}, not {fmt!r}")
    na = tuple(str(v) for v in s.get("na_values", DEFAULT_NA_VALUES))
    return SourceSpec(name, p, fmt, str(s.get("encoding", "utf-8")),
                      str(s.get("delimiter", ",")), na)


def _parse_sql_source(name: str, s: dict, pr: _Problems) -> SourceSpec | None:
    """``{format: sql, url_env: VAR, table: T | query: Q, chunksize: N}``: the connection
    string stays out of the spec (and out of the repository): only the variable's name."""
    where = f"sources.{name}"
    bad = set(s) - _SQL_KEYS
    if bad & {"url", "path", "dsn"}:
        pr.add(where, "never write a connection string in a spec: put the SQLAlchemy URL in "
                      "an environment variable and name it with url_env")
    elif bad:
        pr.add(where, f"unknown key(s) {sorted(bad)}; a SQL source takes {sorted(_SQL_KEYS)}")
    url_env = s.get("url_env")
    if not isinstance(url_env, str) or not url_env.strip():
        pr.add(where + ".url_env", "names the environment variable holding the SQLAlchemy URL")
        url_env = ""
    table, query = s.get("table"), s.get("query")
    if (table is None) == (query is None):
        pr.add(where, "needs exactly one of table or query")
    chunk = s.get("chunksize", SQL_CHUNK_ROWS)
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        pr.add(where + ".chunksize", f"must be a positive number of rows, not {chunk!r}")
        chunk = SQL_CHUNK_ROWS
    na = tuple(str(v) for v in s.get("na_values", DEFAULT_NA_VALUES))
    return SourceSpec(name, Path(f"sql:{url_env}/{name}"), "sql", na_values=na,
                      url_env=url_env or None, table=None if table is None else str(table),
                      query=None if query is None else str(query), chunksize=chunk)


def _parse_part(rp: Any, where: str, sources: dict, pr: _Problems) -> PartSpec | None:
    if not isinstance(rp, dict):
        pr.add(where, "must be a mapping")
        return None
    bad = set(rp) - _PART_KEYS
    if bad:
        pr.add(where, f"unknown key(s) {sorted(bad)}")
    src = rp.get("source")
    if src not in sources:
        pr.add(where + ".source", f"names no declared source: {src!r}")
    where_ = rp.get("where") or {}
    bad = set(where_) - {"notnull", "equals", "in"}
    if bad:
        pr.add(where + ".where", f"unknown filter(s) {sorted(bad)}; use notnull, equals, in")
    stack = rp.get("stack") or []
    if not isinstance(stack, list) or not all(isinstance(s, dict) for s in stack):
        pr.add(where + ".stack", "must be a list of mappings {new_column: source_column}")
        stack = []
    cols = []
    for cname, c in (rp.get("columns") or {}).items():
        col = _parse_column(cname, c, f"{where}.columns.{cname}", pr)
        if col is not None:
            cols.append(col)
    passthrough = rp.get("passthrough") or []
    if isinstance(passthrough, str):
        passthrough = [passthrough]
    return PartSpec(str(src), dict(where_), tuple(stack), tuple(cols),
                    tuple(str(p) for p in passthrough))


def _parse_column(name: str, c: Any, where: str, pr: _Problems) -> ColumnSpec | None:
    if isinstance(c, str):
        return ColumnSpec(name, sources=(c,))
    if not isinstance(c, dict):
        pr.add(where, "must be a source column name or a mapping")
        return None
    bad = set(c) - _COLUMN_KEYS
    if bad:
        pr.add(where, f"unknown key(s) {sorted(bad)}; allowed: {sorted(_COLUMN_KEYS)}")
    has_const = "const" in c
    src = c.get("from")
    sources = (src,) if isinstance(src, str) else tuple(src or ())
    if has_const == bool(sources):
        pr.add(where, "needs exactly one of `from` (source column(s)) or `const`")
    parse = c.get("parse", "str")
    if parse not in PARSERS:
        pr.add(where + ".parse", f"unknown parser {parse!r}; use one of {list(PARSERS)}")
    if parse == "date" and not c.get("format"):
        pr.add(where + ".format", "parse: date needs a format such as '%b-%Y'")
    combine = c.get("combine", "first_non_null")
    if combine not in COMBINERS:
        pr.add(where + ".combine", f"use one of {list(COMBINERS)}")
    unmapped = c.get("unmapped", "quarantine")
    if unmapped not in UNMAPPED:
        pr.add(where + ".unmapped", f"use one of {list(UNMAPPED)}")
    check = c.get("check") or {}
    if set(check) - set(CHECK_OPS):
        pr.add(where + ".check", f"use the keys {list(CHECK_OPS)}")
    clip = c.get("clip")
    if clip is not None and (not isinstance(clip, list) or len(clip) != 2):
        pr.add(where + ".clip", "must be [lower, upper] (null for none)")
        clip = None
    mapping = c.get("map")
    if mapping is not None and not isinstance(mapping, dict):
        pr.add(where + ".map", "must be a mapping {source value: output value}")
        mapping = None
    return ColumnSpec(
        name=name, sources=sources, const=c.get("const"), has_const=has_const,
        optional=tuple(c.get("optional", ())), combine=combine, parse=parse,
        format=c.get("format"), lower=bool(c.get("lower", False)),
        mapping={str(k): v for k, v in mapping.items()} if mapping else None,
        unmapped=unmapped, scale=c.get("scale"), clip=tuple(clip) if clip else None,
        round=c.get("round"), month_end=bool(c.get("month_end", False)),
        required=bool(c.get("required", True)), default=c.get("default"),
        check={k: float(v) for k, v in check.items()},
    )


def _check_identifiers(tables: dict[str, TableSpec], drop: tuple[str, ...],
                       pseudo: tuple[str, ...], pr: _Problems) -> None:
    """A dropped identifier may only feed a pseudonymised column, never pass through."""
    dropped = set(drop)
    for t in tables.values():
        for i, part in enumerate(t.parts):
            leaked = dropped & set(part.passthrough)
            if leaked:
                pr.add(f"tables.{t.name}.parts[{i}].passthrough",
                       f"passes through identifier column(s) {sorted(leaked)} listed in "
                       "identifiers.drop")
            for col in part.columns:
                leaked = dropped & set(col.sources)
                if leaked and col.name not in pseudo:
                    pr.add(f"tables.{t.name}.columns.{col.name}",
                           f"is built from identifier column(s) {sorted(leaked)} listed in "
                           "identifiers.drop but is not pseudonymised")
