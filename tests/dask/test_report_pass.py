"""Reports on the Dask engine publish the pandas engine's tables.

One small synthetic book whose Parquet parts cut loans apart; the Dask runs use a
LocalCluster of 2 in-process workers (its address handed to the runner as
``--scheduler``), as ``tests/test_engine_dask.py`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.dask.frames import load_book_dask
from analysis.dask.report_pass import (
    in_sample,
    read_run_cache,
    report_pass,
    sample_design,
    sample_fraction,
    write_run_cache,
)
from analysis.data import load_book
from analysis.data.subset import restrict_to
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.report.context import open_context
from analysis.report.options import ReportOptions
from analysis.report.params import default_notebooks_dir
from analysis.report.runner import run_report
from tests.helpers.dask import misaligned_book

AS_OF = "2024-06"
KPI_TABLES = ("kpis", "portfolio_mix", "overdue_rates", "roll_rates", "vintage_curves",
              "outcome_rates", "loan_categories")


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    return misaligned_book(tmp_path_factory.mktemp("dask_report_book"),
                           tables=("performance", "signals"))


@pytest.fixture(scope="module")
def address(cluster):
    return cluster.scheduler.address


def _missing_as_none(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns with one missing marker: the run cache stores the episodes in
    Parquet, which reads pd.NA and NaN in text columns back as None."""
    obj = [c for c in df.columns if df[c].dtype == object]
    return df.assign(**{c: df[c].where(df[c].notna(), None) for c in obj})


def _same(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    a, b = _missing_as_none(a), _missing_as_none(b)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False, check_categorical=False, rtol=1e-9,
                                  obj=name)


def test_context_tables_equal_pandas(book_dir, address, tmp_path, monkeypatch):
    from analysis.report import tables as rt

    monkeypatch.setenv("OVERDUE_RELIEF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OVERDUE_RELIEF_SCHEDULER", address)
    dk = open_context(str(book_dir), AS_OF, engine="dask")
    pd_ = open_context(str(book_dir), AS_OF, engine="pandas")
    assert dk.engine == "dask" and not dk.sampling["sampled"]
    rates = pd_.kpis.overdue_trend(segments=(None, *rt.SEGMENTS), months=None)
    d_rates = dk.kpis.overdue_trend(segments=(None, *rt.SEGMENTS), months=None)
    _same(rates, d_rates, "overdue_trend")
    _same(pd_.kpis.portfolio_mix(rates=rates), dk.kpis.portfolio_mix(rates=d_rates), "mix")
    for name in ("headline", "overdue_trend", "roll_window", "vintage_curves",
                 "categories_trend", "outcome_rates"):
        _same(getattr(pd_.kpis, name)(), getattr(dk.kpis, name)(), name)
    ep = pd_.episodes.sort_values(["loan_id", "episode_no"], kind="stable")
    _same(ep, dk.episodes, "episodes")
    assert dk.describe() == pd_.describe()


def test_context_as_of_and_segment(book_dir, address, tmp_path, monkeypatch):
    monkeypatch.setenv("OVERDUE_RELIEF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OVERDUE_RELIEF_SCHEDULER", address)
    seg = "borrower_type=micro_enterprise"
    dk = open_context(str(book_dir), "2023-12", segment=seg, engine="dask")
    pd_ = open_context(str(book_dir), "2023-12", segment=seg, engine="pandas")
    _same(pd_.kpis.headline(), dk.kpis.headline(), "headline")
    _same(pd_.kpis.roll_window(), dk.kpis.roll_window(), "roll_window")
    assert len(dk.book.loans) == len(pd_.book.loans)
    with pytest.raises(Exception, match="no loan has"):
        open_context(str(book_dir), AS_OF, segment="borrower_type=nobody", engine="dask")


