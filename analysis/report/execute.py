"""Running one report notebook with papermill: timeouts, failures, the failing cell.

:func:`execute_notebook` runs a notebook in a fixed kernel (:func:`resolve_kernel`) with
a per-cell timeout; a raising cell, a timeout or a lost kernel becomes
:class:`NotebookFailed`, naming the notebook and the cell by its position in the *source*
notebook (cells papermill adds are not counted). :func:`run_deadline` is the whole-run
timeout: SIGALRM raises :class:`RunTimeout` in the main thread.

A kernel that dies or fails to start (papermill issues #352, #476: out of memory, a port
race) is :attr:`NotebookFailed.retryable`; the runner tries such a notebook once more. A
cell that raised, or a timeout, is never retried: our own code failed, and a second run
would fail the same way, later.

Kernels talk to the runner over IPC (Unix sockets in a private temporary folder) where the
platform has it (:func:`kernel_config`): nothing listens on a TCP port, and ipykernel's
"Kernel is running over TCP without encryption" warning, printed once per notebook over
TCP, is gone for the right reason. :func:`heartbeat` logs one line a minute while a
notebook runs, so a non-interactive log shows which notebook is alive and for how long.

Known drawbacks: ``SIGALRM`` (the whole-run timeout) does not exist on Windows, where
:func:`run_deadline` is a no-op and only the per-cell timeout applies
(docs/operations.md).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import AsyncKernelManager
from traitlets import Dict
from traitlets.config import Config

from analysis.errors import ParameterError
from analysis.report.options import DEFAULT_KERNEL
from analysis.report.params import NotebookSpec

#: Messages of kernel failures worth one retry (the kernel process, not our code, failed).
KERNEL_LOST = ("Kernel died", "Kernel didn't respond", "DeadKernelError")
#: Seconds between two heartbeat lines while a notebook runs.
HEARTBEAT_S = 60.0

log = logging.getLogger(__name__)


class NotebookFailed(Exception):
    """A notebook raised, timed out or lost its kernel; ``retryable`` when the kernel died
    or did not start (worth one more try), False when a cell raised or timed out."""

    def __init__(self, notebook: str, message: str, cell: int | None = None,
                 retryable: bool = False):
        self.notebook, self.cell, self.message = notebook, cell, message
        self.retryable = retryable
        where = f"{notebook}, cell {cell}" if cell is not None else notebook
        super().__init__(f"notebook {where} failed: {message}")


class RunTimeout(Exception):
    """The whole-run timeout expired."""


def resolve_kernel(name: str) -> str:
    """``name`` if such a kernelspec exists, else ``python3`` (this environment's)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # with the kernel

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


@contextlib.contextmanager
def run_deadline(seconds: float, grace_s: float = 0.0) -> Iterator[None]:
    """Raise :class:`RunTimeout` in the main thread after ``seconds + grace_s`` (SIGALRM)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _alarm(signum, frame):  # noqa: ARG001
        raise RunTimeout(f"the whole run exceeded its timeout of {seconds:g} s")

    if not hasattr(signal, "SIGALRM"):  # Windows: only the per-cell timeout applies
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds + grace_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RunKernelManager(AsyncKernelManager):
    """nbclient's kernel manager with environment variables of its own for one kernel
    (``extra_env``, set through :func:`kernel_config`). Notebooks of one run execute
    concurrently in threads of one process, so what a kernel must know (the run cache, the
    notebook's name) cannot go through the process-wide ``os.environ``."""

    extra_env = Dict(config=True, help="variables added to this kernel's environment")

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        kw["env"] = {**kw.get("env", os.environ), **self.extra_env}
        await super().start_kernel(**kw)


@contextlib.contextmanager
def kernel_config(env: dict[str, str] | None = None) -> Iterator[Any]:
    """The kernel manager's configuration for one notebook: :class:`RunKernelManager` with
    ``env`` added to the kernel's environment; IPC transport in a fresh temporary folder
    (removed afterwards) where Unix sockets exist, else the default TCP."""
    config = Config({"NotebookClient": {"kernel_manager_class": RunKernelManager},
                     "RunKernelManager": {"extra_env": dict(env or {})}})
    if os.name != "posix":
        yield config
        return
    # a short path: a Unix socket path must stay under ~104 bytes
    with tempfile.TemporaryDirectory(prefix="or-k") as folder:
        config.merge(Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "k")}}))
        yield config


