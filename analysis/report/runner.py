"""The report runner: validated input -> executed notebooks -> HTML, tables, history.

``python -m analysis report --data DIR --as-of YYYY-MM --out reports`` runs, under an
exclusive lock on ``reports/``:

1. parameter checks (``-p`` names and types against each notebook's ``parameters``
   cell, ``--only`` names, language, month format; :mod:`analysis.report.options`,
   :mod:`analysis.report.params`): exit 2 on any problem;
2. input validation (:func:`analysis.load_book`): exit 2 with the validation report,
   before any notebook runs;
3. the notebooks with papermill: the pages (``01``, ``02``, ...) up to two at a time
   (``--jobs``), then ``00``, the summary reading the tables the others wrote; one fixed kernel
   (``overdue-relief``, falling back to ``python3`` of this environment), a per-cell
   timeout and a whole-run timeout, progress on stderr (:mod:`analysis.report.execute`);
   a notebook whose kernel died or did not start is run once more (``retries`` in
   ``run.json``). The validated book and the episode table are cached once per run
   (:mod:`analysis.report.cache`). With ``--engine dask`` one cluster serves the whole
   run, and its dashboard link is logged at the start;
4. HTML pages without code (:mod:`analysis.report.pages`), ``tables/index[.<lang>].html``,
   ``log.txt`` (:mod:`analysis.report.runlog`), ``run.json`` (code and library versions:
   :mod:`analysis.report.provenance`; ``degraded``: the sections a model fit could not estimate, which
   the pages explain; such a run still publishes, exit 0), a privacy scan of everything written (no ``loan_id`` / ``borrower_id``
   column or value of the input book; :func:`analysis.report.privacy.privacy_scan`);
5. atomic publish to ``reports/<as_of>/`` (:mod:`analysis.report.publish`), history in
   ``reports/history.sqlite`` (:mod:`analysis.report.history`) and the month list
   ``reports/index.html`` (and ``index.<lang>.html`` per published language).

Any failure leaves the published month untouched, keeps the executed notebooks and the
log in ``reports/_failed/<run id>/``, records the failed run in the history, prints the
notebook and cell that failed, and returns exit status 1 (notebook error or timeout) or
2 (bad input or parameter). A busy lock returns 3 after ``lock_timeout_s``.

:func:`run_report_locked` reads as these steps, one function each; what a step found
out (the run's parameters, the staging folder, the notebook running) is kept in a
:class:`RunState`, which the failure path and the history record read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import BookValidationError, load_book
from analysis.data.book import Book
from analysis.data.subset import latest_month
from analysis.definitions import Definitions
from analysis.engine import choose_engine, validate_with_engine
from analysis.errors import InputError, ParameterError
from analysis.report.cache import (
    CACHE_ENV,
    FINGERPRINT_ENV,
    data_fingerprint,
    episodes_key,
    run_key_parts,
    store_book,
)
from analysis.report.context import DEGRADED_FILE, read_degraded
from analysis.report.execute import (
    NotebookFailed,
    RunTimeout,
    execute_notebook,
    heartbeat,
    resolve_kernel,
    run_deadline,
)
from analysis.report.history import record_run, run_estimates
from analysis.report.index import write_months_index
from analysis.report.options import (
    ENGINE_ENV,
    NOTEBOOK_ENV,
    ReportOptions,
    check_options,
    notebook_definitions,
    parse_segment,
)
from analysis.report.pages import (
    carry_other_languages,
    month_languages,
    package_version,
    render_pages,
)
from analysis.report.params import (
    NotebookSpec,
    check_runner_parameters,
    declared_defaults,
    discover,
    parse_assignments,
    resolve_parameters,
)
from analysis.report.privacy import id_values, privacy_scan
from analysis.report.provenance import provenance
from analysis.report.publish import (
    clean_stale_staging,
    keep_failure,
    new_run_id,
    publish,
    publish_name,
    report_lock,
    staging_dir,
    utc_now,
    write_json,
)
from analysis.report.runlog import RunLog


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


@dataclass
class RunState:
    """What one run has found and done so far (mutable: each step adds to it).

    ``effective``: the parameters the run set (runner's and ``-p``), as recorded;
    ``month``: the month-end of ``--as-of``, once checked;
    ``notebook_params``: every notebook's parameters, its defaults included;
    ``staging``: the folder being built (None once published); ``failed_nb``: the
    notebook that failed, or those running when a timeout struck; ``running``: the
    notebooks running now; ``degraded``: the sections the notebooks could
    not estimate, ``{"notebook", "section", "reason"}`` (:func:`collect_degraded`);
    ``retries``: the notebooks run a second time after their kernel died,
    ``{"notebook", "reason"}``; ``scheduler``: the Dask cluster of the run, if any.
    """

    opts: ReportOptions
    out: Path
    data_dir: Path
    run_id: str
    log: RunLog
    started: str
    t0: float
    effective: dict[str, Any]
    month: pd.Timestamp | None = None
    durations: dict[str, float] = field(default_factory=dict)
    notebook_params: dict[str, dict] = field(default_factory=dict)
    fingerprint: str | None = None
    staging: Path | None = None
    failed_nb: str | None = None
    status: str = "failed"
    code: int = 1
    message: str = ""
    published: Path | None = None
    metrics: pd.DataFrame | None = None
    estimates: pd.DataFrame | None = None
    degraded: list[dict[str, str]] = field(default_factory=list)
    retries: list[dict[str, str]] = field(default_factory=list)
    scheduler: str | None = None
    running: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, opts: ReportOptions) -> RunState:
        data_dir = Path(opts.data_dir).resolve()
        return cls(opts=opts, out=Path(opts.out_dir).resolve(), data_dir=data_dir,
                   run_id=new_run_id(), log=RunLog(), started=utc_now(),
                   t0=time.monotonic(),
                   effective={"data_dir": str(data_dir), "as_of": opts.as_of,
                              "language": opts.language})

    def info(self, sizes: dict, message: str) -> dict:
        """``run.json``: what ran, with which parameters, input and versions, how long."""
        opts = self.opts
        return {
            "run_id": self.run_id,
            "status": self.status,
            "as_of": opts.as_of,
            "parameters": public_params(self.effective),
            "only": list(opts.only),
            "notebook_parameters": {
                k: {p: v for p, v in d.items() if p != "tables_dir"}
                for k, d in (self.notebook_params or {}).items()
            },
            "input_fingerprint": self.fingerprint,
            **provenance(),
            "kernel": opts.kernel_name,
            "started_at": self.started,
            "ended_at": utc_now(),
            "duration_s": round(time.monotonic() - self.t0, 2),
            "notebook_durations_s": self.durations,
            "page_bytes": sizes,
            "timeouts_s": {"cell": opts.cell_timeout_s, "run": opts.run_timeout_s},
            "degraded": self.degraded,
            "retries": self.retries,
            "message": message,
        }


# ------------------------------------------------------------------------ the run
def run_report(opts: ReportOptions) -> RunResult:
    """Run the report under the lock of ``opts.out_dir`` (see module docstring)."""
    out = Path(opts.out_dir)
    with report_lock(out, opts.lock_timeout_s, what=f"report {opts.as_of}"):
        return run_report_locked(opts)


def run_report_locked(opts: ReportOptions) -> RunResult:
    """:func:`run_report` for a caller that already holds the lock (``refresh``)."""
    run = RunState.start(opts)
    with run.log.capturing():
        run.log(f"report run {run.run_id}: data {run.data_dir}, month {opts.as_of}, "
                f"out {run.out}")
        try:
            run_steps(run)
        except NotebookFailed as exc:
            run.message, run.code = str(exc), 1
        except RunTimeout as exc:
            run.message, run.code = f"notebook {run.failed_nb} stopped: {exc}", 1
        except InputError as exc:
            run.message, run.code = str(exc), exc.exit_code
        except Exception as exc:  # noqa: BLE001 - a bug still must not corrupt reports/
            run.message, run.code = f"{type(exc).__name__}: {exc}", 1
            run.log(traceback.format_exc(), logging.ERROR)
        return record(run)


def run_steps(run: RunState) -> None:
    """Steps 1 to 5 in order (see module docstring); a failure raises."""
    opts = run.opts
    clean_stale_staging(run.out)
    specs, per_nb = check_run(run)
    engine = choose_engine(run.data_dir, opts.engine)
    with dask_cluster(run, engine):
        if opts.engine != engine:
            run.log(f"engine {opts.engine!r} chose {engine} for this book (docs/dask.md)")
        run.log(f"validating input ({engine}) ...")
        book = load_and_validate(run.data_dir, engine, run.scheduler)
        ids = check_month(run, book) if book is not None else set()  # Dask: the pass checks
        run.fingerprint = data_fingerprint(run.data_dir)
        kernel = resolve_kernel(opts.kernel_name)
        cache = new_staging(run)
        if book is None:
            ids = dask_pass(run, cache)
        else:
            store_book(book, cache, run.fingerprint)
        del book
    # the cluster is closed: the notebooks read the run cache, their workers would idle
    run_notebooks(run, specs, per_nb, kernel, cache, engine)
    shutil.rmtree(cache, ignore_errors=True)
    publish_run(run, specs, ids)


@contextlib.contextmanager
def dask_cluster(run: RunState, engine: str) -> Iterator[None]:
    """With the Dask engine: one cluster for validation and the Dask pass (``--scheduler``'s,
    or a local one started here), its address in ``run.scheduler`` and its dashboard link
    in the log; with pandas, nothing."""
    if engine != "dask":
        run.scheduler = run.opts.scheduler
        yield
        return
    # analysis.dask imported here: dask and distributed are heavy optional dependencies
    from analysis.dask.frames import client

    with client(run.opts.scheduler) as c:
        run.scheduler = str(c.scheduler.address)
        run.log(f"Dask cluster {run.scheduler}, dashboard {c.dashboard_link}")
        yield


# ------------------------------------------------------------------------ steps
def check_run(run: RunState) -> tuple[list[NotebookSpec], dict[str, dict[str, Any]]]:
    """Step 1: the options, the notebooks and their ``-p`` values, the data folder; returns
    the notebooks in run order and each one's converted ``-p`` values."""
    opts = run.opts
    run.month = check_options(opts)
    specs = discover(Path(opts.notebooks_dir), opts.only or None)
    check_runner_parameters(specs)
    per_nb = resolve_parameters(specs, parse_assignments(opts.params))
    for values in per_nb.values():
        run.effective.update(values)
    run.notebook_params = {
        s.stem: {**declared_defaults(s.path), **effective_common(opts), **per_nb[s.stem]}
        for s in specs
    }
    if "segment" in run.effective and not isinstance(run.effective["segment"], str):
        raise ParameterError("-p segment must be a string")
    run.log(f"notebooks: {', '.join(s.stem for s in specs)}")
    if not run.data_dir.is_dir():
        raise ParameterError(f"--data {str(run.data_dir)!r}: no such directory")
    return specs, per_nb


def load_and_validate(data_dir: Path, engine: str = "pandas",
                      scheduler: str | None = None) -> Book | None:
    """Step 2: load the book with full validation; bad input raises (exit 2, with the report).

    ``engine="dask"``: validate on the cluster (:func:`analysis.engine.validate_with_engine`,
    the same report) and return None; nothing is loaded (:func:`dask_pass` follows)."""
    if engine == "dask":
        report = validate_with_engine(data_dir, "dask", scheduler)
        if not report.ok:
            raise InputError(f"input validation failed; no notebook was run.\n{report.format()}")
        return None
    try:
        return load_book(data_dir)
    except BookValidationError as exc:
        raise InputError(f"input validation failed; no notebook was run.\n{exc}") from None


def check_month(run: RunState, book: Book) -> set[str]:
    """Step 2 (pandas): the month must be in the data; returns the identifier values of
    the book, for the privacy scan."""
    first = pd.Timestamp(book.performance["month"].min()) + pd.offsets.MonthEnd(0)
    last = latest_month(book)
    if not first <= run.month <= last:
        raise ParameterError(
            f"--as-of {run.opts.as_of}: outside the data ({first:%Y-%m} to {last:%Y-%m})"
        )
    return id_values(book.loans)


def new_staging(run: RunState) -> Path:
    """Step 3: the staging folder (``executed/``, ``tables/``); returns its run cache."""
    run.staging = staging_dir(run.out, run.run_id)
    (run.staging / "executed").mkdir()
    (run.staging / "tables").mkdir()
    run.log.attach(run.staging)
    return run.staging / ".cache"


def dask_pass(run: RunState, cache: Path) -> set[str]:
    """Step 3 (Dask): the run's Dask pass (:mod:`analysis.dask.report_pass`) for each
    distinct set of episode definitions and segment the notebooks declare, stored in the
    run cache; returns the identifier values the notebooks can see (for the privacy scan)."""
    # analysis.dask imported here: dask and distributed are heavy optional dependencies
    from analysis.dask.report_pass import ensure_pass

    ids: set[str] = set()
    for key, (defs, segment) in pass_keys(run).items():
        t = time.monotonic()
        got = ensure_pass(run.data_dir, cache, key, run.month, defs, parse_segment(segment),
                          run.scheduler)
        design = got.design
        run.log(f"Dask pass: {design['n_loans']:,} loans, {design['n_episodes']:,} episodes, "
                f"models on all {design.get('n_model_episodes', design['n_episodes']):,} episodes, "
                f"loan-month sample {design['n_sample_loans']:,} loans, "
                f"{time.monotonic() - t:.1f} s")
        ids |= id_values(got.book().loans) | id_values(got.table("episodes_full"))
    return ids


def pass_keys(run: RunState) -> dict[str, tuple[Definitions, str]]:
    """Cache key -> (Definitions, segment) of every notebook, as open_context computes them."""
    data_dir = str(run.data_dir)
    out: dict[str, tuple[Definitions, str]] = {}
    for p in run.notebook_params.values():
        segment = str(p.get("segment", ""))
        defs = notebook_definitions(p, data_dir, run.opts)
        parts = run_key_parts(data_dir, run.fingerprint or "", run.month, segment)
        out[episodes_key(parts, defs)] = (defs, segment)
    return out


def run_notebooks(run: RunState, specs: Sequence[NotebookSpec],
                  per_nb: dict[str, dict[str, Any]], kernel: str, cache: Path,
                  engine: str) -> None:
    """Step 4: execute the notebooks into ``staging/executed/``: the pages, up to
    :func:`notebook_jobs` at once (they share only the run cache, whose entries are
    computed once under a lock), then ``00_*``, which reads the tables the others wrote.
    The cell timeout is capped at the time left; the alarm is a backstop (kernel start,
    papermill I/O) that leaves the normal path time to shut the kernels down."""
    env = {CACHE_ENV: str(cache), FINGERPRINT_ENV: str(run.fingerprint),
           "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", ""), ENGINE_ENV: engine}
    if run.opts.scheduler:
        env["OVERDUE_RELIEF_SCHEDULER"] = str(run.opts.scheduler)
    pages = [s for s in specs if not s.stem.startswith("00_")]
    last = [s for s in specs if s.stem.startswith("00_")]
    jobs = notebook_jobs(run.opts.jobs, cache, len(pages))
    if jobs > 1:
        pages = longest_first(pages, previous_durations(run.out))
    if len(pages) > 1:
        run.log(f"notebooks run {jobs} at a time, then {', '.join(s.stem for s in last)}"
                if last else f"notebooks run {jobs} at a time")
    numbered = {s.stem: f"[{i}/{len(specs)}] {s.stem}" for i, s in enumerate(specs, 1)}

    def one(spec: NotebookSpec) -> None:
        params = {"data_dir": str(run.data_dir), "as_of": run.opts.as_of,
                  "tables_dir": str(run.staging / "tables"), "language": run.opts.language,
                  **per_nb[spec.stem]}
        run_one(run, spec, params, kernel, numbered[spec.stem],
                {**env, NOTEBOOK_ENV: spec.stem}, progress=jobs == 1)

    with run_deadline(run.opts.run_timeout_s, grace_s=30):
        run_concurrently(run, one, pages, jobs)
        run_concurrently(run, one, last, 1)
    run.failed_nb = None