def test_model_sample_is_equal_probability_by_loan():
    ids = pd.Series([f"L{i:07d}" for i in range(200_000)])
    keep = in_sample(ids, 0.1)
    assert abs(keep.mean() - 0.1) < 4 * np.sqrt(0.1 * 0.9 / len(ids))  # Bernoulli(0.1)
    assert (in_sample(ids.iloc[::-1], 0.1)[::-1] == keep).all()  # by ID, not position
    assert sample_fraction(100, 200) == 1.0 and sample_fraction(1000, 200) == 0.2
    d = sample_design(1000, 200, 400, 100, 0.2)
    assert d["sampled"] and d["se_inflation"] == pytest.approx(2.0)
    # the episode models are not sampled: every episode, no precision lost
    assert (d["model_episodes"], d["n_model_episodes"], d["se_inflation_models"]) == ("all", 400, 1.0)


def test_models_see_every_episode_while_loan_months_are_sampled(book_dir, cluster, tmp_path):
    """A pass whose loan-month book is a sample (at most 60 loans) still hands the episode
    models the pandas engine's whole episode table, row for row and value for value, and
    its run record says so."""
    month = pd.Timestamp("2024-06-30")
    d = Definitions()
    res = report_pass(load_book_dask(book_dir), month, d, max_loans=60)
    book = load_book(book_dir)
    known = restrict_to(book, month)
    expect = episodes_from_definitions(known, d, data_end=known.performance["month"].max())
    expect = expect.sort_values(["loan_id", "episode_no"], kind="stable")
    assert res.design["sampled"] and res.design["n_sample_loans"] < len(book.loans) / 2
    assert res.design["model_episodes"] == "all"
    assert res.design["n_model_episodes"] == len(expect) == res.design["n_episodes"]
    _same(expect, res.model_episodes, "model episodes")
    # the loan-month sample keeps its own episodes, consistent with its book
    s_ep = res.sample_episodes()
    assert len(s_ep) == res.design["n_sample_episodes"] < len(expect)
    assert set(s_ep["loan_id"]) <= set(res.sample.loans["loan_id"])
    # through the run cache, as the notebooks read it
    write_run_cache(tmp_path / "pass", res, {"month": "2024-06-30"})
    cached = read_run_cache(tmp_path / "pass")
    assert cached.design["model_episodes"] == "all"
    _same(expect, cached.model_episodes(), "cached model episodes")
    _same(s_ep, cached.sample_episodes(), "cached sample episodes")


def _run(book: Path, out: Path, engine: str, scheduler: str | None, only=("01",)):
    return run_report(ReportOptions(
        data_dir=book, as_of=AS_OF, out_dir=out, notebooks_dir=default_notebooks_dir(),
        only=only, cell_timeout_s=300, run_timeout_s=900, quiet=True, engine=engine,
        scheduler=scheduler,
    ))


def test_report_on_dask_publishes_the_pandas_tables(book_dir, address, tmp_path):
    dk = _run(book_dir, tmp_path / "dask", "dask", address)
    assert dk.exit_code == 0, dk.message
    pdr = _run(book_dir, tmp_path / "pandas", "pandas", None)
    assert pdr.exit_code == 0, pdr.message
    for name in KPI_TABLES:
        a = pd.read_csv(pdr.path / "tables" / f"{name}.csv")
        b = pd.read_csv(dk.path / "tables" / f"{name}.csv")
        _same(a, b, name)


def test_bad_scheduler_is_exit_2(book_dir, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}  # nothing listens on port 9
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "report", "--data", str(book_dir), "--as-of", AS_OF,
         "--out", str(tmp_path / "r"), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
         "--only", "01", "-q"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in proc.stdout + proc.stderr


def test_cli_accepts_engine_on_report_and_refresh():
    from analysis.cli.main import build_parser

    p = build_parser()
    for cmd in (["report", "--as-of", AS_OF], ["refresh"]):
        args = p.parse_args([*cmd, "--data", "x", "--engine", "dask", "--scheduler", "tcp://h:1"])
        assert (args.engine, args.scheduler) == ("dask", "tcp://h:1")
    with pytest.raises(SystemExit):
        p.parse_args(["report", "--as-of", AS_OF, "--data", "x", "--engine", "spark"])


