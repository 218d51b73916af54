"""Loading and validating a data directory against the contract (``analysis.data.schema``).

One function loads a book for notebooks, the command line and the importer:
:func:`load_book` returns a validated :class:`analysis.data.book.Book` or raises
:class:`BookValidationError` (an :class:`~analysis.errors.InputError`) carrying
the report; :func:`validate_book` returns the :class:`ValidationReport` itself.

Method, in four passes that never stop at the first problem:

1. files: each table is ``<table>.parquet``, ``<table>.csv`` or a folder
   ``<table>/`` of Parquet parts. Missing, empty, unreadable, non-UTF-8 (byte
   offset and line named), wrongly delimited files and missing columns are
   report rows, not tracebacks. CSV is read as text so that every value that
   does not parse can be shown as it was written.
2. types: values are coerced by the declared kind (IDs to text, dates to
   ``datetime64[ns]``, months to month-end, integers checked whole), defaults
   filled (``write_off``, ``recovery`` = 0); failures are reported with the raw
   value.
3. values: the declared rules (``>= 0``, allowed codes, ...) and non-null
   checks. Tables up to :data:`PANDERA_MAX_ROWS` rows are validated by the
   pandera schema generated from the registry (lazy, so all failures at once).
   Pandera gathers every failure case row by row, which takes minutes when a
   24M-row table fails wholesale; larger tables therefore run the very same
   registry rules as plain vectorised masks, giving identical report rows.
   Missing values are counted by this module in both cases (values that failed
   to parse are not reported twice).
4. across rows and tables: unique keys, known ``loan_id``, month-ends, no
   performance before origination, contiguous months, declared measure codes,
   numeric and mapped signals, a signal for every cause family, mapped reason
   codes. Everything is vectorised on integer loan positions and month
   numbers (no loop over loans).

The loaded ``performance`` and ``signals`` are sorted by loan (in the order of
``loans``) and month, with a fresh index.

Known drawbacks: CSV line numbers assume no quoted field spans several lines;
rows of a Parquet folder are numbered within their part. ``engine="pandas"`` loads here;
``"dask"`` and ``"auto"`` hand larger-than-memory books to :mod:`analysis.dask.frames`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.data.schema import (
    FIELDS,
    NA_STRINGS,
    STANDARD_MEASURES,
    TABLES,
    field_rules,
    pandera_schema,
)
from analysis.definitions import FAMILIES
from analysis.errors import InputError, ParameterError

#: Tables with more rows are checked with the registry's vectorised rules, not pandera.
PANDERA_MAX_ROWS = 1_000_000
MAX_EXAMPLES = 5
REPORT_COLUMNS = ["file", "table", "column", "check", "n_failures", "examples"]
ENGINES = ("pandas",)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """Outcome of validating a data directory.

    ``table`` has one row per failed check: ``file, table, column, check,
    n_failures, examples`` (up to 5 example rows as text, separated by `` | ``).
    ``counts`` holds sizes of the book (loans, loan-months, ...) for messages.
    """

    table: pd.DataFrame
    data_dir: Path
    counts: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.table.empty

    def summary(self) -> pd.DataFrame:
        """Failures per table and check (without examples)."""
        return self.table.drop(columns="examples")

    def message(self) -> str:
        """One line: ``valid: N loans, M loan-months, ...`` or the number of problems."""
        if not self.ok:
            return f"invalid: {len(self.table)} problem(s) in {self.data_dir}"
        c = self.counts
        parts = [f"{c.get('loans', 0)} loans", f"{c.get('loan_months', 0)} loan-months"]
        if c.get("first_month"):
            parts.append(f"months {c['first_month']} to {c['last_month']}")
        parts += [f"{c.get('relief', 0)} relief grants", f"{c.get('measures', 0)} measure codes"]
        parts.append(f"{c.get('signal_columns', 0)} signal columns")
        parts.append(f"{c.get('reasons', 0)} reasons")
        return "valid: " + ", ".join(parts)

    def format(self) -> str:
        """Human-readable report: one block per failed check."""
        if self.ok:
            return f"{self.data_dir}: {self.message()}"
        out = [f"{self.data_dir}: INVALID, {len(self.table)} problem(s)"]
        for r in self.table.itertuples(index=False):
            where = ", ".join(x for x in (f"table {r.table}" if r.table else "",
                                          f"column '{r.column}'" if r.column else "") if x)
            out.append(
                f"- {r.file}{f' ({where})' if where else ''}: check '{r.check}' failed"
                f" for {r.n_failures} row(s)"
            )
            out += [f"    {e}" for e in str(r.examples).split(" | ") if e]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        if self.ok:
            return f"<p>{self.message()}</p>"
        return f"<p>{self.message()}</p>" + self.table.to_html(index=False)


class BookValidationError(InputError):
    """The data directory breaks the contract.

    ``.report`` is the report DataFrame (``file, table, column, check,
    n_failures, examples``); ``.validation`` the full :class:`ValidationReport`.
    """

    def __init__(self, validation: ValidationReport):
        self.validation = validation
        self.report = validation.table
        super().__init__(validation.format())


# --- collecting problems ----------------------------------------------------------------


@dataclass
class _Loaded:
    """One table as read: ``df`` keeps the position in the source as its index."""

    table: str
    file: str
    fmt: str  # "csv" or "parquet"
    df: pd.DataFrame
    parts: tuple[tuple[str, int], ...] = ()  # (part name, first row) for Parquet folders

    def where(self, label: int) -> str:
        if self.fmt == "csv":
            return f"line {label + 2}"
        if self.parts:
            starts = [s for _, s in self.parts]
            i = int(np.searchsorted(starts, label, side="right")) - 1
            return f"{self.parts[i][0]} row {label - starts[i] + 1}"
        return f"row {label + 1}"


def _fmt(v: object) -> str:
    if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return "<missing>"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else str(v)
    if isinstance(v, str):
        return repr(v)
    return str(v)


class _Report:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.rows: list[dict] = []

    def add(self, file: str, table: str, column: str, check: str, n: int, examples: list[str]):
        self.rows.append(
            dict(file=file, table=table, column=column, check=check, n_failures=int(n),
                 examples=" | ".join(examples[:MAX_EXAMPLES]))
        )

    def add_rows(self, ld: _Loaded, column: str, check: str, labels, frame: pd.DataFrame,
                 cols: list[str], note=None) -> None:
        """Report ``labels`` (index labels of ``frame``) failing ``check``."""
        labels = np.asarray(labels)
        if len(labels) == 0:
            return
        ex = []
        for lab in labels[:MAX_EXAMPLES]:
            shown = [c for c in dict.fromkeys(cols) if c in frame.columns]
            text = ", ".join(f"{c}={_fmt(frame.at[lab, c])}" for c in shown)
            extra = f" ({note(lab)})" if note else ""
            ex.append(f"{ld.where(int(lab))}: {text}{extra}")
        self.add(ld.file, ld.table, column, check, len(labels), ex)

    def add_mask(self, ld, column, check, mask, frame, cols, note=None) -> None:
        self.add_rows(ld, column, check, frame.index[np.asarray(mask, dtype=bool)], frame, cols,
                      note)

    def result(self, counts: dict | None = None) -> ValidationReport:
        table = pd.DataFrame(self.rows, columns=REPORT_COLUMNS)
        table["n_failures"] = table["n_failures"].astype("int64")
        return ValidationReport(table=table, data_dir=self.data_dir, counts=counts or {})


# --- pass 1: files ----------------------------------------------------------------------


def _locate(data_dir: Path, table: str, rep: _Report, required: bool, why: str = "") -> Path | None:
    cands = [p for p in (data_dir / f"{table}.parquet", data_dir / f"{table}.csv",
                         data_dir / table) if p.exists()]
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


def _utf8_problem(path: Path) -> str:
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


def _read_csv(path: Path, table: str, rep: _Report) -> _Loaded | None:
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
        rep.add(name, table, "", "encoding", 1, [_utf8_problem(path)])
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
    return _Loaded(table, name, "csv", df)


def _read_parquet(path: Path, table: str, rep: _Report) -> _Loaded | None:
    import pyarrow.dataset as pds
    import pyarrow.parquet as pq

    name = path.name + ("/" if path.is_dir() else "")
    parts: tuple[tuple[str, int], ...] = ()
    try:
        if path.is_dir():
            files = sorted(str(p) for p in path.rglob("*.parquet")
                           if not p.name.startswith((".", "_")))
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
        df = at.to_pandas(split_blocks=True, self_destruct=True)
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
    return _Loaded(table, name, "parquet", df, parts)


def _read(path: Path, table: str, rep: _Report) -> _Loaded | None:
    if path.is_dir() or path.suffix == ".parquet":
        return _read_parquet(path, table, rep)
    return _read_csv(path, table, rep)


# --- pass 2: types ----------------------------------------------------------------------


def _as_str(s: pd.Series) -> pd.Series:
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        return s
    if pd.api.types.is_float_dtype(s) and bool(((s.dropna() % 1) == 0).all()):
        s = s.astype("Int64")
    out = s.astype(str).astype(object)
    out[s.isna().to_numpy()] = np.nan
    return out


def _as_num(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), np.zeros(len(s), bool)
    if pd.api.types.is_integer_dtype(s) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        return s, np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s):
        v = s.astype("float64", copy=False)
        bad = np.isinf(v.to_numpy())
    else:
        v = pd.to_numeric(s, errors="coerce").astype("float64", copy=False)
        bad = (s.notna() & v.isna()).to_numpy() | np.isinf(v.to_numpy())
    if np.isinf(v.to_numpy()).any():
        v = v.where(~np.isinf(v.to_numpy()))
    return v, bad


def _as_date(s: pd.Series, month: bool) -> tuple[pd.Series, np.ndarray]:
    if isinstance(s.dtype, pd.PeriodDtype):
        v = s.dt.to_timestamp(how="end").dt.normalize()
    elif pd.api.types.is_datetime64_any_dtype(s):
        v = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        if v.dtype != "datetime64[ns]":
            v = v.where((v >= pd.Timestamp.min) & (v <= pd.Timestamp.max))
            v = v.astype("datetime64[ns]")
        a = v.to_numpy()
        if (a.astype("datetime64[D]") != a)[~np.isnat(a)].any():  # a time of day
            v = v.dt.normalize()
        return v, np.zeros(len(s), bool)
    else:
        codes, uniq = pd.factorize(s)
        u = pd.Series(uniq, dtype=object).astype(str).str.strip()
        parsed = pd.to_datetime(u, format="ISO8601", errors="coerce")
        if month:
            ym = u.str.fullmatch(r"\d{4}-\d{2}").to_numpy()
            parsed[ym] = parsed[ym] + pd.offsets.MonthEnd(0)
        parsed = parsed.dt.normalize()
        taken = parsed.to_numpy()[np.where(codes >= 0, codes, 0)]
        taken[codes < 0] = np.datetime64("NaT")
        v = pd.Series(taken, index=s.index).astype("datetime64[ns]")
    return v, (s.notna() & v.isna()).to_numpy()


def _as_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), np.zeros(len(s), bool)
    low = s.astype(str).str.strip().str.lower()
    v = pd.Series(pd.NA, index=s.index, dtype="boolean")
    v[low.isin(_TRUE).to_numpy()] = True
    v[low.isin(_FALSE).to_numpy()] = False
    v[s.isna().to_numpy()] = pd.NA
    return v, (s.notna() & v.isna()).to_numpy()


def _infer_extra(s: pd.Series) -> pd.Series:
    """Type a further (covariate) column read from CSV as text: bool, number or text."""
    if s.dtype != object:
        return s
    nn = s.dropna()
    if len(nn) and nn.str.strip().str.lower().isin({"true", "false"}).all():
        return _as_bool(s)[0]
    num, bad = _as_num(s)
    if not bad.any() and len(nn):
        return num
    return s


def _coerce(ld: _Loaded, rep: _Report) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Type the table in place; returns it and the raw-null flags (for the not-null check).

    Columns are replaced one by one (no copy of columns already in the right type);
    examples of type failures show the values as read.
    """
    t = TABLES[ld.table]
    df = ld.df
    rawnull: dict[str, np.ndarray] = {}
    keys = [k for k in t.primary_key if k in df.columns]
    declared = [n for n in t.fields if n in df.columns or FIELDS[n].has_default]
    for f in (FIELDS[n] for n in t.fields):
        if f.name not in df.columns:
            if f.has_default:
                df[f.name] = pd.Series(np.nan if f.default is None else f.default,
                                       index=df.index, dtype=f.dtype)
            continue
        s = df[f.name]
        null = rawnull[f.name] = s.isna().to_numpy()
        if f.kind == "str":
            v, bad = _as_str(s), np.zeros(len(s), bool)
            if null.any():
                v = v.where(~null, np.nan)
        elif f.kind in ("int", "float"):
            v, bad = _as_num(s)
        elif f.kind in ("date", "month"):
            v, bad = _as_date(s, f.kind == "month")
        else:
            v, bad = _as_bool(s)
        rep.add_mask(ld, f.name, f"type:{f.kind}", bad, df, [*keys, f.name])
        if f.kind == "int" and not pd.api.types.is_integer_dtype(v):
            frac = (v.notna() & (v % 1 != 0)).to_numpy()
            rep.add_mask(ld, f.name, "integer", frac, df, [*keys, f.name])
            if frac.any():
                v = v.where(~frac)
            if f.nullable:
                v = v.astype("Int64")
            elif not v.isna().any():
                v = v.astype("int64")
        elif f.kind == "int" and f.nullable:
            v = v.astype("Int64")
        if f.kind == "month":
            def not_month_end(u: np.ndarray) -> np.ndarray:
                d = u.astype("datetime64[D]")
                return ~np.isnat(u) & ((d + 1).astype("datetime64[M]") == d.astype("datetime64[M]"))

            me = _per_unique(v.to_numpy(), not_month_end)
            rep.add_mask(ld, f.name, "month_end", me, df, [*keys, f.name],
                         note=lambda _: "write YYYY-MM or the month-end date")
            if me.any():
                v = v.where(~me)
        if f.has_default and f.default is not None:
            if null.any():
                v = v.fillna(f.default)
            rawnull[f.name] = np.zeros(len(s), bool)
        if v is not s:
            df[f.name] = v
    for c in [c for c in df.columns if c not in t.fields]:
        if t.extra == "numeric_signals":
            v, bad = _as_num(df[c])
            rep.add_mask(ld, c, "numeric", bad, df, [*keys, c])
        else:
            v = _infer_extra(df[c])
            v = v.where(v.notna(), np.nan) if v.dtype == object and v.hasnans else v
        if v is not df[c]:
            df[c] = v
    order = declared + [c for c in df.columns if c not in t.fields]
    if list(df.columns) != order:
        df = df[order]
    return df, rawnull


