"""The report runner: validated input -> executed notebooks -> HTML, tables, history.

``python -m analysis report --data DIR --as-of YYYY-MM --out reports`` runs, under an
exclusive lock on ``reports/``:

1. parameter checks (``-p`` names and types against each notebook's ``parameters``
   cell, ``--only`` names, language, month format): exit 2 on any problem;
2. input validation (:func:`analysis.data.validate.load_book`): exit 2 with the validation report,
   before any notebook runs;
3. the notebooks with papermill in dependency order (``01``, ``02``, ... then ``00``,
   the summary reading the tables the others wrote), one fixed kernel
   (``overdue-relief``, falling back to ``python3`` of this environment), a per-cell
   timeout and a whole-run timeout, progress on stderr. The episode table is cached
   once per run (``OVERDUE_RELIEF_CACHE_DIR``);
4. HTML pages without code (:mod:`analysis.report.html`), ``tables/index[.<lang>].html``,
   ``run.json``, a privacy scan of everything written (no ``loan_id`` / ``borrower_id``
   column or value of the input book);
5. atomic publish to ``reports/<as_of>/`` (:mod:`analysis.report.publish`), history in
   ``reports/history.sqlite`` (:mod:`analysis.report.history`) and the month list
   ``reports/index.html`` (and ``index.<lang>.html`` per published language).

Any failure leaves the published month untouched, keeps the executed notebooks and the
log in ``reports/_failed/<run id>/``, records the failed run in the history, prints the
notebook and cell that failed, and returns exit status 1 (notebook error or timeout) or
2 (bad input or parameter). A busy lock returns 3 after ``lock_timeout_s``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import InputError, ParameterError
from analysis.report.context import (
    CACHE_ENV,
    SUPPORTED_LANGUAGES,
    data_fingerprint,
    latest_month,
    parse_month,
    store_book,
)
from analysis.report.context_dask import ENGINE_ENV
from analysis.report.history import record_run
from analysis.report.params import (
    NotebookSpec,
    check_runner_parameters,
    declared_defaults,
    default_notebooks_dir,
    discover,
    parse_assignments,
    resolve_parameters,
)
from analysis.report.publish import (
    clean_stale_staging,
    keep_failure,
    new_run_id,
    publish,
    report_lock,
    staging_dir,
    utc_now,
    write_json,
)

DEFAULT_KERNEL = "overdue-relief"
SUMMARY_PREFIX = "00_"


class NotebookFailed(Exception):
    """A notebook raised, timed out or lost its kernel."""

    def __init__(self, notebook: str, message: str, cell: int | None = None):
        self.notebook, self.cell, self.message = notebook, cell, message
        where = f"{notebook}, cell {cell}" if cell is not None else notebook
        super().__init__(f"notebook {where} failed: {message}")


class RunTimeout(Exception):
    """The whole-run timeout expired."""


@dataclass(frozen=True)
class ReportOptions:
    """What one report run does (see :func:`run_report`).

    Timeouts are in seconds: ``cell_timeout_s`` per notebook cell, ``run_timeout_s`` for
    all notebooks together, ``lock_timeout_s`` to wait for another run's lock.
    """

    data_dir: Path
    as_of: str
    out_dir: Path
    params: Sequence[str] = ()
    only: Sequence[str] = ()
    language: str = "en"
    notebooks_dir: Path = field(default_factory=default_notebooks_dir)
    kernel_name: str = DEFAULT_KERNEL
    cell_timeout_s: float = 600.0
    run_timeout_s: float = 3600.0
    lock_timeout_s: float = 600.0
    analyst: bool = False
    quiet: bool = False
    languages: Sequence[str] = ()  # languages published side by side (pages link their twins)
    engine: str = "pandas"  # pandas | dask | auto (analysis.dask.frames.choose_engine)
    scheduler: str | None = None  # existing Dask cluster (address or scheduler file)


@dataclass(frozen=True)
class RunResult:
    """Outcome of a run: ``exit_code`` 0 ok, 1 notebook failure, 2 bad input, 3 busy."""

    run_id: str
    status: str
    as_of: str
    exit_code: int
    path: Path | None
    message: str = ""
    durations: dict[str, float] = field(default_factory=dict)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("overdue-relief")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def resolve_kernel(name: str) -> str:
    """``name`` if such a kernelspec exists, else ``python3`` (this environment's)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        ksm.get_kernel_spec(name)
        return name
    except NoSuchKernel:
        if name != DEFAULT_KERNEL:
            raise ParameterError(
                f"kernel {name!r} is not installed; installed: {sorted(ksm.find_kernel_specs())}"
            ) from None
        return "python3"


def publish_name(as_of: str, segment: str) -> str:
    """Folder of a published month: ``2024-06`` or ``2024-06_borrower_type-micro``."""
    if not segment:
        return as_of
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", segment.replace("=", "-").replace(",", "_"))
    return f"{as_of}_{slug}"


def page_name(stem: str, language: str) -> str:
    """HTML file of a notebook: ``index`` for the summary, else the stem (+ ``.<lang>``)."""
    base = "index" if stem.startswith(SUMMARY_PREFIX) else stem
    return f"{base}.html" if language == "en" else f"{base}.{language}.html"


# ------------------------------------------------------------------------ progress, log
class _Log:
    def __init__(self, quiet: bool) -> None:
        self.lines: list[str] = []
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.lines.append(f"{stamp} {msg}")
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _run_deadline(seconds: float, grace_s: float = 0.0) -> Iterator[None]:
    """Raise :class:`RunTimeout` in the main thread after ``seconds + grace_s`` (SIGALRM)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _alarm(signum, frame):  # noqa: ARG001
        raise RunTimeout(f"the whole run exceeded its timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds + grace_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------ steps
def _load_and_validate(data_dir: Path, engine: str = "pandas", scheduler: str | None = None):
    """Load the book with full validation; bad input raises (exit 2, with the report).

    ``engine="dask"``: validate on the cluster (:func:`analysis.dask.frames.validate_with_engine`,
    the same report) and return None; nothing is loaded (:func:`_dask_pass` follows)."""
    from analysis.data.validate import BookValidationError, load_book

    if engine == "dask":
        from analysis.dask.frames import validate_with_engine

        report = validate_with_engine(data_dir, "dask", scheduler)
        if not report.ok:
            raise InputError(f"input validation failed; no notebook was run.\n{report.format()}")
        return None
    try:
        return load_book(data_dir)
    except BookValidationError as exc:
        raise InputError(f"input validation failed; no notebook was run.\n{exc}") from None


def _dask_pass(opts: ReportOptions, data_dir: Path, cache: Path, fingerprint: str,
               notebook_params: dict[str, dict], log: Callable[[str], None]) -> set[str]:
    """The run's Dask pass (:mod:`analysis.dask.report_pass`) for each distinct set of
    episode definitions and segment the notebooks declare, stored in the run cache; returns
    the identifier values the notebooks can see (for the privacy scan)."""
    from types import SimpleNamespace

    from analysis.dask.report_pass import ensure_pass
    from analysis.report.context import parse_segment

    month = parse_month(opts.as_of, "--as-of")
    ids: set[str] = set()
    for key, (defs, segment) in _pass_keys(opts, data_dir, fingerprint, notebook_params).items():
        t = time.monotonic()
        got = ensure_pass(data_dir, cache, key, month, defs, parse_segment(segment), opts.scheduler)
        design = got.design
        log(f"Dask pass: {design['n_loans']:,} loans, {design['n_episodes']:,} episodes, model "
            f"sample {design['n_sample_loans']:,} loans, {time.monotonic() - t:.1f} s")
        ids |= _id_values(got.book()) | _id_values(SimpleNamespace(loans=got.table("episodes_full")))
    return ids


def _pass_keys(opts: ReportOptions, data_dir: Path, fingerprint: str,
               notebook_params: dict[str, dict]) -> dict[str, tuple[Any, str]]:
    """Cache key -> (Definitions, segment) of every notebook, as open_context computes them."""
    from analysis.dask.report_pass import run_key
    from analysis.report.context import run_key_parts, validate_parameters

    month = parse_month(opts.as_of, "--as-of")
    out: dict[str, tuple[Any, str]] = {}
    for p in notebook_params.values():
        segment = str(p.get("segment", ""))
        defs = validate_parameters(str(data_dir), opts.as_of, int(p.get("horizon_months", 6)),
                                   int(p.get("probation_months", 3)), segment,
                                   int(p.get("min_cell", 10)), "tables", opts.language)
        out[run_key(run_key_parts(str(data_dir), fingerprint, month, segment), defs)] = (defs, segment)
    return out


def _execute(spec: NotebookSpec, out_nb: Path, parameters: dict[str, Any], kernel: str,
             cell_timeout_s: float, cwd: Path, run_limit_s: float | None = None) -> None:
    """Run one notebook; ``run_limit_s`` set when the whole-run timeout caps the cell timeout."""
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # the runner checked the parameters itself; papermill's line parser warns wrongly
    logging.getLogger("papermill").setLevel(logging.ERROR)
    try:
        pm.execute_notebook(
            str(spec.path), str(out_nb), parameters=parameters, kernel_name=kernel,
            progress_bar=False, log_output=False, request_save_on_cell_execute=False,
            execution_timeout=max(1, math.ceil(cell_timeout_s)), start_timeout=120, cwd=str(cwd),
        )
    except PapermillExecutionError as exc:
        cell = _cell_number(out_nb, exc.cell_index)
        raise NotebookFailed(spec.stem, f"{exc.ename}: {exc.evalue}", cell) from None
    except RunTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - timeouts, dead kernels: report and go on
        name = type(exc).__name__
        detail = str(exc).strip().splitlines()
        msg = f"{name}: {detail[0] if detail else ''}"
        if "Timeout" in name and run_limit_s is not None:
            msg = f"the whole run exceeded its timeout of {run_limit_s:g} s ({name})"
        elif "Timeout" in name:
            msg = f"a cell ran longer than the per-cell timeout of {cell_timeout_s:g} s ({name})"
        raise NotebookFailed(spec.stem, msg, _running_cell(out_nb)) from None


def _is_added(cell) -> bool:
    """A cell papermill added (injected parameters, error markers)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "injected-parameters" in tags or "papermill-error-cell-tag" in tags


def _cell_number(out_nb: Path, cell_index: int | None) -> int | None:
    """1-based position of a cell in the *source* notebook (injected cells not counted)."""
    import nbformat

    if cell_index is None:
        return None
    try:
        nb = nbformat.read(out_nb, as_version=4)
        injected = sum(_is_added(c) for c in nb.cells[: int(cell_index)])
    except Exception:  # noqa: BLE001 - the position is a courtesy
        injected = 0
    return int(cell_index) + 1 - injected


def _running_cell(out_nb: Path) -> int | None:
    """The cell papermill marked as running/failed in a saved output notebook."""
    import nbformat

    if not out_nb.exists():
        return None
    try:
        nb = nbformat.read(out_nb, as_version=4)
    except Exception:  # noqa: BLE001
        return None
    injected = 0
    for i, cell in enumerate(nb.cells):
        if _is_added(cell):
            injected += 1
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("running", "failed"):
            return i + 1 - injected
    return None


def _id_values(book) -> set[str]:
    """Identifier values of the input book worth scanning for (not pure small numbers)."""
    ids: set[str] = set()
    for col in ("loan_id", "borrower_id"):
        if col in book.loans.columns:
            vals = book.loans[col].astype(str).unique()
            ids.update(v for v in vals if not v.isdigit() or len(v) >= 8)
    return ids


def privacy_scan(folder: Path, ids: set[str]) -> list[str]:
    """Problems found in ``folder``: ID column headers or ID values in any output file."""
    problems = []
    token = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".html", ".csv", ".ipynb", ".json"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(folder)
        if path.suffix == ".csv":
            header = text.split("\n", 1)[0]
            if re.search(r"(^|,)\"?[a-z_]*(loan_id|borrower_id)\"?(,|$)", header):
                problems.append(f"{rel}: has an identifier column")
        if ids:
            hits = ids.intersection(token.findall(text))
            if hits:
                problems.append(f"{rel}: contains {len(hits)} loan/borrower id(s), e.g. {sorted(hits)[:3]}")
    return problems


def _table_summaries(tables: Path) -> list[tuple[str, int, list[str]]]:
    out = []
    for p in sorted(tables.glob("*.csv")):
        df = pd.read_csv(p)
        out.append((p.name, len(df), [str(c) for c in df.columns]))
    return out


def _published_languages(target: Path) -> set[str]:
    """Languages whose summary page ``target`` already holds."""
    return {lang for lang in SUPPORTED_LANGUAGES
            if (target / page_name(SUMMARY_PREFIX, lang)).exists()}


def _render_pages(staging: Path, specs: Sequence[NotebookSpec], language: str, as_of: str,
                  run_id: str, params: dict, analyst: bool,
                  twins: Sequence[str] = ()) -> dict[str, int]:
    import nbformat

    from analysis.report import html as rh
    from analysis.report.i18n.catalogue import translator

    t = translator(language)
    months_index = page_name(SUMMARY_PREFIX, language)  # reports/index[.<lang>].html

    executed = {s.stem: nbformat.read(staging / "executed" / f"{s.stem}.ipynb", as_version=4)
                for s in specs}
    titles = {s.stem: rh.notebook_title(executed[s.stem], s.title_slug.replace("_", " ").title())
              for s in specs}
    ordered = sorted(specs, key=lambda s: (not s.stem.startswith(SUMMARY_PREFIX), s.stem))
    has_summary = any(s.stem.startswith(SUMMARY_PREFIX) for s in specs)
    links = [] if has_summary else [(t("nav.contents"), page_name(SUMMARY_PREFIX, language))]
    links += [(titles[s.stem], page_name(s.stem, language)) for s in ordered]
    links += [(t("nav.tables"), "tables/" + months_index),
              (t("nav.all_months"), "../" + months_index)]

    def twin_links(stem: str) -> list[tuple[str, str]]:  # the same page in other languages
        return [(translator(lang).name, page_name(stem, lang)) for lang in twins]

    meta = f"{as_of}" + (f" · {params.get('segment')}" if params.get("segment") else "")
    footer = rh.footer_html(run_id, as_of, params, package_version())
    sizes: dict[str, int] = {}
    for s in specs:
        name = page_name(s.stem, language)
        sizes[name] = rh.render_notebook(
            executed[s.stem], staging / name, title=titles[s.stem],
            nav=rh.nav_html(links + twin_links(s.stem), name, meta), footer=footer,
            language=language,
        )
        if analyst:
            rh.render_notebook(
                executed[s.stem], staging / "analyst" / name,
                title=t("page.analyst_title", title=titles[s.stem]),
                footer=footer, language=language, with_code=True,
            )
    if not has_summary:
        name = page_name(SUMMARY_PREFIX, language)
        page = rh.month_link_page(
            as_of, [(titles[s.stem], page_name(s.stem, language)) for s in ordered],
            [p.name for p in sorted((staging / "tables").glob("*.csv"))], language,
            nav=rh.nav_html(links + twin_links(SUMMARY_PREFIX), name, meta),
        )
        (staging / name).write_text(page, encoding="utf-8")
        sizes[name] = len(page.encode())
    tables = _table_summaries(staging / "tables")
    (staging / "tables" / months_index).write_text(
        rh.tables_page(as_of, tables, nav=rh.nav_html(
            [(label, "../" + h) for label, h in links
             if not h.startswith(("..", "tables/"))]
            + [(t("nav.tables"), months_index), (t("nav.all_months"), "../../" + months_index)]
            + twin_links(SUMMARY_PREFIX), months_index, meta),
            language=language),
        encoding="utf-8",
    )
    for name in sizes:
        rh.check_page_size(staging / name)
    return sizes


def _carry_other_languages(target: Path, staging: Path, language: str) -> None:
    """Keep pages of other languages already published for this month."""
    if not target.exists():
        return
    import shutil

    for p in [*target.glob("*.html"), *target.glob("tables/*.html")]:  # pages, tables index
        parts = p.name.split(".")
        lang = parts[-2] if len(parts) == 3 else "en"
        rel = p.relative_to(target)
        if lang != language and not (staging / rel).exists():
            shutil.copy2(p, staging / rel)


# ------------------------------------------------------------------------ the run
def run_report(opts: ReportOptions) -> RunResult:
    """Run the report under the lock of ``opts.out_dir`` (see module docstring)."""
    out = Path(opts.out_dir)
    with report_lock(out, opts.lock_timeout_s, what=f"report {opts.as_of}"):
        return run_report_locked(opts)


def run_report_locked(opts: ReportOptions, log: Callable[[str], None] | None = None) -> RunResult:
    """:func:`run_report` for a caller that already holds the lock (``refresh``)."""
    out = Path(opts.out_dir).resolve()
    data_dir = Path(opts.data_dir).resolve()
    run_id = new_run_id()
    logger = _Log(opts.quiet)
    started, t0 = utc_now(), time.monotonic()
    durations: dict[str, float] = {}
    effective: dict[str, Any] = {"data_dir": str(data_dir), "as_of": opts.as_of,
                                 "language": opts.language}
    fingerprint: str | None = None
    notebook_params: dict[str, dict] = {}
    staging: Path | None = None
    status, code, message, failed_nb = "failed", 1, "", None
    published: Path | None = None
    metrics: pd.DataFrame | None = None
    logger(f"report run {run_id}: data {data_dir}, month {opts.as_of}, out {out}")
    try:
        clean_stale_staging(out)
        parse_month(opts.as_of, "--as-of")
        if opts.language not in SUPPORTED_LANGUAGES:
            raise ParameterError(
                f"--language {opts.language!r} is not one of {list(SUPPORTED_LANGUAGES)}"
            )
        specs = discover(Path(opts.notebooks_dir), opts.only or None)
        check_runner_parameters(specs)
        per_nb = resolve_parameters(specs, parse_assignments(opts.params))
        for values in per_nb.values():
            effective.update(values)
        notebook_params = {
            s.stem: {**declared_defaults(s.path), **effective_common(opts), **per_nb[s.stem]}
            for s in specs
        }
        if "segment" in effective and not isinstance(effective["segment"], str):
            raise ParameterError("-p segment must be a string")
        logger(f"notebooks: {', '.join(s.stem for s in specs)}")
        if not data_dir.is_dir():
            raise ParameterError(f"--data {str(data_dir)!r}: no such directory")
        from analysis.dask.frames import choose_engine

        engine = choose_engine(data_dir, opts.engine)
        logger(f"validating input ({engine}) ...")
        book = _load_and_validate(data_dir, engine, opts.scheduler)
        ids: set[str] = set()
        if book is not None:  # pandas; on Dask the pass checks the month
            first = pd.Timestamp(book.performance["month"].min()) + pd.offsets.MonthEnd(0)
            last = latest_month(book)
            month = parse_month(opts.as_of, "--as-of")
            if not first <= month <= last:
                raise ParameterError(
                    f"--as-of {opts.as_of}: outside the data ({first:%Y-%m} to {last:%Y-%m})"
                )
            ids = _id_values(book)
        fingerprint = data_fingerprint(data_dir)
        kernel = resolve_kernel(opts.kernel_name)
        staging = staging_dir(out, run_id)
        (staging / "executed").mkdir()
        (staging / "tables").mkdir()
        cache = staging / ".cache"
        if book is None:
            ids = _dask_pass(opts, data_dir, cache, fingerprint, notebook_params, logger)
        else:
            store_book(book, cache, fingerprint)
        del book
        env = {CACHE_ENV: str(cache), CACHE_ENV + "_FINGERPRINT": fingerprint,
               "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", ""), ENGINE_ENV: engine}
        if opts.scheduler:
            env["OVERDUE_RELIEF_SCHEDULER"] = str(opts.scheduler)
        # the cell timeout is capped at the time left; the alarm is a backstop (kernel start,
        # papermill I/O) that leaves the normal path time to shut the kernel down
        with _env(env), _run_deadline(opts.run_timeout_s, grace_s=30):
            for i, spec in enumerate(specs, 1):
                failed_nb = spec.stem
                params = {"data_dir": str(data_dir), "as_of": opts.as_of,
                          "tables_dir": str(staging / "tables"), "language": opts.language,
                          **per_nb[spec.stem]}
                logger(f"[{i}/{len(specs)}] {spec.stem} ...")
                t = time.monotonic()
                remaining = opts.run_timeout_s - (time.monotonic() - t0)
                capped = remaining < opts.cell_timeout_s
                _execute(spec, staging / "executed" / f"{spec.stem}.ipynb", params, kernel,
                         max(1.0, min(opts.cell_timeout_s, remaining)), staging,
                         opts.run_timeout_s if capped else None)
                durations[spec.stem] = round(time.monotonic() - t, 2)
                logger(f"[{i}/{len(specs)}] {spec.stem} done in {durations[spec.stem]:.1f} s")
        failed_nb = None
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
        logger("rendering HTML ...")
        target = out / publish_name(opts.as_of, str(effective.get("segment", "")))
        twins = sorted((set(opts.languages) | _published_languages(target)) - {opts.language})
        sizes = _render_pages(staging, specs, opts.language, opts.as_of, run_id, effective,
                              opts.analyst, twins)
        problems = privacy_scan(staging, ids)
        if problems:
            raise InputError("privacy check failed, nothing published:\n  " + "\n  ".join(problems))
        kpis_path = staging / "tables" / "kpis.csv"
        metrics = pd.read_csv(kpis_path) if kpis_path.exists() else None
        status, code = "ok", 0
        target = out / publish_name(opts.as_of, str(effective.get("segment", "")))
        info = _run_info(run_id, status, opts, effective, fingerprint, started, t0, durations,
                         sizes, "", notebook_params)
        write_json(staging / "run.json", info)
        _carry_other_languages(target, staging, opts.language)
        publish(staging, target)
        staging, published = None, target
        message = f"published {target}"
    except NotebookFailed as exc:
        message = str(exc)
        code = 1
    except RunTimeout as exc:
        message = f"notebook {failed_nb} stopped: {exc}"
        code = 1
    except InputError as exc:
        message = str(exc)
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug still must not corrupt reports/
        message = f"{type(exc).__name__}: {exc}"
        code = 1
        import traceback

        logger(traceback.format_exc())
    ended = utc_now()
    info = _run_info(run_id, status, opts, effective, fingerprint, started, t0, durations, {},
                     message, notebook_params)
    if status != "ok":
        logger(f"FAILED: {message}")
        published = keep_failure(out, run_id, staging, logger.text(), info)
        logger(f"failed run kept in {published}")
        metrics = None
    record_run(
        out, run_id=run_id, as_of=opts.as_of, status=status, started_at=started,
        ended_at=ended, duration_s=time.monotonic() - t0, fingerprint=fingerprint,
        parameters=_public_params(effective), version=package_version(), message=message,
        metrics=metrics,
    )
    _write_months_index(out, logger)
    if status == "ok":
        logger(f"done in {time.monotonic() - t0:.1f} s: {message}")
    return RunResult(run_id, status, opts.as_of, code, published, message, durations)


