"""Portfolio KPIs on a Dask book: the :mod:`analysis.kpis` functions per loan partition,
their counts and sums added up, the ratios recomputed.

Method
------
Every KPI of :mod:`analysis.kpis` used here is a ratio of sums over loan-months,
transitions or loans, and every summand belongs to one loan. So the engine runs the
pandas function itself on each loan partition (:meth:`DaskBook.loan_partitions`), adds
the count and sum columns of the pieces by their keys, and divides again:

* :func:`analysis.kpis.overdue_rates`: ``n_*`` and balance columns summed per month
  and segment; every rate = count / ``n_loans`` or balance / ``balance``.
* :func:`analysis.kpis.roll_rates`: ``n`` and ``balance`` summed per period, segment,
  from- and to-bucket; ``share`` = weight / the from-bucket's weight, NaN when that is
  0, and ``written_off`` absorbing (its row 100 % written_off), as in ``metrics``.
* :func:`analysis.kpis.vintage_curves`: ``n_observed`` and ``n_ever`` summed per
  segment, cohort and months on book, ``n_loans`` per cohort; ``share_ever`` again.
* :func:`analysis.kpis.loan_classification`: loans and balance per month, segment
  and category summed; shares again.

Two of the functions read the data's first and last month (the roll-rate window, the
vintages' months on book): each partition gets the book-wide months through a
*sentinel* loan with a zero balance in the first and the last month, which adds no
loan-month, transition or cohort to any table (zero balance: not active, no transition
from it; not in ``loans``: no cohort).

Known drawbacks
---------------
Balance sums are added in a different order than in one pandas pass (agreement to about
1e-12 relative). The sentinel's ID (:data:`SENTINEL_ID`) must not be a real loan ID.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis import kpis
from analysis.dask.frames import DaskBook, concat_episodes, map_loan_partitions
from analysis.data.book import Book
from analysis.definitions import DPD_BUCKETS, Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import ParameterError

SENTINEL_ID = "\x00engine_dask_sentinel"
_KEYS = ["segment_type", "segment"]
_WO = "written_off"
DEFAULT_SEGMENTS: tuple[str | None, ...] = (None, "borrower_type", "industry", "region")


@dataclass(frozen=True)
class DaskPass:
    """Results of one pass over the loan partitions (pandas DataFrames; None if not asked).

    ``overdue_rates``, ``roll_rates`` (count and balance weights stacked), ``vintages``
    (30+ and 90+ stacked) and ``classification`` hold every segment cut asked for,
    stacked as in :func:`analysis.kpis.by_segments`.
    """

    episodes: pd.DataFrame | None = None
    overdue_rates: pd.DataFrame | None = None
    roll_rates: pd.DataFrame | None = None
    vintages: pd.DataFrame | None = None
    classification: pd.DataFrame | None = None


def month_range(dbook: DaskBook) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last ``performance.month`` of the whole book (one column read)."""
    import dask

    m = dbook.performance["month"]
    lo, hi = dask.compute(m.min(), m.max())
    return pd.Timestamp(lo), pd.Timestamp(hi)


def with_sentinel(book: Book, first: pd.Timestamp, last: pd.Timestamp) -> Book:
    """``book`` plus a zero-balance loan observed in ``first`` and ``last`` only."""
    perf = book.performance
    extra = perf.iloc[:0].reindex(range(2))
    extra["loan_id"] = SENTINEL_ID
    extra["month"] = pd.to_datetime([first, last]).astype(perf["month"].dtype)
    for c in ("balance", "days_past_due", "write_off", "recovery"):
        if c in perf.columns:
            extra[c] = np.zeros(2, dtype=perf[c].dtype)
    return replace(book, performance=pd.concat([perf, extra], ignore_index=True))