# --- pass 3: values ---------------------------------------------------------------------


def _check_values(ld: _Loaded, df: pd.DataFrame, rawnull: dict[str, np.ndarray], rep: _Report,
                  measure_codes: list[str], use_pandera: bool | None = None) -> None:
    """Not-null and the registry's value rules (pandera, or the same masks when large)."""
    t = TABLES[ld.table]
    keys = [k for k in t.primary_key if k in df.columns]
    fields = [FIELDS[n] for n in t.fields if n in df.columns]
    for f in fields:
        if not f.nullable and f.name in rawnull:
            rep.add_mask(ld, f.name, "not_null", rawnull[f.name], df, [*keys, f.name])
    hints = {r.name: (lambda _, h=r.hint: h) for f in fields
             for r in field_rules(f, measure_codes) if r.hint}
    if use_pandera is None:
        use_pandera = len(df) <= PANDERA_MAX_ROWS
    if use_pandera:
        import pandera.pandas as pa

        schema = pandera_schema(ld.table, measure_codes=measure_codes, dtypes=False,
                                primary_key=False)
        schema = schema.update_columns({f.name: {"nullable": True, "required": False}
                                        for f in FIELDS.values() if f.name in schema.columns})
        try:
            schema.validate(df, lazy=True)
        except pa.errors.SchemaErrors as e:
            fc = e.failure_cases.dropna(subset=["index"])
            for (col, chk), g in fc.groupby(["column", "check"], sort=False):
                labels = pd.unique(g["index"].astype("int64"))
                rep.add_rows(ld, col, chk, labels, df, [*keys, col], note=hints.get(chk))
        return
    for f in fields:
        for r in field_rules(f, measure_codes):
            rep.add_mask(ld, f.name, r.name, r.failures(df[f.name]), df, [*keys, f.name],
                         note=hints.get(r.name))


