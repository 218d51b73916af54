"""Loan-aligned Parquet parts are read without the shuffle and give the pandas answers.

Books are written in groups of parts (``<table>/part-0000k.parquet`` per block of loans):
contiguous blocks (the footers prove the alignment), interleaved blocks (only the names
suggest it; validation must confirm it on the data), and a misaligned book under the same
names (validation refutes it and the engine shuffles).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.dask import aligned as ea
from analysis.dask.frames import episodes_dask, load_book_dask
from analysis.dask.kpis import kpis_dask
from analysis.dask.validate import validate_book_dask
from analysis.data import load_book, validate_book
from analysis.episodes import build_episodes

LOAN_TABLES = ("loans", "performance", "relief", "signals", "reasons")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    from analysis.synthetic.generate import generate_book

    d = tmp_path_factory.mktemp("aligned_src")
    generate_book(600, 5, d, chunk_loans=300)
    return d


def _write_blocks(src: Path, dst: Path, block_of, row_group_size: int = 2_000) -> Path:
    """``dst``: the book of ``src`` with every loan table as parts, part k holding the
    loans with ``block_of(loan_ids) == k``; small tables copied as they are."""
    dst.mkdir()
    book = load_book(src)
    blocks = block_of(book.loans["loan_id"])
    block = dict(zip(book.loans["loan_id"], blocks, strict=True))
    for t in LOAN_TABLES:
        df = pd.read_parquet(src / t) if (src / t).is_dir() else pd.read_parquet(
            src / f"{t}.parquet")
        (dst / t).mkdir()
        kb = df["loan_id"].map(block)
        for k in np.unique(blocks):
            part = df[kb == k].sort_values("loan_id", kind="stable")
            part.to_parquet(dst / t / f"part-{k:05d}.parquet", index=False,
                            row_group_size=row_group_size)
    for f in src.glob("*.parquet"):
        if f.stem not in LOAN_TABLES:
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.fixture(scope="module")
def contiguous(source, tmp_path_factory) -> Path:
    return _write_blocks(source, tmp_path_factory.mktemp("contig") / "b",
                         lambda ids: np.arange(len(ids)) * 3 // len(ids))


@pytest.fixture(scope="module")
def interleaved(source, tmp_path_factory) -> Path:
    return _write_blocks(source, tmp_path_factory.mktemp("inter") / "b",
                         lambda ids: np.arange(len(ids)) % 3)


def _paths(d: Path) -> dict[str, Path]:
    return {t: d / t for t in LOAN_TABLES}


def _ref_episodes(d: Path) -> pd.DataFrame:
    ep = build_episodes(load_book(d))
    return ep.sort_values(["loan_id", "episode_no"]).reset_index(drop=True)


def test_cuts_split_rows_at_row_group_starts():
    rgs = [("a", "c", 10), ("c", "f", 10), ("g", "k", 10), ("k", "p", 10)]
    assert ea._cuts(rgs, 1) == []
    assert ea._cuts(rgs, 2) == ["g"]
    assert ea._cuts(rgs, 4) == ["c", "g", "k"]
    # overlapping row groups: cutting would re-read every group, so no cut
    assert ea._cuts([("a", "m", 10), ("b", "z", 10)], 2) == []


def test_contiguous_parts_are_proven_from_the_footers(contiguous):
    al = ea.find_alignment(_paths(contiguous), 100)
    assert al is not None and al.proven
    assert len(al.groups) == 3 and sum(al.group_loans) == 600
    assert len(al.units) >= 6  # 200-loan groups cut to about 100 loans
    # every row of every table is read by exactly one unit
    for t in LOAN_TABLES:
        n = sum(len(al.read(u, t)) for u in al.units)
        assert n == len(pd.read_parquet(contiguous / t))
    ids = [set(al.read(u, "loans")["loan_id"]) for u in al.units]
    assert sum(map(len, ids)) == len(set().union(*ids)) == 600


def test_contiguous_book_matches_pandas(cluster, contiguous):
    ref = validate_book(contiguous)
    got = validate_book_dask(contiguous)
    assert ref.ok and got.ok and got.message() == ref.message()
    dbook = load_book_dask(contiguous, loans_per_partition=100)
    assert dbook.alignment is not None and dbook.npartitions == len(dbook.alignment.units)
    res = kpis_dask(dbook, segments=(None,))
    pd.testing.assert_frame_equal(res.episodes, _ref_episodes(contiguous))
    shuffled = kpis_dask(load_book_dask(contiguous, npartitions=2), segments=(None,))
    for name in ("overdue_rates", "classification", "vintages", "roll_rates"):
        a, b = getattr(res, name), getattr(shuffled, name)
        keys = [c for c in a.columns if a[c].dtype == object or "month" in c]
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True),
            b.sort_values(keys).reset_index(drop=True), check_exact=False, rtol=1e-12)


def test_name_alignment_is_used_only_once_the_data_confirm_it(cluster, interleaved):
    al = ea.find_alignment(_paths(interleaved), 10**6)
    assert al is not None and not al.proven  # interleaved IDs: the text ranges overlap
    assert load_book_dask(interleaved).alignment is None
    assert validate_book_dask(interleaved).ok
    dbook = load_book_dask(interleaved)
    assert dbook.alignment is not None
    pd.testing.assert_frame_equal(episodes_dask(dbook), _ref_episodes(interleaved))


def test_misaligned_parts_fall_back_to_the_shuffle(cluster, interleaved, tmp_path):
    bad = shutil.copytree(interleaved, tmp_path / "b")
    # one loan's months move to another group's part: the book is still valid
    p0, p1 = bad / "performance" / "part-00000.parquet", bad / "performance" / "part-00001.parquet"
    a, b = pd.read_parquet(p0), pd.read_parquet(p1)
    moved = a["loan_id"] == a["loan_id"].iloc[0]
    pd.concat([b, a[moved]]).to_parquet(p1, index=False)
    a[~moved].to_parquet(p0, index=False)
    ref = validate_book(bad)
    got = validate_book_dask(bad)
    assert ref.ok and got.ok and got.message() == ref.message()
    dbook = load_book_dask(bad)
    assert dbook.alignment is None  # refuted on the data: shuffle
    pd.testing.assert_frame_equal(episodes_dask(dbook), _ref_episodes(bad))


def test_broken_aligned_book_reports_as_pandas(cluster, contiguous, tmp_path):
    bad = shutil.copytree(contiguous, tmp_path / "b")
    l0, l2 = bad / "loans" / "part-00000.parquet", bad / "loans" / "part-00002.parquet"
    a, c = pd.read_parquet(l0), pd.read_parquet(l2)
    pd.concat([c, a.iloc[[0]]]).to_parquet(l2, index=False)  # a loan in two groups
    p1 = bad / "performance" / "part-00001.parquet"
    p = pd.read_parquet(p1)
    p.loc[p.index[3], "loan_id"] = "L9999999"  # unknown loan
    p.to_parquet(p1, index=False)
    ref = validate_book(bad)
    got = validate_book_dask(bad)
    assert not ref.ok and not got.ok
    checks = set(ref.table["check"])
    assert {"unique_key", "known_loan_id"} <= checks
    assert set(got.table["check"]) == checks
    cols = ["file", "table", "column", "check", "n_failures"]
    pd.testing.assert_frame_equal(
        got.table[cols].sort_values(cols).reset_index(drop=True),
        ref.table[cols].sort_values(cols).reset_index(drop=True))


def test_book_months_from_the_footers_equal_a_data_scan(cluster, contiguous):
    from analysis.dask.report_pass import _footer_months, book_months

    perf = pd.read_parquet(contiguous / "performance")
    first, last = perf["month"].min(), perf["month"].max()
    assert _footer_months(contiguous) == (first, last)
    dbook = load_book_dask(contiguous)
    assert book_months(dbook, last) == (first, last, last)
    earlier = last - pd.offsets.MonthEnd(3)  # before the last month: read the column
    assert book_months(dbook, earlier) == (first, last, earlier)


def test_a_confirmation_lapses_when_a_part_changes(cluster, interleaved, tmp_path):
    book = shutil.copytree(interleaved, tmp_path / "b")
    assert validate_book_dask(book).ok
    assert load_book_dask(book).alignment is not None
    part = book / "relief" / "part-00001.parquet"
    pd.read_parquet(part).to_parquet(part, index=False)  # rewritten: new size or mtime
    assert load_book_dask(book).alignment is None
