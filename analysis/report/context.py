"""The context every report notebook opens: validated parameters, the book, the episodes.

A notebook's second cell is ``ctx = open_context(data_dir, as_of, ...)`` with the
values of its ``parameters`` cell. :func:`open_context`

1. checks every parameter (type, range, format); an unknown or ill-typed value raises
   :class:`analysis.errors.ParameterError` naming it, never a silent default;
2. loads the book with :func:`analysis.data.validate.load_book` (validated);
3. keeps only data known at the reporting month ``as_of`` (performance and signal
   months, relief grants, reported reasons and originations up to its month-end), so a
   report for an earlier month shows what was knowable then, with outcomes censored at
   ``as_of``;
4. applies the optional ``segment`` filter (``"col=value"`` on loan attributes, several
   joined by ``,``);
5. builds the episode table once with the given definitions. Inside a report run the
   runner sets ``OVERDUE_RELIEF_CACHE_DIR``; the episode table is then cached there as
   parquet, keyed by the input fingerprint, ``as_of``, ``segment`` and the definitions,
   so the notebooks of one run do not rebuild it;
6. exposes ``data_dir/truth/`` (synthetic books) as ``ctx.truth``.

``ctx.write_table(name, df)`` writes ``<tables_dir>/<name>.csv`` after small-cell
suppression (:mod:`analysis.report.privacy`) and refuses identifier columns; ``ctx.show(df)``
displays a table with the same suppression.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data.book import Book
from analysis.definitions import Definitions
from analysis.errors import InputError, ParameterError
from analysis.report.privacy import _AUTO, for_display, suppress

CACHE_ENV = "OVERDUE_RELIEF_CACHE_DIR"
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh-CN", "zh-TW")
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# Table -> the column that dates each row (what was known when).
_EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("origination_date", "origination_month"),
    "performance": ("month",),
    "signals": ("month",),
    "relief": ("granted_date", "granted_month", "grant_date"),
    "reasons": ("reported_date", "reported_month", "report_date"),
}


# ----------------------------------------------------------------------------- checks
def _check_type(name: str, value: Any, typ: type) -> None:
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if not ok:
        raise ParameterError(
            f"parameter {name}={value!r} must be {typ.__name__}, got {type(value).__name__}"
        )


def parse_month(value: str, name: str = "as_of") -> pd.Timestamp:
    """``"YYYY-MM"`` -> month-end Timestamp; anything else raises ParameterError."""
    if not isinstance(value, str) or not _MONTH_RE.match(value):
        raise ParameterError(f"parameter {name}={value!r} must be a month 'YYYY-MM'")
    return pd.Timestamp(value + "-01") + pd.offsets.MonthEnd(0)


def parse_segment(segment: str) -> list[tuple[str, str]]:
    """``"a=x,b=y"`` -> ``[("a", "x"), ("b", "y")]``; ``""`` -> ``[]``."""
    if segment.strip() == "":
        return []
    out = []
    for part in segment.split(","):
        col, sep, val = part.partition("=")
        if not sep or not col.strip() or not val.strip():
            raise ParameterError(
                f"parameter segment={segment!r}: each condition must be 'column=value', "
                f"e.g. 'borrower_type=micro_enterprise'"
            )
        out.append((col.strip(), val.strip()))
    return out


def validate_parameters(
    data_dir: str,
    as_of: str,
    horizon_months: int,
    probation_months: int,
    segment: str,
    min_cell: int,
    tables_dir: str,
    language: str,
    definitions: dict[str, Any] | None = None,
) -> Definitions:
    """Check the notebook parameters; return the :class:`Definitions` they imply."""
    for name, value, typ in (
        ("data_dir", data_dir, str),
        ("as_of", as_of, str),
        ("horizon_months", horizon_months, int),
        ("probation_months", probation_months, int),
        ("segment", segment, str),
        ("min_cell", min_cell, int),
        ("tables_dir", tables_dir, str),
        ("language", language, str),
    ):
        _check_type(name, value, typ)
    if as_of != "":
        parse_month(as_of)
    parse_segment(segment)
    if min_cell < 1:
        raise ParameterError(f"parameter min_cell={min_cell!r} must be >= 1")
    if language not in SUPPORTED_LANGUAGES:
        raise ParameterError(
            f"parameter language={language!r} is not one of {list(SUPPORTED_LANGUAGES)}"
        )
    if not Path(data_dir).is_dir():
        raise ParameterError(f"parameter data_dir={data_dir!r}: no such directory")
    extra = dict(definitions or {})
    known = {f.name: f.type for f in fields(Definitions)}
    unknown = sorted(set(extra) - set(known))
    if unknown:
        raise ParameterError(
            f"unknown definition parameter(s) {unknown}; known: {sorted(known)}"
        )
    for k, v in extra.items():
        if k == "discount_rate" and isinstance(v, int) and not isinstance(v, bool):
            v = extra[k] = float(v)
        _check_type(k, v, float if k == "discount_rate" else int)
    return Definitions(
        **{**extra, "horizon_months": horizon_months, "probation_months": probation_months}
    )


# ----------------------------------------------------------------------------- data
def data_fingerprint(data_dir: str | os.PathLike) -> str:
    """SHA-256 over the relative paths and contents of every file in ``data_dir``.

    ``truth/`` is included (it is part of a synthetic book). Hidden files are skipped.
    """
    root = Path(data_dir)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        h.update(str(rel.as_posix()).encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _event_column(table: str, df: pd.DataFrame) -> str | None:
    for c in _EVENT_COLUMNS.get(table, ()):
        if c in df.columns:
            return c
    return None


def latest_month(book: Book) -> pd.Timestamp:
    """Last month-end with performance rows."""
    return pd.Timestamp(book.performance["month"].max()) + pd.offsets.MonthEnd(0)


def restrict_to(book: Book, as_of: pd.Timestamp) -> Book:
    """The book as known at the month-end ``as_of`` (rows dated later are dropped)."""
    changes: dict[str, pd.DataFrame] = {}
    for table in _EVENT_COLUMNS:
        df = getattr(book, table)
        if df is None:
            continue
        col = _event_column(table, df)
        if col is None:
            continue
        keep = pd.to_datetime(df[col]) <= as_of
        if not keep.all():
            changes[table] = df.loc[keep].reset_index(drop=True)
    return replace(book, **changes) if changes else book


def filter_segment(book: Book, conditions: Sequence[tuple[str, str]], check: bool = True) -> Book:
    """Keep the loans whose attributes match every ``(column, value)`` condition.

    ``check=False`` (a loan partition of the Dask engine, checked once for the whole
    book) skips the error for a value no loan of ``book`` has."""
    if not conditions:
        return book
    loans = book.loans
    mask = pd.Series(True, index=loans.index)
    for col, val in conditions:
        if col not in loans.columns or col in ("loan_id", "borrower_id"):
            allowed = [c for c in loans.columns if c not in ("loan_id", "borrower_id")]
            raise ParameterError(
                f"parameter segment: {col!r} is not a loan attribute; use one of {allowed}"
            )
        as_text = loans[col].astype(str)
        if check and not (as_text == val).any():
            seen = sorted(as_text.unique())[:20]
            raise ParameterError(
                f"parameter segment: no loan has {col}={val!r}; values seen: {seen}"
            )
        mask &= as_text == val
    ids = loans.loc[mask, "loan_id"]
    changes: dict[str, pd.DataFrame] = {"loans": loans.loc[mask].reset_index(drop=True)}
    for table in ("performance", "relief", "signals", "reasons"):
        df = getattr(book, table)
        if df is not None and "loan_id" in df.columns:
            changes[table] = df.loc[df["loan_id"].isin(ids)].reset_index(drop=True)
    return replace(book, **changes)


def read_truth(data_dir: str | os.PathLike) -> dict[str, pd.DataFrame] | None:
    """``{stem: DataFrame}`` for every parquet/CSV file in ``data_dir/truth``, else None."""
    tdir = Path(data_dir) / "truth"
    if not tdir.is_dir():
        return None
    out: dict[str, pd.DataFrame] = {}
    for p in sorted(tdir.iterdir()):
        if p.suffix == ".parquet":
            out[p.stem] = pd.read_parquet(p)
        elif p.suffix == ".csv":
            out[p.stem] = pd.read_csv(p)
    return out


def _build_episodes(book: Book, definitions: Definitions) -> pd.DataFrame:
    from analysis import episodes as ep_mod

    if hasattr(ep_mod, "episodes_from_definitions"):
        return ep_mod.episodes_from_definitions(book, definitions)
    accepted = inspect.signature(ep_mod.build_episodes).parameters
    kwargs = {k: v for k, v in definitions.as_dict().items() if k in accepted}
    return ep_mod.build_episodes(book, **kwargs)


def book_cache_path(cache_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Where a run keeps the validated book (pickle) for its notebooks."""
    return Path(cache_dir) / f"book-{fingerprint[:24]}.pkl"