def test_attribution_computed_once_and_shared(book_dir, tmp_path, monkeypatch):
    from analysis.causes import attribute

    monkeypatch.setenv("OVERDUE_RELIEF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OVERDUE_RELIEF_CACHE_DIR_FINGERPRINT", "fp-test")
    ctx = open_context(str(book_dir), AS_OF, engine="pandas")
    att = ctx.attribution(n_boot=20)  # notebook 02
    stored = sorted(p.name for p in (tmp_path / "cache").glob("attribution-*.pkl"))
    assert len(stored) == 1 and stored[0].endswith("-b20.pkl")
    later = open_context(str(book_dir), AS_OF, engine="pandas")  # another notebook's kernel
    episodes, note = later.with_cause()
    assert note == "" and sorted(p.name for p in (tmp_path / "cache").glob("*.pkl")
                                 if p.name.startswith("attribution")) == stored
    # the per-episode families do not depend on the bootstrap (what makes sharing valid)
    fresh = attribute(later.book, later.episodes, definitions=later.definitions, n_boot=0,
                      min_cell=later.min_cell)
    cols = ["loan_id", "start_month", "primary_family"]
    assert att.per_episode[cols].equals(fresh.per_episode[cols])
    merged = episodes[["loan_id", "start_month", "primary_family"]].dropna()
    assert len(merged) > 0 and set(merged["primary_family"]) <= {"economic", "management",
                                                                 "personal"}


def test_latest_complete_month_on_dask(book_dir, address, tmp_path):
    from analysis.dask.report_pass import latest_complete_month_dask
    from analysis.data import load_book
    from analysis.report.refresh import latest_complete_month

    book = load_book(book_dir)
    assert latest_complete_month_dask(book_dir, 0.95, address) == latest_complete_month(book)
    # drop most loans from the last month: it no longer counts as complete
    cut = tmp_path / "cut"
    import shutil

    shutil.copytree(book_dir, cut)
    perf = pd.read_parquet(cut / "performance")
    last = perf["month"].max()
    keep = (perf["month"] < last) | (perf.index % 4 == 0)
    shutil.rmtree(cut / "performance")
    (cut / "performance").mkdir()
    perf[keep].to_parquet(cut / "performance" / "part-0.parquet", index=False)
    got = latest_complete_month_dask(cut, 0.95, address)
    assert got == latest_complete_month(load_book(cut)) and got < str(last)[:7]


def test_sampled_pass_keeps_every_episodes_attribution_inputs(book_dir, cluster, tmp_path):
    """Issue #15: a sampled pass hands over, for every episode, what the attribution fitted
    on the sample needs to attribute it: its start month's covariates and its reported
    family, equal to those the pandas code computes on the whole book."""
    from analysis.causes import reported_families
    from analysis.causes.model import attach_covariates

    month = pd.Timestamp("2024-06-30")
    d = Definitions()
    res = report_pass(load_book_dask(book_dir), month, d, max_loans=60)
    assert res.design["sampled"]
    ins = res.inputs
    assert ins is not None
    _same(res.episodes[["loan_id", "episode_no"]], ins[["loan_id", "episode_no"]], "keys")
    known = restrict_to(load_book(book_dir), month)
    ep = res.episodes
    keys = pd.DataFrame({"loan_id": ep["loan_id"], "month": pd.to_datetime(ep["start_month"])})
    expect = attach_covariates(keys, known)
    _same(expect, ins[list(expect.columns)], "covariates at the start month")
    fams = pd.Series(reported_families(known, ep)).fillna("none").tolist()
    assert ins["reported_family"].fillna("none").tolist() == fams
    assert ins["reported_family"].notna().sum() > 0  # the book has reported reasons
    write_run_cache(tmp_path / "pass", res, {"month": "2024-06-30"})
    _same(ins, read_run_cache(tmp_path / "pass").episode_inputs(), "cached inputs")
    # an unsampled pass needs none: the attribution sees every episode
    assert report_pass(load_book_dask(book_dir), month, d).inputs is None
