"""The partition pass counts its partitions on a progress bar (issue #18), with the same
results and the same errors as without it.

A small synthetic book in 4 loan partitions and the module's LocalCluster of 2 in-process
workers (``cluster`` in ``tests/conftest.py``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import dask
import pytest

from analysis.dask import frames
from analysis.dask.frames import load_book_dask, map_loan_partitions
from analysis.data import load_book
from analysis.data.book import Book
from analysis.progress import ENV_VAR

N_PARTS = 4


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Path:
    from analysis.synthetic import generate_book

    path = tmp_path_factory.mktemp("dask_progress_book")
    generate_book(300, 5, path, chunk_loans=100)
    return path


def _summary(book: Book) -> tuple[int, int, float]:
    """Loans, loan-months and total balance of one partition."""
    return len(book.loans), len(book.performance), float(book.performance["balance"].sum())


def _fails_on(loan_id: str, book: Book) -> int:
    """A partition step that raises on the partition holding ``loan_id``."""
    if (book.loans["loan_id"] == loan_id).any():
        raise ArithmeticError(f"partition with {loan_id}")
    return len(book.loans)


def test_bar_counts_every_partition_and_results_are_unchanged(cluster, book_dir, monkeypatch,
                                                               capsys):
    dbook = load_book_dask(book_dir, npartitions=N_PARTS)
    # reference: the local synchronous scheduler, no client, no bar
    tasks = [dask.delayed(_summary)(b) for b in dbook.loan_partitions()]
    expect = list(dask.compute(*tasks, scheduler="sync"))
    assert sum(n for n, _, _ in expect) == 300 and all(n > 0 for n, _, _ in expect)

    monkeypatch.setenv(ENV_VAR, "0")
    quiet = map_loan_partitions(dbook, _summary, name="check")
    assert capsys.readouterr().err == ""

    steps: list[object] = []
    real = frames.progress

    def counted(it, desc, total=None, **kw):
        for x in real(it, desc, total=total, **kw):
            steps.append(x)
            yield x

    monkeypatch.setattr(frames, "progress", counted)
    monkeypatch.setenv(ENV_VAR, "1")
    shown = map_loan_partitions(dbook, _summary, name="check")
    err = capsys.readouterr().err
    assert quiet == shown == expect  # partition order, with and without the bar
    assert len(steps) == N_PARTS  # one step per finished partition
    assert "check partitions" in err and f"/{N_PARTS}" in err  # drawn on stderr


def test_an_error_in_one_partition_is_raised(cluster, book_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1")
    first = str(load_book(book_dir).loans["loan_id"].iloc[0])
    dbook = load_book_dask(book_dir, npartitions=N_PARTS)
    step = partial(_fails_on, first)
    with pytest.raises(ArithmeticError, match=first):
        map_loan_partitions(dbook, step, name="failing")
    # without a client: dask.compute on the local scheduler, the same exception
    import distributed

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    with dask.config.set(scheduler="sync"), pytest.raises(ArithmeticError, match=first):
        map_loan_partitions(dbook, step, name="failing")
    with dask.config.set(scheduler="sync"):
        assert sum(map_loan_partitions(dbook, partial(_fails_on, "none"))) == 300
