"""Pieces of the report runner that need no kernel: parameters, history, lock, publish."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.data.book import Book
from analysis.errors import ParameterError
from analysis.report.history import latest_metrics, record_run, runs
from analysis.report.pages import page_name
from analysis.report.params import (
    NotebookSpec,
    convert,
    discover,
    parse_assignments,
    resolve_parameters,
    run_order,
)
from analysis.report.publish import ReportBusy, publish, publish_name, report_lock
from analysis.report.refresh import is_up_to_date, latest_complete_month

PARAMS_CELL = (
    'data_dir: str = "../data/synthetic"  # data directory\n'
    'as_of: str = ""  # reporting month YYYY-MM\n'
    "horizon_months: int = 6  # outcome window, months\n"
    "min_cell: int = 10  # smallest shown cell\n"
    'tables_dir: str = "tables"  # tables\n'
    'language: str = "en"  # language\n'
)


def write_nb(path: Path, params: str = PARAMS_CELL, body: str = "x = 1") -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return path


def test_run_order_puts_summary_last():
    assert run_order(["03_c", "00_sum", "01_a", "02_b"]) == ["01_a", "02_b", "03_c", "00_sum"]


def test_discover_only_and_parameters(tmp_path):
    for stem in ("00_summary", "01_overview", "02_causes"):
        write_nb(tmp_path / f"{stem}.ipynb")
    (tmp_path / "scratch.ipynb").write_text("{}")  # not a report notebook: ignored
    specs = discover(tmp_path)
    assert [s.stem for s in specs] == ["01_overview", "02_causes", "00_summary"]
    assert specs[0].parameters["horizon_months"] == "int"
    assert [s.stem for s in discover(tmp_path, ["02", "overview"])] == ["01_overview", "02_causes"]
    with pytest.raises(ParameterError, match="no such notebook"):
        discover(tmp_path, ["99_nope"])


def test_parse_and_convert_parameters():
    assert parse_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    for bad in (["a"], ["=1"], ["a=1", "a=2"]):
        with pytest.raises(ParameterError):
            parse_assignments(bad)
    assert convert("m", "12", "int") == 12
    assert convert("r", "0.5", "float") == 0.5
    assert convert("f", "false", "bool") is False
    assert convert("s", "2024-06", "str") == "2024-06"
    with pytest.raises(ParameterError, match="declare m as int"):
        convert("m", "twelve", "int")
    with pytest.raises(ParameterError):
        convert("f", "maybe", "bool")


def test_resolve_parameters_refuses_unknown_and_reserved():
    a = NotebookSpec(Path("01_a.ipynb"), "01", {"min_cell": "int", "as_of": "str"})
    b = NotebookSpec(Path("02_b.ipynb"), "02", {"min_cell": "int", "alpha": "float"})
    got = resolve_parameters([a, b], {"min_cell": "20", "alpha": "0.1"})
    assert got == {"01_a": {"min_cell": 20}, "02_b": {"min_cell": 20, "alpha": 0.1}}
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['min_cel'\]"):
        resolve_parameters([a, b], {"min_cel": "20"})
    with pytest.raises(ParameterError, match="set by the runner"):
        resolve_parameters([a, b], {"as_of": "2024-01"})


def test_publish_and_page_names():
    assert publish_name("2024-06", "") == "2024-06"
    assert publish_name("2024-06", "borrower_type=micro_enterprise") == (
        "2024-06_borrower_type-micro_enterprise")
    assert page_name("00_management_summary", "en") == "index.html"
    assert page_name("01_portfolio_overview", "zh-CN") == "01_portfolio_overview.zh-CN.html"


def _record(out: Path, run_id: str, as_of: str, status: str, value: float | None, t: str):
    kpis = pd.DataFrame({"metric": ["cure_rate", "cure_rate"], "segment_type": ["all", "region"],
                         "segment": ["all", "east"], "value": [value, 0.5], "n": [100, 3]})
    record_run(out, run_id=run_id, as_of=as_of, status=status, started_at=t, ended_at=t,
               duration_s=1.0, fingerprint="fp", parameters={"segment": ""}, version="0",
               metrics=kpis if status == "ok" else None)


def test_history_appends_and_reads_latest_ok(tmp_path):
    _record(tmp_path, "r1", "2024-05", "ok", 0.4, "2024-06-01T00:00:00")
    _record(tmp_path, "r2", "2024-05", "ok", 0.45, "2024-06-02T00:00:00")
    _record(tmp_path, "r3", "2024-05", "failed", None, "2024-06-03T00:00:00")
    _record(tmp_path, "r4", "2024-06", "ok", None, "2024-07-01T00:00:00")
    assert list(runs(tmp_path)["run_id"]) == ["r1", "r2", "r3", "r4"]
    latest = latest_metrics(tmp_path)
    assert list(latest["run_id"]) == ["r2", "r4"]
    assert latest["value"].iloc[0] == 0.45 and pd.isna(latest["value"].iloc[1])
    con = sqlite3.connect(tmp_path / "history.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE runs SET status = 'ok' WHERE run_id = 'r3'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM metrics")
    assert con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 6
    con.close()


def test_history_transaction_is_all_or_nothing(tmp_path):
    _record(tmp_path, "r1", "2024-05", "ok", 0.4, "2024-06-01T00:00:00")
    with pytest.raises(sqlite3.IntegrityError):  # duplicate run id: nothing of it is written
        _record(tmp_path, "r1", "2024-06", "ok", 0.9, "2024-07-01T00:00:00")
    con = sqlite3.connect(tmp_path / "history.sqlite")
    assert con.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 2
    con.close()


def test_lock_second_run_waits_then_gives_up(tmp_path):
    held = threading.Event()
    release = threading.Event()

    def holder():
        with report_lock(tmp_path, 1, what="holder"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    t0 = time.monotonic()
    with pytest.raises(ReportBusy, match="another report run holds") as info:
        with report_lock(tmp_path, 0.4):
            pass
    assert time.monotonic() - t0 >= 0.35
    assert "holder" in str(info.value) and info.value.exit_code == 3
    release.set()
    t.join()
    with report_lock(tmp_path, 0.1):  # free again
        pass


def test_lock_waits_for_release(tmp_path):
    held = threading.Event()

    def holder():
        with report_lock(tmp_path, 1):
            held.set()
            time.sleep(0.5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    with report_lock(tmp_path, 10):
        pass
    t.join()


def test_publish_replaces_whole_folder(tmp_path):
    target = tmp_path / "2024-06"
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "old.html").write_text("old")
    publish(tmp_path / "s1", target)
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "new.html").write_text("new")
    publish(tmp_path / "s2", target)
    assert sorted(p.name for p in target.iterdir()) == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-06"]


def _perf_book(rows_last_month: int) -> Book:
    months = pd.date_range("2024-01-31", periods=3, freq="ME")
    perf = [{"loan_id": f"L{i}", "month": m, "balance": 100.0, "days_past_due": 0}
            for i in range(20) for m in months[:2]]
    perf += [{"loan_id": f"L{i}", "month": months[2], "balance": 100.0, "days_past_due": 0}
             for i in range(rows_last_month)]
    empty = pd.DataFrame()
    return Book(loans=empty, performance=pd.DataFrame(perf), relief=empty, measures=empty)


def test_latest_complete_month():
    assert latest_complete_month(_perf_book(20)) == "2024-03"
    assert latest_complete_month(_perf_book(19)) == "2024-03"  # 95 % loaded
    assert latest_complete_month(_perf_book(10)) == "2024-02"  # half loaded


def test_is_up_to_date(tmp_path):
    import json

    (tmp_path / "2024-06").mkdir()
    info = {"status": "ok", "input_fingerprint": "abc",
            "parameters": {"as_of": "2024-06", "language": "en", "data_dir": "/x"}}
    (tmp_path / "2024-06" / "run.json").write_text(json.dumps(info))
    wanted = {"as_of": "2024-06", "language": "en"}
    assert is_up_to_date(tmp_path, "2024-06", "abc", wanted)
    assert not is_up_to_date(tmp_path, "2024-06", "changed", wanted)
    assert not is_up_to_date(tmp_path, "2024-06", "abc", {**wanted, "min_cell": "20"})
    info["parameters"]["min_cell"] = 20
    (tmp_path / "2024-06" / "run.json").write_text(json.dumps(info))
    assert is_up_to_date(tmp_path, "2024-06", "abc", {**wanted, "min_cell": "20"})
    assert not is_up_to_date(tmp_path, "2024-06", "abc", wanted)  # published had -p min_cell
    assert not is_up_to_date(tmp_path, "2024-07", "abc", wanted)
