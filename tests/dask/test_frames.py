"""The Dask engine gives the pandas answers: validation, episodes, KPIs; plus sampling.

One small synthetic book (generated once, its performance table re-split into uneven
Parquet parts that cut loans apart) and a LocalCluster of 2 in-process workers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import kpis
from analysis.dask.frames import episodes_dask, load_book_dask
from analysis.dask.kpis import kpis_dask
from analysis.dask.partition import loan_bucket
from analysis.dask.sample import allocate, sample_episodes, stratified_mean
from analysis.dask.validate import validate_book_dask
from analysis.data import load_book, validate_book
from analysis.episodes import build_episodes
from tests.helpers.dask import misaligned_book

SEGMENTS = (None, "borrower_type")


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    return misaligned_book(tmp_path_factory.mktemp("dask_book"))


@pytest.fixture(scope="module")
def pandas_book(book_dir):
    return load_book(book_dir)


def _report_key(table: pd.DataFrame) -> pd.DataFrame:
    t = table.copy()
    t["examples"] = [
        " | ".join(sorted(e.split(" | "))) if n <= 5 else "" for e, n in
        zip(t["examples"], t["n_failures"], strict=True)
    ]
    return t.sort_values(["file", "table", "column", "check"]).reset_index(drop=True)


def test_validation_identical_on_a_valid_book(cluster, book_dir):
    ref = validate_book(book_dir)
    got = validate_book_dask(book_dir, npartitions=3)
    assert ref.ok and got.ok
    assert got.message() == ref.message()


def test_validation_identical_on_a_broken_book(cluster, book_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(book_dir, bad)
    parts = sorted((bad / "performance").glob("*.parquet"))
    p0 = pd.read_parquet(parts[0])
    p1 = pd.read_parquet(parts[1])
    dup = p1.iloc[[3]]  # a loan-month repeated in another part
    p0.loc[p0.index[2], "balance"] = -5.0  # negative balance
    p0.loc[p0.index[4], "loan_id"] = "NOT_A_LOAN"  # unknown loan
    p1 = p1.drop(p1.index[40])  # a gap in one loan's months
    p1.loc[p1.index[7], "month"] = pd.Timestamp("2022-03-15")  # not a month end
    pd.concat([p0, dup]).to_parquet(parts[0], index=False)
    p1.to_parquet(parts[1], index=False)
    relief_part = sorted((bad / "relief").glob("*.parquet"))[1]
    rel = pd.read_parquet(relief_part)
    rel.loc[rel.index[0], "measure"] = "holiday"  # undeclared measure
    rel.to_parquet(relief_part, index=False)
    loans = pd.read_parquet(bad / "loans.parquet")
    loans = pd.concat([loans, loans.iloc[[10]]])  # duplicate loan_id
    loans.to_parquet(bad / "loans.parquet", index=False)

    ref = validate_book(bad)
    got = validate_book_dask(bad, npartitions=4)
    assert not ref.ok and not got.ok
    checks = set(ref.table["check"])
    assert {"unique_key", "known_loan_id", "contiguous_months", "month_end"} <= checks
    pd.testing.assert_frame_equal(_report_key(got.table), _report_key(ref.table))


def test_episodes_identical_on_uneven_partitions(cluster, book_dir, pandas_book):
    ref = build_episodes(pandas_book).sort_values(["loan_id", "episode_no"])
    got = episodes_dask(load_book_dask(book_dir, npartitions=3))
    assert len(ref) > 50
    pd.testing.assert_frame_equal(got, ref.reset_index(drop=True))


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def test_kpis_identical(cluster, book_dir, pandas_book):
    b = pandas_book
    res = kpis_dask(load_book_dask(book_dir, npartitions=4), segments=SEGMENTS)
    seg = ["segment_type", "segment"]

    ref = kpis.by_segments(kpis.overdue_rates, b, segments=SEGMENTS)
    keys = ["month", *seg]
    pd.testing.assert_frame_equal(_sorted(res.overdue_rates, keys), _sorted(ref, keys))

    ref = pd.concat([kpis.by_segments(kpis.roll_rates, b, weight=w, segments=SEGMENTS)
                     for w in ("count", "balance")], ignore_index=True)
    keys = ["weight", "period_start", *seg, "from_bucket", "to_bucket"]
    pd.testing.assert_frame_equal(_sorted(res.roll_rates, keys), _sorted(ref, keys))

    ref = pd.concat([kpis.by_segments(kpis.vintage_curves, b, dpd_threshold=t,
                                         segments=SEGMENTS) for t in (30, 90)],
                    ignore_index=True)
    keys = ["dpd_threshold", *seg, "cohort", "months_on_book"]
    pd.testing.assert_frame_equal(_sorted(res.vintages, keys), _sorted(ref, keys))

    ref = kpis.by_segments(kpis.loan_classification, b, segments=SEGMENTS)
    keys = ["month", *seg, "category"]
    pd.testing.assert_frame_equal(_sorted(res.classification, keys), _sorted(ref, keys))

    ep = build_episodes(b).sort_values(["loan_id", "episode_no"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(res.episodes, ep)


def test_loan_bucket_is_stable_and_spreads():
    ids = pd.Series([f"L{i:07d}" for i in range(10_000)])
    b = loan_bucket(ids, 8)
    assert np.array_equal(b, loan_bucket(ids.astype("string[pyarrow]"), 8))
    assert np.array_equal(b, loan_bucket(ids.to_numpy(), 8))
    counts = np.bincount(b, minlength=8)
    assert counts.min() > 1000 and counts.max() < 1500


# ----------------------------------------------------------------------------- sampling


def _episodes_like(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    measure = rng.choice(["none", "deferral", "counselling"], size=n, p=[0.8, 0.15, 0.05])
    exit_type = rng.choice(["cure", "default", "open"], size=n, p=[0.6, 0.1, 0.3])
    ead = rng.lognormal(10, 1, size=n) * np.where(exit_type == "default", 1.5, 1.0)
    return pd.DataFrame({"measure": measure, "exit_type": exit_type,
                         "is_censored": rng.random(n) < 0.1, "ead": ead,
                         "is_cured": pd.array(exit_type == "cure", dtype="boolean")})


def test_allocation_hand_computed():
    # 1000 rows: strata of 10 (kept whole), 90 (floor 50 of 90) and 900 (the rest)
    assert allocate(np.array([10, 90, 900]), 200, 50).tolist() == [10, 50, 140]
    assert allocate(np.array([10, 90, 900]), 2000, 50).tolist() == [10, 90, 900]


def test_sample_reproduces_strata_and_is_deterministic():
    ep = _episodes_like(50_000, 1)
    s, w = sample_episodes(ep, 5_000, seed=3, min_per_stratum=200)
    s2, w2 = sample_episodes(ep, 5_000, seed=3, min_per_stratum=200)
    pd.testing.assert_frame_equal(s, s2)
    assert len(s) <= 5_000 + 18 * 200
    assert (w >= 1).all() and w.index.equals(s.index)
    full = ep.groupby(["measure", "exit_type", "is_censored"]).size()
    weighted = w.groupby([s["measure"], s["exit_type"], s["is_censored"]]).sum()
    pd.testing.assert_series_equal(weighted.round(6), full.astype(float), check_names=False)
    summary = s.attrs["design"].summary().set_index("metric")["value"]
    assert summary["n_population"] == 50_000
    assert 1.0 < summary["se_inflation"] < np.sqrt(50_000 / len(s)) * 1.5


def test_stratified_mean_interval_covers_the_full_mean():
    ep = _episodes_like(8_000, 2)
    truth = ep["ead"].mean()
    hits, ests = [], []
    for seed in range(150):
        s, w = sample_episodes(ep, 1_000, seed=seed, min_per_stratum=40)
        r = stratified_mean(s, w, "ead")
        hits.append(r["ci_low"] <= truth <= r["ci_high"])
        ests.append(r["estimate"])
    assert abs(np.mean(ests) - truth) < 3 * np.std(ests) / np.sqrt(len(ests))  # unbiased
    assert 0.91 <= np.mean(hits) <= 0.99  # nominal 95 %
    small = ep.head(100)
    s, w = sample_episodes(small, 1_000, seed=0)
    assert len(s) == 100 and (w == 1).all()
    assert stratified_mean(s, w, "is_cured")["se"] == pytest.approx(0.0, abs=1e-12)
