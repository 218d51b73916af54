"""The report runner end to end with small stand-in notebooks: safe by construction.

A good run publishes; a failing, hanging or badly parameterised run keeps the last good
report, records the failure and says where it failed; bad input stops before any
notebook; a second concurrent run waits, then gives up; ``refresh`` twice works once.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli.main import main
from analysis.report.options import ReportOptions
from analysis.report.publish import report_lock
from analysis.report.refresh import latest_complete_month, refresh
from analysis.report.runner import run_report
from tests.helpers.reports import AS_OF, KPI_BODY, LIGHT_KPI_BODY, small_book, write_notebook


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return small_book(tmp_path_factory.getbasetemp())


@pytest.fixture()
def good_notebooks(tmp_path) -> Path:
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_kpis.ipynb", LIGHT_KPI_BODY, title="KPIs")
    write_notebook(nbdir / "00_summary.ipynb",
                   "import pandas as pd\nk = pd.read_csv(tables_dir + '/kpis.csv')\nlen(k)",
                   title="Summary")
    return nbdir


def _opts(book: Path, nbdir: Path, out: Path, **kw) -> ReportOptions:
    base = dict(data_dir=book, as_of=AS_OF, out_dir=out, notebooks_dir=nbdir,
                cell_timeout_s=120, run_timeout_s=300, lock_timeout_s=5, quiet=True)
    base.update(kw)
    return ReportOptions(**base)


def _history(out: Path) -> pd.DataFrame:
    con = sqlite3.connect(out / "history.sqlite")
    try:
        return pd.read_sql_query("SELECT run_id, as_of, status, message FROM runs", con)
    finally:
        con.close()


def test_good_run_then_failing_run_keeps_last_good_report(book, good_notebooks, tmp_path, capsys):
    out = tmp_path / "reports"
    # the real context in a stand-in: open_context, headline KPIs, suppression
    write_notebook(good_notebooks / "01_kpis.ipynb", KPI_BODY, title="KPIs")
    ok = run_report(_opts(book, good_notebooks, out))
    assert ok.exit_code == 0, ok.message
    month = out / AS_OF
    assert (month / "index.html").exists() and (month / "01_kpis.html").exists()
    assert (month / "tables" / "kpis.csv").exists()
    assert (month / "executed" / "01_kpis.ipynb").exists()
    info = pd.read_json(month / "run.json", typ="series")
    assert info["status"] == "ok" and len(info["input_fingerprint"]) == 64
    assert set(info["notebook_durations_s"]) == {"01_kpis", "00_summary"}
    before = {p.name: p.stat().st_mtime_ns for p in month.rglob("*")}
    hist = _history(out)
    assert list(hist["status"]) == ["ok"]
    con = sqlite3.connect(out / "history.sqlite")
    n_metrics = con.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?",
                            (ok.run_id,)).fetchone()[0]
    con.close()
    assert n_metrics == len(pd.read_csv(month / "tables" / "kpis.csv"))
    assert "2024-06" in (out / "index.html").read_text()

    # break the summary: the second run fails in 00_summary, at its third cell
    write_notebook(good_notebooks / "00_summary.ipynb", "raise ValueError('boom in summary')",
                   title="Summary")
    bad = run_report(_opts(book, good_notebooks, out))
    assert bad.exit_code == 1 and bad.status == "failed"
    assert "00_summary" in bad.message and "cell 3" in bad.message and "boom" in bad.message
    # the published month is untouched
    assert {p.name: p.stat().st_mtime_ns for p in month.rglob("*")} == before
    failed = out / "_failed" / bad.run_id
    assert (failed / "executed" / "00_summary.ipynb").exists()
    assert "boom in summary" in (failed / "executed" / "00_summary.ipynb").read_text()
    assert "00_summary" in (failed / "log.txt").read_text()
    hist = _history(out)
    assert list(hist["status"]) == ["ok", "failed"]
    assert "boom" in hist["message"].iloc[1]
    assert not list(out.glob(".staging-*"))
    assert "Recent failed runs" in (out / "index.html").read_text()


def test_hanging_cell_is_stopped_by_cell_timeout(book, tmp_path):
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_hang.ipynb", "import time\ntime.sleep(120)")
    t0 = time.monotonic()
    res = run_report(_opts(book, nbdir, tmp_path / "reports", cell_timeout_s=3))
    assert time.monotonic() - t0 < 60
    assert res.exit_code == 1
    assert "01_hang" in res.message and "timeout" in res.message.lower()
    assert not (tmp_path / "reports" / AS_OF).exists()
    assert list(_history(tmp_path / "reports")["status"]) == ["failed"]


def test_whole_run_timeout(book, tmp_path):
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_slow.ipynb", "import time\ntime.sleep(120)")
    t0 = time.monotonic()
    res = run_report(_opts(book, nbdir, tmp_path / "reports", cell_timeout_s=300,
                           run_timeout_s=8))
    assert time.monotonic() - t0 < 60
    assert res.exit_code == 1 and "whole run exceeded its timeout of 8 s" in res.message
    assert "01_slow" in res.message


def test_unknown_or_mistyped_parameter_exits_2_before_running(book, good_notebooks, tmp_path,
                                                               capsys):
    out = tmp_path / "reports"
    args = ["report", "--data", str(book), "--as-of", AS_OF, "--out", str(out),
            "--notebooks", str(good_notebooks), "-q"]
    assert main([*args, "-p", "min_cel=5"]) == 2
    assert "unknown parameter" in capsys.readouterr().out
    assert main([*args, "-p", "min_cell=five"]) == 2
    assert "declare min_cell as int" in capsys.readouterr().out
    assert main([*args, "-p", "as_of=2024-01"]) == 2
    assert main([*args, "--only", "07_nothing"]) == 2
    assert not (out / AS_OF).exists()
    assert not list((out / "_failed").glob("*/executed"))  # no notebook ran
    assert set(_history(out)["status"]) == {"failed"}


def test_bad_input_is_caught_by_validation(book, good_notebooks, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(book, broken)
    perf = pd.read_parquet(broken / "performance.parquet")
    perf.loc[perf.index[:3], "days_past_due"] = -5
    perf.to_parquet(broken / "performance.parquet")
    out = tmp_path / "reports"
    code = main(["report", "--data", str(broken), "--as-of", AS_OF, "--out", str(out),
                 "--notebooks", str(good_notebooks), "-q"])
    printed = capsys.readouterr().out
    assert code == 2
    assert "validation failed" in printed and "days_past_due" in printed
    assert not (out / AS_OF).exists()
    assert not list((out / "_failed").glob("*/executed"))


def test_month_outside_data_exits_2(book, good_notebooks, tmp_path):
    res = run_report(_opts(book, good_notebooks, tmp_path / "r", as_of="2031-01"))
    assert res.exit_code == 2 and "outside the data" in res.message


def test_concurrent_run_waits_then_exits_3(book, good_notebooks, tmp_path):
    out = tmp_path / "reports"
    held, release = threading.Event(), threading.Event()

    def other_run():
        with report_lock(out, 1, what="other run"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=other_run)
    t.start()
    try:
        assert held.wait(10)
        code = main(["report", "--data", str(book), "--as-of", AS_OF, "--out", str(out),
                     "--notebooks", str(good_notebooks), "--lock-timeout", "0.5", "-q"])
        assert code == 3
    finally:
        release.set()
        t.join()
    assert not (out / AS_OF).exists()


def test_refresh_twice_does_the_work_once(book, tmp_path):
    from analysis.data import load_book

    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_kpis.ipynb", LIGHT_KPI_BODY, title="KPIs")
    out = tmp_path / "reports"
    month = latest_complete_month(load_book(book))
    opts = _opts(book, nbdir, out, as_of="")
    first = refresh(opts)
    assert first is not None and first.exit_code == 0, first.message
    assert first.as_of == month and (out / month / "index.html").exists()
    assert refresh(opts) is None  # up to date: nothing run
    assert len(_history(out)) == 1
    forced = refresh(opts, force=True)
    assert forced is not None and forced.exit_code == 0, forced.message
    changed = refresh(replace(opts, params=("min_cell=20",)))  # other parameters: runs
    assert changed is not None and changed.exit_code == 0
    assert list(_history(out)["status"]) == ["ok", "ok", "ok"]


# A stand-in page with one section that a singular fit costs, and one that succeeds.
DEGRADED_BODY = (
    "import numpy as np\n"
    "from analysis.report.context import open_context\n"
    "ctx = open_context(data_dir=data_dir, as_of=as_of, min_cell=min_cell,"
    " tables_dir=tables_dir, language=language)\n"
    "surv, reason = ctx.attempt('effects.time_to_cure', np.linalg.inv, np.zeros((2, 2)))\n"
    "ok, none = ctx.attempt('effects.placebo', np.linalg.inv, np.eye(2))\n"
    "assert surv is None and ok is not None and none is None\n"
    "print(reason)"
)


def test_degraded_section_is_recorded_and_the_run_publishes(book, good_notebooks, tmp_path):
    """A section whose fit is singular: exit 0, the page goes on, run.json and the history
    name the section (notebook, section, reason in the report language); a good run's
    ``degraded`` is empty; the record file is not published as a table."""
    out = tmp_path / "reports"
    write_notebook(good_notebooks / "02_model.ipynb", DEGRADED_BODY, title="Model")
    res = run_report(_opts(book, good_notebooks, out, language="zh-CN"))
    assert res.exit_code == 0 and res.status == "ok", res.message
    info = pd.read_json(res.path / "run.json", typ="series")
    assert len(info["degraded"]) == 1
    rec = info["degraded"][0]
    assert (rec["notebook"], rec["section"]) == ("02_model", "effects.time_to_cure")
    assert "方程组奇异" in rec["reason"] and "Singular matrix" in rec["reason"]
    assert sorted(p.name for p in (res.path / "tables").iterdir() if p.suffix != ".html") == [
        "kpis.csv"]
    con = sqlite3.connect(out / "history.sqlite")
    rows = con.execute("SELECT run_id, notebook, section FROM degraded").fetchall()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM degraded")
    con.close()
    assert rows == [(res.run_id, "02_model", "effects.time_to_cure")]
    (good_notebooks / "02_model.ipynb").unlink()
    again = run_report(_opts(book, good_notebooks, out, language="zh-CN"))
    assert again.exit_code == 0
    assert pd.read_json(again.path / "run.json", typ="series")["degraded"] == []


def test_bug_inside_a_guarded_step_still_fails_the_run(book, good_notebooks, tmp_path):
    """A programming error (KeyError) in a guarded step is not a degraded section: exit 1."""
    out = tmp_path / "reports"
    write_notebook(good_notebooks / "02_model.ipynb", DEGRADED_BODY.replace(
        "np.linalg.inv, np.zeros((2, 2))", "lambda: {}['no_such_column']"), title="Model")
    res = run_report(_opts(book, good_notebooks, out))
    assert res.exit_code == 1 and "KeyError" in res.message and "02_model" in res.message
    assert not (out / AS_OF).exists()
