"""Any layout on the Dask engine: the aligned cache of :mod:`analysis.dask.realign`.

One small synthetic book written four ways (one file per table, parts by month, parts
that cut loans apart, CSV). The rewrite thresholds are lowered so that a 900-loan book is
rewritten into 4 blocks of 250 loans; each layout must give the pandas engine's
validation, episodes and KPI tables, and a broken book must be reported with the
original file names and rows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis import kpis
from analysis.dask import realign
from analysis.dask.frames import load_book_dask
from analysis.dask.kpis import kpis_dask
from analysis.dask.validate import validate_book_dask
from analysis.data import load_book, validate_book
from analysis.episodes import build_episodes
from tests.helpers.dask import resplit

LOAN_TABLES = ("loans", "performance", "relief", "signals", "reasons")
SEGMENTS = (None, "borrower_type")


@pytest.fixture(scope="module", autouse=True)
def small_blocks(tmp_path_factory):
    """Blocks of 250 loans, rewrite above 200 loans per group, cache in a temp folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(realign, "LOANS_PER_PART", 250)
        mp.setattr(realign, "MAX_GROUP_LOANS", 200)
        mp.setenv(realign.CACHE_ENV, str(tmp_path_factory.mktemp("align_cache")))
        yield


@pytest.fixture(scope="module")
def one_file(tmp_path_factory) -> Path:
    from analysis.synthetic.generate import generate_book

    d = tmp_path_factory.mktemp("one_file")
    generate_book(900, 3, d, chunk_loans=900)
    shutil.rmtree(d / "truth", ignore_errors=True)
    assert all((d / f"{t}.parquet").is_file() for t in LOAN_TABLES)
    return d


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def by_month(one_file, tmp_path_factory) -> Path:
    """performance and signals as one part per month (a monthly ETL), relief and reasons
    by year of their date, hive-style for relief (``year=2023/``)."""
    d = _copy(one_file, tmp_path_factory.mktemp("by_month") / "b")
    for t, col in (("performance", "month"), ("signals", "month")):
        df = pd.read_parquet(d / f"{t}.parquet")
        (d / f"{t}.parquet").unlink()
        (d / t).mkdir()
        for m, g in df.groupby(col):
            g.to_parquet(d / t / f"{pd.Timestamp(m):%Y-%m}.parquet", index=False)
    df = pd.read_parquet(d / "relief.parquet")
    (d / "relief.parquet").unlink()
    for y, g in df.groupby(df["granted_date"].dt.year):
        (d / "relief" / f"year={y}").mkdir(parents=True)
        g.to_parquet(d / "relief" / f"year={y}" / "part-0.parquet", index=False)
    return d


@pytest.fixture(scope="module")
def by_loan(one_file, tmp_path_factory) -> Path:
    """Parts of different sizes in each table, cutting loans apart."""
    d = _copy(one_file, tmp_path_factory.mktemp("by_loan") / "b")
    resplit(d, "loans", [0.5, 0.5])
    resplit(d, "performance", [0.07, 0.61, 0.02, 0.30])
    resplit(d, "signals", [0.3, 0.7])
    resplit(d, "relief", [0.2, 0.8])
    return d


