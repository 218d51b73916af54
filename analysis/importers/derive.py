"""Registry of named derivations: what an import spec cannot say declaratively.

Some tables cannot be mapped column by column, for example a monthly performance
history reconstructed from a one-row-per-loan snapshot. Such logic is a documented,
tested function registered here under a name, and the spec refers to it::

    performance:
      source: lendingclub
      derive: lendingclub_performance
      params: {snapshot_month: "2019-03"}

A derivation receives the source records that passed the mapped tables (raw values,
index = record number in the source), the ``params`` of the spec, and returns a
:class:`Derived`: the table (with a ``__row`` column naming the source record of each
output row) and the problems (``__row``, ``reason``, ``columns``) whose records the
importer quarantines. It never reads files, drops identifiers or pseudonymises: the
importer does that for every table alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

# Modules whose import registers built-in derivations.
_BUILTIN_MODULES: tuple[str, ...] = ("analysis.importers.lendingclub",)


@dataclass(frozen=True)
class Derived:
    """Output of a derivation.

    table: the contract table, plus ``__row`` (source record number of each row).
    problems: one row per problem, columns ``__row``, ``reason`` (countable text without
        values) and ``columns`` (tuple of the source columns whose raw values explain it).
    """

    table: pd.DataFrame
    problems: pd.DataFrame


Derivation = Callable[[pd.DataFrame, dict], Derived]
_REGISTRY: dict[str, Derivation] = {}
_COLUMNS: dict[str, Callable[[dict], set[str]] | None] = {}


def register(name: str, columns: Callable[[dict], set[str]] | None = None
             ) -> Callable[[Derivation], Derivation]:
    """Decorator: make ``fn(frame, params) -> Derived`` available to specs as ``name``.

    ``columns(params)`` names the source columns the derivation reads (so the importer
    reads only those); None = it may read any column.
    """

    def deco(fn: Derivation) -> Derivation:
        _REGISTRY[name] = fn
        _COLUMNS[name] = columns
        return fn

    return deco


def columns_of(name: str, params: dict) -> set[str] | None:
    """The source columns derivation ``name`` reads with ``params`` (None = any)."""
    derivations()
    fn = _COLUMNS.get(name)
    return None if fn is None else set(fn(params))


def derivations() -> dict[str, Derivation]:
    """All registered derivations by name (built-ins are registered on first call)."""
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    return dict(_REGISTRY)


def problems_frame(rows: pd.Index | list, reason: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A problems table for ``rows`` (source record numbers) sharing one reason."""
    rows = list(rows)
    return pd.DataFrame({"__row": pd.Series(rows, dtype="int64"),
                         "reason": [reason] * len(rows),
                         "columns": [columns] * len(rows)})