def _partials(
    book: Book,
    d: Definitions,
    months: tuple[pd.Timestamp, pd.Timestamp],
    segments: tuple[str | None, ...],
    what: frozenset[str],
) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    if "episodes" in what:
        out["episodes"] = episodes_from_definitions(book, d)
    if len(book.performance) == 0:
        return out
    if "overdue_rates" in what:
        out["overdue_rates"] = pd.concat(
            [kpis.overdue_rates(book, by=s, overdue_dpd=d.overdue_dpd) for s in segments],
            ignore_index=True,
        )
    if "roll_rates" in what or "vintages" in what:
        sbook = with_sentinel(book, *months)
        if "roll_rates" in what:
            out["roll_rates"] = pd.concat(
                [kpis.roll_rates(sbook, weight="count", by=s) for s in segments],
                ignore_index=True,
            )
        if "vintages" in what:
            out["vintages"] = pd.concat(
                [kpis.vintage_curves(sbook, dpd_threshold=t, by=s)
                 for t in (30, 90) for s in segments],
                ignore_index=True,
            )
    if "classification" in what:
        out["classification"] = pd.concat(
            [kpis.loan_classification(book, by=s) for s in segments], ignore_index=True
        )
    return out


def kpis_dask(
    dbook: DaskBook,
    definitions: Definitions | None = None,
    *,
    segments: Iterable[str | None] = DEFAULT_SEGMENTS,
    what: Iterable[str] = ("episodes", "overdue_rates", "roll_rates", "vintages",
                           "classification"),
) -> DaskPass:
    """Episodes and KPIs in ONE pass over the loan partitions (one shuffle).

    ``what`` picks the outputs (names of :class:`DaskPass` fields); ``segments`` the cuts
    (None = the whole book). Each table equals the pandas function's output on the whole
    book, stacked over ``segments`` (roll rates: count and balance weight; vintages: DPD
    thresholds 30 and 90).
    """
    d = definitions or Definitions()
    segs = tuple(segments)
    wanted = frozenset(what)
    unknown = wanted - set(DaskPass.__dataclass_fields__)
    if unknown:
        raise ParameterError(f"unknown outputs {sorted(unknown)}; use {list(DaskPass.__dataclass_fields__)}")
    months = month_range(dbook) if wanted & {"roll_rates", "vintages"} else (None, None)
    parts = map_loan_partitions(
        dbook, lambda b: _partials(b, d, months, segs, wanted), name="kpis"
    )

    def pieces(name: str) -> list[pd.DataFrame]:
        return [p[name] for p in parts if name in p]

    res = {}
    if "episodes" in wanted:
        res["episodes"] = concat_episodes(pieces("episodes"))
    if "overdue_rates" in wanted:
        res["overdue_rates"] = combine_overdue_rates(pieces("overdue_rates"))
    if "roll_rates" in wanted:
        counts = combine_roll_rates(pieces("roll_rates"), weight="count")
        res["roll_rates"] = pd.concat(
            [counts, reweight_roll_rates(counts, "balance")], ignore_index=True
        )
    if "vintages" in wanted:
        res["vintages"] = combine_vintages(pieces("vintages"))
    if "classification" in wanted:
        res["classification"] = combine_classification(pieces("classification"))
    return DaskPass(**res)


# ----------------------------------------------------------------------------- combiners


