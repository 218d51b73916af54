"""Episode builder: hand-computed small books, a reference implementation, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.definitions import Definitions
from analysis.episodes import build_episodes, episodes_from_definitions
from analysis.months import month_index
from tests.helpers.books import tiny_book


def _b(value):
    return None if pd.isna(value) else bool(value)


def _ep(book, **kw):
    ep = build_episodes(book, **kw)
    return {(r.loan_id, r.episode_no): r for r in ep.itertuples()}


def test_clean_cure_with_relief_in_window():
    book = tiny_book(
        {"A": {"first": "2023-01", "dpd": [0, 15, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]}},
        relief=[{"loan_id": "A", "granted_date": "2023-03-10", "measure": "deferral",
                 "deferral_months": 3}],
    )
    (e,) = _ep(book).values()
    assert e.start_month == pd.Timestamp("2023-02-28")
    assert e.cure_month == pd.Timestamp("2023-04-30")
    assert e.months_to_cure == 2 and e.is_cure_observed
    assert _b(e.is_cured) is True and _b(e.is_defaulted) is False and not e.is_censored
    assert e.exit_type == "cure" and e.months_to_exit == 2
    assert e.measure == "deferral" and e.deferral_months == 3
    assert e.granted_month == pd.Timestamp("2023-03-31")
    assert e.prev_dpd == 0 and e.dpd_at_start == 15 and e.months_on_book == 1
    assert pd.isna(e.is_redefaulted)  # 8 months seen after the cure, fewer than 12


def test_false_cure_relapse_continues_episode():
    book = tiny_book({"B": {"first": "2023-01", "dpd": [0, 30, 0, 0, 40, 70, 0, 0, 0, 0, 0, 0, 0]}})
    eps = _ep(book)
    assert len(eps) == 1
    (e,) = eps.values()
    assert e.months_to_cure == 5 and _b(e.is_cured) is True
    assert e.end_month == pd.Timestamp("2024-01-31")


def test_horizon_and_probation_parameters():
    dpd = [0, 30, 0, 0, 40, 70, 0, 0, 0, 0, 0, 0, 0]
    book = tiny_book({"B": {"first": "2023-01", "dpd": dpd}})
    (e,) = _ep(book, horizon_months=4).values()
    assert _b(e.is_cured) is False and e.months_to_cure == 5  # cured, but after the horizon
    eps = _ep(book, probation_months=2, data_end="2024-12-31")
    assert len(eps) == 2  # two clean months now confirm the first cure
    assert eps[("B", 1)].months_to_cure == 1 and _b(eps[("B", 1)].is_redefaulted) is True


def test_censored_at_data_end_is_not_a_failure():
    book = tiny_book({"C": {"first": "2023-01", "dpd": [0, 30, 60, 0, 0]}})
    (e,) = _ep(book).values()
    assert e.is_censored
    assert pd.isna(e.is_cured) and pd.isna(e.is_defaulted)
    assert e.exit_type == "open" and e.months_to_exit == 3 and not e.is_cure_observed


def test_write_off_then_recovery():
    book = tiny_book(
        {
            "D": {
                "first": "2023-01",
                "dpd": [0, 30, 60, 90, 120, 150, 180, 0, 0, 0],
                "balance": [1000] * 6 + [0] * 4,
                "write_off": {6: 1000.0},
                "recovery": {8: 200.0, 9: 100.0},
            }
        }
    )
    (e,) = _ep(book).values()
    assert _b(e.is_defaulted) is True and e.months_to_default == 2
    assert e.default_month == pd.Timestamp("2023-04-30")
    assert _b(e.is_cured) is False and not e.is_censored  # closed: balance 0
    assert e.loss == pytest.approx(700.0) and e.loss_rate == pytest.approx(0.7)
    assert e.exit_type == "default" and e.months_to_exit == 2
    (d,) = _ep(book, discount_rate=0.1).values()
    expected = 1000 * 1.1**-0.25 - 200 * 1.1 ** (-5 / 12) - 100 * 1.1**-0.5
    assert d.loss == pytest.approx(expected)


def test_relief_outside_window_is_not_attributed():
    book = tiny_book(
        {"E": {"first": "2023-01", "dpd": [0, 30, 60, 0, 0, 0, 0, 0, 0, 0]}},
        relief=[{"loan_id": "E", "granted_date": "2023-05-15", "measure": "instalment"}],
    )
    (e,) = _ep(book).values()
    assert e.measure == "none" and pd.isna(e.granted_month)
    (w,) = _ep(book, relief_window_months=3).values()
    assert w.measure == "instalment"


def test_two_episodes_in_one_loan_and_redefault():
    dpd = [30, 0, 0, 0, 30] + [0] * 13
    book = tiny_book({"F": {"first": "2023-01", "dpd": dpd}})
    eps = _ep(book)
    assert list(eps) == [("F", 1), ("F", 2)]
    e1, e2 = eps[("F", 1)], eps[("F", 2)]
    assert e1.start_month == pd.Timestamp("2023-01-31") and np.isnan(e1.prev_dpd)
    assert e1.months_to_cure == 1 and _b(e1.is_redefaulted) is True
    assert e2.start_month == pd.Timestamp("2023-05-31") and e2.months_to_cure == 1
    assert _b(e2.is_redefaulted) is False  # 12 months clean seen after its cure


def test_repaid_in_full_counts_as_cured():
    long = {"first": "2023-01", "dpd": [0] * 24}
    book = tiny_book(
        {"G": {"first": "2023-01", "dpd": [0, 30, 0], "balance": [1000, 900, 0]}, "K": long}
    )
    (e,) = _ep(book).values()
    assert _b(e.is_cured) is True and e.months_to_cure == 1 and _b(e.is_redefaulted) is False


def test_recent_episodes_are_censored_whatever_their_outcome():
    # Data end two months after the start: an early cure is no more "known" than a slow one.
    book = tiny_book({"G": {"first": "2023-01", "dpd": [0, 30, 0], "balance": [1000, 900, 0]}})
    (e,) = _ep(book).values()
    assert e.is_censored and pd.isna(e.is_cured) and e.is_cure_observed
    (later,) = _ep(book, data_end="2023-12").values()
    assert _b(later.is_cured) is True


def test_reason_window_and_family():
    book = tiny_book(
        {"H": {"first": "2023-01", "dpd": [0, 0, 30, 0, 0, 0, 0, 0, 0, 0]},
         "I": {"first": "2023-01", "dpd": [0, 0, 30, 0, 0, 0, 0, 0, 0, 0]}},
        reasons=[
            {"loan_id": "H", "reported_date": "2023-02-20", "reason_code": "medical"},
            {"loan_id": "I", "reported_date": "2023-06-02", "reason_code": "medical"},
        ],
        cause_map=[{"source": "reason", "name": "medical", "family": "personal"}],
    )
    eps = _ep(book)
    assert eps[("H", 1)].reported_family == "personal"  # one month before the start
    assert pd.isna(eps[("I", 1)].reason_code)  # three months after: outside the window


def test_no_overdue_gives_empty_frame_with_columns():
    book = tiny_book({"J": {"first": "2023-01", "dpd": [0, 0, 0]}})
    ep = build_episodes(book)
    assert ep.empty and {"loan_id", "is_cured", "measure", "loss_rate"} <= set(ep.columns)


# --- reference implementation and invariants ------------------------------------------


def _reference(dpd: list[int], bal_end_zero: bool, p: int, h: int, end: int) -> list[tuple]:
    """Loop-by-loop reading of the rules: (start, cure offset or None, is_cured or None)."""
    n, out, i = len(dpd), [], 0
    while i < n:
        if dpd[i] == 0:
            i += 1
            continue
        s, j, cure = i, i, None
        while j < n:
            if dpd[j] > 0:
                j += 1
                continue
            k = j
            while k < n and dpd[k] == 0:
                k += 1
            if k - j >= p or (k == n and bal_end_zero):
                cure = j
                break
            j = k
        end_idx = n if cure is None else cure + p
        while end_idx < n and dpd[end_idx] == 0:
            end_idx += 1
        covered = (end - s) >= h + p - 1 and ((n - 1 - s) >= h + p - 1 or bal_end_zero)
        cured = (cure is not None and cure - s <= h) if covered else None
        out.append((s, None if cure is None else cure - s, cured))
        i = end_idx
    return out


dpd_paths = st.lists(st.sampled_from([0, 0, 0, 15, 45, 75]), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(dpd_paths, st.booleans()), min_size=1, max_size=6),
       st.integers(1, 4), st.integers(1, 8))
def test_matches_reference_implementation(paths, p, h):
    loans = {}
    for k, (dpd, repaid) in enumerate(paths):
        bal = [1000.0] * len(dpd)
        if repaid and dpd[-1] == 0:
            bal[-1] = 0.0
        loans[f"L{k}"] = {"first": "2022-03", "dpd": dpd, "balance": bal}
    book = tiny_book(loans)
    ep = build_episodes(book, probation_months=p, horizon_months=h)
    end = max(len(spec["dpd"]) for spec in loans.values()) - 1
    for lid, spec in loans.items():
        ref = _reference(spec["dpd"], spec["balance"][-1] == 0, p, h, end)
        got = ep[ep.loan_id == lid].sort_values("episode_no")
        assert len(got) == len(ref)
        first = pd.Period("2022-03", "M")
        for (s, mtc, cured), row in zip(ref, got.itertuples(), strict=True):
            assert row.start_month == (first + s).to_timestamp(how="end").normalize()
            assert row.is_cure_observed == (mtc is not None)
            if mtc is not None:
                assert row.months_to_cure == mtc
            assert (None if pd.isna(row.is_cured) else bool(row.is_cured)) == cured
            assert row.is_censored == (cured is None)


@settings(max_examples=60, deadline=None)
@given(st.lists(dpd_paths, min_size=2, max_size=8), st.randoms(use_true_random=False))
def test_row_order_and_loan_slicing_do_not_matter(paths, rnd):
    book = tiny_book({f"L{k}": {"first": "2022-01", "dpd": d} for k, d in enumerate(paths)})
    full = build_episodes(book).sort_values(["loan_id", "episode_no"]).reset_index(drop=True)
    perf = book.performance.sample(frac=1.0, random_state=rnd.randint(0, 10**6))
    shuffled = build_episodes(type(book)(**{**book.__dict__, "performance": perf}))
    shuffled = shuffled.sort_values(["loan_id", "episode_no"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(full, shuffled)
    keep = sorted(book.loans.loan_id)[::2]
    part = type(book)(**{**book.__dict__,
                         "loans": book.loans[book.loans.loan_id.isin(keep)],
                         "performance": book.performance[book.performance.loan_id.isin(keep)]})
    # a slice keeps the book's data end: censoring is judged against the whole book's last month
    data_end = book.performance["month"].max()
    sliced = episodes_from_definitions(part, Definitions(), data_end=data_end)
    sliced = sliced.sort_values(["loan_id", "episode_no"]).reset_index(drop=True)
    expect = full[full.loan_id.isin(keep)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sliced, expect, check_dtype=False)


def test_categorical_loan_ids_give_the_same_episodes():
    dpd = {"X": [0, 30, 0, 0, 0, 0], "Y": [45, 90, 0, 0, 0, 60], "Z": [0, 0, 0]}
    book = tiny_book({k: {"first": "2023-01", "dpd": v} for k, v in dpd.items()})
    perf = book.performance.assign(loan_id=book.performance.loan_id.astype("category"))
    cat = build_episodes(type(book)(**{**book.__dict__, "performance": perf}))
    pd.testing.assert_frame_equal(
        build_episodes(book), cat.assign(loan_id=cat.loan_id.astype(object)), check_dtype=False
    )


def test_signals_are_read_in_the_start_month_whatever_their_row_order():
    book = tiny_book({"S": {"first": "2023-01", "dpd": [0, 0, 30, 0, 0, 0]},
                      "T": {"first": "2023-01", "dpd": [0, 30, 0, 0, 0, 0]}})
    sig = book.performance[["loan_id", "month"]].copy()
    sig["demand_change"] = range(len(sig))
    aligned = build_episodes(type(book)(**{**book.__dict__, "signals": sig}))
    shuffled = sig.sample(frac=1.0, random_state=3)
    other = build_episodes(type(book)(**{**book.__dict__, "signals": shuffled}))
    assert list(aligned.demand_change) == [2, 7]  # S starts in its 3rd row, T in its 2nd
    pd.testing.assert_frame_equal(aligned, other)


# --- sustained cure ------------------------------------------------------------------------


def _cure_then_new_episode(gap: int, n_rows: int) -> dict:
    """Overdue in month 0, clean from month 1 (return month 1), a new episode starting
    ``gap`` months after the return month, clean again after it; ``n_rows`` month-ends."""
    dpd = [30] + [0] * (n_rows - 1)
    dpd[1 + gap] = 30
    return {"first": "2023-01", "dpd": dpd}


def test_sustained_cure_re_default_at_month_11_12_and_13():
    # Window: start + 6 + 3 - 1 + 12 = month 20; 24 month-ends cover it.
    assert Definitions().sustained_known_months == 20
    assert Definitions(probation_months=12, redefault_months=24).sustained_known_months == 41
    book = tiny_book({"R11": _cure_then_new_episode(11, 24), "R12": _cure_then_new_episode(12, 24),
                      "R13": _cure_then_new_episode(13, 24)})
    eps = _ep(book)
    for lid, redefaulted in (("R11", True), ("R12", True), ("R13", False)):
        e = eps[(lid, 1)]
        assert _b(e.is_cured) is True and e.months_to_cure == 1
        assert _b(e.is_redefaulted) is redefaulted
        assert _b(e.is_sustained_cure) is (not redefaulted)


def test_sustained_cure_needs_the_whole_window_whatever_the_outcome():
    # The window ends at start + 6 + 3 - 1 + 12 = month 20. With 20 month-ends (months
    # 0..19) every first episode is <NA>: the early failure (default) as much as the two
    # cures, although all three horizon outcomes are known. With 21, all are known.
    def book(n_rows):
        dflt = {"first": "2023-01", "dpd": [30, 60, 90, 120, 150] + [180] * (n_rows - 5)}
        return tiny_book({"R11": _cure_then_new_episode(11, n_rows),
                          "R13": _cure_then_new_episode(13, n_rows), "D": dflt})

    eps = _ep(book(20))
    for lid in ("R11", "R13", "D"):
        assert pd.isna(eps[(lid, 1)].is_sustained_cure)
        assert not eps[(lid, 1)].is_censored
    assert _b(eps[("D", 1)].is_cured) is False and _b(eps[("R11", 1)].is_cured) is True
    eps = _ep(book(21))
    got = {lid: _b(eps[(lid, 1)].is_sustained_cure) for lid in ("R11", "R13", "D")}
    assert got == {"R11": False, "R13": True, "D": False}
    # the calendar alone does not do: a loan whose own rows stop early stays <NA>
    short = tiny_book({"R13": _cure_then_new_episode(13, 20),
                       "K": {"first": "2023-01", "dpd": [0] * 24}})
    assert pd.isna(_ep(short)[("R13", 1)].is_sustained_cure)


def test_sustained_cure_of_a_loan_repaid_in_the_window_and_shorter_definitions():
    long = {"first": "2023-01", "dpd": [0] * 24}
    book = tiny_book({"G": {"first": "2023-01", "dpd": [0, 30, 0], "balance": [1000, 900, 0]},
                      "K": long, "R11": _cure_then_new_episode(11, 24)})
    eps = _ep(book)
    assert _b(eps[("G", 1)].is_sustained_cure) is True  # closed: nothing can follow
    # a 10-month re-default window: the new episode 11 months on no longer counts
    short = _ep(book, redefault_months=10)
    assert _b(short[("R11", 1)].is_redefaulted) is False
    assert _b(short[("R11", 1)].is_sustained_cure) is True


@settings(max_examples=40, deadline=None)
@given(st.lists(dpd_paths, min_size=1, max_size=6), st.integers(1, 4), st.integers(1, 8),
       st.integers(1, 12))
def test_sustained_cure_is_cure_without_re_default(paths, p, h, r):
    book = tiny_book({f"L{k}": {"first": "2022-01", "dpd": d} for k, d in enumerate(paths)})
    ep = build_episodes(book, probation_months=p, horizon_months=h, redefault_months=r)
    known = ep["is_sustained_cure"].notna()
    assert ep.loc[known, "is_cured"].notna().all()  # a longer window than the horizon's
    cured = ep.loc[known, "is_cured"].astype(bool)
    assert ep.loc[known & ep["is_cured"].eq(True).fillna(False), "is_redefaulted"].notna().all()
    redef = ep.loc[known, "is_redefaulted"].fillna(False).astype(bool)
    assert (ep.loc[known, "is_sustained_cure"].astype(bool) == (cured & ~redef)).all()
    span = month_index([book.performance["month"].max()])[0] - month_index(ep["start_month"])
    assert (known <= (span >= h + p - 1 + r)).all()  # calendar rule