def previous_durations(out: Path) -> dict[str, float]:
    """Seconds per notebook of the latest successful run published in ``out`` (its
    ``run.json``); empty when there is none."""
    folders = sorted((f for f in out.iterdir() if f.is_dir() and f.name[:1].isdigit()),
                     key=lambda f: (f / "run.json").stat().st_mtime
                     if (f / "run.json").exists() else 0.0) if out.is_dir() else []
    for folder in reversed(folders):
        info = read_run_info(folder)
        if info and info.get("status") == "ok":
            return {k: float(v) for k, v in info.get("notebook_durations_s", {}).items()}
    return {}


def longest_first(specs: Sequence[NotebookSpec], seconds: dict[str, float]
                  ) -> list[NotebookSpec]:
    """The pages, longest first by ``seconds`` (those without a time keep their place,
    first): with two at a time, starting the long ones early shortens the run."""
    return sorted(specs, key=lambda s: -seconds.get(s.stem, float("inf")))


#: Above this many episodes in a Dask run's episode table, the pages run one at a time:
#: each of pages 03 and 04 fits its models on every episode, and on the 10M-loan book
#: (2.0M episodes, 2026-12-04) the two kernels together held 18.3 GiB (benchmarks).
SERIAL_EPISODES = 1_000_000


def pass_episode_count(cache: Path) -> int:
    """Rows of the largest full episode table a Dask pass left in ``cache`` (Parquet
    footer, no data read); 0 without one."""
    if not any(cache.glob("dask-*")):
        return 0
    import pyarrow.parquet as pq

    from analysis.dask.report_pass import MODEL_EPISODES_TABLE  # a Dask run: dask is loaded

    return max((pq.ParquetFile(f).metadata.num_rows
                for f in cache.glob(f"dask-*/{MODEL_EPISODES_TABLE}.parquet")), default=0)


