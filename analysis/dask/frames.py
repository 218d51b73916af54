"""Scale out with Dask: the pandas layer 2 (episodes, KPIs) mapped over loan partitions.

Nothing is defined twice. The episode rules live in :mod:`analysis.episodes`, the KPI
definitions in :mod:`analysis.kpis.metrics`, the data contract in :mod:`analysis.data.schema`
and the reading, typing and checks of :mod:`analysis.data`; this module only decides
*which rows go together* and adds up the pieces.

Method
------
1. **Read lazily** (:func:`load_book_dask`): every table of the data directory
   (``<table>/`` folder of Parquet parts, ``<table>.parquet`` or ``<table>.csv``) becomes
   a ``dask.dataframe``; the small tables (``measures``, ``cause_map``) are read in pandas.
2. **Co-partition once by loan** (:mod:`analysis.dask.partition`): partition *k* of every
   loan table holds exactly the loans of hash bucket *k*, each loan whole. That is the
   only shuffle, and it is skipped for loan-aligned parts (one part per block of loans in
   every table): each partition is then read straight from its files
   (:mod:`analysis.dask.aligned`).
3. **Map the pandas code** over the *P* loan partitions in one pass: each partition is
   turned into an ordinary :class:`analysis.data.book.Book` and handed to
   :func:`analysis.episodes.episodes_from_definitions` (the episode builder works on any
   loan-partitioned slice) and to the KPI functions of :mod:`analysis.kpis.metrics`
   (:mod:`analysis.dask.kpis` adds the per-partition counts and sums and
   recomputes the ratios).
4. **Gather**: the episode table (one row per episode, much smaller than the loan-months)
   comes back as one pandas DataFrame sorted by ``loan_id, episode_no``; models run on it
   in pandas (:mod:`analysis.dask.sample` when it does not fit).

``P`` defaults to one partition per :data:`~analysis.dask.partition.LOANS_PER_PARTITION`
loans (about 2.4 million loan-months for 24-month histories), small enough that the pandas
code's working set stays near 1.5-2 GiB per worker thread (measured; ``docs/dask.md``).
Which engine runs a book (``--engine auto``) is decided by :mod:`analysis.engine`.

Known drawbacks
---------------
Floating-point sums (balances, losses) are added in a different order than in one pandas
pass, so Dask and pandas agree to about 1e-12 relative, not bit for bit; counts and
episodes agree exactly. The hash repartition moves every loan-month over the network once
(a local cluster spills it to disk); a book already written in loan-aligned parts
skips it (:mod:`analysis.dask.aligned`). Models on a sample lose precision, reported by
:func:`analysis.dask.sample.sample_episodes`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.dask.aligned import find_alignment, read_unit, usable
from analysis.dask.partition import (
    BUCKET,
    LOANS_PER_PARTITION,
    copartition,
    n_partitions_for,
)
from analysis.dask.realign import SOURCE_ROW, aligned_source
from analysis.dask.validate import validate_book_dask
from analysis.data.book import Book
from analysis.data.checks import book_measures
from analysis.data.coerce import coerce
from analysis.data.files import (
    LOAN_TABLES,
    SMALL_TABLES,
    locate,
    parquet_files,
    table_path,
    table_size,
)
from analysis.data.problems import BookValidationError, Loaded, Report
from analysis.data.read import read_table
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import InputError
from analysis.progress import progress

# ----------------------------------------------------------------------------- cluster


def _default_worker_memory(n_workers: int) -> int:
    """Bytes per worker: 45 % of the machine's RAM shared out, capped at 6 GiB each."""
    import psutil

    total = psutil.virtual_memory().total
    return int(min(0.45 * total / max(n_workers, 1), 6 * 1024**3))


