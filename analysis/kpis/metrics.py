"""Portfolio KPIs: overdue rates, roll rates, vintage curves, outcome rates, five categories.

Every function takes a :class:`analysis.data.book.Book` (or the episode table of
:func:`analysis.episodes.build_episodes`) and returns a tidy DataFrame. Each can be cut
by a loan attribute (``by=None | "borrower_type" | "industry" | "region"``, or any other
loan column); the output always carries ``segment_type`` ("all" or the column name) and
``segment`` ("all" or the value), so tables for different cuts stack with ``pd.concat``
(:func:`by_segments` does exactly that). Units: months are calendar month-ends, DPD in
days, balances in the book's currency (CNY), rates and shares are fractions.

Populations
-----------
* **Active loan-month**: a performance row with ``balance > 0`` and no write-off of the
  loan at or before that month. Overdue rates are over active loan-months.
* **Written off**: from the first month with ``write_off > 0`` on, a loan is written off
  for good (absorbing), whatever its later DPD.
* **Closed**: a row with ``balance == 0`` and no write-off (repaid in full). A loan whose
  rows stop with a positive balance before the data end is censored, as in ``episodes``.

Method
------
* :func:`overdue_rates`: per month, the share of active loans (count) and of active
  balance with ``DPD >= overdue_dpd`` (default 1), ``>= 30`` and ``>= 90``.
* :func:`roll_rates`: each active or written-off loan-month is put in a bucket of
  ``DPD_BUCKETS`` (current = 0, 1-29, 30-59, 60-89, 90+ = DPD >= 90, written_off) and
  followed to the next month-end: to its bucket there, to ``closed`` when the next row
  has balance 0 (repaid), to ``written_off`` always from written_off. Transitions whose
  next row is missing (data end, a loan's rows stopping with a balance) are left out.
  Weights are loan counts or the balance in the *from* month; ``share`` is the share of
  the from-bucket's weight (rows sum to 1).
* :func:`vintage_curves`: for each origination cohort (quarter by default) and months on
  book k (0 = the origination month), the share of the cohort's loans that have been at
  ``DPD >= dpd_threshold`` (or written off) at some month-end <= k. Only loans whose
  origination month + k is within the data count at k (``n_observed``); loans repaid
  earlier stay in the denominator as never bad.
* :func:`episode_outcome_rates`: cure, default and re-default rates are proportions over
  episodes whose outcome is known (``<NA>`` = censored, excluded from the denominator),
  with Wilson intervals. ``loss_rate`` = sum(loss) / sum(ead) over uncensored episodes
  (balance-weighted), ``lgd`` the same over defaulted episodes; their intervals use the
  delta method for a ratio of sums (episodes independent).
* :func:`loan_classification`: the five categories of 商业银行金融资产风险分类办法 (2023)
  from the overdue backstops, as count and balance shares per month, see
  :func:`loan_month_categories` for the mapping.

Known drawbacks
---------------
The classification is a DPD backstop, a floor, not a full credit assessment: a lender
may classify worse on other evidence (financial condition, cross-default, impairment),
never better. Roll rates pool loans of all ages; a book in fast growth shows low rates
for a while. Vintage curves mix cohorts' calendar periods. Wilson intervals and the
delta-method interval assume independent episodes; several episodes of one loan are
positively correlated, so intervals are somewhat too narrow when re-defaults are common.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.data.book import Book
from analysis.definitions import DPD_BUCKETS, LOAN_CATEGORIES, Definitions
from analysis.errors import InputError, ParameterError

SEGMENT_COLUMNS: tuple[str, ...] = ("borrower_type", "industry", "region")
ALL = "all"
CLOSED = "closed"
ROLL_TO_BUCKETS: tuple[str, ...] = (*DPD_BUCKETS, CLOSED)
LOAN_CATEGORIES_ZH: dict[str, str] = {
    "normal": "正常",
    "special_mention": "关注",
    "substandard": "次级",
    "doubtful": "可疑",
    "loss": "损失",
}
NPL_CATEGORIES: tuple[str, ...] = ("substandard", "doubtful", "loss")
_KEYS = ["segment_type", "segment"]
_WO = DPD_BUCKETS.index("written_off")


# --------------------------------------------------------------------------- helpers


def _month_index(values: pd.Series | np.ndarray) -> np.ndarray:
    """Months since 1970-01 as int64 (every date of a month maps to one integer)."""
    arr = np.asarray(values, dtype="datetime64[ns]")
    return arr.astype("datetime64[M]").astype(np.int64)


def _month_end(index: np.ndarray) -> pd.DatetimeIndex:
    """Month-ends (``datetime64[ns]``) of month indices: the day before the next month's
    first (numpy day arithmetic; a pandas ``MonthEnd`` offset per row is much slower)."""
    index = np.asarray(index, dtype=np.int64)
    following = (index + 1).astype("datetime64[M]")
    days = (following.astype("datetime64[D]") - np.timedelta64(1, "D")).astype("datetime64[ns]")
    nat = index == np.iinfo(np.int64).min  # the month index of NaT
    if nat.any():
        days[nat] = np.datetime64("NaT")
    return pd.DatetimeIndex(days)


def _codes_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` as (codes, object uniques), cheaper when equal
    values are contiguous (rows grouped by loan, as performance parts and the sorted
    loan-month frames are): only the first value of each run is hashed and sorted.
    Falls back to the full factorisation when a value occurs in several runs or is NA."""
    values = np.asarray(values, dtype=object)
    n = len(values)
    if n > 1:
        start = np.empty(n, dtype=bool)
        start[0] = True
        start[1:] = values[1:] != values[:-1]
        heads = values[start]
        run_codes, uniques = pd.factorize(heads, sort=True)
        if len(uniques) == len(heads):  # each run a distinct value, no NA
            return run_codes[np.cumsum(start) - 1], np.asarray(uniques, dtype=object)
    codes, uniques = pd.factorize(values, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def _require(df: pd.DataFrame | None, columns: Iterable[str], table: str) -> None:
    if df is None:
        raise InputError(f"table {table!r} is required for this KPI but missing")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"table {table!r}: missing column(s) {missing}; present: {list(df.columns)}"
        )


