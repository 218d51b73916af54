"""Vintage curves: per origination cohort, the cumulative share of loans ever bad by months
on book.

For each cohort (quarter by default) and months on book k (0 = the origination month),
the share of the cohort's loans that have been at ``DPD >= dpd_threshold`` (or written
off) at some month-end <= k. Only loans whose origination month + k is within the data
count at k (``n_observed``); loans repaid earlier stay in the denominator as never bad.

Known drawback: vintage curves mix cohorts' calendar periods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.checks import require_columns
from analysis.data.book import Book
from analysis.data.checks import index_positions
from analysis.errors import InputError, ParameterError
from analysis.kpis.loan_months import coded_loan_months
from analysis.kpis.segments import SEGMENT_KEYS, segment_of
from analysis.months import month_index


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
    require_columns(book.loans, ["loan_id", "origination_date"], "loans")
    lm, codes, uniques = coded_loan_months(book)  # read only: the shared frame, no copy
    if lm.empty:
        raise InputError("table 'performance' is empty: no vintage curves")
    loans = book.loans.drop_duplicates("loan_id")[["loan_id", "origination_date"]].copy()
    loans[SEGMENT_KEYS] = segment_of(book.loans, loans["loan_id"], by)[SEGMENT_KEYS]
    orig_mi = month_index(loans["origination_date"])
    data_end = int(lm["mi"].max())
    loans["max_mob"] = data_end - orig_mi
    bad = ((lm["days_past_due"].to_numpy() >= dpd_threshold) | lm["written_off"].to_numpy()) \
        & (codes >= 0)
    # rows are sorted by loan code and month: a loan's first bad row holds its first bad month
    bad_codes, first_row = np.unique(codes[bad], return_index=True)
    first_bad_mi = np.full(len(uniques) + 1, np.nan)  # the last entry: a loan without rows
    first_bad_mi[bad_codes] = lm["mi"].to_numpy()[bad][first_row]
    pos = index_positions(pd.Index(uniques), loans["loan_id"])
    loans["first_bad"] = np.maximum(first_bad_mi[pos] - orig_mi, 0)
    loans = loans[loans["max_mob"] >= 0]
    try:
        loans["cohort"] = loans["origination_date"].dt.to_period(cohort_freq).astype(str)
    except ValueError as exc:
        raise ParameterError(f"cohort_freq={cohort_freq!r}: use 'Q' or 'M'") from exc
    gcols = [*SEGMENT_KEYS, "cohort"]
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
