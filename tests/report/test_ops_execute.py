"""Running notebooks for the scheduled job: a dead kernel is retried once, our own errors
never; kernels use IPC, so ipykernel's TCP warning does not reach the log; a heartbeat
says which notebook is alive."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from analysis.report.execute import NotebookFailed, failure, heartbeat
from analysis.report.options import ReportOptions
from analysis.report.params import discover
from analysis.report.runner import RunState, run_with_retry
from tests.helpers.reports import write_notebook

#: A cell that kills its kernel the first time it runs in a folder (a marker file says so).
DIE_ONCE = ("import os, pathlib\n"
            "marker = pathlib.Path('died-once')\n"
            "if not marker.exists():\n"
            "    marker.write_text('x')\n"
            "    os._exit(1)\n"
            "print('second try')")
DIE_ALWAYS = "import os\nos._exit(1)"
RAISE = "raise ValueError('our own bug')"


def _run(tmp_path: Path, body: str) -> tuple[RunState, Path]:
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_page.ipynb", body)
    staging = tmp_path / "staging"
    (staging / "executed").mkdir(parents=True)
    run = RunState.start(ReportOptions(data_dir=tmp_path, as_of="2024-06", out_dir=tmp_path,
                                       notebooks_dir=nbdir, cell_timeout_s=60, quiet=True))
    run.staging = staging
    return run, nbdir


def _params(tmp_path: Path) -> dict:
    return {"data_dir": str(tmp_path), "as_of": "2024-06", "tables_dir": str(tmp_path)}


@pytest.mark.parametrize(("exc", "retryable"), [
    (DeadKernelError("Kernel died"), True),
    (RuntimeError("Kernel died before replying to kernel_info"), True),
    (RuntimeError("Kernel didn't respond in 120 seconds"), True),
    (CellTimeoutError("A cell timed out while it was being executed, after 60 seconds."), False),
    (TimeoutError("Kernel died? no: a timeout"), False),
    (ValueError("Kernel died"), True),  # the message decides, whatever papermill wrapped
    (OSError("disk full"), False),
])
def test_only_a_lost_kernel_is_retryable(exc, retryable, tmp_path):
    got = failure("01_page", exc, tmp_path / "missing.ipynb", 60.0, None)
    assert got.retryable is retryable
    assert got.notebook == "01_page" and type(exc).__name__ in got.message


def test_a_kernel_that_dies_once_is_run_again_and_recorded(tmp_path):
    run, nbdir = _run(tmp_path, DIE_ONCE)
    (spec,) = discover(nbdir)
    with run.log.capturing():
        run_with_retry(run, spec, _params(tmp_path), "python3")
    assert [r["notebook"] for r in run.retries] == ["01_page"]
    assert "DeadKernelError" in run.retries[0]["reason"]
    assert "second try" in (run.staging / "executed" / "01_page.ipynb").read_text()
    assert "running it once more" in run.log.text()


def test_a_kernel_that_always_dies_fails_after_one_retry(tmp_path):
    run, nbdir = _run(tmp_path, DIE_ALWAYS)
    (spec,) = discover(nbdir)
    with pytest.raises(NotebookFailed) as exc:
        run_with_retry(run, spec, _params(tmp_path), "python3")
    assert exc.value.retryable and len(run.retries) == 1


def test_an_error_in_our_code_is_never_retried(tmp_path):
    run, nbdir = _run(tmp_path, RAISE)
    (spec,) = discover(nbdir)
    with pytest.raises(NotebookFailed) as exc:
        run_with_retry(run, spec, _params(tmp_path), "python3")
    assert not exc.value.retryable and "our own bug" in exc.value.message
    assert exc.value.cell == 3 and run.retries == []


RUN_ONE = """
import sys
from pathlib import Path
import papermill as pm
from analysis.report.execute import execute_notebook
from analysis.report.params import discover
nbdir, out = Path(sys.argv[1]), Path(sys.argv[2])
(spec,) = discover(nbdir)
if sys.argv[3] == "ours":
    execute_notebook(spec, out, {}, "python3", 60, nbdir)
else:  # papermill's defaults: TCP
    pm.execute_notebook(str(spec.path), str(out), kernel_name="python3", progress_bar=False)
"""


@pytest.mark.slow  # two fresh interpreters and kernels, ~13 s; `make test-ops` (CI) runs it
def test_kernels_use_ipc_so_the_tcp_warning_is_gone(tmp_path):
    """Ours prints no "without encryption" warning; papermill's default (TCP) on the same
    notebook does, so the check would see it."""
    write_notebook(tmp_path / "nbs" / "01_page.ipynb", "print('hello')")
    stderr = {}
    for how in ("ours", "default"):
        proc = subprocess.run([sys.executable, "-c", RUN_ONE, str(tmp_path / "nbs"),
                               str(tmp_path / f"{how}.ipynb"), how],
                              capture_output=True, text=True, timeout=180,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert proc.returncode == 0, proc.stderr
        stderr[how] = proc.stderr
    assert "without encryption" in stderr["default"]
    assert "without encryption" not in stderr["ours"]
    assert "hello" in (tmp_path / "ours.ipynb").read_text()


def test_heartbeat_logs_while_a_step_runs_and_is_silent_for_a_short_one(caplog):
    caplog.set_level(logging.INFO, logger="analysis")
    with heartbeat("[2/5] 03_relief_effects", every_s=0.05):
        time.sleep(0.3)
    beats = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert len(beats) >= 2
    assert beats[0].startswith("[2/5] 03_relief_effects still running (")
    caplog.clear()
    with heartbeat("quick", every_s=10):
        pass
    assert not [r for r in caplog.records if "still running" in r.getMessage()]