def notebook_jobs(requested: int, cache: Path, n_pages: int) -> int:
    """How many notebooks run at once: ``requested`` when above 0; else automatic: one
    per CPU core, at most 2, and 1 when the run's cached book exceeds 1 GiB (each kernel
    holds its own copy of the book, so two kernels would double the peak memory) or its
    episode table exceeds :data:`SERIAL_EPISODES` rows (the models' memory)."""
    if requested > 0:
        return max(1, min(requested, n_pages))
    big = (any(p.stat().st_size > 1 << 30 for p in cache.glob("book-*.pkl"))
           or pass_episode_count(cache) > SERIAL_EPISODES)
    return max(1, min(os.cpu_count() or 1, 2, n_pages, 1 if big else 2))


def run_concurrently(run: RunState, one: Callable[[NotebookSpec], None],
                     specs: Sequence[NotebookSpec], jobs: int) -> None:
    """``one(spec)`` for every spec, ``jobs`` at a time in threads (each drives its own
    kernel process). After the first failure no further notebook starts; those running are
    waited for (their cells time out at the run's deadline at the latest), then the failure
    is raised."""
    if jobs <= 1:
        for spec in specs:
            one(spec)
        return
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook")
    futures = {pool.submit(one, spec): spec for spec in specs}
    try:
        for done in as_completed(futures):
            done.result()
    except BaseException:
        run.failed_nb = run.failed_nb or ", ".join(sorted(run.running)) or None
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_one(run: RunState, spec: NotebookSpec, params: dict[str, Any], kernel: str,
            what: str, env: dict[str, str], progress: bool) -> None:
    """One notebook with its log lines, heartbeat, duration and degraded sections."""
    run.log(f"{what} ...")
    run.running.add(spec.stem)
    t = time.monotonic()
    try:
        with heartbeat(what):
            run_with_retry(run, spec, params, kernel, env, progress)
    except BaseException:
        run.failed_nb = run.failed_nb or spec.stem
        raise
    finally:
        run.running.discard(spec.stem)
    run.durations[spec.stem] = round(time.monotonic() - t, 2)
    collect_degraded(run, spec.stem)
    run.log(f"{what} done in {run.durations[spec.stem]:.1f} s")


