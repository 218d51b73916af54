"""The loan book as the analyses see it: validated contract tables in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Book:
    """Validated tables of one data directory (see ``data/README.md``).

    ``signals``, ``reasons`` and ``cause_map`` are None when the directory has
    none. ``measures`` always lists every measure code the book may use (the four
    standard ones plus any declared in a ``measures`` table).
    Dates are ``datetime64[ns]``; ``performance.month`` and ``signals.month`` are
    month-ends. Amounts are in the book's currency (CNY for our lenders).
    """

    loans: pd.DataFrame
    performance: pd.DataFrame
    relief: pd.DataFrame
    measures: pd.DataFrame
    signals: pd.DataFrame | None = None
    reasons: pd.DataFrame | None = None
    cause_map: pd.DataFrame | None = None
    source: Path | None = field(default=None, compare=False)

    @property
    def signal_columns(self) -> list[str]:
        """Names of the numeric signal columns (all but the keys)."""
        if self.signals is None:
            return []
        return [c for c in self.signals.columns if c not in ("loan_id", "month")]

    @property
    def measure_codes(self) -> list[str]:
        return list(self.measures["code"])
