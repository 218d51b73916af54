"""Economic scenarios: what the signals do over the forecast horizon (small YAML files).

A scenario has three parts, all optional:

``baseline``
    How the signals continue without a shock. ``method: level`` (default): each loan's
    signals in a future month are one of its own observed months in the last
    ``window_months`` (default 3) before ``as_of``, drawn at random per month and
    simulation (the recent level, with its spread, flags included). ``method: trend``
    adds, for continuous signals, the segment's linear trend over the window
    (``trend_segment``: ``region``, ``industry`` or ``borrower_type``; default region)
    carried forward month by month. ``method: realised`` uses the signals the book
    actually holds after ``as_of`` (backtests), the level where a loan has none.
``shocks``
    A list of shifts: ``signal`` (a signal column of the book), ``shift`` in the signal's
    own units or ``shift_sd`` in its standard deviations (over the at-risk months), for
    ``regions``, ``industries``, ``borrower_types`` (lists; omitted = all) over ``months``
    (list of months ahead, 1 = the month after ``as_of``, or ``YYYY-MM`` strings;
    omitted = every month of the horizon). Shifts of several shocks add up.
``values``
    An explicit table: rows of ``month``, ``signal``, ``value`` and optionally
    ``region``, ``industry``, ``borrower_type``; the signal of every matching loan-month
    is set to ``value`` (applied after the shocks).

:func:`load_scenario` reads a file (or a shipped name: ``baseline``,
``regional_demand_shock``, ``input_cost_shock`` from ``data/scenarios``);
:meth:`Scenario.validate` checks it against a book (unknown signal, region, industry,
borrower type: :class:`~analysis.errors.InputError`; a month outside the horizon or an
ill-formed entry: :class:`~analysis.errors.ParameterError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.data.book import Book
from analysis.errors import InputError, ParameterError
from analysis.months import month_number, parse_month

SEGMENT_KEYS: dict[str, str] = {"regions": "region", "industries": "industry",
                                "borrower_types": "borrower_type"}
BASELINE_METHODS: tuple[str, ...] = ("level", "trend", "realised")
_TOP_KEYS = {"name", "description", "baseline", "shocks", "values"}
_SHOCK_KEYS = {"signal", "shift", "shift_sd", "months", *SEGMENT_KEYS}
_VALUE_KEYS = {"month", "signal", "value", "region", "industry", "borrower_type"}


def scenario_dir() -> Path:
    """The shipped scenarios: ``data/scenarios`` of the source checkout, else the copy an
    installed wheel carries in ``analysis/scenarios/shipped`` (setup.py puts it there)."""
    checkout = Path(__file__).resolve().parents[2] / "data" / "scenarios"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("analysis.scenarios") / "shipped"))


@dataclass(frozen=True)
class Shock:
    """One shift of ``signal`` by ``shift`` (own units) or ``shift_sd`` (SDs) in a segment."""

    signal: str
    shift: float = 0.0
    shift_sd: float = 0.0
    months: tuple = ()  # months ahead (int) or YYYY-MM strings; () = all
    segments: tuple = ()  # (column, (values...)) pairs; () = every loan


@dataclass(frozen=True)
class Scenario:
    """A validated-shape scenario (see the module docstring). ``values`` is a DataFrame
    with columns ``month``, ``signal``, ``value`` and optional segment columns."""

    name: str
    description: str = ""
    method: str = "level"
    window_months: int = 3
    trend_segment: str = "region"
    shocks: tuple[Shock, ...] = ()
    values: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["month", "signal", "value"]))

    def with_method(self, method: str) -> Scenario:
        """The same scenario with another baseline method (``realised`` for backtests)."""
        if method not in BASELINE_METHODS:
            raise ParameterError(f"baseline method {method!r}: use one of {list(BASELINE_METHODS)}")
        return Scenario(self.name, self.description, method, self.window_months,
                        self.trend_segment, self.shocks, self.values)

    def signals(self) -> set[str]:
        """Signal columns the scenario names."""
        return {s.signal for s in self.shocks} | set(self.values["signal"].astype(str))

    def validate(self, book: Book, as_of: pd.Timestamp, horizon_months: int) -> None:
        """Check names and months against ``book`` and the horizon (errors name the entry)."""
        known = set(book.signal_columns)
        unknown = sorted(self.signals() - known)
        if unknown:
            raise InputError(f"scenario {self.name!r}: unknown signal(s) {unknown}; the book "
                             f"has {sorted(known)}")
        for s in self.shocks:
            for col, vals in s.segments:
                _check_levels(self.name, book, col, vals)
            for m in s.months:
                month_ahead(m, as_of, horizon_months, self.name)
        for col in ("region", "industry", "borrower_type"):
            if col in self.values:
                _check_levels(self.name, book, col, self.values[col].dropna().unique())
        for m in self.values["month"]:
            month_ahead(m, as_of, horizon_months, self.name)
        if self.method == "trend" and self.trend_segment not in book.loans:
            raise InputError(f"scenario {self.name!r}: trend_segment {self.trend_segment!r} is "
                             "not a loan column")


def _check_levels(name: str, book: Book, col: str, values) -> None:
    if col not in book.loans:
        raise InputError(f"scenario {name!r}: the book's loans have no column {col!r}")
    have = set(book.loans[col].astype(str).unique())
    bad = sorted(set(map(str, values)) - have)
    if bad:
        raise InputError(f"scenario {name!r}: unknown {col} value(s) {bad}; the book has "
                         f"{sorted(have)}")


def month_ahead(value: Any, as_of: pd.Timestamp, horizon_months: int, name: str = "") -> int:
    """A scenario month as months ahead of ``as_of`` (1..horizon_months): an integer is
    taken as is, ``YYYY-MM`` is converted; outside the horizon: ParameterError."""
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        k = int(value)
    elif isinstance(value, str):
        k = month_number(parse_month(value, f"scenario {name!r} month")) - month_number(as_of)
    else:
        raise ParameterError(f"scenario {name!r}: month {value!r} is neither a month ahead "
                             "(1, 2, ...) nor YYYY-MM")
    if not 1 <= k <= horizon_months:
        raise ParameterError(f"scenario {name!r}: month {value!r} is outside the forecast "
                             f"horizon (months 1..{horizon_months} after {as_of:%Y-%m})")
    return k


def _shock(entry: Any, name: str) -> Shock:
    if not isinstance(entry, dict) or "signal" not in entry:
        raise ParameterError(f"scenario {name!r}: each shock needs a 'signal' (got {entry!r})")
    extra = sorted(set(entry) - _SHOCK_KEYS)
    if extra:
        raise ParameterError(f"scenario {name!r}: unknown shock key(s) {extra}; allowed "
                             f"{sorted(_SHOCK_KEYS)}")
    if ("shift" in entry) == ("shift_sd" in entry):
        raise ParameterError(f"scenario {name!r}: shock on {entry['signal']!r} needs exactly "
                             "one of 'shift' (own units) or 'shift_sd' (standard deviations)")
    try:
        shift, shift_sd = float(entry.get("shift", 0.0)), float(entry.get("shift_sd", 0.0))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"scenario {name!r}: shift of {entry['signal']!r} is not a "
                             "number") from exc
    months = entry.get("months") or ()
    months = tuple(months) if isinstance(months, list | tuple) else (months,)
    segs = []
    for key, col in SEGMENT_KEYS.items():
        vals = entry.get(key)
        if vals:
            segs.append((col, tuple(str(v) for v in (vals if isinstance(vals, list) else [vals]))))
    return Shock(str(entry["signal"]), shift, shift_sd, months, tuple(segs))


def scenario_from_dict(spec: dict, default_name: str = "scenario") -> Scenario:
    """A :class:`Scenario` from its YAML mapping (shape checks; names are checked later
    against the book by :meth:`Scenario.validate`)."""
    if not isinstance(spec, dict):
        raise ParameterError(f"scenario {default_name!r}: the file must hold a mapping")
    name = str(spec.get("name", default_name))
    extra = sorted(set(spec) - _TOP_KEYS)
    if extra:
        raise ParameterError(f"scenario {name!r}: unknown key(s) {extra}; allowed {sorted(_TOP_KEYS)}")
    base = spec.get("baseline") or {}
    if not isinstance(base, dict):
        raise ParameterError(f"scenario {name!r}: 'baseline' must be a mapping")
    method = str(base.get("method", "level"))
    if method not in BASELINE_METHODS:
        raise ParameterError(f"scenario {name!r}: baseline method {method!r}; use one of "
                             f"{list(BASELINE_METHODS)}")
    window = base.get("window_months", 3)
    if not isinstance(window, int) or window < 1:
        raise ParameterError(f"scenario {name!r}: window_months must be a positive integer")
    shocks = tuple(_shock(e, name) for e in (spec.get("shocks") or []))
    rows = spec.get("values") or []
    for r in rows:
        if not isinstance(r, dict) or not {"month", "signal", "value"} <= set(r) or set(r) - _VALUE_KEYS:
            raise ParameterError(f"scenario {name!r}: each 'values' row needs month, signal, "
                                 f"value (optionally region, industry, borrower_type); got {r!r}")
    values = pd.DataFrame(rows, columns=sorted({"month", "signal", "value"}
                                               | {k for r in rows for k in r}))
    values["value"] = pd.to_numeric(values["value"], errors="raise") if len(values) else values["value"]
    return Scenario(name, str(spec.get("description", "")), method, window,
                    str(base.get("trend_segment", "region")), shocks, values)


def load_scenario(scenario: str | Path | Scenario | dict) -> Scenario:
    """A scenario from a :class:`Scenario`, a mapping, a YAML file path or a shipped name."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return scenario_from_dict(scenario)
    path = Path(scenario)
    if not path.suffix and not path.exists():
        path = scenario_dir() / f"{scenario}.yml"
    if not path.is_file():
        shipped = sorted(p.stem for p in scenario_dir().glob("*.yml"))
        raise InputError(f"scenario {str(scenario)!r}: no such file; shipped scenarios: {shipped}")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"scenario file {path}: not valid YAML ({exc})") from exc
    return scenario_from_dict(spec, default_name=path.stem)


__all__ = ["BASELINE_METHODS", "SEGMENT_KEYS", "Scenario", "Shock", "load_scenario",
           "month_ahead", "scenario_dir", "scenario_from_dict"]
