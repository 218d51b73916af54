"""The context every report notebook opens: validated parameters, the book, the episodes.

A notebook's second cell is ``ctx = open_context(data_dir=data_dir, as_of=as_of, ...)``
with the values of its ``parameters`` cell, by keyword. :func:`open_context`

1. checks every parameter (type, range, format; :func:`analysis.report.options.validate_parameters`);
   an unknown or ill-typed value raises :class:`analysis.errors.ParameterError` naming
   it, never a silent default;
2. loads the validated book (:func:`analysis.load_book`; inside a report
   run, the runner's copy in the run cache, :mod:`analysis.report.cache`);
3. keeps only data known at the reporting month ``as_of`` (performance and signal
   months, relief grants, reported reasons and originations up to its month-end), so a
   report for an earlier month shows what was knowable then, with outcomes censored at
   ``as_of`` (:func:`analysis.data.subset.restrict_to`);
4. applies the optional ``segment`` filter (``"col=value"`` on loan attributes, several
   joined by ``,``; :func:`analysis.data.subset.filter_segment`);
5. builds the episode table once with the given definitions. Inside a report run the
   runner sets ``OVERDUE_RELIEF_CACHE_DIR``; the episode table is then cached there as
   parquet, keyed by the input fingerprint, ``as_of``, ``segment`` and the definitions,
   so the notebooks of one run do not rebuild it;
6. exposes ``data_dir/truth/`` (synthetic books) as ``ctx.truth``.

On the Dask engine (``engine="dask"``, or ``$OVERDUE_RELIEF_ENGINE``) steps 2-5 are one
Dask pass (:mod:`analysis.dask.report_pass`) whose results the run cache keeps:
``ctx.episodes`` is then every episode of the book, ``ctx.book`` the loan-month sample
(the whole book up to :data:`analysis.dask.report_pass.MODEL_MAX_LOANS` loans) with its
episodes in ``ctx.book_episodes``, ``ctx.kpis`` the book-wide portfolio tables
(:class:`analysis.report.kpis.TableKpis`), ``ctx.sampling`` the sample's design and
``ctx.sample_fraction`` its inclusion probability. Models that read ``ctx.book`` (the
scenario forecast) run on the sample and are scaled to the book
(:meth:`ReportContext.forecast_to_book`).

``ctx.write_table(name, df)`` writes ``<tables_dir>/<name>.csv`` after small-cell
suppression (:mod:`analysis.report.privacy`) and refuses identifier columns; ``ctx.show(df)``
displays a table with the same suppression. :func:`attempt` runs an analysis step the
data may not allow, so that the notebook can say why and go on.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from analysis.data.book import Book
from analysis.data.subset import filter_segment, latest_month, restrict_to
from analysis.definitions import Definitions
from analysis.errors import FIT_ERRORS, EstimationError, InputError, ParameterError
from analysis.report.cache import (
    CACHE_ENV,
    FINGERPRINT_ENV,
    cache_dir_or_temp,
    cached_attribution,
    cached_episodes,
    data_fingerprint,
    episodes_key,
    episodes_with_cause,
    load_run_book,
    run_fingerprint,
    run_key_parts,
)
from analysis.report.i18n.catalogue import Translator, translator
from analysis.report.kpis import BookKpis, TableKpis
from analysis.report.options import (
    NOTEBOOK_ENV,
    parse_report_month,
    parse_segment,
    resolve_engine,
    validate_parameters,
)
from analysis.report.privacy import AUTO, SUPPRESSED_TEXT, for_display, suppress, write_csv
from analysis.report.style import figure_to_data_uri
from analysis.report.text.display import readable_frame
from analysis.report.text.sample import with_sample_note
from analysis.scenarios import ForecastResult
from analysis.scenarios.sampled import precision, to_book

T = TypeVar("T")

DEGRADED_FILE = "_degraded.jsonl"
#: ``1``: interactive tables (itables) in ``ctx.show``; ``0``: static; unset: live kernels only.
INTERACTIVE_ENV = "OVERDUE_RELIEF_INTERACTIVE"
# The page sections a model fit may cost (``ctx.attempt(section, ...)``) and their titles.
SECTIONS: dict[str, str] = {
    "causes.attribution": "degraded.section.attribution",
    "effects.sustained_cure": "degraded.section.effects_sustained_cure",
    "effects.cure": "degraded.section.effects_cure",
    "effects.loss_rate": "degraded.section.effects_loss_rate",
    "effects.time_to_cure": "degraded.section.time_to_cure",
    "effects.placebo": "degraded.section.placebo",
    "effects.refutation": "degraded.section.refutation",
    "effects.net_benefit": "degraded.section.net_benefit",
    "targeting.policies": "degraded.section.targeting",
    "scenarios.forecast": "degraded.section.scenarios",
}


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


def is_live() -> bool:
    """True when tables should be interactive: ``$OVERDUE_RELIEF_INTERACTIVE`` is ``1``, or
    it is unset, the code runs in a Jupyter kernel and not inside a report run (the runner
    sets :data:`analysis.report.cache.CACHE_ENV`). Published pages stay static and small."""
    flag = os.environ.get(INTERACTIVE_ENV, "")
    if flag in ("0", "1"):
        return flag == "1"
    if os.environ.get(CACHE_ENV):
        return False
    try:
        from IPython import get_ipython  # a notebook's display: only here
    except ImportError:  # pragma: no cover - IPython comes with the notebooks
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def static_html(table: pd.DataFrame, caption: str | None = None) -> str:
    """A formatted display table (:meth:`ReportContext.readable`) as static HTML: no index,
    cells escaped, the caption on top."""
    styler = table.style.hide(axis="index").format(na_rep="", escape="html")
    return (styler.set_caption(caption) if caption else styler).to_html()


def show_interactive(table: pd.DataFrame, caption: str | None = None) -> None:
    """Show ``table`` as a sortable, filterable table (itables, offline: the DataTables
    bundle is embedded in the notebook, nothing is fetched)."""
    import itables  # optional, for live exploration only

    itables.init_notebook_mode(all_interactive=False, connected=False)
    itables.show(table, caption=caption, paging=len(table) > 20, classes="display compact")


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
    kpis: BookKpis | TableKpis | None = field(default=None, compare=False, repr=False)
    engine: str = "pandas"
    sampling: dict[str, Any] | None = field(default=None, compare=False)
    # Dask: the episodes of the loan-month sample ``book`` (None: ``episodes`` match ``book``)
    sample_episodes: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    cache_key: str = ""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Dask: the run cache's pass (:class:`analysis.dask.report_pass.CachedPass`), else None
    dask_pass: Any = field(default=None, compare=False, repr=False)

    def attribution(self, n_boot: int = 200, seed: int = 0) -> Any:
        """:func:`analysis.causes.attribute` of ``book`` and ``episodes``, computed once per
        report run (kept in the run cache, shared by the notebooks); raises
        ``AttributionUnavailable`` as ``attribute`` does."""
        return cached_attribution(self, n_boot=n_boot, seed=seed)

    def with_cause(self, seed: int = 0) -> tuple[pd.DataFrame, str]:
        """:func:`analysis.causes.with_cause` of ``episodes``, reusing the run's
        attribution (any bootstrap size: the per-episode families do not depend on it)."""
        return episodes_with_cause(self, seed=seed)

    @property
    def sample_fraction(self) -> float:
        """Inclusion probability of a loan in ``book``: 1, unless a Dask run hands the
        notebooks an equal-probability loan sample (``sampling``)."""
        design = self.sampling or {}
        return float(design["fraction"]) if design.get("sampled") else 1.0

    @property
    def episode_inputs(self) -> pd.DataFrame | None:
        """On a sampled Dask book, every episode's cause-attribution inputs (covariates
        at its start and reported family, :func:`analysis.dask.report_pass.episode_inputs`;
        read from the run cache when first asked for), so that the attribution fitted on
        ``book`` gives every episode its family; None otherwise."""
        if self.dask_pass is None:
            return None
        if "episode_inputs" not in self.memo:
            self.memo["episode_inputs"] = self.dask_pass.episode_inputs()
        return self.memo["episode_inputs"]

    @property
    def book_episodes(self) -> pd.DataFrame:
        """The episodes of ``book``'s loans, for models that read ``book``'s loan-months
        with them (scenario forecast, backtest): ``episodes``, or on a sampled Dask book
        the sample's (``sample_episodes``)."""
        return self.episodes if self.sample_episodes is None else self.sample_episodes

    def forecast_to_book(self, *results: Any) -> tuple[list[Any], str]:
        """Scenario results (forecasts or backtests run on ``book``; None passes through)
        scaled to the whole book when ``book`` is a loan sample
        (:func:`analysis.scenarios.sampled.to_book`: totals times 1 / ``sample_fraction``),
        and the page's sentence on the sample and the precision of the first forecast's
        horizon totals ("" when ``book`` is the whole book)."""
        f = self.sample_fraction
        if f >= 1.0:
            return list(results), ""
        scaled = [None if r is None else to_book(r, f) for r in results]
        first = next((r for r in scaled if isinstance(r, ForecastResult)), None)
        if first is None:
            return scaled, ""
        t, design = self.t, self.sampling or {}
        prec = t("format.list_sep").join(
            t("scenarios.family_precision", family=t.category("family", r.family),
              value=t.pct(r.relative_half_width)) for r in precision(first).itertuples())
        return scaled, t("scenarios.sample_note", sample_loans=f"{design['n_sample_loans']:,}",
                         loans=f"{design['n_loans']:,}", pct=t.pct(f), scale=f"{1 / f:,.2f}",
                         precision=prec)

    def attempt(self, section: str, step: Callable[..., T], *args: Any, **kwargs: Any
                ) -> tuple[T | None, str | None]:
        """:func:`attempt` of ``step(*args, **kwargs)`` for the page section ``section``
        (``"effects.cure"``, ``"targeting"``, ...): ``(result, None)``, or ``(None, why)``
        with the reason in the report language (:func:`why`), the section then recorded
        as degraded for the run record (:func:`record_degraded`)."""
        if section not in SECTIONS:
            raise ValueError(f"unknown report section {section!r}; known: {sorted(SECTIONS)}")
        result, error = attempt(step, *args, **kwargs)
        if error is None:
            return result, None
        reason = why(error, self.t)
        record_degraded(self.tables_dir, section, reason)
        return None, reason

    def degraded(self) -> list[dict[str, str]]:
        """The sections recorded as degraded so far in this run (:func:`read_degraded`)."""
        return read_degraded(self.tables_dir)

    def degraded_text(self) -> str:
        """The degraded sections of the run so far as a Markdown list under its heading, in
        the report language (one line per section, the last reason); "" when there are none."""
        last = {r["section"]: r["reason"] for r in self.degraded()}
        if not last:
            return ""
        items = [self.t("format.degraded_item", section=self.t(SECTIONS[s]) if s in SECTIONS else s,
                        reason=reason) for s, reason in last.items()]
        return ("## " + self.t("degraded.heading") + "\n\n" + self.t("degraded.intro") + "\n\n"
                + "\n".join(f"- {i}" for i in items))

    @property
    def as_of_label(self) -> str:
        """The reporting month as ``YYYY-MM``."""
        return self.as_of.strftime("%Y-%m")

    @property
    def t(self) -> Translator:
        """The translator of ``language`` (:func:`analysis.report.i18n.catalogue.translator`),
        withholding counts below ``min_cell`` in sentences (:meth:`Translator.count`)."""
        return translator(self.language).with_min_cell(self.min_cell)

    @property
    def segment_label(self) -> str:
        """``segment``, or the language's name of the whole book when there is none."""
        return self.segment or self.t.category("segment_type", "all")

    def suppressed(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = AUTO,
        keep: Iterable[str] = (), name: str = "table",
    ) -> pd.DataFrame:
        """``df`` with small cells suppressed at ``min_cell`` (see :mod:`analysis.report.privacy`)."""
        return suppress(df, self.min_cell, n_col=n_col, keep=keep, name=name)

    def write_table(
        self, name: str, df: pd.DataFrame, *,
        n_col: str | Sequence[str] | None | object = AUTO, keep: Iterable[str] = (),
    ) -> Path:
        """Write ``<tables_dir>/<name>.csv`` after suppression; returns the path.

        Refuses ``loan_id`` / ``borrower_id`` columns. Suppressed rows stay, with
        empty values and ``is_suppressed = True``; text cells a spreadsheet would
        evaluate are neutralised (:func:`analysis.report.privacy.write_csv`).
        """
        if not re.match(r"^[A-Za-z0-9_\-]+$", name):
            raise ParameterError(f"table name {name!r}: use letters, digits, '_' or '-'")
        table = self.suppressed(df, n_col=n_col, keep=keep, name=name)
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        path = write_csv(table, self.tables_dir / f"{name}.csv")
        self.written.append(name)
        return path

    def read_table(self, name: str) -> pd.DataFrame | None:
        """A table written earlier in the run (``<tables_dir>/<name>.csv``), or None."""
        path = self.tables_dir / f"{name}.csv"
        return pd.read_csv(path) if path.exists() else None

    def display_table(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = AUTO,
        keep: Iterable[str] = (), name: str = "table",
    ) -> pd.DataFrame:
        """Presentation copy: suppressed counts read ``< min_cell``, values ``suppressed``."""
        return for_display(self.suppressed(df, n_col=n_col, keep=keep, name=name), self.min_cell)

    def show(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = AUTO,
        keep: Iterable[str] = (), caption: str | None = None, precision: int = 3,
        kinds: dict[str, str] | None = None,
    ) -> None:
        """Display ``df`` (suppressed, no index) in the notebook, numbers formatted by kind
        and columns titled from the catalogue
        (:func:`analysis.report.text.display.readable_frame`; ``kinds`` overrides a
        column's kind). In a live kernel (:func:`is_live`) the table is interactive
        (sortable, filterable); in a report run it is static HTML."""
        from IPython.display import HTML, display  # a notebook's display: only here

        table = self.readable(df, n_col=n_col, keep=keep, caption=caption, precision=precision,
                              kinds=kinds)
        if is_live():
            show_interactive(table, caption)
        else:
            display(HTML(static_html(table, caption)))

    def readable(
        self, df: pd.DataFrame, *, n_col: str | Sequence[str] | None | object = AUTO,
        keep: Iterable[str] = (), caption: str | None = None, precision: int = 3,
        kinds: dict[str, str] | None = None,
    ) -> pd.DataFrame:
        """The display copy :meth:`show` shows: suppressed, numbers formatted, titled."""
        shown = self.display_table(df, n_col=n_col, keep=keep, name=caption or "table")
        return readable_frame(shown, self.t, kinds, precision).replace(
            SUPPRESSED_TEXT, self.t("format.suppressed"))

    def show_beside(
        self, df: pd.DataFrame, fig: Any, *, n_col: str | Sequence[str] | None | object = AUTO,
        caption: str | None = None, kinds: dict[str, str] | None = None,
    ) -> None:
        """A table and a figure side by side (the figure wraps below on a narrow screen), so
        that a page's first screen holds both; in a live kernel, one after the other."""
        from IPython.display import HTML, display  # a notebook's display: only here

        table = self.readable(df, n_col=n_col, caption=caption, kinds=kinds)
        if is_live():
            show_interactive(table, caption)
            display(fig)
            return
        display(HTML(
            '<div style="display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start">'
            f'<div style="flex:0 1 auto">{static_html(table, caption)}</div>'
            '<div style="flex:1 1 420px;min-width:0">'
            f'<img style="max-width:100%" src="{figure_to_data_uri(fig)}"></div></div>'))

    def describe(self) -> str:
        """One line for the top of a report: month, segment, definitions."""
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
    *,
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

    Every parameter but ``data_dir`` and ``as_of`` is given by keyword. Extra keyword
    arguments are further :class:`Definitions` fields (``overdue_dpd``, ``default_dpd``,
    ...). Raises :class:`ParameterError` for a bad parameter and
    :class:`analysis.data.BookValidationError` for a book that fails validation.

    ``engine`` (default: ``$OVERDUE_RELIEF_ENGINE``, else pandas): ``dask`` (or ``auto``
    on a large book) takes the episodes, the portfolio tables (``ctx.kpis``) and the
    model sample (``ctx.book``) from one Dask pass (see the module docstring).
    """
    defs = validate_parameters(
        data_dir=data_dir, as_of=as_of, horizon_months=horizon_months,
        probation_months=probation_months, segment=segment, min_cell=min_cell,
        tables_dir=tables_dir, language=language, definitions=definitions,
    )
    opener = _open_dask if resolve_engine(data_dir, engine) == "dask" else _open_pandas
    return opener(data_dir, as_of, segment, defs, min_cell=min_cell,
                  tables_dir=tables_dir, language=language)


def _check_in_data(as_of: str, month: pd.Timestamp, first: pd.Timestamp,
                   last: pd.Timestamp) -> None:
    if not first <= month <= last:
        raise ParameterError(
            f"parameter as_of={as_of!r} is outside the data "
            f"({first:%Y-%m} to {last:%Y-%m})"
        )


def _open_pandas(data_dir: str, as_of: str, segment: str, defs: Definitions, *,
                 min_cell: int, tables_dir: str, language: str) -> ReportContext:
    """:func:`open_context` on the pandas engine (parameters checked by the caller)."""
    book = load_run_book(data_dir)
    last = latest_month(book)
    first = pd.Timestamp(book.performance["month"].min()) + pd.offsets.MonthEnd(0)
    month = last if as_of == "" else parse_report_month(as_of)
    _check_in_data(as_of, month, first, last)
    book = filter_segment(restrict_to(book, month), parse_segment(segment))
    fp = run_fingerprint(data_dir)
    key_parts = run_key_parts(data_dir, fp, month, segment)
    episodes = cached_episodes(book, defs, key_parts)
    return ReportContext(
        book=book, episodes=episodes, definitions=defs, as_of=month, min_cell=min_cell,
        segment=segment, language=language, tables_dir=Path(tables_dir),
        data_dir=Path(data_dir), truth=read_truth(data_dir), fingerprint=fp,
        kpis=BookKpis(book, episodes, month), cache_key=episodes_key(key_parts, defs),
    )


def _open_dask(data_dir: str, as_of: str, segment: str, defs: Definitions, *,
               min_cell: int, tables_dir: str, language: str) -> ReportContext:
    """:func:`open_context` on the Dask engine (parameters checked by the caller):
    ``ctx.episodes`` is every episode of the book (the effect and targeting models fit on
    all of them), ``ctx.book`` the loan-month sample (the whole book up to
    :data:`analysis.dask.report_pass.MODEL_MAX_LOANS` loans) and ``ctx.sample_episodes``
    its episodes (cause attribution reads loan-months, so it runs on the sample),
    ``ctx.kpis`` the book-wide portfolio tables, ``ctx.sampling`` the sample's design. The pass comes from the run
    cache (the runner made it before the notebooks) or is made here on a miss."""
    # analysis.dask imported here: dask and distributed are heavy optional dependencies
    from analysis.dask.report_pass import ensure_pass

    fp = os.environ.get(FINGERPRINT_ENV) or data_fingerprint(data_dir)
    month = _last_month_dask(data_dir) if as_of == "" else parse_report_month(as_of)
    key = episodes_key(run_key_parts(data_dir, fp, month, segment), defs)
    cached = ensure_pass(data_dir, cache_dir_or_temp(), key, month, defs, parse_segment(segment))
    man = cached.manifest
    first, last = (pd.Timestamp(man[k]) + pd.offsets.MonthEnd(0)
                   for k in ("first_month", "last_month"))
    _check_in_data(as_of, month, first, last)
    return ReportContext(
        book=cached.book(), episodes=cached.model_episodes(),
        sample_episodes=cached.sample_episodes(), definitions=defs,
        as_of=month, min_cell=min_cell, segment=segment, language=language,
        tables_dir=Path(tables_dir), data_dir=Path(data_dir), truth=read_truth(data_dir),
        fingerprint=fp, kpis=TableKpis(cached.table, month, man["loan_columns"]),
        engine="dask", sampling=cached.design, cache_key=key, dask_pass=cached,
    )


def _last_month_dask(data_dir: str) -> pd.Timestamp:
    """The last month-end of the book's performance table, read on the cluster."""
    # analysis.dask imported here: dask and distributed are heavy optional dependencies
    from analysis.dask.frames import client, load_book_dask
    from analysis.dask.kpis import month_range

    with client():
        _, hi = month_range(load_book_dask(data_dir))
    return hi + pd.offsets.MonthEnd(0)