@contextmanager
def client(
    scheduler: str | None = None,
    n_workers: int | None = None,
    memory_limit: int | str | None = None,
    processes: bool = True,
) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for the duration of a ``with`` block.

    ``scheduler``: address of an existing cluster (``tcp://host:8786``) or a scheduler
    file (``*.json``); the cluster is used as it is and left running. Without it, a
    ``LocalCluster`` sized to the machine: one single-threaded worker process per core
    (``n_workers``), each limited to ``memory_limit`` (default: 45 % of RAM shared out,
    at most 6 GiB per worker), closed when the block ends. The environment variable
    ``OVERDUE_RELIEF_SCHEDULER`` is used when ``scheduler`` is None. Reaching an existing
    cluster waits at most Dask's ``distributed.comm.timeouts.connect`` (30 s unless set,
    e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).
    """
    import logging

    import dask
    from distributed import Client, LocalCluster

    # p2p shuffles log every start and stop at WARNING; they are routine here
    logging.getLogger("distributed.shuffle._scheduler_plugin").setLevel(logging.ERROR)
    scheduler = scheduler or os.environ.get("OVERDUE_RELIEF_SCHEDULER") or None
    if scheduler:
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            if str(scheduler).endswith(".json"):
                c = Client(scheduler_file=str(scheduler), timeout=timeout)
            else:
                c = Client(str(scheduler), timeout=timeout)
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
        try:
            yield c
        finally:
            c.close()
        return
    n = int(n_workers or os.cpu_count() or 1)
    mem = memory_limit if memory_limit is not None else _default_worker_memory(n)
    # Workers inherit this config: no statistical profiler (it samples every 10 ms in
    # every worker) and a slower system monitor, which matter on a machine of few cores.
    quiet = {"distributed.worker.profile.enabled": False,
             "distributed.admin.system-monitor.interval": "2s"}
    with dask.config.set(quiet):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=processes,
            memory_limit=mem,
            dashboard_address=":0",
        )
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


# ----------------------------------------------------------------------------- the book


@dataclass(frozen=True)
class DaskBook:
    """The tables of a data directory as lazy Dask frames (loan tables) and pandas (small).

    ``npartitions`` is the number of loan partitions used by :meth:`loan_partitions`.
    ``prepare`` turns a pandas piece of a table into the dtypes the pandas loader gives
    (set by :func:`load_book_dask`).
    """

    loans: Any
    performance: Any
    relief: Any
    measures: pd.DataFrame
    signals: Any = None
    reasons: Any = None
    cause_map: pd.DataFrame | None = None
    npartitions: int = 1
    source: Path | None = field(default=None, compare=False)
    prepare: Callable[[str, pd.DataFrame], pd.DataFrame] | None = field(
        default=None, compare=False, repr=False
    )
    #: loan-aligned parts (:mod:`analysis.dask.aligned`): partitions are read
    #: straight from the files, without the shuffle; None = shuffle by loan hash
    alignment: Any = field(default=None, compare=False, repr=False)

    def tables(self) -> dict[str, Any]:
        """The loan tables present, by name."""
        out = {t: getattr(self, t) for t in LOAN_TABLES}
        return {k: v for k, v in out.items() if v is not None}

    def loan_partitions(self) -> list[Any]:
        """``npartitions`` delayed :class:`Book` objects, partition *k* holding the loans of
        bucket *k* in every table (the one shuffle of the engine), or, for a loan-aligned
        book, the loans of unit *k* read straight from its files."""
        from dask import delayed

        if self.alignment is not None:
            al = self.alignment
            return [
                delayed(_unit_book)(u, {t: al.schema_files[t] for t in self.tables()},
                                    self.measures, self.cause_map, self.prepare, k,
                                    dask_key_name=f"loan-book-{k}")
                for k, u in enumerate(al.units)
            ]
        n = self.npartitions
        parts = {name: copartition(df, n) for name, df in self.tables().items()}
        return [
            delayed(_partition_book)(
                {name: p[k] for name, p in parts.items()},
                self.measures,
                self.cause_map,
                self.prepare,
                k,
                dask_key_name=f"loan-book-{k}",
            )
            for k in range(n)
        ]


def _partition_book(
    pieces: dict[str, pd.DataFrame],
    measures: pd.DataFrame,
    cause_map: pd.DataFrame | None,
    prepare: Callable[[str, pd.DataFrame], pd.DataFrame] | None,
    k: int,
) -> Book:
    """A pandas :class:`Book` from the co-partitioned pieces of partition ``k``."""
    tables: dict[str, pd.DataFrame] = {}
    for name, df in pieces.items():
        if BUCKET in df.columns:
            df = df.drop(columns=BUCKET)
        df = df.reset_index(drop=True)
        tables[name] = prepare(name, df) if prepare is not None else normalise_dtypes(df)
    return Book(
        loans=tables["loans"],
        performance=tables["performance"],
        relief=tables["relief"],
        measures=measures,
        signals=tables.get("signals"),
        reasons=tables.get("reasons"),
        cause_map=cause_map,
    )


def _unit_book(
    unit: Any,
    schema_files: dict[str, str],
    measures: pd.DataFrame,
    cause_map: pd.DataFrame | None,
    prepare: Callable[[str, pd.DataFrame], pd.DataFrame] | None,
    k: int,
) -> Book:
    """A pandas :class:`Book` of one unit of a loan-aligned book, read from its files."""
    pieces = {t: read_unit(unit, t, f) for t, f in schema_files.items()}
    return _partition_book(pieces, measures, cause_map, prepare, k)


def normalise_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Arrow strings -> object, any datetime unit -> ``datetime64[ns]`` (the pandas
    loader's dtypes, see ``analysis.data.schema.DTYPES``)."""
    out = {}
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.StringDtype) or str(s.dtype).startswith("string"):
            out[c] = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(s.dtype) and s.dtype != "datetime64[ns]":
            out[c] = s.astype("datetime64[ns]")
    return df.assign(**out) if out else df


