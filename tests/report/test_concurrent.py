"""Notebooks of one run executing at once: how many, what stops them, the cache entries
they share computed once, and each kernel's own environment (its degraded sections are
credited to it, whatever runs beside it)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.report import cache as run_cache
from analysis.report.cache import CACHE_ENV, cached_episodes, entry_lock
from analysis.report.context import read_degraded
from analysis.report.options import ReportOptions
from analysis.report.params import NotebookSpec, discover
from analysis.report.runner import (
    RunState,
    collect_degraded,
    longest_first,
    notebook_jobs,
    previous_durations,
    run_concurrently,
    run_notebooks,
)
from tests.helpers.reports import write_notebook


def _specs(*stems: str) -> list[NotebookSpec]:
    return [NotebookSpec(path=Path(f"{s}.ipynb"), number=s[:2], parameters={}) for s in stems]


def _run(tmp_path: Path, **opts) -> RunState:
    run = RunState.start(ReportOptions(data_dir=tmp_path, as_of="2024-06", out_dir=tmp_path,
                                       quiet=True, **opts))
    run.staging = tmp_path / "staging"
    (run.staging / "executed").mkdir(parents=True)
    (run.staging / "tables").mkdir()
    return run


def test_jobs_requested_automatic_and_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert notebook_jobs(3, tmp_path, 5) == 3
    assert notebook_jobs(3, tmp_path, 2) == 2  # never more threads than notebooks
    assert notebook_jobs(0, tmp_path, 5) == 2  # automatic: at most two
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert notebook_jobs(0, tmp_path, 5) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    with open(tmp_path / "book-abc.pkl", "wb") as fh:  # a cached book over 1 GiB (sparse)
        fh.truncate((1 << 30) + 1)
    assert notebook_jobs(0, tmp_path, 5) == 1
    assert notebook_jobs(2, tmp_path, 5) == 2  # asked for: the caller's choice


def test_jobs_serial_when_the_episode_table_is_large(tmp_path, monkeypatch):
    """A Dask pass's episode table over SERIAL_EPISODES rows: one page at a time (each
    kernel fits its models on every episode); the footer's row count decides."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import analysis.report.runner as runner

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    d = tmp_path / "dask-abc"
    d.mkdir()
    pq.write_table(pa.table({"x": list(range(50))}), d / "episodes_full.parquet")
    pq.write_table(pa.table({"x": list(range(500))}), d / "episodes_sample.parquet")
    assert runner.pass_episode_count(tmp_path) == 50
    monkeypatch.setattr(runner, "SERIAL_EPISODES", 100)
    assert notebook_jobs(0, tmp_path, 5) == 2
    monkeypatch.setattr(runner, "SERIAL_EPISODES", 49)
    assert notebook_jobs(0, tmp_path, 5) == 1
    assert notebook_jobs(2, tmp_path, 5) == 2


def test_pages_start_longest_first_by_the_last_good_run(tmp_path):
    import json

    assert previous_durations(tmp_path / "missing") == {}
    for month, status, secs in (("2024-05", "ok", {"01_a": 5, "03_c": 40, "02_b": 9}),
                                ("2024-06", "failed", {"01_a": 99})):
        (tmp_path / month).mkdir()
        (tmp_path / month / "run.json").write_text(
            json.dumps({"status": status, "notebook_durations_s": secs}))
    (tmp_path / "_failed").mkdir()  # not a month: never read
    got = previous_durations(tmp_path)
    assert got == {"01_a": 5.0, "03_c": 40.0, "02_b": 9.0}  # the failed run is skipped
    order = [s.stem for s in longest_first(_specs("01_a", "02_b", "03_c", "05_new"), got)]
    assert order == ["05_new", "03_c", "02_b", "01_a"]  # unknown first, then longest first