def _order_of(parts: Sequence[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Order in which key tuples first appear in the pieces (keeps the segment order)."""
    return pd.concat([p[keys] for p in parts], ignore_index=True).drop_duplicates()


def combine_overdue_rates(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Add up :func:`analysis.kpis.overdue_rates` pieces and recompute the rates."""
    cols = list(parts[0].columns)
    allp = pd.concat(parts, ignore_index=True)
    sums = [c for c in cols if c.startswith("n_") or c == "balance" or c.startswith("balance_")
            or c == "overdue_balance"]
    keys = ["month", *_KEYS]
    out = allp.groupby(keys, sort=False)[sums].sum().reset_index()
    n, b = out["n_loans"], out["balance"]
    out["overdue_rate_count"] = out["n_overdue"] / n
    out["overdue_rate_balance"] = out["overdue_balance"] / b
    for name in ("30plus", "90plus"):
        out[f"rate_{name}_count"] = out[f"n_{name}"] / n
        out[f"rate_{name}_balance"] = out[f"balance_{name}"] / b
    seg_order = _order_of(parts, ["segment_type"]).assign(_o=lambda x: np.arange(len(x)))
    out = out.merge(seg_order, on="segment_type")
    out = out.sort_values(["_o", "month", "segment"], kind="stable").drop(columns="_o")
    return out[cols].reset_index(drop=True)


def combine_roll_rates(parts: Sequence[pd.DataFrame], weight: str = "count") -> pd.DataFrame:
    """Add up :func:`analysis.kpis.roll_rates` pieces; ``share`` for ``weight``."""
    allp = pd.concat(parts, ignore_index=True)
    gkeys = ["period_start", "period_end", *_KEYS]
    keys = [*gkeys, "from_bucket", "to_bucket"]
    out = allp.groupby(keys, sort=False, observed=True)[["n", "balance"]].sum().reset_index()
    seg_order = _order_of(parts, ["segment_type"]).assign(_o=lambda x: np.arange(len(x)))
    out = out.merge(seg_order, on="segment_type")
    out = out.sort_values(["_o", "period_start", "period_end", "segment", "from_bucket",
                           "to_bucket"], kind="stable").drop(columns="_o")
    out["weight"] = weight
    return reweight_roll_rates(out, weight)[list(parts[0].columns)]


def reweight_roll_rates(rates: pd.DataFrame, weight: str) -> pd.DataFrame:
    """``share`` of summed roll-rate cells for ``weight`` ("count" or "balance"), with
    ``written_off`` absorbing, as :func:`analysis.kpis.roll_rates` defines it."""
    out = rates.copy()
    out["weight"] = weight
    grp = [out[k] for k in ["period_start", "period_end", *_KEYS]] + [out["from_bucket"]]
    w = out["n"].astype(float) if weight == "count" else out["balance"].astype(float)
    total = w.groupby(grp, observed=True).transform("sum")
    out["share"] = (w / total).where(total > 0)
    n_from = out["n"].groupby(grp, observed=True).transform("sum")
    absorbing = (out["from_bucket"] == _WO) & (n_from > 0)
    out.loc[absorbing, "share"] = (out.loc[absorbing, "to_bucket"] == _WO).astype(float)
    out["n"] = out["n"].astype(np.int64)
    return out.reset_index(drop=True)


def combine_vintages(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Add up :func:`analysis.kpis.vintage_curves` pieces; ``share_ever`` again."""
    cols = list(parts[0].columns)
    allp = pd.concat(parts, ignore_index=True)
    ckeys = [*_KEYS, "cohort", "dpd_threshold"]
    # n_loans is the cohort size of a piece, repeated on each of its rows: take it once
    # per piece and cohort, then add over pieces.
    per_piece = [p.drop_duplicates(ckeys)[[*ckeys, "n_loans"]] for p in parts]
    n_loans = pd.concat(per_piece, ignore_index=True).groupby(ckeys, sort=False)["n_loans"].sum()
    out = allp.groupby([*ckeys, "months_on_book"], sort=False)[["n_observed", "n_ever"]].sum()
    out = out.reset_index().join(n_loans, on=ckeys)
    out["share_ever"] = out["n_ever"] / out["n_observed"]
    seg_order = _order_of(parts, ["segment_type", "dpd_threshold"]).assign(
        _o=lambda x: np.arange(len(x))
    )
    out = out.merge(seg_order, on=["segment_type", "dpd_threshold"])
    out = out.sort_values(["_o", "segment", "cohort", "months_on_book"], kind="stable")
    for c in ("n_loans", "n_observed", "n_ever"):
        out[c] = out[c].astype(np.int64)
    return out[cols].reset_index(drop=True)


def combine_classification(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Add up :func:`analysis.kpis.loan_classification` pieces; shares again."""
    cols = list(parts[0].columns)
    allp = pd.concat(parts, ignore_index=True)
    keys = ["month", *_KEYS, "category", "category_zh"]
    out = allp.groupby(keys, sort=False, observed=True)[["n_loans", "balance"]].sum()
    out = out.reset_index()
    gsum = out.groupby(["month", *_KEYS])[["n_loans", "balance"]].transform("sum")
    out["share_count"] = out["n_loans"] / gsum["n_loans"]
    out["share_balance"] = out["balance"] / gsum["balance"]
    out["n_loans"] = out["n_loans"].astype(np.int64)
    seg_order = _order_of(parts, ["segment_type"]).assign(_o=lambda x: np.arange(len(x)))
    out = out.merge(seg_order, on="segment_type")
    out = out.sort_values(["_o", "month", "segment", "category"], kind="stable")
    return out[cols].reset_index(drop=True)


__all__ = [
    "DPD_BUCKETS",
    "DaskPass",
    "combine_classification",
    "combine_overdue_rates",
    "combine_roll_rates",
    "combine_vintages",
    "kpis_dask",
    "month_range",
    "reweight_roll_rates",
    "with_sentinel",
]