def attempt(step: Callable[..., T], *args: Any, **kwargs: Any
            ) -> tuple[T | None, Exception | None]:
    """Run an analysis step the data may not allow: ``(result, None)``, or ``(None, error)``
    when it raised :class:`InputError` (too few episodes, no relief arm, ...) or one of
    :data:`analysis.errors.FIT_ERRORS` (a singular matrix, perfect separation: a model
    that cannot be fitted on these data), so that the notebook can say why and go on. Anything else (a
    ``KeyError`` in our own code, a wrong column name) propagates and fails the run. The
    step's warnings (convergence and the like) are silenced: what matters for the reader
    is in the results' own ``warnings``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return step(*args, **kwargs), None
    except (InputError, *FIT_ERRORS) as exc:
        return None, exc


def why(error: BaseException, t: Translator) -> str:
    """Why a step could not be estimated, in the report language: a model that could not
    be fitted (:data:`analysis.errors.FIT_ERRORS`) is explained, with the technical detail
    after it; another :class:`InputError` keeps its own message (what the data lack)."""
    detail = str(error) or type(error).__name__
    if isinstance(error, EstimationError):
        return t("degraded.reason.numerical", detail=detail)
    if isinstance(error, InputError):
        return detail
    if isinstance(error, np.linalg.LinAlgError):
        return t("degraded.reason.singular", detail=detail)
    if isinstance(error, PerfectSeparationError):
        return t("degraded.reason.separation", detail=detail)
    return t("degraded.reason.numerical", detail=f"{type(error).__name__}: {detail}")


def record_degraded(tables_dir: str | os.PathLike, section: str, reason: str) -> None:
    """Append ``{"section", "reason", "notebook"}`` to ``<tables_dir>/_degraded.jsonl``, the
    run's list of sections that could not be estimated (``notebook``: the name the runner
    gave this kernel, "" outside a run). The runner reads it after each notebook
    (:func:`read_degraded`) and never publishes it."""
    path = Path(tables_dir) / DEGRADED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"section": section, "reason": reason,
              "notebook": os.environ.get(NOTEBOOK_ENV, "")}
    # one short line in append mode: notebooks running at once never interleave in it
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_degraded(tables_dir: str | os.PathLike) -> list[dict[str, str]]:
    """The records :func:`record_degraded` wrote in ``tables_dir``, oldest first ([] if none)."""
    path = Path(tables_dir) / DEGRADED_FILE
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


__all__ = [
    "DEGRADED_FILE", "INTERACTIVE_ENV", "ReportContext", "SECTIONS", "attempt", "is_live",
    "open_context", "show_interactive", "static_html",
    "read_degraded", "read_truth", "record_degraded", "why",
]
