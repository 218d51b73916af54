"""Running one report notebook with papermill: timeouts, failures, the failing cell.

:func:`execute_notebook` runs a notebook in a fixed kernel (:func:`resolve_kernel`) with
a per-cell timeout; a raising cell, a timeout or a lost kernel becomes
:class:`NotebookFailed`, naming the notebook and the cell by its position in the *source*
notebook (cells papermill adds are not counted). :func:`run_deadline` is the whole-run
timeout: SIGALRM raises :class:`RunTimeout` in the main thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from analysis.errors import ParameterError
from analysis.report.options import DEFAULT_KERNEL
from analysis.report.params import NotebookSpec


class NotebookFailed(Exception):
    """A notebook raised, timed out or lost its kernel."""

    def __init__(self, notebook: str, message: str, cell: int | None = None):
        self.notebook, self.cell, self.message = notebook, cell, message
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

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds + grace_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def execute_notebook(spec: NotebookSpec, out_nb: Path, parameters: dict[str, Any],
                     kernel: str, cell_timeout_s: float, cwd: Path,
                     run_limit_s: float | None = None) -> None:
    """Run one notebook; ``run_limit_s`` set when the whole-run timeout caps the cell timeout."""
    import papermill as pm  # heavy: imported when a notebook runs
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
        cell = cell_number(out_nb, exc.cell_index)
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
        raise NotebookFailed(spec.stem, msg, running_cell(out_nb)) from None


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



__all__ = ["NotebookFailed", "RunTimeout", "cell_number", "execute_notebook", "is_added",
           "resolve_kernel", "run_deadline", "running_cell"]