def test_concurrent_runs_overlap_and_a_failure_stops_the_queue(tmp_path):
    run = _run(tmp_path)
    started, active, peak = [], [0], [0]
    lock = threading.Lock()

    def one(spec: NotebookSpec) -> None:
        with lock:
            started.append(spec.stem)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        if spec.stem == "02_b":
            raise RuntimeError("02 failed")

    with pytest.raises(RuntimeError, match="02 failed"):
        run_concurrently(run, one, _specs("01_a", "02_b", "03_c", "04_d", "05_e"), 2)
    assert peak[0] == 2
    # 01 and 02 ran together; the slots they freed took 03 and 04, and after the failure
    # was seen nothing else started
    assert started[:2] == ["01_a", "02_b"] and "05_e" not in started

    order = []
    run_concurrently(run, lambda s: order.append(s.stem), _specs("01_a", "02_b"), 1)
    assert order == ["01_a", "02_b"]  # one at a time: in order, in this thread


def test_an_entry_is_computed_once_by_notebooks_asking_at_once(tmp_path, monkeypatch):
    calls = []

    def slow_episodes(book, definitions):
        calls.append(threading.current_thread().name)
        time.sleep(0.3)
        return pd.DataFrame({"episode_id": [1, 2], "loan_id": ["a", "b"]})

    monkeypatch.setattr(run_cache, "episodes_from_definitions", slow_episodes)
    monkeypatch.setattr(run_cache, "episodes_key", lambda parts, defs: "k")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    got: list[pd.DataFrame] = []
    threads = [threading.Thread(target=lambda: got.append(cached_episodes(None, None, {})))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 3
    for frame in got:
        pd.testing.assert_frame_equal(frame, got[0])


def test_entry_lock_makes_the_second_caller_wait(tmp_path):
    path = tmp_path / "entry.pkl"
    events = []

    def holder() -> None:
        with entry_lock(path):
            events.append("held")
            time.sleep(0.3)
            events.append("released")

    t = threading.Thread(target=holder)
    t.start()
    while not events:
        time.sleep(0.01)
    with entry_lock(path):
        events.append("second")
    t.join()
    assert events == ["held", "released", "second"]


def _degraded_page(section: str, delay_s: float) -> str:
    return ("import time\n"
            "from analysis.report.context import record_degraded\n"
            f"time.sleep({delay_s})\n"
            f"record_degraded(tables_dir, {section!r}, 'no fit')")


@pytest.mark.slow  # three kernels, about 15 s
def test_each_kernel_credits_its_own_degraded_sections(tmp_path):
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_first.ipynb", _degraded_page("effects.cure", 2.0))
    write_notebook(nbdir / "02_second.ipynb", _degraded_page("targeting.policies", 0.0))
    write_notebook(nbdir / "00_summary.ipynb", "print('summary')")
    run = _run(tmp_path, notebooks_dir=nbdir, cell_timeout_s=120, jobs=2)
    specs = discover(nbdir)
    per_nb = {s.stem: {} for s in specs}
    with run.log.capturing():
        run_notebooks(run, specs, per_nb, "python3", tmp_path / "cache", "pandas")
    # 02 finished first and wrote first, yet each record names the notebook that wrote it
    records = read_degraded(run.staging / "tables")
    assert {r["notebook"]: r["section"] for r in records} == {
        "01_first": "effects.cure", "02_second": "targeting.policies"}
    assert {(d["notebook"], d["section"]) for d in run.degraded} == {
        ("01_first", "effects.cure"), ("02_second", "targeting.policies")}
    assert set(run.durations) == {"01_first", "02_second", "00_summary"}
    assert "2 at a time" in run.log.text()


def test_degraded_records_of_other_notebooks_are_not_collected(tmp_path):
    run = _run(tmp_path)
    path = run.staging / "tables" / "_degraded.jsonl"
    path.write_text('{"section": "effects.cure", "reason": "r1", "notebook": "03_x"}\n'
                    '{"section": "targeting.policies", "reason": "r2", "notebook": "04_y"}\n')
    collect_degraded(run, "04_y")
    collect_degraded(run, "03_x")
    assert run.degraded == [
        {"notebook": "04_y", "section": "targeting.policies", "reason": "r2"},
        {"notebook": "03_x", "section": "effects.cure", "reason": "r1"},
    ]
