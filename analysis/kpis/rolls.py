"""Roll rates: month-to-month migration of loan-months between DPD buckets.

Each active or written-off loan-month is put in a bucket of ``DPD_BUCKETS`` (current = 0,
1-29, 30-59, 60-89, 90+ = DPD >= 90, written_off) and followed to the next month-end: to
its bucket there, to ``closed`` when the next row has balance 0 (repaid), to
``written_off`` always from written_off. Transitions whose next row is missing (data end,
a loan's rows stopping with a balance) are left out. Weights are loan counts or the
balance in the *from* month; ``share`` is the share of the from-bucket's weight (rows sum
to 1).

Known drawback: roll rates pool loans of all ages; a book in fast growth shows low rates
for a while.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.definitions import DPD_BUCKETS
from analysis.errors import InputError, ParameterError
from analysis.kpis.loan_months import coded_loan_months
from analysis.kpis.segments import SEGMENT_KEYS, segment_codes
from analysis.months import month_end, month_number, parse_month

CLOSED = "closed"
ROLL_TO_BUCKETS: tuple[str, ...] = (*DPD_BUCKETS, CLOSED)
#: The index of ``written_off`` in ``DPD_BUCKETS`` (bucket codes of :func:`bucket_codes`).
WRITTEN_OFF_CODE = DPD_BUCKETS.index("written_off")


def bucket_codes(dpd: np.ndarray, written_off: np.ndarray) -> np.ndarray:
    """Per loan-month, the index in ``DPD_BUCKETS`` of its DPD (days) bucket, or
    :data:`WRITTEN_OFF_CODE` when written off."""
    code = np.digitize(dpd, [1, 30, 60, 90])  # 0 current, 1 1-29, 2 30-59, 3 60-89, 4 90+
    return np.where(written_off, WRITTEN_OFF_CODE, code)


def roll_rates(
    book: Book,
    weight: str = "count",
    by: str | None = None,
    *,
    end: str | pd.Timestamp | None = None,
    months: int | None = None,
    per_month: bool = False,
) -> pd.DataFrame:
    """Month-to-month migration between DPD buckets, long format.

    A transition m -> m+1 is counted when m+1 lies in the window of ``months`` month-ends
    ending at ``end`` (default: all transitions up to the data end). From-buckets are
    ``DPD_BUCKETS``; to-buckets add ``closed`` (repaid in full: next row with balance 0,
    no write-off). ``written_off`` is absorbing: its row is always 100 % written_off.
    Transitions whose next row is missing (rows stopping with a balance, a gap, the data
    end) are not counted.

    ``weight="count"`` weighs loan-months, ``"balance"`` the balance in the from-month.
    Columns: ``period_start``, ``period_end`` (first and last to-month; equal when
    ``per_month``), ``segment_type``, ``segment``, ``weight``, ``from_bucket``,
    ``to_bucket`` (ordered categoricals), ``n`` (loan-months), ``balance``, ``share``
    (fraction of the from-bucket's weight; NaN when the from-bucket is empty). Every
    from x to pair is present. :func:`roll_matrix` pivots it.
    """
    if weight not in ("count", "balance"):
        raise ParameterError(f"weight={weight!r}; use 'count' or 'balance'")
    if months is not None and int(months) < 1:
        raise ParameterError(f"months={months!r} must be >= 1")
    lm, codes, uniques = coded_loan_months(book)
    st, seg, seg_values = segment_codes(book.loans, codes, uniques, by)
    if lm.empty:
        raise InputError("table 'performance' is empty: no roll rates")
    mi = lm["mi"].to_numpy()
    data_end = int(mi.max())
    last = data_end if end is None else month_number(parse_month(end, "end"))
    first = mi.min() + 1 if months is None else last - int(months) + 1
    bal = lm["balance"].to_numpy(dtype=float)
    wo = lm["written_off"].to_numpy()
    # bucket codes as int8 and the next row by a shift, not an index array: at 24M
    # loan-months each int64 temporary is 190 MB, and this function is the KPIs' peak
    state = bucket_codes(lm["days_past_due"].to_numpy(), wo).astype(np.int8)
    same_next = np.zeros(len(lm), dtype=bool)  # the next row is the loan's next month
    same_next[:-1] = (codes[1:] == codes[:-1]) & (codes[1:] >= 0) & (mi[1:] == mi[:-1] + 1)
    next_state = np.full(len(lm), len(DPD_BUCKETS), dtype=np.int8)  # the last row has none
    next_state[:-1] = np.where(bal[1:] > 0, state[1:], len(DPD_BUCKETS))  # closed
    next_state[:-1][wo[1:]] = WRITTEN_OFF_CODE
    to = np.where(wo, WRITTEN_OFF_CODE, np.where(same_next, next_state, -1))
    in_from = wo | (bal > 0)
    keep = in_from & (to >= 0) & (mi + 1 >= first) & (mi + 1 <= last) & (mi < data_end)
    return _roll_table(mi[keep] + 1, seg[keep], seg_values, st, state[keep], to[keep],
                       bal[keep], int(first), int(last), weight, per_month)


def _roll_table(
    to_mi: np.ndarray,
    seg: np.ndarray,
    seg_values: np.ndarray,
    segment_type: str,
    from_code: np.ndarray,
    to_code: np.ndarray,
    balance: np.ndarray,
    first: int,
    last: int,
    weight: str,
    per_month: bool,
) -> pd.DataFrame:
    """The long roll-rate table from the counted transitions (one entry per transition).

    Groups (segment, and the to-month when ``per_month``) come in order of first
    appearance, each with every from x to pair; counts by ``np.bincount`` on integer
    keys, balances by a pandas group sum on the same keys (the summation pandas used on
    the text keys, so sums are bit-identical)."""
    n_from, n_to = len(DPD_BUCKETS), len(ROLL_TO_BUCKETS)
    n_seg = max(len(seg_values), 1)
    raw = (to_mi.astype(np.int64) * n_seg + seg) if per_month else seg.astype(np.int64)
    g, g_raw = pd.factorize(raw)  # first appearance order, as drop_duplicates
    n_g = len(g_raw)
    key = (g * n_from + from_code) * n_to + to_code
    cells = n_g * n_from * n_to
    n = np.bincount(key, minlength=cells).astype(np.int64)
    bal = np.zeros(cells)
    sums = pd.Series(balance, dtype=float).groupby(key).sum()
    bal[sums.index.to_numpy()] = sums.to_numpy()
    cell = np.arange(cells)
    grp = cell // (n_from * n_to)
    g_raw = np.asarray(g_raw, dtype=np.int64)
    if per_month:
        start = end = g_raw[grp] // n_seg
        seg_of = g_raw[grp] % n_seg
    else:
        start, end = np.full(cells, first), np.full(cells, last)
        seg_of = g_raw[grp]
    out = pd.DataFrame({
        "period_start": month_end(start),
        "period_end": month_end(end),
        "segment_type": np.full(cells, segment_type, dtype=object),
        "segment": seg_values[seg_of] if cells else np.array([], dtype=object),
        "weight": weight,
        "from_bucket": pd.Categorical.from_codes(
            cell // n_to % n_from, categories=list(DPD_BUCKETS), ordered=True),
        "to_bucket": pd.Categorical.from_codes(
            cell % n_to, categories=list(ROLL_TO_BUCKETS), ordered=True),
        "n": n,
        "balance": bal,
    })
    row = pd.Series(cell // n_to)  # group x from-bucket
    w = out["n"].astype(float) if weight == "count" else out["balance"]
    total = w.groupby(row).transform("sum")
    out["share"] = (w / total).where(total > 0)
    from_wo = (cell // n_to % n_from) == WRITTEN_OFF_CODE
    absorbing = from_wo & (out["n"].groupby(row).transform("sum") > 0).to_numpy()
    out.loc[absorbing, "share"] = ((cell % n_to)[absorbing] == WRITTEN_OFF_CODE).astype(float)
    return out


def roll_matrix(
    rates: pd.DataFrame, segment: str | None = None, values: str = "share"
) -> pd.DataFrame:
    """Pivot :func:`roll_rates` output to a from x to matrix (``values``: share, n, balance).

    ``segment`` picks one segment value when the table holds several; the table must then
    hold one period (use ``per_month=False`` or filter first).
    """
    sub = rates if segment is None else rates[rates["segment"] == segment]
    groups = sub[["period_start", "period_end", *SEGMENT_KEYS]].drop_duplicates()
    if len(groups) != 1:
        raise ParameterError(
            f"roll_matrix needs one period and one segment; the table has {len(groups)} "
            f"(segments {sorted(sub['segment'].unique())[:10]}): pass segment= or filter"
        )
    mat = sub.pivot_table(
        index="from_bucket", columns="to_bucket", values=values, observed=False,
        aggfunc="sum", dropna=False, fill_value=np.nan if values == "share" else 0,
    )
    if values == "share":  # pivot_table sums NaN to 0; restore empty from-rows
        empty = sub.groupby("from_bucket", observed=False)["n"].sum() == 0
        mat.loc[empty[empty].index] = np.nan
    mat.index.name, mat.columns.name = "from_bucket", "to_bucket"
    return mat