# --- pass 4: across rows and tables -----------------------------------------------------


_NAT = np.iinfo("int64").min


def _per_unique(a: np.ndarray, fn) -> np.ndarray:
    """``fn(a)`` computed on the distinct values only (months repeat across loans)."""
    codes, uniq = pd.factorize(a, use_na_sentinel=False)
    return np.asarray(fn(np.asarray(uniq)))[codes]


def _month_no(s: pd.Series) -> np.ndarray:
    """Months since 1970-01 (``_NAT`` for missing)."""
    return _per_unique(s.to_numpy(dtype="datetime64[ns]"),
                       lambda u: u.astype("datetime64[M]").astype("int64"))


def _unique_key(ld, df, rep, cols) -> None:
    ok = df[cols].notna().all(axis=1)
    dup = df.duplicated(cols, keep="first") & ok
    rep.add_mask(ld, ", ".join(cols), "unique_key", dup, df, cols,
                 note=lambda _: "repeats an earlier row's key")


def _loan_pos(ld, df, rep, loan_index: pd.Index | None) -> np.ndarray | None:
    if loan_index is None:
        return None
    pos = loan_index.get_indexer(df["loan_id"])
    unknown = pos < 0
    if unknown.any():
        unknown &= df["loan_id"].notna().to_numpy()
    rep.add_mask(ld, "loan_id", "known_loan_id", unknown, df, ["loan_id"],
                 note=lambda _: "not in loans")
    return pos


