"""What several commands share: the engine and the Dask cluster arguments, checking
``--out`` and ``--as-of``, and writing an analyst's table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from analysis.engine import AUTO_DASK_ROWS, engine_choices
from analysis.errors import ParameterError
from analysis.report.privacy import write_csv

TABLE_FORMATS: tuple[str, ...] = (".csv", ".parquet")


def checked_table_args(out: str, as_of: str) -> Path:
    """``--out`` as a path (a ``.csv`` or ``.parquet`` name) after checking it and
    ``--as-of`` (``YYYY-MM``); ParameterError (exit 2) otherwise."""
    path = Path(out)
    if path.suffix.lower() not in TABLE_FORMATS:
        raise ParameterError(f"--out {out!r}: use a .csv or .parquet file name")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", as_of):
        raise ParameterError(f"--as-of {as_of!r}: use a month YYYY-MM")
    return path


def write_table_file(table: pd.DataFrame, out: Path) -> None:
    """Write ``table`` to ``out`` by its suffix: Parquet, or a spreadsheet-safe CSV
    (:func:`analysis.report.privacy.write_csv`: tape text never runs as a formula)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        table.to_parquet(out, index=False)
    else:
        write_csv(table, out)


def add_engine_arguments(parser: argparse.ArgumentParser, auto: str | None = None,
                         default: str = "pandas") -> None:
    """Add ``--engine pandas|dask|auto`` (``default``) and ``--scheduler ADDRESS`` to a
    command; ``auto`` describes when ``auto`` picks Dask (default: the performance-row
    rule of :func:`analysis.engine.choose_engine`)."""
    auto = auto or (f"the performance table has more than {AUTO_DASK_ROWS:,} rows and Dask "
                    "is installed")
    parser.add_argument(
        "--engine", choices=engine_choices(), default=default,
        help=f"pandas, dask (a Dask cluster) or auto (dask when {auto}); default {default}",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="address (tcp://host:8786) or scheduler file (.json) of an existing Dask "
        "cluster; default: a local cluster sized to this machine",
    )


__all__ = ["TABLE_FORMATS", "add_engine_arguments", "checked_table_args", "write_table_file"]
