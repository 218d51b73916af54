"""Arguments several commands share: the engine and the Dask cluster."""

from __future__ import annotations

import argparse

from analysis.engine import AUTO_DASK_ROWS, engine_choices


def add_engine_arguments(parser: argparse.ArgumentParser, auto: str | None = None) -> None:
    """Add ``--engine pandas|dask|auto`` and ``--scheduler ADDRESS`` to a command;
    ``auto`` describes when ``auto`` picks Dask (default: the performance-row rule of
    :func:`analysis.engine.choose_engine`)."""
    auto = auto or f"the performance table has more than {AUTO_DASK_ROWS:,} rows"
    parser.add_argument(
        "--engine", choices=engine_choices(), default="pandas",
        help=f"pandas (default), dask (a Dask cluster) or auto (dask when {auto})",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="address (tcp://host:8786) or scheduler file (.json) of an existing Dask "
        "cluster; default: a local cluster sized to this machine",
    )


__all__ = ["add_engine_arguments"]
