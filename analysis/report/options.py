"""What a report run is asked to do, checked before anything runs.

Two sets of options, both checked here so that a bad value fails before any notebook
runs, with :class:`analysis.errors.ParameterError` (exit status 2) naming it:

* the run (``python -m analysis report`` / ``refresh``): :class:`ReportOptions`, checked
  by :func:`check_options` (the month ``YYYY-MM``, the language);
* the parameters every report notebook declares in its ``parameters`` cell
  (``data_dir``, ``as_of``, ``horizon_months``, ``probation_months``, ``segment``,
  ``min_cell``, ``tables_dir``, ``language``, and optional
  :class:`~analysis.definitions.Definitions` fields): :func:`validate_parameters` checks
  their types, ranges and formats and returns the definitions they imply. A notebook
  calls it through :func:`analysis.report.context.open_context`; the runner calls it
  through :func:`notebook_definitions` for each notebook before a Dask pass.

Months are parsed strictly (``YYYY-MM`` only, :func:`parse_report_month`), then turned
into month-ends by :func:`analysis.months.parse_month`. The engine (``pandas``,
``dask``, ``auto``) reaches the notebooks through ``$OVERDUE_RELIEF_ENGINE``
(:func:`resolve_engine`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.definitions import Definitions
from analysis.engine import choose_engine
from analysis.errors import ParameterError
from analysis.months import parse_month
from analysis.report.params import default_notebooks_dir

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh-CN", "zh-TW")
DEFAULT_KERNEL = "overdue-relief"
#: The environment variable through which the runner tells the notebooks its engine.
ENGINE_ENV = "OVERDUE_RELIEF_ENGINE"
#: The environment variable through which the runner tells a kernel its notebook's name.
NOTEBOOK_ENV = "OVERDUE_RELIEF_NOTEBOOK"
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ReportOptions:
    """What one report run does (see :func:`analysis.report.runner.run_report`).

    Timeouts are in seconds: ``cell_timeout_s`` per notebook cell, ``run_timeout_s`` for
    all notebooks together, ``lock_timeout_s`` to wait for another run's lock.
    """

    data_dir: Path
    as_of: str
    out_dir: Path
    params: Sequence[str] = ()
    only: Sequence[str] = ()
    language: str = "en"
    notebooks_dir: Path = field(default_factory=default_notebooks_dir)
    kernel_name: str = DEFAULT_KERNEL
    cell_timeout_s: float = 600.0
    run_timeout_s: float = 3600.0
    lock_timeout_s: float = 600.0
    analyst: bool = False
    quiet: bool = False
    languages: Sequence[str] = ()  # languages published side by side (pages link their twins)
    engine: str = "auto"  # pandas | dask | auto (analysis.engine.choose_engine)
    scheduler: str | None = None  # existing Dask cluster (address or scheduler file)
    jobs: int = 0  # notebooks run at once; 0: automatic (analysis.report.runner.notebook_jobs)


def parse_report_month(value: str, name: str = "as_of") -> pd.Timestamp:
    """``"YYYY-MM"`` -> month-end Timestamp; anything else raises ParameterError naming
    ``name`` (a report month is never a full date or a free-form string)."""
    if not isinstance(value, str) or not MONTH_RE.match(value):
        raise ParameterError(f"parameter {name}={value!r} must be a month 'YYYY-MM'")
    return parse_month(value, name)


def check_options(opts: ReportOptions) -> pd.Timestamp:
    """Check the run's month and language; returns the month-end of ``opts.as_of``."""
    month = parse_report_month(opts.as_of, "--as-of")
    if opts.language not in SUPPORTED_LANGUAGES:
        raise ParameterError(
            f"--language {opts.language!r} is not one of {list(SUPPORTED_LANGUAGES)}"
        )
    return month