def _monthly(ld, df, rep, pos, origin: tuple[np.ndarray, pd.Series] | None,
             contiguous: bool) -> np.ndarray | None:
    """Key uniqueness, origination and gaps for a (loan_id, month) table; returns sort order."""
    if pos is None:
        _unique_key(ld, df, rep, ["loan_id", "month"])
        return None
    m = _month_no(df["month"])
    valid = (pos >= 0) & (m != _NAT)
    key = np.where(valid, pos.astype("int64") * 400_000 + (m + 200_000), -1)
    if np.all(key[1:] >= key[:-1]):
        order = None
        sk, sp, sm, v = key, pos, m, valid
    else:
        order = np.argsort(key, kind="stable")
        sk, sp, sm, v = key[order], pos[order], m[order], valid[order]
    same = v[1:] & v[:-1] & (sp[1:] == sp[:-1])
    dup = same & (sk[1:] == sk[:-1])
    labels = df.index.to_numpy() if order is None else df.index.to_numpy()[order]
    rep.add_rows(ld, "loan_id, month", "unique_key", labels[1:][dup], df,
                 ["loan_id", "month"], note=lambda _: "repeats an earlier row's key")
    if contiguous:
        # a loan with a month that failed to parse would show a false gap: skip it
        unparsed = np.zeros(int(pos.max(initial=-1)) + 1, bool)
        unparsed[pos[(pos >= 0) & (m == _NAT)]] = True
        gap = same & (sm[1:] - sm[:-1] > 1) & ~unparsed[np.maximum(sp[1:], 0)]
        after, before = labels[1:][gap], labels[:-1][gap]
        prev = dict(zip(after[:MAX_EXAMPLES], before[:MAX_EXAMPLES], strict=True))
        rep.add_rows(ld, "month", "contiguous_months", after, df,
                     ["loan_id", "month"],
                     note=lambda lab: f"previous month of the loan is {_fmt(df.at[prev[lab], 'month'])}")
    if origin is not None:
        origin_m, origin_date = origin
        early = valid & (m < origin_m[np.where(pos >= 0, pos, 0)])
        rep.add_mask(ld, "month", "not_before_origination", early, df, ["loan_id", "month"],
                     note=lambda lab: "loan originated "
                     + _fmt(origin_date.iloc[pos[df.index.get_loc(lab)]]))
    return order