def run_with_retry(run: RunState, spec: NotebookSpec, params: dict[str, Any],
                   kernel: str, env: dict[str, str] | None = None,
                   progress: bool = True) -> None:
    """Execute one notebook (``env``: added to its kernel's environment); when its kernel
    died or did not start, once more (logged and recorded in ``run.retries``). A cell's
    error or a timeout is never retried. ``progress``: papermill's bar on an interactive
    stderr (off when notebooks run at once: their bars would overwrite each other)."""
    opts = run.opts
    progress = progress and not opts.quiet and sys.stderr.isatty()
    for attempt in (1, 2):
        remaining = opts.run_timeout_s - (time.monotonic() - run.t0)
        capped = remaining < opts.cell_timeout_s
        try:
            execute_notebook(spec, run.staging / "executed" / f"{spec.stem}.ipynb", params,
                             kernel, max(1.0, min(opts.cell_timeout_s, remaining)),
                             run.staging, opts.run_timeout_s if capped else None, progress,
                             env)
            return
        except NotebookFailed as exc:
            if not exc.retryable or attempt == 2:
                raise
            run.retries.append({"notebook": spec.stem, "reason": exc.message})
            run.log(f"{spec.stem}: the kernel failed ({exc.message}); running it once more",
                    logging.WARNING)


