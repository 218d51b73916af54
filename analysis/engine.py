"""Engines: which code runs a book, pandas in memory or Dask on a cluster.

This is the only module that knows every engine. Each registers itself under its name,
as papermill registers its notebook engines (``register("pandas", PandasEngine())``,
``register("dask", DaskEngine())``), and callers ask the registry
(:func:`load_book_any`, :func:`validate_with_engine`, :func:`synth_with_engine`) rather
than branching on names. ``"auto"`` is no engine but a rule that picks one
(:func:`choose_engine`): Dask when the performance table has more than
:data:`AUTO_DASK_ROWS` rows (read from the Parquet footers, no data scan) or, for CSV,
more than :data:`AUTO_DASK_BYTES` bytes on disk; pandas otherwise.

The Dask engine imports :mod:`analysis.dask` only when it runs: dask and distributed are
heavy, and the pandas engine never needs them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Protocol

from analysis.data import ValidationReport, load_book, table_size, validate_book
from analysis.errors import ParameterError
from analysis.synthetic import generate_book

#: ``engine="auto"`` switches to Dask above this many performance rows (loan-months):
#: 20M rows is about 830,000 loans of 24 months. Measured at 1M loans (24M rows): the
#: pandas report peaks at 11.3 GiB and takes 597 s, the Dask report 4.05 GiB and 326 s
#: (models on its 200,000-loan sample); at 100,000 loans pandas is faster (112 s vs 169 s).
AUTO_DASK_ROWS = 20_000_000
#: ... or, for CSV performance files, above this many bytes on disk.
AUTO_DASK_BYTES = 2 * 1024**3
#: ``synth --engine auto`` runs the chunks on Dask above this many loans.
AUTO_DASK_SYNTH_LOANS = 1_000_000
#: The rule that picks an engine by the size of the book (not an engine itself).
AUTO = "auto"


class Engine(Protocol):
    """What an engine does with a data directory; ``scheduler`` is the address or
    scheduler file of a cluster (engines without one ignore it)."""

    def load(self, data_dir: str | os.PathLike, scheduler: str | None) -> Any:
        """The validated book (raises ``BookValidationError`` when invalid)."""

    def validate(self, data_dir: str | os.PathLike, scheduler: str | None) -> ValidationReport:
        """The validation report; never raises for bad data."""

    def synth(self, n_loans: int, seed: int, out_dir: str | os.PathLike, chunk_loans: int,
              scheduler: str | None) -> Path:
        """Write the synthetic book into ``out_dir`` and return it."""


class PandasEngine:
    """In memory: :func:`analysis.data.load_book`, :func:`analysis.data.validate_book`,
    :func:`analysis.synthetic.generate.generate_book` (chunks one after the other)."""

    def load(self, data_dir: str | os.PathLike, scheduler: str | None) -> Any:
        return load_book(data_dir)

    def validate(self, data_dir: str | os.PathLike, scheduler: str | None) -> ValidationReport:
        return validate_book(data_dir)

    def synth(self, n_loans: int, seed: int, out_dir: str | os.PathLike, chunk_loans: int,
              scheduler: str | None) -> Path:
        return Path(generate_book(n_loans, seed, out_dir, chunk_loans=chunk_loans))


class DaskEngine:
    """On a Dask cluster (:func:`analysis.dask.frames.client`): a lazy
    ``analysis.dask.frames.DaskBook`` validated on the cluster, the validation of
    :mod:`analysis.dask.validate`, the synthetic chunks in parallel
    (:func:`analysis.dask.synth.synth_dask`, each written straight to Parquet parts)."""

    def load(self, data_dir: str | os.PathLike, scheduler: str | None) -> Any:
        # analysis.dask imported here: dask and distributed are heavy optional dependencies
        from analysis.dask.frames import client, load_book_dask

        with client(scheduler):
            return load_book_dask(data_dir, validate=True)

    def validate(self, data_dir: str | os.PathLike, scheduler: str | None) -> ValidationReport:
        # analysis.dask imported here: dask and distributed are heavy optional dependencies
        from analysis.dask.frames import client
        from analysis.dask.validate import validate_book_dask

        with client(scheduler):
            return validate_book_dask(data_dir)

    def synth(self, n_loans: int, seed: int, out_dir: str | os.PathLike, chunk_loans: int,
              scheduler: str | None) -> Path:
        # analysis.dask imported here: dask and distributed are heavy optional dependencies
        from analysis.dask.frames import client
        from analysis.dask.synth import synth_dask

        with client(scheduler):
            return synth_dask(n_loans, seed, out_dir, chunk_loans=chunk_loans)


#: The registered engines by name, in the order they were registered.
ENGINES: dict[str, Engine] = {}


def register(name: str, engine: Engine) -> None:
    """Make ``engine`` available as ``--engine name`` (replaces one of the same name)."""
    if name == AUTO:
        raise ParameterError(f"{AUTO!r} is the rule that picks an engine, not an engine name")
    ENGINES[name] = engine


def engine_choices() -> tuple[str, ...]:
    """The values ``--engine`` accepts: every registered engine, then ``"auto"``."""
    return (*ENGINES, AUTO)


def _check_choice(engine: str) -> None:
    if engine not in engine_choices():
        raise ParameterError(f"engine={engine!r}; use one of {list(engine_choices())}")


register("pandas", PandasEngine())
register("dask", DaskEngine())


def choose_engine(data_dir: str | os.PathLike, engine: str = AUTO) -> str:
    """The name of the engine to run: ``engine`` itself, or for ``"auto"`` Dask when the
    performance table has more than :data:`AUTO_DASK_ROWS` rows (Parquet) or more than
    :data:`AUTO_DASK_BYTES` bytes (CSV) and Dask is installed, pandas otherwise."""
    _check_choice(engine)
    if engine != AUTO:
        return engine
    rows, nbytes = table_size(data_dir)
    big = rows > AUTO_DASK_ROWS if rows is not None else nbytes > AUTO_DASK_BYTES
    return "dask" if big and dask_installed() else "pandas"


def dask_installed() -> bool:
    """Whether the optional Dask engine (``pip install overdue-relief[dask]``) can run:
    ``auto`` falls back to pandas without it."""
    return all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed"))


def validate_with_engine(
    data_dir: str | os.PathLike, engine: str = "pandas", scheduler: str | None = None
) -> ValidationReport:
    """The validation report of ``data_dir`` by the engine :func:`choose_engine` picks
    (the same report either way); a missing directory is reported by pandas."""
    name = choose_engine(data_dir, engine) if Path(data_dir).is_dir() else "pandas"
    return ENGINES[name].validate(data_dir, scheduler)


def load_book_any(
    data_dir: str | os.PathLike, engine: str = "pandas", scheduler: str | None = None
) -> Any:
    """The validated book: a pandas :class:`~analysis.data.book.Book` (``engine="pandas"``,
    or ``"auto"`` below :data:`AUTO_DASK_ROWS`) or a lazy ``DaskBook``, validated on the
    cluster, for ``"dask"``. Raises :class:`~analysis.data.BookValidationError` with the
    report when invalid. Use the DaskBook's functions inside
    ``with analysis.dask.frames.client(scheduler):``."""
    return ENGINES[choose_engine(data_dir, engine)].load(data_dir, scheduler)


def synth_with_engine(
    n_loans: int, seed: int, out_dir: str | os.PathLike, chunk_loans: int = 200_000,
    engine: str = "pandas", scheduler: str | None = None,
) -> Path:
    """The synthetic book written by ``engine``; ``"auto"`` is Dask above
    :data:`AUTO_DASK_SYNTH_LOANS` loans. Both write the same loans, rows and truth for a
    ``seed`` and ``chunk_loans``."""
    _check_choice(engine)
    name = engine if engine != AUTO else ("dask" if n_loans > AUTO_DASK_SYNTH_LOANS else "pandas")
    return ENGINES[name].synth(n_loans, seed, out_dir, chunk_loans, scheduler)


__all__ = [
    "AUTO", "AUTO_DASK_BYTES", "AUTO_DASK_ROWS", "AUTO_DASK_SYNTH_LOANS", "ENGINES",
    "DaskEngine", "Engine", "PandasEngine", "choose_engine", "engine_choices",
    "load_book_any", "register", "synth_with_engine", "validate_with_engine",
]