def _measures(ld: _Loaded | None, df: pd.DataFrame | None, rep: _Report) -> pd.DataFrame:
    """Standard four plus declared codes (declared rows that failed checks are left out)."""
    std = pd.DataFrame({
        "code": list(STANDARD_MEASURES),
        "description": [d for d, _ in STANDARD_MEASURES.values()],
        "is_concession": [c for _, c in STANDARD_MEASURES.values()],
        "is_standard": True,
    })
    if df is None or df.empty:
        return std
    d = df.dropna(subset=["code"]).drop_duplicates("code")
    d = d[d["code"].astype(str).str.fullmatch(r"[a-z][a-z0-9_]*") & (d["code"] != "none")]
    is_std = d["code"].isin(STANDARD_MEASURES).to_numpy()
    want = d["code"].map({k: c for k, (_, c) in STANDARD_MEASURES.items()})
    clash = is_std & d["is_concession"].notna().to_numpy() & (d["is_concession"] != want).to_numpy()
    rep.add_mask(ld, "is_concession", "standard_measure", clash, d, ["code", "is_concession"],
                 note=lambda lab: f"standard measure has is_concession={want[lab]}")
    d = d.reindex(columns=["code", "description", "is_concession"])
    new = d.loc[~is_std].assign(is_standard=False)
    new["is_concession"] = new["is_concession"].fillna(True).astype(bool)
    if "description" in d.columns:
        desc = d.set_index("code")["description"].dropna()
        std["description"] = std["code"].map(desc).fillna(std["description"])
    return pd.concat([std, new], ignore_index=True)