@contextlib.contextmanager
def heartbeat(what: str, every_s: float = HEARTBEAT_S) -> Iterator[None]:
    """Log ``"<what> still running (<elapsed> s)"`` every ``every_s`` seconds until the
    block ends (a daemon thread; a notebook of a few seconds logs nothing)."""
    done = threading.Event()
    t0 = time.monotonic()

    def beat() -> None:
        while not done.wait(every_s):
            log.info("%s still running (%.0f s)", what, time.monotonic() - t0)

    thread = threading.Thread(target=beat, name=f"heartbeat {what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1.0)


def execute_notebook(spec: NotebookSpec, out_nb: Path, parameters: dict[str, Any],
                     kernel: str, cell_timeout_s: float, cwd: Path,
                     run_limit_s: float | None = None, progress_bar: bool = False,
                     env: dict[str, str] | None = None) -> None:
    """Run one notebook in a kernel started in ``cwd`` with ``env`` added to its
    environment; ``run_limit_s`` set when the whole-run timeout caps the cell timeout;
    ``progress_bar``: papermill's per-cell bar on stderr (an interactive terminal).

    Safe to call from several threads at once: the kernel's folder goes to nbclient as
    its ``resources`` path, not through papermill's ``cwd``, which changes the working
    folder of the whole process (papermill issue #473)."""
    import papermill as pm  # heavy: imported when a notebook runs
    from papermill.exceptions import PapermillExecutionError

    # the runner checked the parameters itself; papermill's line parser warns wrongly
    logging.getLogger("papermill").setLevel(logging.ERROR)
    try:
        with kernel_config(env) as config:
            pm.execute_notebook(
                str(spec.path), str(out_nb), parameters=parameters, kernel_name=kernel,
                progress_bar=progress_bar, log_output=False, request_save_on_cell_execute=False,
                execution_timeout=max(1, math.ceil(cell_timeout_s)), start_timeout=120,
                resources={"metadata": {"path": str(cwd)}}, config=config,
            )
    except PapermillExecutionError as exc:
        cell = cell_number(out_nb, exc.cell_index)
        raise NotebookFailed(spec.stem, f"{exc.ename}: {exc.evalue}", cell) from None
    except RunTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - timeouts, dead kernels: report and go on
        raise failure(spec.stem, exc, out_nb, cell_timeout_s, run_limit_s) from None


def failure(notebook: str, exc: Exception, out_nb: Path, cell_timeout_s: float,
            run_limit_s: float | None) -> NotebookFailed:
    """The :class:`NotebookFailed` for an exception papermill raised that is not a cell's
    error: a timeout (never retried) or a lost kernel (retryable)."""
    name = type(exc).__name__
    detail = str(exc).strip().splitlines()
    msg = f"{name}: {detail[0] if detail else ''}"
    if "Timeout" in name and run_limit_s is not None:
        msg = f"the whole run exceeded its timeout of {run_limit_s:g} s ({name})"
    elif "Timeout" in name:
        msg = f"a cell ran longer than the per-cell timeout of {cell_timeout_s:g} s ({name})"
    retryable = "Timeout" not in name and any(k in msg for k in KERNEL_LOST)
    return NotebookFailed(notebook, msg, running_cell(out_nb), retryable=retryable)


def is_added(cell) -> bool:
    """A cell papermill added (injected parameters, error markers)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "injected-parameters" in tags or "papermill-error-cell-tag" in tags


def cell_number(out_nb: Path, cell_index: int | None) -> int | None:
    """1-based position of a cell in the *source* notebook (injected cells not counted)."""
    if cell_index is None:
        return None
    try:
        nb = nbformat.read(out_nb, as_version=4)
        injected = sum(is_added(c) for c in nb.cells[: int(cell_index)])
    except Exception:  # noqa: BLE001 - the position is a courtesy
        injected = 0
    return int(cell_index) + 1 - injected


def running_cell(out_nb: Path) -> int | None:
    """The cell papermill marked as running/failed in a saved output notebook."""
    if not out_nb.exists():
        return None
    try:
        nb = nbformat.read(out_nb, as_version=4)
    except Exception:  # noqa: BLE001
        return None
    injected = 0
    for i, cell in enumerate(nb.cells):
        if is_added(cell):
            injected += 1
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("running", "failed"):
            return i + 1 - injected
    return None


__all__ = ["HEARTBEAT_S", "KERNEL_LOST", "NotebookFailed", "RunTimeout", "cell_number",
           "RunKernelManager", "execute_notebook", "failure", "heartbeat", "is_added", "kernel_config",
           "resolve_kernel", "run_deadline", "running_cell"]
