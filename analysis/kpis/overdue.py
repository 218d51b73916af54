"""Overdue rates: per month, the share of active loans (count) and of active balance with
``DPD >= overdue_dpd`` (default 1 day), ``>= 30`` and ``>= 90``.

Active loan-months have ``balance > 0`` and no write-off so far
(:mod:`analysis.kpis.loan_months`). Rates are fractions, balances in the book's currency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.definitions import Definitions
from analysis.errors import ParameterError
from analysis.kpis.loan_months import coded_loan_months
from analysis.kpis.segments import SEGMENT_KEYS, segment_codes
from analysis.months import month_end


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
    lm, codes, uniques = coded_loan_months(book)
    st, seg, seg_values = segment_codes(book.loans, codes, uniques, by)
    act = _active(lm)
    return _overdue_counts(lm, act, np.zeros(int(act.sum()), dtype=np.intp),
                           np.array([st], dtype=object), seg[act], seg_values, overdue_dpd)


def _active(lm: pd.DataFrame) -> np.ndarray:
    """Active loan-months: balance > 0 and not written off."""
    return (lm["balance"].to_numpy(dtype=float) > 0) & ~lm["written_off"].to_numpy(dtype=bool)


def overdue_table(lm: pd.DataFrame, overdue_dpd: int) -> pd.DataFrame:
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
        "month": month_end(present // (n_st * n_sg) + lo),
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
    cols = ["month", *SEGMENT_KEYS, "n_loans", "n_overdue", "overdue_rate_count", "balance",
            "overdue_balance", "overdue_rate_balance"]
    for name in ("30plus", "90plus"):
        cols += [f"n_{name}", f"rate_{name}_count", f"balance_{name}", f"rate_{name}_balance"]
    out = out.sort_values(["month", *SEGMENT_KEYS], kind="stable").reset_index(drop=True)
    return out[cols]