def effective_common(opts: ReportOptions) -> dict[str, Any]:
    """The parameters the runner sets in every notebook (tables_dir aside)."""
    return {"data_dir": str(Path(opts.data_dir).resolve()), "as_of": opts.as_of,
            "language": opts.language}


def _public_params(effective: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in effective.items() if k not in ("tables_dir",)}


def _run_info(run_id: str, status: str, opts: ReportOptions, effective: dict, fingerprint,
              started: str, t0: float, durations: dict, sizes: dict, message: str,
              notebook_params: dict | None = None) -> dict:
    return {
        "run_id": run_id,
        "status": status,
        "as_of": opts.as_of,
        "parameters": _public_params(effective),
        "only": list(opts.only),
        "notebook_parameters": {
            k: {p: v for p, v in d.items() if p != "tables_dir"}
            for k, d in (notebook_params or {}).items()
        },
        "input_fingerprint": fingerprint,
        "package_version": package_version(),
        "python": platform.python_version(),
        "kernel": opts.kernel_name,
        "started_at": started,
        "ended_at": utc_now(),
        "duration_s": round(time.monotonic() - t0, 2),
        "notebook_durations_s": durations,
        "page_bytes": sizes,
        "timeouts_s": {"cell": opts.cell_timeout_s, "run": opts.run_timeout_s},
        "message": message,
    }


def _write_months_index(out: Path, logger: Callable[[str], None]) -> None:
    from analysis.report.index import write_months_index

    try:
        write_months_index(out)
    except Exception as exc:  # noqa: BLE001 - the index must never fail a run
        logger(f"warning: reports/index.html not updated ({type(exc).__name__}: {exc})")


def read_run_info(folder: Path) -> dict | None:
    """``run.json`` of a published month, or None."""
    p = folder / "run.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return None
