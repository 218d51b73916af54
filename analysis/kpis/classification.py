"""The five loan categories of 商业银行金融资产风险分类办法 (2023) from the overdue backstops,
per loan-month and as count and balance shares per month (see
:func:`loan_month_categories` for the mapping).

``LOAN_CATEGORIES_ZH`` gives the ``category_zh`` column of :func:`loan_classification`
(published as ``loan_categories.csv``), the regulation's own names whatever the report
language; reports translate categories through their catalogues.

Known drawback: the classification is a DPD backstop, a floor, not a full credit
assessment: a lender may classify worse on other evidence (financial condition,
cross-default, impairment), never better.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from analysis.checks import require_columns
from analysis.data.book import Book
from analysis.definitions import LOAN_CATEGORIES
from analysis.errors import InputError, ParameterError
from analysis.kpis.loan_months import coded_loan_months, codes_of
from analysis.kpis.segments import SEGMENT_KEYS, segment_codes, segment_of
from analysis.months import month_index

LOAN_CATEGORIES_ZH: dict[str, str] = {
    "normal": "正常",
    "special_mention": "关注",
    "substandard": "次级",
    "doubtful": "可疑",
    "loss": "损失",
}
NPL_CATEGORIES: tuple[str, ...] = ("substandard", "doubtful", "loss")


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
    lm, codes, uniques = coded_loan_months(book)
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
    require_columns(relief, ["loan_id", "granted_date", "measure"], "relief")
    require_columns(book.measures, ["code", "is_concession"], "measures")
    concession = book.measures.set_index("code")["is_concession"].astype(bool)
    unknown = sorted(set(relief["measure"]) - set(concession.index))
    if unknown:
        raise InputError(f"table 'relief', column 'measure': codes {unknown[:5]} not in measures")
    rel = relief[relief["measure"].map(concession).to_numpy()]
    if exempt_deferrals:
        rel = rel[rel["measure"] != "deferral"]
    if rel.empty:
        return np.zeros(len(lm), dtype=np.int64)
    grant = month_index(rel["granted_date"])
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


def loan_classification(book: Book, by: str | None = None, **rules: Any) -> pd.DataFrame:
    """Five-category shares per month, over loans with a positive balance.

    ``rules`` go to :func:`loan_month_categories` (observation_months, exempt_deferrals,
    restructured_floor, technical_grace_days). Fully written-off loans (balance 0) are off
    the balance sheet and drop out; a written-off loan with a remaining balance is loss.
    Columns: ``month``, ``segment_type``, ``segment``, ``category`` (ordered),
    ``category_zh``, ``n_loans``, ``balance``, ``share_count``, ``share_balance``
    (fractions of the month's and segment's loans and balance). All five categories
    appear for every month and segment.
    """
    return classification_table(loan_month_categories(book, **rules), book.loans, by)


def classification_table(cat: pd.DataFrame, loans: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Count and balance shares of the categories per month and segment, over the rows of
    ``cat`` (:func:`loan_month_categories` rows) with a positive balance.

    Grouped on integer keys (month code x segment code x category code): the segment is
    looked up once per loan and taken by loan codes, counts by ``np.bincount``, balances
    by a pandas group sum on the integer key (the same summation as on the text keys)."""
    category = cat["category"]
    if not isinstance(category.dtype, pd.CategoricalDtype) or (category.cat.codes < 0).any():
        return classification_groupby(cat, loans, by)
    pos = cat["balance"].to_numpy() > 0
    codes, uniques = codes_of(cat["loan_id"].array[pos])  # categorical IDs stay codes
    st, seg, seg_values = segment_codes(loans, codes, uniques, by)
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
    cols = ["month", *SEGMENT_KEYS, "category", "category_zh", "n_loans", "balance", "share_count",
            "share_balance"]
    return agg.sort_values(["month", *SEGMENT_KEYS, "category"]).reset_index(drop=True)[cols]


def classification_groupby(cat: pd.DataFrame, loans: pd.DataFrame, by: str | None
                            ) -> pd.DataFrame:
    """:func:`classification_table` by a text group-by, for a ``category`` column that is
    not a categorical without NA (not what :func:`loan_month_categories` gives)."""
    cat = cat[cat["balance"] > 0].copy()
    cat[SEGMENT_KEYS] = segment_of(loans, cat["loan_id"], by)[SEGMENT_KEYS]
    cat["n_loans"] = 1
    agg = (
        cat.groupby(["month", *SEGMENT_KEYS, "category"], observed=False, sort=True)[
            ["n_loans", "balance"]
        ]
        .sum()
        .reset_index()
    )
    present = cat[["month", *SEGMENT_KEYS]].drop_duplicates()
    agg = present.merge(agg, on=["month", *SEGMENT_KEYS], how="left")
    gsum = agg.groupby(["month", *SEGMENT_KEYS])[["n_loans", "balance"]].transform("sum")
    agg["share_count"] = agg["n_loans"] / gsum["n_loans"]
    agg["share_balance"] = agg["balance"] / gsum["balance"]
    agg["category_zh"] = agg["category"].map(LOAN_CATEGORIES_ZH).astype(str)
    agg["n_loans"] = agg["n_loans"].astype(np.int64)
    cols = ["month", *SEGMENT_KEYS, "category", "category_zh", "n_loans", "balance", "share_count",
            "share_balance"]
    return agg.sort_values(["month", *SEGMENT_KEYS, "category"]).reset_index(drop=True)[cols]