def _read_table(path: Path) -> Any:
    import dask.dataframe as dd

    if path.is_dir() or path.suffix == ".parquet":
        files = parquet_files(path)
        if not files:
            raise InputError(f"table folder {path}: no Parquet parts (*.parquet) inside")
        # one task per row group, not per file: a 200,000-loan part (4.8M loan-months) read
        # whole, hashed and split for 100 output partitions took workers of 5.3 GiB over
        # their limit in the 10M-loan shuffle (benchmarks/README.md)
        return dd.read_parquet([str(f) for f in files], split_row_groups=True)
    return dd.read_csv(str(path), dtype={"loan_id": str}, blocksize="64MB")


def load_book_dask(
    data_dir: str | os.PathLike,
    scheduler: str | None = None,
    *,
    npartitions: int | None = None,
    loans_per_partition: int = LOANS_PER_PARTITION,
    validate: bool = False,
    align: bool = True,
) -> DaskBook:
    """The book of ``data_dir`` as a :class:`DaskBook` (lazy; nothing is computed).

    ``npartitions`` loan partitions (default: one per ``loans_per_partition`` loans, the
    loan count read from Parquet footers). With ``align`` (and no ``npartitions``), a book
    written in loan-aligned Parquet parts is read part by part without the shuffle when
    the footers prove the alignment or validation in this process confirmed it
    (:mod:`analysis.dask.aligned`); a book in any other layout (one file per table,
    parts by month, CSV) is read from its loan-aligned copy in the cache of
    :mod:`analysis.dask.realign`, written on first use. ``validate=True`` first runs
    :func:`analysis.dask.validate.validate_book_dask` and raises
    ``analysis.data.BookValidationError`` with its report when the book is invalid.
    ``scheduler`` is accepted for symmetry with the CLI; open the cluster with
    :func:`client`.
    """
    del scheduler  # the client is opened by the caller (``with client(...)``)
    base = Path(data_dir)
    if not base.is_dir():
        raise InputError(f"data directory {base} does not exist")
    if validate:
        report = validate_book_dask(base)
        if not report.ok:
            raise BookValidationError(report)
    frames: dict[str, Any] = {}
    paths: dict[str, Path] = {}
    src = aligned_source(base) if align and npartitions is None else None
    for table in LOAN_TABLES:
        path = table_path(base, table)
        if path is None:
            if table in ("loans", "performance", "relief"):
                raise InputError(f"{base}: required table {table!r} has no file "
                                 f"({table}.parquet, {table}.csv or {table}/)")
            continue
        if src is not None and table in src.tables:
            path = src.path(table)
        frames[table] = _read_table(path)
        paths[table] = path
    small = _small_tables(base)
    alignment = None
    if align and npartitions is None:
        alignment = find_alignment(paths, loans_per_partition)
        if not usable(alignment, paths):
            alignment = None
        else:
            npartitions = len(alignment.units)
    if npartitions is None:
        rows, _ = table_size(paths["loans"].parent if src is not None else base, "loans")
        n_loans = rows if rows is not None else len(frames["loans"])
        npartitions = n_partitions_for(n_loans, loans_per_partition)
    return DaskBook(
        loans=frames["loans"],
        performance=frames["performance"],
        relief=frames["relief"],
        signals=frames.get("signals"),
        reasons=frames.get("reasons"),
        measures=small["measures"],
        cause_map=small["cause_map"],
        npartitions=int(npartitions),
        source=base,
        prepare=_prepare_piece,
        alignment=alignment,
    )


def _small_tables(base: Path) -> dict[str, pd.DataFrame | None]:
    """``measures`` (standard codes plus declared ones) and ``cause_map``, read and typed
    by the functions of :mod:`analysis.data` (validation is separate)."""
    rep = Report(base)
    lds, dfs = {}, {}
    for name in SMALL_TABLES:
        path = locate(base, name, rep, False)
        ld = read_table(path, name, rep) if path is not None else None
        if ld is not None:
            lds[name] = ld
            dfs[name] = coerce(ld, rep)[0].reset_index(drop=True)
    measures = book_measures(lds.get("measures"), dfs.get("measures"), rep)
    return {"measures": measures, "cause_map": dfs.get("cause_map")}