def publish_run(run: RunState, specs: Sequence[NotebookSpec], ids: set[str]) -> None:
    """Step 5: pages, privacy scan, ``run.json``, then the atomic publish of the month."""
    opts, staging = run.opts, run.staging
    (staging / "tables" / DEGRADED_FILE).unlink(missing_ok=True)  # in run.json, not a table
    run.log("rendering HTML ...")
    target = run.out / publish_name(opts.as_of, str(run.effective.get("segment", "")))
    twins = sorted((set(opts.languages) | month_languages(target)) - {opts.language})
    sizes = render_pages(staging, specs, opts.language, opts.as_of, run.run_id, run.effective,
                         opts.analyst, twins)
    problems = privacy_scan(staging, ids)
    if problems:
        raise InputError("privacy check failed, nothing published:\n  " + "\n  ".join(problems))
    kpis_path = staging / "tables" / "kpis.csv"
    run.metrics = pd.read_csv(kpis_path) if kpis_path.exists() else None
    run.estimates = run_estimates(staging / "tables")
    run.status, run.code = "ok", 0
    run.log(f"publishing {target} ...")
    write_json(staging / "run.json", run.info(sizes, ""))
    carry_other_languages(target, staging, opts.language)
    run.log.detach()  # log.txt is complete: it moves with the folder
    publish(staging, target)
    run.staging, run.published = None, target
    run.message = f"published {target}"