def parse_segment(segment: str) -> list[tuple[str, str]]:
    """``"a=x,b=y"`` -> ``[("a", "x"), ("b", "y")]``; ``""`` -> ``[]``."""
    if segment.strip() == "":
        return []
    out = []
    for part in segment.split(","):
        col, sep, val = part.partition("=")
        if not sep or not col.strip() or not val.strip():
            raise ParameterError(
                f"parameter segment={segment!r}: each condition must be 'column=value', "
                f"e.g. 'borrower_type=micro_enterprise'"
            )
        out.append((col.strip(), val.strip()))
    return out


def check_type(name: str, value: Any, typ: type) -> None:
    """ParameterError unless ``value`` is a ``typ`` (a bool is not an int here)."""
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if not ok:
        raise ParameterError(
            f"parameter {name}={value!r} must be {typ.__name__}, got {type(value).__name__}"
        )


def validate_parameters(
    *,
    data_dir: str,
    as_of: str,
    horizon_months: int,
    probation_months: int,
    segment: str,
    min_cell: int,
    tables_dir: str,
    language: str,
    definitions: dict[str, Any] | None = None,
) -> Definitions:
    """Check the notebook parameters; return the :class:`Definitions` they imply.

    ``as_of`` may be ``""`` (the latest month of the data); ``definitions`` are further
    :class:`Definitions` fields (``overdue_dpd``, ``default_dpd``, ...).
    """
    for name, value, typ in (
        ("data_dir", data_dir, str),
        ("as_of", as_of, str),
        ("horizon_months", horizon_months, int),
        ("probation_months", probation_months, int),
        ("segment", segment, str),
        ("min_cell", min_cell, int),
        ("tables_dir", tables_dir, str),
        ("language", language, str),
    ):
        check_type(name, value, typ)
    if as_of != "":
        parse_report_month(as_of)
    parse_segment(segment)
    if min_cell < 1:
        raise ParameterError(f"parameter min_cell={min_cell!r} must be >= 1")
    if language not in SUPPORTED_LANGUAGES:
        raise ParameterError(
            f"parameter language={language!r} is not one of {list(SUPPORTED_LANGUAGES)}"
        )
    if not Path(data_dir).is_dir():
        raise ParameterError(f"parameter data_dir={data_dir!r}: no such directory")
    extra = dict(definitions or {})
    known = {f.name: f.type for f in fields(Definitions)}
    unknown = sorted(set(extra) - set(known))
    if unknown:
        raise ParameterError(
            f"unknown definition parameter(s) {unknown}; known: {sorted(known)}"
        )
    for k, v in extra.items():
        if k == "discount_rate" and isinstance(v, int) and not isinstance(v, bool):
            v = extra[k] = float(v)
        check_type(k, v, float if k == "discount_rate" else int)
    return Definitions(
        **{**extra, "horizon_months": horizon_months, "probation_months": probation_months}
    )


def notebook_definitions(values: Mapping[str, Any], data_dir: str, opts: ReportOptions
                         ) -> Definitions:
    """The :class:`Definitions` a notebook with parameter ``values`` will open its context
    with (the checks of :func:`validate_parameters`; the notebook's own defaults where
    ``values`` lacks one)."""
    return validate_parameters(
        data_dir=data_dir, as_of=opts.as_of,
        horizon_months=int(values.get("horizon_months", 6)),
        probation_months=int(values.get("probation_months", 3)),
        segment=str(values.get("segment", "")), min_cell=int(values.get("min_cell", 10)),
        tables_dir="tables", language=opts.language,
    )


def resolve_engine(data_dir: str | os.PathLike, engine: str = "") -> str:
    """``pandas`` or ``dask``: ``engine``, else ``$OVERDUE_RELIEF_ENGINE``, else pandas
    (``auto`` decided by :func:`analysis.engine.choose_engine`)."""
    return choose_engine(data_dir, engine or os.environ.get(ENGINE_ENV) or "pandas")


__all__ = [
    "DEFAULT_KERNEL", "ENGINE_ENV", "MONTH_RE", "ReportOptions", "SUPPORTED_LANGUAGES",
    "check_options", "check_type", "notebook_definitions", "parse_report_month",
    "parse_segment", "resolve_engine", "validate_parameters",
]
