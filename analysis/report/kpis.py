"""The portfolio tables of a report, whatever the engine: ``ctx.kpis`` of a notebook.

The portfolio notebooks (01 overview, 00 summary) ask ``ctx.kpis`` for their tables
instead of calling :mod:`analysis.kpis` on ``ctx.book``:

* :class:`BookKpis` (pandas engine) computes them from the book in memory with the
  functions of :mod:`analysis.kpis` and :mod:`analysis.report.tables`;
* :class:`TableKpis` (Dask engine) serves the same tables from the book-wide tables
  one Dask pass added up (:mod:`analysis.dask.report_pass`), so a notebook never
  holds the loan-months. It answers exactly the calls the notebooks make (the cuts and
  windows computed in the pass); anything else raises ``ParameterError`` naming it.

Both return the same columns and, on the same book, the same values (to about 1e-12
relative in balance sums; ``tests/test_engine_dask_report.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import kpis
from analysis.data.book import Book
from analysis.errors import ParameterError
from analysis.report import tables as rt


@dataclass
class BookKpis:
    """Portfolio tables computed from a pandas book (``month``: reporting month-end)."""

    book: Book
    episodes: pd.DataFrame
    month: pd.Timestamp

    def headline(self) -> pd.DataFrame:
        """:func:`analysis.kpis.headline_kpis` at the reporting month."""
        return kpis.headline_kpis(self.book, self.episodes, self.month.strftime("%Y-%m"))

    def overdue_trend(self, segments: Sequence[str | None] = (None, "borrower_type"),
                      months: int | None = 24) -> pd.DataFrame:
        return rt.overdue_trend(self.book, segments=segments, months=months)

    def portfolio_mix(self, rates: pd.DataFrame | None = None) -> pd.DataFrame:
        return rt.portfolio_mix(self.book, self.month, rates=rates)

    def roll_window(self, months: int = 12, weight: str = "balance") -> pd.DataFrame:
        return rt.roll_window(self.book, self.month, months=months, weight=weight)

    def vintage_curves(self, dpd_threshold: int = 30) -> pd.DataFrame:
        return kpis.vintage_curves(self.book, dpd_threshold=dpd_threshold)

    def categories_trend(self, months: int = 12) -> pd.DataFrame:
        return rt.categories_trend(self.book, months=months)

    def outcome_rates(self) -> pd.DataFrame:
        return rt.outcome_rates(self.episodes)


@dataclass
class TableKpis:
    """Portfolio tables from book-wide tables computed on Dask.

    ``read(name)`` returns a stored table (``overdue_rates``, ``classification``,
    ``roll_rates``, ``vintages``, ``episodes_full``); ``loan_columns`` are the loan
    table's columns; ``roll_months`` and ``vintage_dpd`` what the pass computed.
    """

    read: Callable[[str], pd.DataFrame]
    month: pd.Timestamp
    loan_columns: Sequence[str]
    roll_months: int = 12
    vintage_dpd: int = 30
    _memo: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def _get(self, name: str) -> pd.DataFrame:
        if name not in self._memo:
            self._memo[name] = self.read(name)
        return self._memo[name]

    def _overdue(self, segments: Sequence[str | None]) -> pd.DataFrame:
        od = self._get("overdue_rates")
        want = [kpis.ALL if s is None else s for s in segments if s is None
                or s in self.loan_columns]
        missing = set(want) - set(od["segment_type"])
        if missing:
            raise ParameterError(f"overdue rates by {sorted(missing)} were not computed on Dask")
        parts = [od[od["segment_type"] == s] for s in want]  # in the order asked for
        return pd.concat(parts, ignore_index=True)

    def headline(self) -> pd.DataFrame:
        return kpis.headline_kpis_from(
            self._get("overdue_rates"), self._get("classification"),
            self._get("episodes_full"), self.month)

    def overdue_trend(self, segments: Sequence[str | None] = (None, "borrower_type"),
                      months: int | None = 24) -> pd.DataFrame:
        od = self._overdue(segments)[list(rt.TREND_COLUMNS)]
        if months:
            keep = np.sort(od["month"].unique())[-months:]
            od = od[od["month"].isin(keep)]
        return od.reset_index(drop=True)

    def portfolio_mix(self, rates: pd.DataFrame | None = None) -> pd.DataFrame:
        rates = self._overdue((None, *rt.SEGMENTS)) if rates is None else rates
        cuts = [s for s in rt.SEGMENTS if s in self.loan_columns]
        missing = sorted(set(cuts) - set(rates["segment_type"]))
        if missing:
            raise ParameterError(f"portfolio mix: no overdue rates by {missing} in the rates given")
        return rt.mix_table([rates[rates["segment_type"] == s] for s in cuts], self.month)

    def roll_window(self, months: int = 12, weight: str = "balance") -> pd.DataFrame:
        # analysis.dask imported here: dask and distributed are heavy optional dependencies
        from analysis.dask.kpis import reweight_roll_rates

        if months != self.roll_months:
            raise ParameterError(f"roll_window(months={months}): the Dask pass computed "
                                 f"{self.roll_months} months")
        rr = reweight_roll_rates(self._get("roll_rates"), weight)
        rr = rr.rename(columns={"n": "transitions"})
        rr["n_from"] = rr.groupby("from_bucket", observed=True)["transitions"].transform("sum")
        cols = ["period_start", "period_end", "weight", "from_bucket", "to_bucket", "n_from",
                "transitions", "balance", "share"]
        return rr[[c for c in cols if c in rr.columns]].reset_index(drop=True)

    def vintage_curves(self, dpd_threshold: int = 30) -> pd.DataFrame:
        if dpd_threshold != self.vintage_dpd:
            raise ParameterError(f"vintage_curves(dpd_threshold={dpd_threshold}): the Dask "
                                 f"pass computed {self.vintage_dpd}")
        return self._get("vintages")

    def categories_trend(self, months: int = 12) -> pd.DataFrame:
        cl = self._get("classification")
        cl = cl[cl["segment_type"] == kpis.ALL]
        keep = np.sort(cl["month"].unique())[-months:]
        return cl[cl["month"].isin(keep)].reset_index(drop=True)

    def outcome_rates(self) -> pd.DataFrame:
        return rt.outcome_rates(self._get("episodes_full"))


__all__ = ["BookKpis", "TableKpis"]