def collect_degraded(run: RunState, notebook: str) -> None:
    """After ``notebook`` ran: add the sections it recorded as degraded
    (:meth:`analysis.report.context.ReportContext.attempt`, ``tables/_degraded.jsonl``,
    each record naming its notebook) to ``run.degraded``, and log them. A degraded run
    still publishes (exit 0)."""
    records = read_degraded(run.staging / "tables") if run.staging else []
    for rec in records:
        if rec.get("notebook") != notebook:
            continue
        run.degraded.append({"notebook": notebook, "section": str(rec.get("section", "")),
                             "reason": str(rec.get("reason", ""))})
        run.log(f"  degraded: {notebook} {rec.get('section')}: {rec.get('reason')}",
                logging.WARNING)


def record(run: RunState) -> RunResult:
    """Step 6, whatever happened: keep a failed run's folder and log, record the run in
    the history, update the month list."""
    opts = run.opts
    ended = utc_now()
    info = run.info({}, run.message)
    if run.status != "ok":
        run.log(f"FAILED: {run.message}", logging.ERROR)
        run.log.detach()  # keep_failure writes the whole log to _failed/<run id>/log.txt
        run.published = keep_failure(run.out, run.run_id, run.staging, run.log.text(), info)
        run.log(f"failed run kept in {run.published}", logging.ERROR)
        run.metrics = run.estimates = None
    record_run(
        run.out, run_id=run.run_id, as_of=opts.as_of, status=run.status,
        started_at=run.started, ended_at=ended, duration_s=time.monotonic() - run.t0,
        fingerprint=run.fingerprint, parameters=public_params(run.effective),
        version=package_version(), message=run.message, metrics=run.metrics,
        degraded=run.degraded, estimates=run.estimates, provenance=provenance(),
    )
    try:
        write_months_index(run.out)
    except Exception as exc:  # noqa: BLE001 - the index must never fail a run
        run.log(f"reports/index.html not updated ({type(exc).__name__}: {exc})",
                logging.WARNING)
    if run.status == "ok":
        run.log(f"done in {time.monotonic() - run.t0:.1f} s: {run.message}")
    return RunResult(run.run_id, run.status, opts.as_of, run.code, run.published, run.message,
                     run.durations)


# ------------------------------------------------------------------------ helpers
def effective_common(opts: ReportOptions) -> dict[str, Any]:
    """The parameters the runner sets in every notebook (tables_dir aside)."""
    return {"data_dir": str(Path(opts.data_dir).resolve()), "as_of": opts.as_of,
            "language": opts.language}


def public_params(effective: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters as recorded (history, ``run.json``): ``tables_dir`` left out."""
    return {k: v for k, v in effective.items() if k not in ("tables_dir",)}


def read_run_info(folder: Path) -> dict | None:
    """``run.json`` of a published month, or None."""
    p = folder / "run.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return None


__all__ = [
    "RunResult", "RunState", "check_month", "check_run", "collect_degraded", "dask_cluster",
    "dask_pass", "effective_common", "load_and_validate", "new_staging",
    "pass_keys", "public_params", "publish_run", "read_run_info", "record",
    "SERIAL_EPISODES", "pass_episode_count", "longest_first", "notebook_jobs", "previous_durations", "run_concurrently", "run_notebooks", "run_one", "run_report", "run_report_locked", "run_steps", "run_with_retry",
]