def store_book(book: Book, cache_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Keep a validated book for the notebooks of this run (written atomically)."""
    import pickle

    path = book_cache_path(cache_dir, fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(book, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def _load_book(data_dir: str) -> Book:
    """The validated book: from the run's cache when the runner left it there."""
    from analysis.data.validate import load_book

    cache_dir = os.environ.get(CACHE_ENV, "")
    fp = os.environ.get(CACHE_ENV + "_FINGERPRINT", "")
    if cache_dir and fp:
        path = book_cache_path(cache_dir, fp)
        if path.exists():
            import pickle

            with open(path, "rb") as fh:
                book = pickle.load(fh)  # written by this run's runner (store_book)
            if book.source is None or Path(book.source).resolve() == Path(data_dir).resolve():
                return book
    return load_book(data_dir)


def _cached_episodes(
    book: Book, definitions: Definitions, key_parts: dict[str, Any]
) -> pd.DataFrame:
    cache_dir = os.environ.get(CACHE_ENV, "")
    if not cache_dir:
        return _build_episodes(book, definitions)
    from analysis.dask.report_pass import run_key

    path = Path(cache_dir) / f"episodes-{run_key(key_parts, definitions)}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    episodes = _build_episodes(book, definitions)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    episodes.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return episodes


def _column_formats(df: pd.DataFrame, pct_template: str = "{value:.1f} %") -> dict[str, Any]:
    """Readable formats by column role: rates and shares in %, amounts and counts whole.

    ``pct_template`` is the language's percent format (``format.pct``: "49.8 %" in
    English, "49.8%" in Chinese).
    """

    def pct(v: Any) -> str:
        return v if isinstance(v, str) else pct_template.format(value=100 * float(v))

    def whole(v: Any) -> str:
        return v if isinstance(v, str) else f"{float(v):,.0f}"

    out: dict[str, Any] = {}
    for c in df.columns:
        name = str(c)
        values = pd.to_numeric(df[c], errors="coerce")
        if values.notna().sum() == 0 or pd.api.types.is_bool_dtype(df[c]):
            continue
        if name.startswith(("share", "rate_")) or name.endswith(("_rate", "_share")) or "_rate_" in name:
            out[c] = pct
        elif name in ("n", "count", "balance", "ead", "loss", "transitions") or name.startswith(
            ("n_", "balance")
        ):
            out[c] = whole
        elif values.abs().max() >= 1000:  # amounts in CNY: whole numbers read better
            out[c] = whole
    return out


# ----------------------------------------------------------------------------- context
@dataclass(frozen=True)
class ReportContext:
    """Everything a report notebook needs, checked once.

    Attributes: ``book`` (restricted to ``as_of`` and ``segment``), ``episodes``,
    ``definitions``, ``as_of`` (month-end Timestamp), ``min_cell``, ``segment``,
    ``language``, ``tables_dir`` (Path), ``data_dir`` (Path), ``truth`` (dict of
    DataFrames or None), ``fingerprint`` (of the input files).
    """

    book: Book
    episodes: pd.DataFrame
    definitions: Definitions
    as_of: pd.Timestamp
    min_cell: int
    segment: str
    language: str
    tables_dir: Path
    data_dir: Path
    truth: dict[str, pd.DataFrame] | None = None
    fingerprint: str = ""
    written: list[str] = field(default_factory=list, compare=False, repr=False)
    kpis: Any = field(default=None, compare=False, repr=False)
    engine: str = "pandas"
    sampling: dict[str, Any] | None = field(default=None, compare=False)
    cache_key: str = ""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def attribution(self, n_boot: int = 200, seed: int = 0) -> Any:
        """:func:`analysis.causes.attribute.attribute` of ``book`` and ``episodes``, computed once per
        report run (kept in the run cache, shared by the notebooks); raises
        ``AttributionUnavailable`` as ``attribute`` does."""
        from analysis.report.context_dask import cached_attribution

        return cached_attribution(self, n_boot=n_boot, seed=seed)

    def with_cause(self, seed: int = 0) -> tuple[pd.DataFrame, str]:
        """:func:`analysis.targeting.recommend.with_cause` of ``episodes``, reusing the
        run's attribution (any bootstrap size: the per-episode families do not depend on
        it)."""
        from analysis.report.context_dask import episodes_with_cause

        return episodes_with_cause(self, seed=seed)

    @property
    def as_of_label(self) -> str:
        """The reporting month as ``YYYY-MM``."""
        return self.as_of.strftime("%Y-%m")

    @property
    def t(self) -> Any:
        """The translator of ``language`` (:func:`analysis.report.i18n.catalogue.translator`)."""
        from analysis.report.i18n.catalogue import translator

        return translator(self.language)

    @property
    def segment_label(self) -> str:
        """``segment``, or the language's name of the whole book when there is none."""
        return self.segment or self.t.category("segment_type", "all")

    def suppressed(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = _AUTO,
        keep: Iterable[str] = (), name: str = "table",
    ) -> pd.DataFrame:
        """``df`` with small cells suppressed at ``min_cell`` (see :mod:`analysis.report.privacy`)."""
        return suppress(df, self.min_cell, n_col=n_col, keep=keep, name=name)

    def write_table(
        self, name: str, df: pd.DataFrame, *,
        n_col: str | Sequence[str] | None | object = _AUTO, keep: Iterable[str] = (),
    ) -> Path:
        """Write ``<tables_dir>/<name>.csv`` after suppression; returns the path.

        Refuses ``loan_id`` / ``borrower_id`` columns. Suppressed rows stay, with
        empty values and ``is_suppressed = True``.
        """
        if not re.match(r"^[A-Za-z0-9_\-]+$", name):
            raise ParameterError(f"table name {name!r}: use letters, digits, '_' or '-'")
        table = self.suppressed(df, n_col=n_col, keep=keep, name=name)
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        path = self.tables_dir / f"{name}.csv"
        tmp = path.with_suffix(".csv.tmp")
        table.to_csv(tmp, index=False)
        os.replace(tmp, path)
        self.written.append(name)
        return path

    def read_table(self, name: str) -> pd.DataFrame | None:
        """A table written earlier in the run (``<tables_dir>/<name>.csv``), or None."""
        path = self.tables_dir / f"{name}.csv"
        return pd.read_csv(path) if path.exists() else None

    def display_table(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = _AUTO,
        keep: Iterable[str] = (), name: str = "table",
    ) -> pd.DataFrame:
        """Presentation copy: suppressed counts read ``< min_cell``, values ``suppressed``."""
        return for_display(self.suppressed(df, n_col=n_col, keep=keep, name=name), self.min_cell)

    def show(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = _AUTO,
        keep: Iterable[str] = (), caption: str | None = None, precision: int = 3,
    ) -> None:
        """Display ``df`` (suppressed, no index) in the notebook."""
        from IPython.display import HTML, display

        from analysis.report.privacy import SUPPRESSED_TEXT

        shown = self.display_table(df, n_col=n_col, keep=keep, name=caption or "table")
        formats = _column_formats(shown, self.t.messages["format.pct"])
        if self.language != "en":  # display only: category names and column titles
            from analysis.report.i18n.catalogue import translate_frame

            titles = dict(zip(shown.columns, translate_frame(shown.head(0), self.t).columns,
                              strict=True))
            shown = translate_frame(shown, self.t).replace(SUPPRESSED_TEXT,
                                                           self.t("format.suppressed"))
            formats = {titles[c]: f for c, f in formats.items()}
        styler = shown.style.hide(axis="index").format(precision=precision, na_rep="",
                                                       escape="html")
        for c, f in formats.items():  # one call per column: a dict would reset the others
            styler = styler.format(f, subset=[c], na_rep="", escape="html")
        if caption:
            styler = styler.set_caption(caption)
        display(HTML(styler.to_html()))

    def describe(self) -> str:
        """One line for the top of a report: month, segment, definitions."""
        from analysis.dask.report_pass import with_sample_note

        d, design = self.definitions, self.sampling or {}
        line = self.t(
            "text.context_line", month=self.as_of_label, segment=self.segment_label,
            loans=f"{design.get('n_loans', len(self.book.loans)):,}",
            episodes=f"{design.get('n_episodes', len(self.episodes)):,}",
            overdue_dpd=d.overdue_dpd, probation=d.probation_months, horizon=d.horizon_months,
            default_dpd=d.default_dpd, min_cell=self.min_cell,
        )
        note = with_sample_note(design, self.t)
        return f"{line}\n\n{note}" if note else line


def open_context(
    data_dir: str,
    as_of: str = "",
    horizon_months: int = 6,
    probation_months: int = 3,
    segment: str = "",
    min_cell: int = 10,
    tables_dir: str = "tables",
    language: str = "en",
    engine: str = "",
    **definitions: Any,
) -> ReportContext:
    """Validate the notebook parameters, load and restrict the book, build episodes.

    Extra keyword arguments are further :class:`Definitions` fields (``overdue_dpd``,
    ``default_dpd``, ...). Raises :class:`ParameterError` for a bad parameter and
    :class:`analysis.data.validate.BookValidationError` for a book that fails validation.

    ``engine`` (default: ``$OVERDUE_RELIEF_ENGINE``, else pandas): ``dask`` (or ``auto``
    on a large book) takes the episodes, the portfolio tables (``ctx.kpis``) and the
    model sample (``ctx.book``) from one Dask pass (:mod:`analysis.report.context_dask`).
    """
    defs = validate_parameters(
        data_dir, as_of, horizon_months, probation_months, segment, min_cell, tables_dir,
        language, definitions,
    )
    from analysis.report.context_dask import open_dask_context, resolve_engine

    if resolve_engine(data_dir, engine) == "dask":
        return open_dask_context(data_dir, as_of, segment, min_cell, tables_dir, language,
                                 defs)
    book = _load_book(data_dir)
    last = latest_month(book)
    first = pd.Timestamp(book.performance["month"].min()) + pd.offsets.MonthEnd(0)
    month = last if as_of == "" else parse_month(as_of)
    if month > last or month < first:
        raise ParameterError(
            f"parameter as_of={as_of!r} is outside the data "
            f"({first:%Y-%m} to {last:%Y-%m})"
        )
    book = filter_segment(restrict_to(book, month), parse_segment(segment))
    fp = os.environ.get(CACHE_ENV + "_FINGERPRINT") or ""
    if os.environ.get(CACHE_ENV) and not fp:
        fp = data_fingerprint(data_dir)
    key_parts = run_key_parts(data_dir, fp, month, segment)
    episodes = _cached_episodes(book, defs, key_parts)
    from analysis.dask.report_pass import run_key
    from analysis.report.kpis import BookKpis

    return ReportContext(
        book=book,
        episodes=episodes,
        definitions=defs,
        as_of=month,
        min_cell=min_cell,
        segment=segment,
        language=language,
        tables_dir=Path(tables_dir),
        data_dir=Path(data_dir),
        truth=read_truth(data_dir),
        fingerprint=fp,
        kpis=BookKpis(book, episodes, month),
        cache_key=run_key(key_parts, defs),
    )


def run_key_parts(data_dir: str, fp: str, month: pd.Timestamp, segment: str) -> dict[str, Any]:
    """What, besides the definitions, identifies a run's episodes in the cache."""
    return {"data": str(Path(data_dir).resolve()), "fp": fp, "as_of": str(month.date()),
            "segment": segment}


__all__ = [
    "CACHE_ENV",
    "InputError",
    "ParameterError",
    "ReportContext",
    "SUPPORTED_LANGUAGES",
    "data_fingerprint",
    "filter_segment",
    "latest_month",
    "open_context",
    "parse_month",
    "parse_segment",
    "read_truth",
    "restrict_to",
    "validate_parameters",
]