def _to_csv(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.glob("*.parquet"):
        pd.read_parquet(f).to_csv(dst / f"{f.stem}.csv", index=False)
    return dst


@pytest.fixture(scope="module")
def csv_book(one_file, tmp_path_factory) -> Path:
    return _to_csv(one_file, tmp_path_factory.mktemp("csv") / "b")


# parts by loan are closest to the re-split books of test_frames.py: slow tier
LAYOUTS = ("one_file", "by_month", pytest.param("by_loan", marks=pytest.mark.slow), "csv_book")


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def test_blocks_of_hand_computed():
    bounds = np.asarray(["b", "d"], dtype=object)
    ids = pa.array(["a", "b", "c", "d", "e", None, "c"])
    assert realign.blocks_of(ids, bounds).tolist() == [0, 1, 1, 2, 2, 0, 1]
    assert realign.blocks_of(ids, np.asarray([], dtype=object)).tolist() == [0] * 7


def test_aligned_books_are_left_alone(one_file):
    paths = realign.loan_table_paths(one_file)
    assert realign.needs_rewrite(paths)  # one group of 900 loans > 200
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(realign, "MAX_GROUP_LOANS", 1000)
        assert not realign.needs_rewrite(paths)
        assert realign.aligned_source(one_file) is None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_gives_the_pandas_tables(cluster, layout, request):
    d = request.getfixturevalue(layout)
    ref_v = validate_book(d)
    got_v = validate_book_dask(d)
    assert ref_v.ok, ref_v.format()
    assert got_v.ok, got_v.format()
    assert got_v.message() == ref_v.message()

    src = realign.aligned_source(d, build=False)
    assert src is not None and str(src.root).startswith(os.environ[realign.CACHE_ENV])
    dbook = load_book_dask(d)
    assert dbook.alignment is not None and dbook.alignment.proven
    assert dbook.npartitions == 4  # 900 loans in blocks of 250
    b = load_book(d)
    res = kpis_dask(dbook, segments=SEGMENTS)
    ep = build_episodes(b).sort_values(["loan_id", "episode_no"]).reset_index(drop=True)
    assert len(ep) > 50
    pd.testing.assert_frame_equal(res.episodes, ep)
    seg = ["segment_type", "segment"]
    ref = kpis.by_segments(kpis.overdue_rates, b, segments=SEGMENTS)
    pd.testing.assert_frame_equal(_sorted(res.overdue_rates, ["month", *seg]),
                                  _sorted(ref, ["month", *seg]))
    ref = kpis.by_segments(kpis.loan_classification, b, segments=SEGMENTS)
    keys = ["month", *seg, "category"]
    pd.testing.assert_frame_equal(_sorted(res.classification, keys), _sorted(ref, keys))
    ref = pd.concat([kpis.by_segments(kpis.vintage_curves, b, dpd_threshold=t,
                                      segments=SEGMENTS) for t in (30, 90)], ignore_index=True)
    keys = ["dpd_threshold", *seg, "cohort", "months_on_book"]
    pd.testing.assert_frame_equal(_sorted(res.vintages, keys), _sorted(ref, keys))


def test_cached_parts_are_proven_aligned_and_complete(one_file):
    src = realign.aligned_source(one_file)
    assert src is not None
    for t in LOAN_TABLES:
        parts = sorted(src.path(t).glob("*.parquet"))
        cached = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        orig = pd.read_parquet(one_file / f"{t}.parquet")
        # every source row once, unchanged, labelled by its source position
        back = cached.sort_values(realign.SOURCE_ROW).reset_index(drop=True)
        assert back[realign.SOURCE_ROW].tolist() == list(range(len(orig)))
        pd.testing.assert_frame_equal(back.drop(columns=realign.SOURCE_ROW), orig)
    ids = [set(pd.read_parquet(p, columns=["loan_id"])["loan_id"])
           for p in sorted(src.path("loans").glob("*.parquet"))]
    assert [len(x) for x in ids] == [250, 250, 250, 150]
    assert max(ids[0]) < min(ids[1])  # disjoint ID ranges


def test_cache_is_reused_then_invalidated(tmp_path, one_file):
    d = _copy(one_file, tmp_path / "b")
    first = realign.aligned_source(d)
    stamp = (first.root / "manifest.json").stat().st_mtime_ns
    again = realign.aligned_source(d)
    assert again.root == first.root
    assert (again.root / "manifest.json").stat().st_mtime_ns == stamp  # not rewritten
    rel = pd.read_parquet(d / "relief.parquet")
    rel.iloc[:-1].to_parquet(d / "relief.parquet", index=False)  # the input changes
    third = realign.aligned_source(d)
    assert third.root != first.root and not first.root.exists()  # stale entry removed
    n = sum(len(pd.read_parquet(p)) for p in third.path("relief").glob("*.parquet"))
    assert n == len(rel) - 1


def _report_key(table: pd.DataFrame) -> pd.DataFrame:
    t = table.copy()
    t["examples"] = [" | ".join(sorted(e.split(" | "))) if n <= 5 else "" for e, n in
                     zip(t["examples"], t["n_failures"], strict=True)]
    return t.sort_values(["file", "table", "column", "check"]).reset_index(drop=True)


def _break(d: Path, read, write) -> None:
    perf = read("performance")
    perf.loc[perf.index[2], "balance"] = -5.0  # negative balance
    perf.loc[perf.index[4], "loan_id"] = perf.loc[perf.index[500], "loan_id"]  # dup month
    perf = perf.drop(perf.index[40])  # a gap in one loan's months
    write("performance", perf)
    loans = read("loans")
    write("loans", pd.concat([loans, loans.iloc[[10]]]))  # duplicate loan_id
    rel = read("relief")
    rel.loc[rel.index[0], "measure"] = "holiday"  # undeclared measure
    write("relief", rel)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_problems_name_the_original_files(cluster, tmp_path, one_file, fmt):
    d = tmp_path / "bad"
    if fmt == "csv":
        _to_csv(one_file, d)
        _break(d, lambda t: pd.read_csv(d / f"{t}.csv", dtype=str),
               lambda t, df: df.to_csv(d / f"{t}.csv", index=False))
        perf = pd.read_csv(d / "performance.csv", dtype=str)
        perf.loc[perf.index[7], "balance"] = "abc"  # text where a number belongs
        perf.to_csv(d / "performance.csv", index=False)
    else:
        _copy(one_file, d)
        _break(d, lambda t: pd.read_parquet(d / f"{t}.parquet"),
               lambda t, df: df.to_parquet(d / f"{t}.parquet", index=False))
    ref = validate_book(d)
    got = validate_book_dask(d)
    assert realign.aligned_source(d, build=False) is not None  # validated from the cache
    assert not ref.ok and not got.ok
    assert {"unique_key", "contiguous_months", ">= 0"} <= set(ref.table["check"])
    assert set(got.table["file"]) == set(ref.table["file"])
    assert all(f.endswith(f".{fmt}") for f in got.table["file"])
    pd.testing.assert_frame_equal(_report_key(got.table), _report_key(ref.table))


def test_malformed_csv_is_not_rewritten_and_still_reported(cluster, tmp_path, csv_book):
    d = _copy(csv_book, tmp_path / "semi")
    perf = pd.read_csv(d / "performance.csv", dtype=str)
    perf.to_csv(d / "performance.csv", index=False, sep=";")  # the wrong delimiter
    assert realign.aligned_source(d) is None  # the original is validated, as before
    ref = validate_book(d)
    got = validate_book_dask(d)
    assert "delimiter" in set(ref.table["check"])
    pd.testing.assert_frame_equal(_report_key(got.table), _report_key(ref.table))