def _as_month(value: str | pd.Timestamp, name: str) -> int:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{name}={value!r} is not a month (YYYY-MM)") from exc
    return int(_month_index(np.array([ts.to_datetime64()]))[0])


def _segment_of(loans: pd.DataFrame, loan_ids: pd.Series, by: str | None) -> pd.DataFrame:
    """``segment_type`` and ``segment`` columns for ``loan_ids`` (index aligned)."""
    if by is None:
        return pd.DataFrame({"segment_type": ALL, "segment": ALL}, index=loan_ids.index)
    if not isinstance(by, str) or by not in loans.columns or by == "loan_id":
        raise ParameterError(
            f"by={by!r} is not a loan column; use None or one of {list(SEGMENT_COLUMNS)}"
        )
    values = loan_ids.map(loans.drop_duplicates("loan_id").set_index("loan_id")[by])
    seg = values.astype(object).where(values.notna(), "missing").astype(str)
    return pd.DataFrame({"segment_type": by, "segment": seg}, index=loan_ids.index)


#: The last few sorted loan-month frames, keyed by the performance frame they came from
#: (``id`` plus a weak reference, so a freed frame's id cannot be mistaken for it).
_SORTED: list[tuple[Any, pd.DataFrame, np.ndarray, np.ndarray]] = []
_SORTED_KEEP = 2


def _forget(dead: Any) -> None:
    _SORTED[:] = [e for e in _SORTED if e[0] is not dead and e[0]() is not None]


