"""The integer-key paths of the KPI functions give exactly the earlier text group-bys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import kpis
from analysis.data.book import Book
from analysis.definitions import DPD_BUCKETS, LOAN_CATEGORIES
from analysis.kpis.classification import classification_groupby
from analysis.kpis.loan_months import codes_of
from analysis.kpis.overdue import overdue_table
from analysis.kpis.rolls import WRITTEN_OFF_CODE, bucket_codes
from analysis.kpis.segments import segment_of
from analysis.months import month_end, month_number, parse_month
from tests.helpers.kpis import make_book

# The KPI functions group on integer codes (loan codes, segment codes) for speed; these
# reference versions are the earlier text group-by implementations, kept here to prove the
# results are identical (exact, bit for bit) on random books with awkward rows.


def _ref_loan_months(book: Book, by: str | None) -> pd.DataFrame:
    perf = book.performance
    lm = perf[["loan_id", "month", "balance", "days_past_due"]].copy()
    lm["write_off"] = perf["write_off"].fillna(0.0).astype(float)
    lm["mi"] = lm["month"].to_numpy().astype("datetime64[M]").astype(np.int64)
    first = lm["mi"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
    lm["month"] = pd.DatetimeIndex(first) + pd.offsets.MonthEnd(0)
    codes, _ = pd.factorize(lm["loan_id"], sort=True)
    lm = lm.iloc[np.lexsort((lm["mi"].to_numpy(), codes))].reset_index(drop=True)
    lm["written_off"] = lm.groupby("loan_id", sort=False)["write_off"].cumsum() > 0
    lm[["segment_type", "segment"]] = segment_of(book.loans, lm["loan_id"], by)[
        ["segment_type", "segment"]]
    return lm


def _ref_roll_rates(book: Book, weight: str, by: str | None, end=None, months=None,
                    per_month: bool = False) -> pd.DataFrame:
    keys = ["segment_type", "segment"]
    lm = _ref_loan_months(book, by)
    mi = lm["mi"].to_numpy()
    data_end = int(mi.max())
    last = data_end if end is None else month_number(parse_month(end, "end"))
    first = mi.min() + 1 if months is None else last - int(months) + 1
    bal, wo = lm["balance"].to_numpy(dtype=float), lm["written_off"].to_numpy()
    state = bucket_codes(lm["days_past_due"].to_numpy(), wo)
    loan = lm["loan_id"].to_numpy()
    same_next = np.zeros(len(lm), dtype=bool)
    same_next[:-1] = (loan[1:] == loan[:-1]) & (mi[1:] == mi[:-1] + 1)
    nxt = np.minimum(np.arange(len(lm)) + 1, len(lm) - 1)
    next_state = np.where(bal[nxt] > 0, state[nxt], len(DPD_BUCKETS))
    next_state = np.where(wo[nxt], WRITTEN_OFF_CODE, next_state)
    to = np.where(wo, WRITTEN_OFF_CODE, np.where(same_next, next_state, -1))
    keep = (wo | (bal > 0)) & (to >= 0) & (mi + 1 >= first) & (mi + 1 <= last) & (mi < data_end)
    tr = lm.loc[keep, keys].copy()
    tr["to_mi"] = mi[keep] + 1
    tr["from_code"], tr["to_code"] = state[keep], to[keep]
    tr["n"], tr["balance"] = 1, bal[keep]
    if per_month:
        tr["period_start"] = tr["period_end"] = tr["to_mi"]
    else:
        tr["period_start"], tr["period_end"] = first, last
    gkeys = ["period_start", "period_end", *keys]
    agg = tr.groupby([*gkeys, "from_code", "to_code"], sort=True)[["n", "balance"]].sum()
    grid = tr[gkeys].drop_duplicates().merge(
        pd.DataFrame({"from_code": range(len(DPD_BUCKETS))}), how="cross"
    ).merge(pd.DataFrame({"to_code": range(len(kpis.ROLL_TO_BUCKETS))}), how="cross")
    out = grid.merge(agg.reset_index(), on=[*gkeys, "from_code", "to_code"], how="left")
    out[["n", "balance"]] = out[["n", "balance"]].fillna(0)
    out["n"] = out["n"].astype(np.int64)
    w = out["n"].astype(float) if weight == "count" else out["balance"]
    total = w.groupby([out[k] for k in [*gkeys, "from_code"]]).transform("sum")
    out["share"] = (w / total).where(total > 0)
    absorbing = (out["from_code"] == WRITTEN_OFF_CODE) & (
        out.groupby([*gkeys, "from_code"])["n"].transform("sum") > 0)
    out.loc[absorbing, "share"] = (out.loc[absorbing, "to_code"] == WRITTEN_OFF_CODE).astype(float)
    out["from_bucket"] = pd.Categorical.from_codes(out["from_code"], list(DPD_BUCKETS),
                                                   ordered=True)
    out["to_bucket"] = pd.Categorical.from_codes(out["to_code"], list(kpis.ROLL_TO_BUCKETS),
                                                 ordered=True)
    for col in ("period_start", "period_end"):
        out[col] = month_end(out[col].to_numpy(dtype=np.int64))
    out["weight"] = weight
    cols = [*gkeys, "weight", "from_bucket", "to_bucket", "n", "balance", "share"]
    return out[cols].reset_index(drop=True)


def _ref_categories(book: Book, observation_months: int = 12,
                    restructured_floor: bool = True) -> pd.DataFrame:
    lm = _ref_loan_months(book, None)
    code = np.digitize(lm["days_past_due"].to_numpy(), [1, 91, 271, 361])
    code = np.where(lm["written_off"].to_numpy(), 4, code)
    concession = book.measures.set_index("code")["is_concession"].astype(bool)
    rel = book.relief[book.relief["measure"].map(concession).to_numpy()]
    floor_rows = np.zeros(len(lm), dtype=np.int64)
    if len(rel) and observation_months:
        grant = rel["granted_date"].to_numpy().astype("datetime64[M]").astype(np.int64)
        floor = np.ones(len(rel), dtype=np.int64)
        keys = pd.MultiIndex.from_arrays([lm["loan_id"].to_numpy(), lm["mi"].to_numpy()])
        if restructured_floor:
            pos = keys.get_indexer(pd.MultiIndex.from_arrays([rel["loan_id"].to_numpy(),
                                                              grant - 1]))
            floor = np.maximum(floor, np.where(pos >= 0, code[np.maximum(pos, 0)], 0))
        reps = np.repeat(np.arange(len(rel)), observation_months)
        offs = np.tile(np.arange(observation_months), len(rel))
        span = pd.DataFrame({"loan_id": rel["loan_id"].to_numpy()[reps],
                             "mi": grant[reps] + offs, "floor": floor[reps]})
        span = span.groupby(["loan_id", "mi"], sort=False)["floor"].max()
        pos = keys.get_indexer(span.index)
        np.maximum.at(floor_rows, pos[pos >= 0], span.to_numpy()[pos >= 0])
    out = lm[["loan_id", "month", "mi", "balance", "days_past_due", "written_off"]].copy()
    out["category"] = pd.Categorical.from_codes(np.maximum(code, floor_rows),
                                                list(LOAN_CATEGORIES), ordered=True)
    return out


def _awkward_book(seed: int) -> Book:
    """Random book: rows shuffled or grouped, gaps, odd balances (for exact sums), write-offs,
    missing segment values, a performance loan absent from ``loans``, relief grants before,
    inside and after the data, several per loan, and counselling (no concession)."""
    rng = np.random.default_rng(seed)
    n = 80
    ids = np.array([f"L{i:03d}" for i in rng.permutation(n)], dtype=object)
    rows = []
    for lid in ids:
        start, length = rng.integers(0, 10), rng.integers(1, 14)
        months = [m for m in range(start, start + length) if rng.random() > 0.1] or [start]
        wo_at = rng.integers(0, len(months)) if rng.random() < 0.2 else -1
        for k, m in enumerate(months):
            rows.append({
                "loan_id": lid,
                "month": pd.Period("2023-01", "M") + int(m),
                "balance": 0.0 if rng.random() < 0.1 else round(float(rng.random() * 1e4), 2),
                "days_past_due": int(rng.choice([0, 0, 0, 5, 29, 30, 60, 89, 90, 91, 200, 271,
                                                 361, 400])),
                "write_off": round(float(rng.random() * 100), 2) if k == wo_at else 0.0,
            })
    perf = pd.DataFrame(rows)
    perf["month"] = perf["month"].dt.to_timestamp(how="end").dt.normalize()
    if seed == 3:  # a write-off reversed the next month (cumulative write-off back to 0)
        wo = perf.index[(perf["write_off"] > 0).to_numpy()][:3]
        perf.loc[wo + 1, "write_off"] = -perf.loc[wo, "write_off"].to_numpy()
    if seed % 2:  # shuffled rows (not grouped by loan)
        perf = perf.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    loans = pd.DataFrame({
        "loan_id": ids[1:],  # ids[0] has rows but no loan record: segment "missing"
        "borrower_type": rng.choice(["individual", "micro_enterprise"], n - 1),
        "industry": rng.choice(np.array(["retail", "farming", None], dtype=object), n - 1),
        "origination_date": pd.Timestamp("2022-12-15"),
    })
    rel_ids = rng.choice(ids, 30)
    relief = pd.DataFrame({
        "loan_id": rel_ids,
        "granted_date": pd.Timestamp("2022-10-10")
        + pd.to_timedelta(rng.integers(0, 700, 30), unit="D"),
        "measure": rng.choice(["deferral", "instalment", "rate_reduction", "counselling"], 30),
    })
    return Book(loans=loans, performance=perf, relief=relief,
                measures=make_book({"A": {"first": "2024-01", "dpd": [0]}}).measures)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_integer_key_paths_equal_text_groupbys(seed):
    book = _awkward_book(seed)
    for by in (None, "borrower_type", "industry"):
        pd.testing.assert_frame_equal(
            kpis.overdue_rates(book, by=by), overdue_table(_ref_loan_months(book, by), 1),
            check_exact=True)
        for weight, kw in (("count", {}), ("balance", {"end": "2023-09", "months": 4}),
                           ("count", {"per_month": True}), ("balance", {"per_month": True})):
            pd.testing.assert_frame_equal(kpis.roll_rates(book, weight=weight, by=by, **kw),
                                          _ref_roll_rates(book, weight, by, **kw),
                                          check_exact=True)
    for rules in ({}, {"observation_months": 3, "restructured_floor": False}):
        cat = kpis.loan_month_categories(book, **rules)
        pd.testing.assert_frame_equal(cat, _ref_categories(book, **rules), check_exact=True)
        for by in (None, "borrower_type", "industry"):
            pd.testing.assert_frame_equal(kpis.classification_table(cat, book.loans, by),
                                          classification_groupby(cat, book.loans, by),
                                          check_exact=True)
    # a category column that is plain text takes the text group-by
    text_cat = cat.assign(category=cat["category"].astype(str))
    pd.testing.assert_frame_equal(kpis.classification_table(text_cat, book.loans, None),
                                  classification_groupby(text_cat, book.loans, None))


def test_codes_of_and_month_end_match_pandas():
    for values in (["b", "b", "a", "c", "c"], ["b", "a", "b"], ["a"], [], ["a", None, "a"],
                   ["x", "x", None, None]):
        arr = np.array(values, dtype=object)
        codes, uniques = codes_of(arr)
        want_codes, want_uniques = pd.factorize(arr, sort=True)
        np.testing.assert_array_equal(codes, want_codes)
        np.testing.assert_array_equal(uniques, np.asarray(want_uniques, dtype=object))
    idx = np.append(np.arange(-30, 1200, 7), np.iinfo(np.int64).min)  # the last: NaT
    want = pd.DatetimeIndex(idx.astype("datetime64[M]").astype("datetime64[ns]")) + \
        pd.offsets.MonthEnd(0)
    pd.testing.assert_index_equal(month_end(idx), want)


def test_duplicate_loan_months_still_rejected_by_relief_lookup():
    book = _awkward_book(0)
    perf = pd.concat([book.performance, book.performance.iloc[:1]], ignore_index=True)
    dup = Book(loans=book.loans, performance=perf, relief=book.relief, measures=book.measures)
    with pytest.raises(pd.errors.InvalidIndexError):
        kpis.loan_month_categories(dup)
    with pytest.raises(pd.errors.InvalidIndexError):
        _ref_categories(dup)