def _cause_map_checks(lds, dfs, rep) -> None:
    cm = dfs.get("cause_map")
    if cm is None:
        return
    cmld = lds["cause_map"]
    src = cm["source"].astype(str)
    if "signals" in dfs:
        sig, sld = dfs["signals"], lds["signals"]
        cols = [c for c in sig.columns if c not in ("loan_id", "month")]
        mapped = cm.loc[src == "signal"]
        names = set(mapped["name"].dropna())
        for c in cols:
            if c not in names:
                rep.add(sld.file, "signals", c, "signal_mapped", 1, [
                    f"signal column {c!r} has no cause_map row with source='signal'"])
        orphan = (src == "signal") & ~cm["name"].isin(cols)
        rep.add_mask(cmld, "name", "mapped_signal_exists", orphan, cm, ["source", "name", "family"],
                     note=lambda _: f"signals has no such column (columns: {', '.join(cols)})")
        fams = set(mapped.loc[mapped["name"].isin(cols), "family"])
        for fam in FAMILIES:
            if fam not in fams:
                rep.add(cmld.file, "cause_map", "family", "family_has_signal", 1, [
                    f"family '{fam}' has no signal column mapped to it (signal columns: "
                    f"{', '.join(cols) or 'none'})"])
    if "reasons" in dfs:
        rs, rld = dfs["reasons"], lds["reasons"]
        codes = set(cm.loc[src == "reason", "name"].dropna())
        bad = rs["reason_code"].notna() & ~rs["reason_code"].isin(codes)
        first = rs.loc[bad].drop_duplicates("reason_code").index
        if bad.any():
            rep.add(rld.file, "reasons", "reason_code", "reason_mapped", int(bad.sum()), [
                f"{rld.where(int(i))}: loan_id={_fmt(rs.at[i, 'loan_id'])}, "
                f"reason_code={_fmt(rs.at[i, 'reason_code'])} (no cause_map row with "
                "source='reason')" for i in first])


# --- the public functions ---------------------------------------------------------------