def _prepare_piece(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """A piece of ``table`` typed as :func:`analysis.data.load_book` types it (IDs as text,
    dates ``datetime64[ns]``, defaults such as ``write_off = 0`` filled)."""
    if SOURCE_ROW in df.columns:  # the label of the aligned cache, not a column of the book
        df = df.drop(columns=SOURCE_ROW)
    ld = Loaded(table, table, "parquet", normalise_dtypes(df))
    return coerce(ld, Report(Path(table)))[0].reset_index(drop=True)


# ----------------------------------------------------------------------------- one pass


def map_loan_partitions(
    dbook: DaskBook, func: Callable[[Book], Any], *, name: str = "loan-pass"
) -> list[Any]:
    """``func(book_k)`` for every loan partition, computed on the current scheduler; the
    results come back as a list in partition order (the engine's one pass).

    With a distributed client (:func:`client`) the partitions are submitted at once and
    counted as they finish on a progress bar labelled ``name``
    (:func:`analysis.progress.progress`: on a terminal, or forced by
    ``OVERDUE_RELIEF_PROGRESS=1``); without one, ``dask.compute`` on the local scheduler.
    Either way an exception raised in a partition is raised here, unchanged."""
    from dask import delayed

    books = dbook.loan_partitions()
    tasks = [delayed(func)(b, dask_key_name=f"{name}-{k}") for k, b in enumerate(books)]
    return compute_with_progress(tasks, desc=f"{name} partitions")


def compute_with_progress(tasks: Sequence[Any], desc: str) -> list[Any]:
    """The values of the Dask collections ``tasks``, in order, as ``dask.compute`` gives
    them; on a distributed client the tasks finished are counted on a progress bar
    (``desc``, one step per task) and the first failed task's exception is raised as
    soon as it is seen (the other tasks are cancelled)."""
    import dask

    try:
        from distributed import as_completed, default_client

        c = default_client()
    except (ImportError, ValueError):  # no distributed, or no client: the local scheduler
        return list(dask.compute(*tasks))
    futures = c.compute(list(tasks))
    try:
        for fut in progress(as_completed(futures), desc=desc, total=len(futures)):
            if fut.status == "error":
                fut.result()  # raises the task's exception
        return list(c.gather(futures))
    finally:
        c.cancel(futures)


def concat_episodes(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Episode pieces -> one table sorted by ``loan_id, episode_no`` (index 0..n-1)."""
    parts = list(parts)
    full = [p for p in parts if len(p)]
    if not full:
        return parts[0].iloc[:0].reset_index(drop=True)
    ep = pd.concat(full, ignore_index=True)
    return ep.sort_values(["loan_id", "episode_no"], kind="stable").reset_index(drop=True)


def _episodes_of(book: Book, d: Definitions, data_end: pd.Timestamp | None = None
                 ) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """A partition's episodes and its last month (None when it has no loan-month)."""
    last = book.performance["month"].max() if len(book.performance) else None
    return episodes_from_definitions(book, d, data_end=data_end), last


def episodes_dask(dbook: DaskBook, definitions: Definitions | None = None) -> pd.DataFrame:
    """The episode table of :func:`analysis.episodes.build_episodes`, built partition by
    partition on the cluster; one pandas DataFrame sorted by ``loan_id, episode_no``.
    Equal to ``build_episodes(load_book(dir), ...)`` sorted the same way.

    Censoring needs the whole book's last month: a partition whose loans all stop earlier
    is built again with it (rare, so the common case stays one pass)."""
    from dask import delayed

    d = definitions or Definitions()
    parts = map_loan_partitions(dbook, lambda b: _episodes_of(b, d), name="episodes")
    lasts = [m for _, m in parts if m is not None]
    episodes = [e for e, _ in parts]
    if lasts:
        end = max(lasts)
        stale = [k for k, (_, m) in enumerate(parts) if m is not None and m < end]
        if stale:
            books = dbook.loan_partitions()
            redo = compute_with_progress(
                [delayed(_episodes_of)(books[k], d, end) for k in stale], "episodes redo")
            for k, (e, _) in zip(stale, redo, strict=True):
                episodes[k] = e
    return concat_episodes(episodes)


__all__ = [
    "DaskBook", "client", "compute_with_progress", "concat_episodes", "episodes_dask",
    "load_book_dask", "map_loan_partitions", "normalise_dtypes",
]
