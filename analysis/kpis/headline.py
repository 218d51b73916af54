"""Headline KPIs at one reporting month, for the history store and the management summary:
the active book, overdue rates, the NPL ratio and episode outcome rates, overall and per
segment.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.checks import require_columns
from analysis.data.book import Book
from analysis.definitions import Definitions
from analysis.errors import InputError, ParameterError
from analysis.kpis.classification import NPL_CATEGORIES, classification_table, loan_month_categories
from analysis.kpis.loan_months import loan_months
from analysis.kpis.outcomes import episode_outcome_rates
from analysis.kpis.overdue import overdue_table
from analysis.kpis.segments import ALL, SEGMENT_KEYS, segment_of
from analysis.months import month_end, month_index, month_number, parse_month


def resolve_as_of(book: Book, as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """The reporting month as a month-end Timestamp: ``as_of`` (YYYY-MM or a date) when it
    is a month of the performance table, the latest month when None or ""."""
    return month_end(np.array([_as_of_month(book, as_of)]))[0]


def _as_of_month(book: Book, as_of: str | pd.Timestamp | None) -> int:
    months = month_index(book.performance["month"])
    if len(months) == 0:
        raise InputError("table 'performance' is empty: no KPIs")
    if as_of is None or (isinstance(as_of, str) and as_of.strip() == ""):
        return int(months.max())
    m = month_number(parse_month(as_of, "as_of"))
    if not (months == m).any():
        lo, hi = month_end(np.array([months.min(), months.max()]))
        raise ParameterError(
            f"as_of={as_of!r} is not a month of the data ({lo:%Y-%m} to {hi:%Y-%m})"
        )
    return m


def headline_kpis(
    book: Book,
    episodes: pd.DataFrame | None,
    as_of: str | pd.Timestamp | None = None,
    segments: Iterable[str | None] = (None, "borrower_type"),
    episode_window_months: int | None = None,
) -> pd.DataFrame:
    """A small set of KPIs for the history store and the management summary.

    At ``as_of`` (YYYY-MM; default the latest month): ``n_loans_active``,
    ``balance_active`` (currency), ``overdue_rate_count``, ``overdue_rate_balance``,
    ``rate_30plus_count``, ``rate_30plus_balance``, ``rate_90plus_count``,
    ``rate_90plus_balance``, ``npl_ratio_balance`` (balance share of 次级+可疑+损失 under
    the DPD backstop). Over episodes that started by ``as_of`` (only the last
    ``episode_window_months`` months up to ``as_of`` when given; skipped when
    ``episodes`` is None): ``n_episodes``, ``cure_rate``, ``default_rate``,
    ``redefault_rate``, ``loss_rate``. Episode outcomes are read as the episode table has
    them: when the data run past ``as_of``, outcomes observed later count (give a book cut
    at ``as_of`` for a strict point-in-time view). Columns: ``metric``, ``segment_type``, ``segment``,
    ``value``, ``n`` (loans or episodes behind the value); overall and per segment.
    """
    month = resolve_as_of(book, as_of)
    m = month_number(month)
    segments = tuple(segments)
    lm = loan_months(book, None)
    lm = lm[lm["mi"] == m].reset_index(drop=True)
    cat = loan_month_categories(book)
    cat = cat[cat["mi"] == m]
    od, cl = [], []
    for by in segments:
        lm[SEGMENT_KEYS] = segment_of(book.loans, lm["loan_id"], by)[SEGMENT_KEYS]
        od.append(overdue_table(lm, Definitions().overdue_dpd))
        cl.append(classification_table(cat, book.loans, by))
    return headline_kpis_from(pd.concat(od, ignore_index=True), pd.concat(cl, ignore_index=True),
                              episodes, month, segments, episode_window_months)


def headline_kpis_from(
    overdue: pd.DataFrame,
    classification: pd.DataFrame,
    episodes: pd.DataFrame | None,
    month: pd.Timestamp,
    segments: Iterable[str | None] = (None, "borrower_type"),
    episode_window_months: int | None = None,
) -> pd.DataFrame:
    """:func:`headline_kpis` from tables already computed: ``overdue``
    (:func:`analysis.kpis.overdue.overdue_rates` rows, default ``overdue_dpd``) and
    ``classification`` (:func:`analysis.kpis.classification.loan_classification` rows) holding at least the month-end ``month`` and the
    cuts of ``segments`` (other months and cuts are ignored); the Dask engine passes
    the book-wide tables it added up over loan partitions."""
    m = month_number(month)
    at_m = pd.DatetimeIndex(pd.to_datetime(overdue["month"])) == month_end(np.array([m]))[0]
    overdue = overdue[at_m]
    at_m = pd.DatetimeIndex(pd.to_datetime(classification["month"])) == month_end(np.array([m]))[0]
    classification = classification[at_m]
    rows = []
    for by in segments:
        od = overdue[overdue["segment_type"] == (by or ALL)]
        named = {
            "n_loans_active": "n_loans", "balance_active": "balance",
            "overdue_rate_count": "overdue_rate_count",
            "overdue_rate_balance": "overdue_rate_balance",
            "rate_30plus_count": "rate_30plus_count",
            "rate_30plus_balance": "rate_30plus_balance",
            "rate_90plus_count": "rate_90plus_count",
            "rate_90plus_balance": "rate_90plus_balance",
        }
        for metric, col in named.items():
            rows.append(od[SEGMENT_KEYS].assign(metric=metric, value=od[col].astype(float),
                                         n=od["n_loans"]))
        cl = classification[classification["segment_type"] == (by or ALL)]
        npl = cl.assign(npl=cl["share_balance"].where(cl["category"].isin(NPL_CATEGORIES), 0))
        npl = npl.groupby(SEGMENT_KEYS, as_index=False).agg(value=("npl", "sum"), n=("n_loans", "sum"))
        rows.append(npl.assign(metric="npl_ratio_balance"))
        if episodes is None:
            continue
        require_columns(episodes, ["start_month"], "episodes")
        start = month_index(episodes["start_month"])
        lo = -np.inf if episode_window_months is None else m - int(episode_window_months)
        ep = episodes[(start <= m) & (start > lo)]
        if ep.empty:
            continue
        count = ep.groupby(_segment_of_episodes(ep, by)).size()
        rows.append(
            pd.DataFrame({"metric": "n_episodes", "value": count.astype(float), "n": count})
            .rename_axis(SEGMENT_KEYS).reset_index()
        )
        rates = episode_outcome_rates(ep, by=by)
        rates = rates[rates["metric"].isin(["cure_rate", "default_rate", "redefault_rate",
                                            "loss_rate"])]
        rows.append(rates[[*SEGMENT_KEYS, "metric", "value", "n"]])
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].fillna(0).astype(np.int64)
    return out[["metric", *SEGMENT_KEYS, "value", "n"]].reset_index(drop=True)


def _segment_of_episodes(ep: pd.DataFrame, by: str | None) -> list[pd.Series]:
    if by is None:
        s = pd.Series(ALL, index=ep.index)
        return [s.rename("segment_type"), s.rename("segment")]
    if by not in ep.columns:
        raise ParameterError(f"by={by!r} is not an episode column")
    seg = ep[by].astype(object).where(ep[by].notna(), "missing").astype(str)
    return [pd.Series(by, index=ep.index, name="segment_type"), seg.rename("segment")]