def _run(data_dir: str | Path) -> tuple[ValidationReport, dict[str, pd.DataFrame]]:
    data_dir = Path(data_dir)
    rep = _Report(data_dir)
    if not data_dir.is_dir():
        rep.add(str(data_dir), "", "", "directory_exists", 1,
                [f"{data_dir} is not a directory" if data_dir.exists() else f"{data_dir} not found"])
        return rep.result(), {}
    lds: dict[str, _Loaded] = {}
    found: set[str] = set()
    for name, t in TABLES.items():
        path = _locate(data_dir, name, rep, t.required == "always")
        if any((data_dir / f).exists() for f in (f"{name}.parquet", f"{name}.csv", name)):
            found.add(name)
        if path is not None:
            ld = _read(path, name, rep)
            if ld is not None:
                lds[name] = ld
    for name in ("signals", "reasons"):
        if name in lds and "cause_map" not in found:
            _locate(data_dir, "cause_map", rep, True, why=f" (required because {lds[name].file} exists)")
            break
    dfs: dict[str, pd.DataFrame] = {}
    raw_nulls: dict[str, dict[str, np.ndarray]] = {}
    for name, ld in lds.items():
        t = TABLES[name]
        missing = [n for n in t.fields if FIELDS[n].required and n not in ld.df.columns]
        if missing:
            import difflib

            for n in missing:
                close = difflib.get_close_matches(n, list(ld.df.columns), n=1, cutoff=0.6)
                cl = [c for c in ld.df.columns if c.lower() == n.lower()] or close
                rep.add(ld.file, name, n, "required_column", 1, [
                    f"column {n!r} is missing; columns are {', '.join(map(repr, ld.df.columns[:12]))}"
                    + (f" (did you mean {cl[0]!r}?)" if cl else "")])
            continue
        if ld.df.empty and not t.may_be_empty:
            rep.add(ld.file, name, "", "not_empty", 1, ["the file has a header but no rows"])
            continue
        if name == "signals" and len(ld.df.columns) <= 2:
            rep.add(ld.file, name, "", "required_column", 1,
                    ["signals has no signal column besides loan_id and month"])
        dfs[name], raw_nulls[name] = _coerce(ld, rep)
    meas = _measures(lds.get("measures"), dfs.get("measures"), rep)
    codes = list(meas["code"])
    for name, df in dfs.items():
        _check_values(lds[name], df, raw_nulls[name], rep, codes)
    # across tables
    loans = dfs.get("loans")
    loan_index = origin = None
    if loans is not None:
        _unique_key(lds["loans"], loans, rep, ["loan_id"])
        first = loans.drop_duplicates("loan_id").dropna(subset=["loan_id"])
        loan_index = pd.Index(first["loan_id"])
        origin = (_month_no(first["origination_date"]), first["origination_date"])
    orders: dict[str, np.ndarray | None] = {}
    for name in ("performance", "signals"):
        if name in dfs:
            pos = _loan_pos(lds[name], dfs[name], rep, loan_index)
            orders[name] = _monthly(lds[name], dfs[name], rep, pos,
                                    origin if name == "performance" else None,
                                    contiguous=name == "performance")
    for name in ("relief", "reasons"):
        if name in dfs:
            pos = _loan_pos(lds[name], dfs[name], rep, loan_index)
            _unique_key(lds[name], dfs[name], rep, list(TABLES[name].primary_key))
            if name == "relief" and pos is not None:
                df = dfs[name]
                g = _month_no(df["granted_date"])
                early = (pos >= 0) & (g != _NAT) & (g < origin[0][np.where(pos >= 0, pos, 0)])
                rep.add_mask(lds[name], "granted_date", "not_before_origination", early, df,
                             ["loan_id", "granted_date", "measure"])
    for name in ("cause_map", "measures"):
        if name in dfs:
            _unique_key(lds[name], dfs[name], rep, list(TABLES[name].primary_key))
    _cause_map_checks(lds, dfs, rep)
    # sort and finish
    for name, order in orders.items():
        if order is not None:
            dfs[name] = dfs[name].take(order)
    for df in dfs.values():
        df.index = pd.RangeIndex(len(df))
    dfs["measures"] = meas
    perf = dfs.get("performance")
    counts = {
        "loans": 0 if loans is None else len(loans),
        "loan_months": 0 if perf is None else len(perf),
        "relief": len(dfs.get("relief", ())),
        "measures": len(meas),
        "signal_columns": 0 if "signals" not in dfs else len(dfs["signals"].columns) - 2,
        "reasons": len(dfs.get("reasons", ())),
    }
    if perf is not None and perf["month"].notna().any():
        counts["first_month"] = perf["month"].min().strftime("%Y-%m")
        counts["last_month"] = perf["month"].max().strftime("%Y-%m")
    return rep.result(counts), dfs


def validate_book(data_dir: str | Path) -> ValidationReport:
    """Validate a data directory against the contract; never raises for bad data.

    Returns a :class:`ValidationReport` (``.ok``, ``.table``, ``.format()``).
    """
    return _run(data_dir)[0]


def load_book(data_dir: str | Path, *, engine: str = "pandas") -> Book:
    """Load and validate a data directory into a :class:`~analysis.data.book.Book`.

    Dates are ``datetime64[ns]``, ``month`` columns month-ends, IDs text,
    ``write_off``/``recovery`` filled with 0, relief parameters present (missing
    where not given). ``Book.measures`` lists the standard four measures plus
    any declared (columns ``code, description, is_concession, is_standard``).
    Raises :class:`BookValidationError` with the full report when the data break
    the contract. ``engine="dask"`` (or ``"auto"`` above ``engine_dask.AUTO_DASK_ROWS`` rows) returns a
    lazy ``analysis.dask.frames.DaskBook`` validated on a cluster (docs/dask.md).
    """
    if engine in ("dask", "auto"):
        from analysis.dask.frames import load_book_any

        return load_book_any(data_dir, engine)
    if engine not in ENGINES:
        raise ParameterError(f"engine={engine!r} is not available here; choose from {ENGINES}")
    report, dfs = _run(data_dir)
    if not report.ok:
        raise BookValidationError(report)
    return Book(
        loans=dfs["loans"],
        performance=dfs["performance"],
        relief=dfs["relief"],
        measures=dfs["measures"],
        signals=dfs.get("signals"),
        reasons=dfs.get("reasons"),
        cause_map=dfs.get("cause_map"),
        source=Path(data_dir),
    )


__all__ = ["BookValidationError", "ValidationReport", "load_book", "validate_book"]