def _sorted_loan_months(perf: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``perf`` sorted by loan and month with ``mi``, ``write_off``, ``written_off``;
    with each row's loan code and the sorted loan IDs the codes index.

    Memoised per performance frame (the last :data:`_SORTED_KEEP` frames): the KPI
    functions of one report or one Dask partition call this 10-20 times on the same
    frame, and the sort of the loan-ID strings was most of their cost. Callers copy
    before adding columns. Frames are never mutated in place by this module.
    """
    for ref, lm, codes, uniques in _SORTED:
        if ref() is perf:
            return lm, codes, uniques
    mi = _month_index(perf["month"])
    codes, uniques = _codes_of(perf["loan_id"].to_numpy())  # sort integer codes, not text
    lo, width = (int(mi.min()), int(mi.max()) - int(mi.min()) + 1) if len(mi) else (0, 1)
    if (len(uniques) + 1) * width < 2**62:  # one stable sort of code x month (= lexsort)
        order = np.argsort((codes.astype(np.int64) + 1) * width + (mi - lo), kind="stable")
    else:  # a key too wide for int64 (NaT months)
        order = np.lexsort((mi, codes))
    in_order = bool((order[1:] > order[:-1]).all())  # parts often come sorted: no take

    def sort(values: Any) -> Any:
        return values if in_order else values[order]

    def column(name: str) -> Any:
        col = perf[name]
        return sort(col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array)

    write_off = (
        perf["write_off"].fillna(0.0).astype(float).to_numpy()
        if "write_off" in perf.columns else np.zeros(len(perf))
    )
    mi, codes, write_off = sort(mi), sort(codes), sort(write_off)
    lm = pd.DataFrame({"loan_id": column("loan_id")})
    # column by column: a frame built from a dict stacks same-typed columns (a slow copy)
    lm["month"] = _month_end(mi)
    lm["balance"] = column("balance")
    lm["days_past_due"] = column("days_past_due")
    lm["write_off"] = write_off
    lm["mi"] = mi
    lm["written_off"] = _written_off(write_off, codes)
    uniques = np.asarray(uniques, dtype=object)
    try:  # the entry goes when the performance frame does (no frame kept alive)
        ref = weakref.ref(perf, _forget)
    except TypeError:  # pragma: no cover - pandas frames accept weak references
        return lm, codes, uniques
    _SORTED.insert(0, (ref, lm, codes, uniques))
    del _SORTED[_SORTED_KEEP:]
    return lm, codes, uniques


def _coded_loan_months(book: Book) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The shared sorted loan-month frame of ``book`` (not to be modified), its rows'
    loan codes and the loan IDs they index (see :func:`_sorted_loan_months`)."""
    _require(book.performance, ["loan_id", "month", "balance", "days_past_due"], "performance")
    _require(book.loans, ["loan_id"], "loans")
    return _sorted_loan_months(book.performance)


def _segment_codes(
    loans: pd.DataFrame, codes: np.ndarray, uniques: np.ndarray, by: str | None
) -> tuple[str, np.ndarray, np.ndarray]:
    """``segment_type``, each row's segment code and the segment values (object array)
    for rows whose loan IDs are ``uniques[codes]``: the values of :func:`_segment_of`,
    looked up once per loan and taken by the integer codes (no text hashing per row).
    A row with an NA loan ID (code -1) gets "missing" (or "all")."""
    if by is None:
        return ALL, np.zeros(len(codes), dtype=np.intp), np.array([ALL], dtype=object)
    per_loan = _segment_of(loans, pd.Series(uniques, dtype=object), by)["segment"].to_numpy()
    # the appended "missing" is what code -1 (the last entry) takes
    seg, seg_values = pd.factorize(np.append(per_loan, "missing").astype(object))
    return by, seg[codes], np.asarray(seg_values, dtype=object)


def _written_off(write_off: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row (sorted by loan code ``codes``): the loan's cumulative write-off is > 0.

    Without negative write-offs that is "some write-off > 0 so far", counted with an
    integer cumulative sum; otherwise the float cumulative sum per loan (a group-by on the
    integer codes). An NA loan ID (code -1) is never written off (no group)."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if not (write_off >= 0).all():
        cum = pd.Series(write_off).groupby(codes, sort=False).cumsum().to_numpy()
        return (cum > 0) & (codes >= 0)
    hits = np.cumsum(write_off > 0)
    start = np.ones(n, dtype=bool)
    start[1:] = codes[1:] != codes[:-1]
    first = np.flatnonzero(start)
    before = np.repeat(hits[first] - (write_off[first] > 0), np.diff(np.append(first, n)))
    return (hits > before) & (codes >= 0)


def _loan_months(book: Book, by: str | None) -> pd.DataFrame:
    """Performance rows sorted by loan and month, with ``mi`` (month index),
    ``write_off`` (0 if absent), ``written_off`` (absorbing flag) and the segment."""
    lm, codes, uniques = _coded_loan_months(book)
    lm = lm.copy()
    st, seg, seg_values = _segment_codes(book.loans, codes, uniques, by)
    lm["segment_type"] = st
    lm["segment"] = seg_values[seg]
    return lm


def by_segments(
    func: Callable[..., pd.DataFrame],
    *args,
    segments: Iterable[str | None] = (None, *SEGMENT_COLUMNS),
    **kwargs,
) -> pd.DataFrame:
    """Stack ``func(*args, by=s, **kwargs)`` for every ``s`` in ``segments``."""
    return pd.concat([func(*args, by=s, **kwargs) for s in segments], ignore_index=True)


# --------------------------------------------------------------------------- overdue


def overdue_rates(book: Book, by: str | None = None, overdue_dpd: int | None = None) -> pd.DataFrame:
    """Overdue rates per month over active loans (balance > 0, not written off).

    Columns: ``month`` (month-end), ``segment_type``, ``segment``, ``n_loans``,
    ``n_overdue`` (DPD >= ``overdue_dpd``, days; default
    :attr:`Definitions.overdue_dpd` = 1), ``overdue_rate_count``, ``balance``,
    ``overdue_balance``, ``overdue_rate_balance``, and the same for DPD >= 30 and >= 90
    (``n_30plus``, ``rate_30plus_count``, ``balance_30plus``, ``rate_30plus_balance``,
    ``n_90plus``, ...). Rates are fractions; balances in the book's currency.
    """
    overdue_dpd = Definitions().overdue_dpd if overdue_dpd is None else int(overdue_dpd)
    if overdue_dpd < 1:
        raise ParameterError(f"overdue_dpd={overdue_dpd!r} must be >= 1 day")
    lm, codes, uniques = _coded_loan_months(book)
    st, seg, seg_values = _segment_codes(book.loans, codes, uniques, by)
    act = _active(lm)
    return _overdue_counts(lm, act, np.zeros(int(act.sum()), dtype=np.intp),
                           np.array([st], dtype=object), seg[act], seg_values, overdue_dpd)


def _active(lm: pd.DataFrame) -> np.ndarray:
    """Active loan-months: balance > 0 and not written off."""
    return (lm["balance"].to_numpy(dtype=float) > 0) & ~lm["written_off"].to_numpy(dtype=bool)


def _overdue_table(lm: pd.DataFrame, overdue_dpd: int) -> pd.DataFrame:
    """:func:`_overdue_counts` for loan-months carrying ``segment_type``/``segment``."""
    act = _active(lm)
    st_code, st_uniq = pd.factorize(lm["segment_type"].to_numpy()[act])
    sg_code, sg_uniq = pd.factorize(lm["segment"].to_numpy()[act])
    return _overdue_counts(lm, act, st_code, np.asarray(st_uniq, dtype=object), sg_code,
                           np.asarray(sg_uniq, dtype=object), overdue_dpd)


def _overdue_counts(
    lm: pd.DataFrame,
    act: np.ndarray,
    st_code: np.ndarray,
    st_uniq: np.ndarray,
    sg_code: np.ndarray,
    sg_uniq: np.ndarray,
    overdue_dpd: int,
) -> pd.DataFrame:
    """Counts and balances of active loan-months (rows ``act``) per month and segment,
    and the rates; ``st_code``/``sg_code`` (per active row) index ``st_uniq``/``sg_uniq``.

    Grouped on integer keys (month index x segment code) with ``np.bincount``: the
    loan-month rows are never copied or grouped as text (the KPI passes call this on
    millions of rows per segment cut)."""
    mi = lm["mi"].to_numpy()[act]
    dpd = lm["days_past_due"].to_numpy()[act]
    bal = lm["balance"].to_numpy(dtype=float)[act]
    n_st, n_sg = max(len(st_uniq), 1), max(len(sg_uniq), 1)
    lo = int(mi.min()) if len(mi) else 0
    key = ((mi - lo) * n_st + st_code) * n_sg + sg_code
    size = int(key.max()) + 1 if len(key) else 0
    n = np.bincount(key, minlength=size)
    present = np.flatnonzero(n)
    out = pd.DataFrame({
        "month": _month_end(present // (n_st * n_sg) + lo),
        "segment_type": np.asarray(st_uniq, dtype=object)[present // n_sg % n_st],
        "segment": np.asarray(sg_uniq, dtype=object)[present % n_sg],
        "n_loans": n[present].astype(np.int64),
        "balance": np.bincount(key, weights=bal, minlength=size)[present],
    })
    b = out["balance"]
    flags = {"overdue": dpd >= overdue_dpd, "30plus": dpd >= 30, "90plus": dpd >= 90}
    for name, flag in flags.items():
        cnt = np.bincount(key[flag], minlength=size)[present].astype(np.int64)
        amount = np.bincount(key[flag], weights=bal[flag], minlength=size)[present]
        if name == "overdue":
            out = out.assign(n_overdue=cnt, overdue_rate_count=cnt / out["n_loans"],
                             overdue_balance=amount, overdue_rate_balance=amount / b)
        else:
            out[f"n_{name}"] = cnt
            out[f"rate_{name}_count"] = cnt / out["n_loans"]
            out[f"balance_{name}"] = amount
            out[f"rate_{name}_balance"] = amount / b
    cols = ["month", *_KEYS, "n_loans", "n_overdue", "overdue_rate_count", "balance",
            "overdue_balance", "overdue_rate_balance"]
    for name in ("30plus", "90plus"):
        cols += [f"n_{name}", f"rate_{name}_count", f"balance_{name}", f"rate_{name}_balance"]
    out = out.sort_values(["month", *_KEYS], kind="stable").reset_index(drop=True)
    return out[cols]


# --------------------------------------------------------------------------- roll rates


def _bucket_codes(dpd: np.ndarray, written_off: np.ndarray) -> np.ndarray:
    code = np.digitize(dpd, [1, 30, 60, 90])  # 0 current, 1 1-29, 2 30-59, 3 60-89, 4 90+
    return np.where(written_off, _WO, code)


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
    lm, codes, uniques = _coded_loan_months(book)
    st, seg, seg_values = _segment_codes(book.loans, codes, uniques, by)
    if lm.empty:
        raise InputError("table 'performance' is empty: no roll rates")
    mi = lm["mi"].to_numpy()
    data_end = int(mi.max())
    last = data_end if end is None else _as_month(end, "end")
    first = mi.min() + 1 if months is None else last - int(months) + 1
    bal = lm["balance"].to_numpy(dtype=float)
    wo = lm["written_off"].to_numpy()
    state = _bucket_codes(lm["days_past_due"].to_numpy(), wo)
    same_next = np.zeros(len(lm), dtype=bool)  # the next row is the loan's next month
    same_next[:-1] = (codes[1:] == codes[:-1]) & (codes[1:] >= 0) & (mi[1:] == mi[:-1] + 1)
    nxt = np.minimum(np.arange(len(lm)) + 1, len(lm) - 1)
    next_state = np.where(bal[nxt] > 0, state[nxt], len(DPD_BUCKETS))  # closed
    next_state = np.where(wo[nxt], _WO, next_state)
    to = np.where(wo, _WO, np.where(same_next, next_state, -1))
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
        "period_start": _month_end(start),
        "period_end": _month_end(end),
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
    from_wo = (cell // n_to % n_from) == _WO
    absorbing = from_wo & (out["n"].groupby(row).transform("sum") > 0).to_numpy()
    out.loc[absorbing, "share"] = ((cell % n_to)[absorbing] == _WO).astype(float)
    return out


def roll_matrix(
    rates: pd.DataFrame, segment: str | None = None, values: str = "share"
) -> pd.DataFrame:
    """Pivot :func:`roll_rates` output to a from x to matrix (``values``: share, n, balance).

    ``segment`` picks one segment value when the table holds several; the table must then
    hold one period (use ``per_month=False`` or filter first).
    """
    sub = rates if segment is None else rates[rates["segment"] == segment]
    groups = sub[["period_start", "period_end", *_KEYS]].drop_duplicates()
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


# --------------------------------------------------------------------------- vintages


def vintage_curves(
    book: Book, dpd_threshold: int = 30, by: str | None = None, cohort_freq: str = "Q"
) -> pd.DataFrame:
    """Cumulative share of loans ever at ``DPD >= dpd_threshold`` by months on book.

    Cohorts are origination quarters (``cohort_freq="Q"``; "M" for months). A loan is
    *bad by k* when some month-end with months on book <= k had DPD >= threshold (days)
    or a write-off. Columns: ``segment_type``, ``segment``, ``cohort`` (e.g. "2023Q1"),
    ``dpd_threshold``, ``months_on_book`` (0 = origination month), ``n_loans`` (cohort
    size), ``n_observed`` (loans whose origination month + k <= data end), ``n_ever``
    (bad by k among them), ``share_ever`` = n_ever / n_observed.
    """
    if int(dpd_threshold) < 1:
        raise ParameterError(f"dpd_threshold={dpd_threshold!r} must be >= 1 day")
    _require(book.loans, ["loan_id", "origination_date"], "loans")
    lm = _coded_loan_months(book)[0]  # read only: the shared frame, no copy
    if lm.empty:
        raise InputError("table 'performance' is empty: no vintage curves")
    loans = book.loans.drop_duplicates("loan_id")[["loan_id", "origination_date"]].copy()
    loans[_KEYS] = _segment_of(book.loans, loans["loan_id"], by)[_KEYS]
    orig_mi = _month_index(loans["origination_date"])
    data_end = int(lm["mi"].max())
    loans["max_mob"] = data_end - orig_mi
    bad = lm[(lm["days_past_due"].to_numpy() >= dpd_threshold) | lm["written_off"].to_numpy()]
    first_bad_mi = bad.groupby("loan_id", sort=False)["mi"].min()
    loans["first_bad"] = np.maximum(loans["loan_id"].map(first_bad_mi) - orig_mi, 0)
    loans = loans[loans["max_mob"] >= 0]
    try:
        loans["cohort"] = loans["origination_date"].dt.to_period(cohort_freq).astype(str)
    except ValueError as exc:
        raise ParameterError(f"cohort_freq={cohort_freq!r}: use 'Q' or 'M'") from exc
    gcols = [*_KEYS, "cohort"]
    grouped = loans.groupby(gcols, sort=True)
    g = grouped.ngroup().to_numpy()
    keys = grouped.size().rename("n_loans").reset_index()
    uniques = keys
    n_k = int(loans["max_mob"].max()) + 1 if len(loans) else 0
    observed, first_hit, hit_end = (np.zeros((len(uniques), n_k + 1)) for _ in range(3))
    mm = loans["max_mob"].to_numpy(dtype=np.int64)
    fb = loans["first_bad"].to_numpy(dtype=float)
    is_bad = ~np.isnan(fb)
    np.add.at(observed, (g, mm), 1)
    np.add.at(first_hit, (g[is_bad], fb[is_bad].astype(np.int64)), 1)
    np.add.at(hit_end, (g[is_bad], mm[is_bad] + 1), 1)  # drops out after max_mob
    n_observed = np.cumsum(observed[:, ::-1], axis=1)[:, ::-1][:, :n_k]
    n_ever = (np.cumsum(first_hit, axis=1) - np.cumsum(hit_end, axis=1))[:, :n_k]
    out = pd.DataFrame(
        {
            "group": np.repeat(np.arange(len(uniques)), n_k),
            "months_on_book": np.tile(np.arange(n_k), len(uniques)),
            "n_observed": n_observed.ravel().astype(np.int64),
            "n_ever": n_ever.ravel().astype(np.int64),
        }
    )
    out = out[out["n_observed"] > 0]
    out = keys.iloc[out["group"].to_numpy()].reset_index(drop=True).join(
        out.drop(columns="group").reset_index(drop=True)
    )
    out["dpd_threshold"] = int(dpd_threshold)
    out["share_ever"] = out["n_ever"] / out["n_observed"]
    cols = [*gcols, "dpd_threshold", "months_on_book", "n_loans", "n_observed", "n_ever",
            "share_ever"]
    return out[cols]


# --------------------------------------------------------------------------- outcomes

_PROPORTIONS = (
    ("cure_rate", "is_cured"),
    ("default_rate", "is_defaulted"),
    ("redefault_rate", "is_redefaulted"),
)


def wilson_interval(
    k: np.ndarray, n: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (NaN where n == 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    ok = n > 0
    lo, hi = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    if ok.any():
        lo[ok], hi[ok] = proportion_confint(k[ok], n[ok], alpha=1 - level, method="wilson")
    return lo, hi


def _ratio_rows(
    df: pd.DataFrame, mask: pd.Series, metric: str, level: float
) -> pd.DataFrame:
    """sum(loss) / sum(ead) per segment with a delta-method interval."""
    sub = df.loc[mask & df["loss"].notna() & df["ead"].notna(), [*_KEYS, "loss", "ead"]]
    sums = sub.groupby(_KEYS)[["loss", "ead"]].sum()
    sums["n"] = sub.groupby(_KEYS).size()
    ratio = sums["loss"] / sums["ead"].where(sums["ead"] > 0)
    resid = sub["loss"] - sub.join(ratio.rename("r"), on=_KEYS)["r"] * sub["ead"]
    ss = (resid**2).groupby([sub[k] for k in _KEYS]).sum()
    n = sums["n"].astype(float)
    se = np.sqrt(ss * n / (n - 1).where(n > 1)) / sums["ead"]
    z = stats.norm.ppf(0.5 + level / 2)
    return pd.DataFrame(
        {
            "metric": metric,
            "value": ratio,
            "ci_low": ratio - z * se,
            "ci_high": ratio + z * se,
            "n": sums["n"],
            "numerator": sums["loss"],
            "denominator": sums["ead"],
            "method": "ratio_delta",
        }
    ).reset_index()


def episode_outcome_rates(
    episodes: pd.DataFrame, by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Cure, default, re-default and loss rates over episodes, with intervals.

    * ``cure_rate``, ``default_rate``, ``redefault_rate``: proportions of True among
      episodes where ``is_cured`` / ``is_defaulted`` / ``is_redefaulted`` is known
      (``<NA>`` = censored, excluded); Wilson interval at ``level``.
    * ``loss_rate``: sum(loss) / sum(ead) over uncensored episodes (``is_censored`` False,
      or ``is_defaulted`` known when that column is absent); ``lgd``: the same over
      defaulted episodes (realised loss given default). Delta-method intervals.

    ``by`` is any episode column (``borrower_type``, ``industry``, ``region``, ``measure``,
    ...). Columns: ``segment_type``, ``segment``, ``metric``, ``value``, ``ci_low``,
    ``ci_high``, ``n`` (episodes in the denominator), ``numerator``, ``denominator``
    (events and n for proportions; sums of loss and ead, in currency, for the ratios),
    ``method``. A segment with no known outcome gets value NaN and n 0.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level={level!r} must be in (0, 1)")
    _require(episodes, ["is_cured", "is_defaulted", "loss", "ead"], "episodes")
    df = episodes.copy()
    if by is None:
        df["segment_type"], df["segment"] = ALL, ALL
    else:
        if by not in df.columns:
            raise ParameterError(f"by={by!r} is not an episode column")
        df["segment_type"] = by
        df["segment"] = df[by].astype(object).where(df[by].notna(), "missing").astype(str)
    segs = df[_KEYS].drop_duplicates().set_index(_KEYS).index
    rows = []
    for metric, col in _PROPORTIONS:
        if col not in df.columns:
            continue
        flag = df[col].astype("boolean")
        known = flag.notna()
        grp = [df[k] for k in _KEYS]
        n = known.groupby(grp).sum().reindex(segs, fill_value=0)
        k = flag.fillna(False).astype(bool).groupby(grp).sum().reindex(segs, fill_value=0)
        lo, hi = wilson_interval(k.to_numpy(), n.to_numpy(), level)
        rows.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "value": (k / n.where(n > 0)).to_numpy(),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": n.to_numpy(),
                    "numerator": k.to_numpy().astype(float),
                    "denominator": n.to_numpy().astype(float),
                    "method": "wilson",
                },
                index=segs,
            ).reset_index()
        )
    if "is_censored" in df.columns:
        uncensored = ~df["is_censored"].astype("boolean").fillna(True).astype(bool)
    else:
        uncensored = df["is_defaulted"].astype("boolean").notna()
    defaulted = df["is_defaulted"].astype("boolean").fillna(False).astype(bool)
    for metric, mask in (("loss_rate", uncensored), ("lgd", defaulted)):
        part = _ratio_rows(df, mask, metric, level).set_index(_KEYS).reindex(segs)
        part["metric"], part["method"] = metric, "ratio_delta"
        part["n"] = part["n"].fillna(0)
        rows.append(part.reset_index())
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].astype(np.int64)
    metrics = [p[0] for p in _PROPORTIONS] + ["loss_rate", "lgd"]
    out["metric"] = pd.Categorical(out["metric"], categories=metrics, ordered=True)
    out = out.sort_values([*_KEYS, "metric"], kind="stable")
    out["metric"] = out["metric"].astype(str)
    cols = [*_KEYS, "metric", "value", "ci_low", "ci_high", "n", "numerator", "denominator",
            "method"]
    return out[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- classification


def loan_month_categories(
    book: Book,
    *,
    observation_months: int = 12,
    exempt_deferrals: bool = False,
    restructured_floor: bool = True,
    technical_grace_days: int = 0,
) -> pd.DataFrame:
    """The five-category class of every loan-month (a DPD backstop, not a full assessment).

    Mapping (overdue backstops of 商业银行金融资产风险分类办法, in force 1 July 2023):

    ======================  =====================================
    DPD (days) / state      at least
    ======================  =====================================
    0 (<= technical grace)  正常 normal
    1-90                    关注 special_mention
    91-270 (over 90)        次级 substandard
    271-360 (over 270)      可疑 doubtful
    over 360, written off   损失 loss
    ======================  =====================================

    Relief: a loan granted a *concession* (a ``relief`` row whose measure has
    ``is_concession`` in ``measures``: deferral, instalment, rate_reduction; counselling
    is no concession) is a restructured asset and at least 关注 during
    ``observation_months`` (default 12, the rules' minimum of one year) counted from the
    grant month (month-ends grant .. grant + observation_months - 1). With
    ``restructured_floor`` it also cannot be better than its class at the month-end
    before the grant (the rules keep a restructured non-performing asset's class during
    observation). ``exempt_deferrals=True`` mimics the 2022 policy that let deferrals
    of small-business loans keep their class (no downgrade for a deferral).
    ``technical_grace_days`` (default 0) treats DPD up to that many days as normal,
    like the rules' exemption of short technical delays (at most 7 days); DPD alone
    cannot tell a technical delay, hence the default.

    Known drawbacks: the rules restart the observation period at a missed payment and
    start it at the first repayment date after the restructuring; here it runs from the
    grant month. Categories may be worse in a full assessment, never better.

    Columns: ``loan_id``, ``month``, ``mi`` (month index), ``balance``,
    ``days_past_due``, ``written_off``, ``category`` (ordered categorical of
    ``LOAN_CATEGORIES``).
    """
    if int(observation_months) < 0:
        raise ParameterError(f"observation_months={observation_months!r} must be >= 0")
    if not 0 <= int(technical_grace_days) < 90:
        raise ParameterError(f"technical_grace_days={technical_grace_days!r}: 0 to 89 days")
    lm, codes, uniques = _coded_loan_months(book)
    dpd = lm["days_past_due"].to_numpy()
    code = np.digitize(dpd, [int(technical_grace_days) + 1, 91, 271, 361])
    code = np.where(lm["written_off"].to_numpy(), 4, code)
    floor = _relief_floor(
        book, lm, codes, uniques, code, int(observation_months), exempt_deferrals,
        restructured_floor,
    )
    code = np.maximum(code, floor)
    out = pd.DataFrame(index=lm.index)
    for col in ("loan_id", "month", "mi", "balance", "days_past_due", "written_off"):
        out[col] = lm[col].copy()  # column by column: no block stacking
    out["category"] = pd.Categorical.from_codes(code, list(LOAN_CATEGORIES), ordered=True)
    return out


def _relief_floor(
    book: Book,
    lm: pd.DataFrame,
    codes: np.ndarray,
    uniques: np.ndarray,
    backstop: np.ndarray,
    observation_months: int,
    exempt_deferrals: bool,
    restructured_floor: bool,
) -> np.ndarray:
    """Per row of ``lm`` (sorted by loan code ``codes`` and month): the lowest category
    code a concession allows (0 = none)."""
    relief = book.relief
    if relief is None or relief.empty or observation_months == 0:
        return np.zeros(len(lm), dtype=np.int64)
    _require(relief, ["loan_id", "granted_date", "measure"], "relief")
    _require(book.measures, ["code", "is_concession"], "measures")
    concession = book.measures.set_index("code")["is_concession"].astype(bool)
    unknown = sorted(set(relief["measure"]) - set(concession.index))
    if unknown:
        raise InputError(f"table 'relief', column 'measure': codes {unknown[:5]} not in measures")
    rel = relief[relief["measure"].map(concession).to_numpy()]
    if exempt_deferrals:
        rel = rel[rel["measure"] != "deferral"]
    if rel.empty:
        return np.zeros(len(lm), dtype=np.int64)
    grant = _month_index(rel["granted_date"])
    floor = np.ones(len(rel), dtype=np.int64)
    row_of = _row_finder(lm, codes, uniques)
    rel_ids = rel["loan_id"].to_numpy()
    if restructured_floor:
        pos = row_of(rel_ids, grant - 1)
        floor = np.maximum(floor, np.where(pos >= 0, backstop[np.maximum(pos, 0)], 0))
    reps = np.repeat(np.arange(len(rel)), observation_months)
    offs = np.tile(np.arange(observation_months), len(rel))
    pos = row_of(rel_ids[reps], grant[reps] + offs)
    out = np.zeros(len(lm), dtype=np.int64)
    hit = pos >= 0
    np.maximum.at(out, pos[hit], floor[reps][hit])  # the highest floor of a loan-month
    return out


def _row_finder(
    lm: pd.DataFrame, codes: np.ndarray, uniques: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (loan IDs, month indices) -> row of ``lm`` holding that loan-month, -1
    when none: a binary search on the integer key loan code x month (``lm`` is sorted by
    both), instead of a text MultiIndex lookup. Duplicate or NA loan-months keep the
    MultiIndex lookup (and its error for duplicates)."""
    mi = lm["mi"].to_numpy()
    n = len(mi)
    lo, width = (int(mi.min()), int(mi.max()) - int(mi.min()) + 1) if n else (0, 1)
    row_key = codes.astype(np.int64) * width + (mi - lo)
    plain = (
        n > 0 and (len(uniques) + 1) * width < 2**62 and bool((codes >= 0).all())
        and bool((np.diff(row_key) > 0).all())
    )
    if not plain:
        keys = pd.MultiIndex.from_arrays([lm["loan_id"].to_numpy(), mi])
        return lambda ids, months: keys.get_indexer(
            pd.MultiIndex.from_arrays([np.asarray(ids), np.asarray(months)]))
    loan_index = pd.Index(uniques)

    def find(ids: np.ndarray, months: np.ndarray) -> np.ndarray:
        loan = loan_index.get_indexer(np.asarray(ids, dtype=object))
        months = np.asarray(months, dtype=np.int64)
        ok = (loan >= 0) & (months >= lo) & (months < lo + width)
        want = np.where(ok, loan.astype(np.int64) * width + (months - lo), -1)
        pos = np.minimum(np.searchsorted(row_key, want), n - 1)
        return np.where(ok & (row_key[pos] == want), pos, -1)

    return find


def loan_classification(book: Book, by: str | None = None, **rules) -> pd.DataFrame:
    """Five-category shares per month, over loans with a positive balance.

    ``rules`` go to :func:`loan_month_categories` (observation_months, exempt_deferrals,
    restructured_floor, technical_grace_days). Fully written-off loans (balance 0) are off
    the balance sheet and drop out; a written-off loan with a remaining balance is loss.
    Columns: ``month``, ``segment_type``, ``segment``, ``category`` (ordered),
    ``category_zh``, ``n_loans``, ``balance``, ``share_count``, ``share_balance``
    (fractions of the month's and segment's loans and balance). All five categories
    appear for every month and segment.
    """
    return _classification_table(loan_month_categories(book, **rules), book.loans, by)


def _classification_table(cat: pd.DataFrame, loans: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Count and balance shares of the categories per month and segment, over the rows of
    ``cat`` (:func:`loan_month_categories` rows) with a positive balance.

    Grouped on integer keys (month code x segment code x category code): the segment is
    looked up once per loan and taken by loan codes, counts by ``np.bincount``, balances
    by a pandas group sum on the integer key (the same summation as on the text keys)."""
    category = cat["category"]
    if not isinstance(category.dtype, pd.CategoricalDtype) or (category.cat.codes < 0).any():
        return _classification_groupby(cat, loans, by)
    pos = cat["balance"].to_numpy() > 0
    codes, uniques = _codes_of(cat["loan_id"].to_numpy()[pos])
    st, seg, seg_values = _segment_codes(loans, codes, uniques, by)
    m_code, m_values = pd.factorize(cat["month"].to_numpy()[pos])
    n_cat = len(category.cat.categories)
    n_seg = len(seg_values)
    g, g_raw = pd.factorize(m_code.astype(np.int64) * n_seg + seg)  # present month x segment
    key = g * n_cat + category.cat.codes.to_numpy()[pos]
    cells = len(g_raw) * n_cat
    n = np.bincount(key, minlength=cells).astype(np.int64)
    bal = np.zeros(cells)
    sums = pd.Series(cat["balance"].to_numpy()[pos], dtype=float).groupby(key).sum()
    bal[sums.index.to_numpy()] = sums.to_numpy()
    grp = np.repeat(np.arange(len(g_raw)), n_cat)
    g_raw = np.asarray(g_raw, dtype=np.int64)
    agg = pd.DataFrame({
        "month": np.asarray(m_values)[g_raw[grp] // n_seg],
        "segment_type": np.full(cells, st, dtype=object),
        "segment": seg_values[g_raw[grp] % n_seg],
        "category": pd.Categorical.from_codes(np.tile(np.arange(n_cat), len(g_raw)),
                                              dtype=category.dtype),
        "n_loans": n,
        "balance": bal,
    })
    gsum = agg.groupby(grp)[["n_loans", "balance"]].transform("sum")
    agg["share_count"] = agg["n_loans"] / gsum["n_loans"]
    agg["share_balance"] = agg["balance"] / gsum["balance"]
    agg["category_zh"] = agg["category"].map(LOAN_CATEGORIES_ZH).astype(str)
    cols = ["month", *_KEYS, "category", "category_zh", "n_loans", "balance", "share_count",
            "share_balance"]
    return agg.sort_values(["month", *_KEYS, "category"]).reset_index(drop=True)[cols]


def _classification_groupby(cat: pd.DataFrame, loans: pd.DataFrame, by: str | None
                            ) -> pd.DataFrame:
    """:func:`_classification_table` by a text group-by, for a ``category`` column that is
    not a categorical without NA (not what :func:`loan_month_categories` gives)."""
    cat = cat[cat["balance"] > 0].copy()
    cat[_KEYS] = _segment_of(loans, cat["loan_id"], by)[_KEYS]
    cat["n_loans"] = 1
    agg = (
        cat.groupby(["month", *_KEYS, "category"], observed=False, sort=True)[
            ["n_loans", "balance"]
        ]
        .sum()
        .reset_index()
    )
    present = cat[["month", *_KEYS]].drop_duplicates()
    agg = present.merge(agg, on=["month", *_KEYS], how="left")
    gsum = agg.groupby(["month", *_KEYS])[["n_loans", "balance"]].transform("sum")
    agg["share_count"] = agg["n_loans"] / gsum["n_loans"]
    agg["share_balance"] = agg["balance"] / gsum["balance"]
    agg["category_zh"] = agg["category"].map(LOAN_CATEGORIES_ZH).astype(str)
    agg["n_loans"] = agg["n_loans"].astype(np.int64)
    cols = ["month", *_KEYS, "category", "category_zh", "n_loans", "balance", "share_count",
            "share_balance"]
    return agg.sort_values(["month", *_KEYS, "category"]).reset_index(drop=True)[cols]


# --------------------------------------------------------------------------- headline


def resolve_as_of(book: Book, as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """The reporting month as a month-end Timestamp: ``as_of`` (YYYY-MM or a date) when it
    is a month of the performance table, the latest month when None or ""."""
    return _month_end(np.array([_as_of_month(book, as_of)]))[0]


def _as_of_month(book: Book, as_of: str | pd.Timestamp | None) -> int:
    months = _month_index(book.performance["month"])
    if len(months) == 0:
        raise InputError("table 'performance' is empty: no KPIs")
    if as_of is None or (isinstance(as_of, str) and as_of.strip() == ""):
        return int(months.max())
    m = _as_month(as_of, "as_of")
    if not (months == m).any():
        lo, hi = _month_end(np.array([months.min(), months.max()]))
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
    m = int(_month_index(np.array([month.to_datetime64()]))[0])
    segments = tuple(segments)
    lm = _loan_months(book, None)
    lm = lm[lm["mi"] == m].reset_index(drop=True)
    cat = loan_month_categories(book)
    cat = cat[cat["mi"] == m]
    od, cl = [], []
    for by in segments:
        lm[_KEYS] = _segment_of(book.loans, lm["loan_id"], by)[_KEYS]
        od.append(_overdue_table(lm, Definitions().overdue_dpd))
        cl.append(_classification_table(cat, book.loans, by))
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
    (:func:`overdue_rates` rows, default ``overdue_dpd``) and ``classification``
    (:func:`loan_classification` rows) holding at least the month-end ``month`` and the
    cuts of ``segments`` (other months and cuts are ignored); the Dask engine passes
    the book-wide tables it added up over loan partitions."""
    m = int(_month_index(np.array([pd.Timestamp(month).to_datetime64()]))[0])
    at_m = pd.DatetimeIndex(pd.to_datetime(overdue["month"])) == _month_end(np.array([m]))[0]
    overdue = overdue[at_m]
    at_m = pd.DatetimeIndex(pd.to_datetime(classification["month"])) == _month_end(np.array([m]))[0]
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
            rows.append(od[_KEYS].assign(metric=metric, value=od[col].astype(float),
                                         n=od["n_loans"]))
        cl = classification[classification["segment_type"] == (by or ALL)]
        npl = cl.assign(npl=cl["share_balance"].where(cl["category"].isin(NPL_CATEGORIES), 0))
        npl = npl.groupby(_KEYS, as_index=False).agg(value=("npl", "sum"), n=("n_loans", "sum"))
        rows.append(npl.assign(metric="npl_ratio_balance"))
        if episodes is None:
            continue
        _require(episodes, ["start_month"], "episodes")
        start = _month_index(episodes["start_month"])
        lo = -np.inf if episode_window_months is None else m - int(episode_window_months)
        ep = episodes[(start <= m) & (start > lo)]
        if ep.empty:
            continue
        count = ep.groupby(_segment_of_episodes(ep, by)).size()
        rows.append(
            pd.DataFrame({"metric": "n_episodes", "value": count.astype(float), "n": count})
            .rename_axis(_KEYS).reset_index()
        )
        rates = episode_outcome_rates(ep, by=by)
        rates = rates[rates["metric"].isin(["cure_rate", "default_rate", "redefault_rate",
                                            "loss_rate"])]
        rows.append(rates[[*_KEYS, "metric", "value", "n"]])
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].fillna(0).astype(np.int64)
    return out[["metric", *_KEYS, "value", "n"]].reset_index(drop=True)


def _segment_of_episodes(ep: pd.DataFrame, by: str | None) -> list[pd.Series]:
    if by is None:
        s = pd.Series(ALL, index=ep.index)
        return [s.rename("segment_type"), s.rename("segment")]
    if by not in ep.columns:
        raise ParameterError(f"by={by!r} is not an episode column")
    seg = ep[by].astype(object).where(ep[by].notna(), "missing").astype(str)
    return [pd.Series(by, index=ep.index, name="segment_type"), seg.rename("segment")]
