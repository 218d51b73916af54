"""The LendingClub performance reconstruction, loan by loan, worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.importers.lendingclub import lendingclub_performance, scheduled_balance

PARAMS = {"snapshot_month": "2019-03"}
BASE = {"term": " 36 months", "int_rate": "12.0", "funded_amnt": "12000", "total_rec_prncp": "0",
        "out_prncp": "0", "recoveries": "0", "collection_recovery_fee": "0",
        "hardship_start_date": None, "hardship_dpd": None, "deferral_term": None,
        "settlement_date": None, "last_pymnt_d": None}


def _run(*loans: dict) -> pd.DataFrame:
    frame = pd.DataFrame([{**BASE, **x} for x in loans])
    d = lendingclub_performance(frame, PARAMS)
    assert d.problems.empty, d.problems
    return d.table


def _path(t: pd.DataFrame, loan: str) -> pd.DataFrame:
    return t[t["loan_id"] == loan].set_index(t.loc[t["loan_id"] == loan, "month"].dt.strftime("%Y-%m"))


def test_annuity_schedule():
    # 1200 at 12 % over 12 months: after 12 instalments nothing is left; i = 0 is linear
    b = scheduled_balance(np.array([1200.0] * 3), np.array([0.12, 0.12, 0.0]),
                          np.array([12.0] * 3), np.array([0.0, 12.0, 6.0]))
    assert b.tolist() == pytest.approx([1200.0, 0.0, 600.0])
    i = 0.01
    b1 = scheduled_balance(np.array([1200.0]), np.array([0.12]), np.array([12.0]), np.array([1.0]))
    payment = 1200 * i / (1 - (1 + i) ** -12)
    assert b1[0] == pytest.approx(1200 * (1 + i) - payment)


def test_fully_paid_early():
    t = _run({"id": "1", "issue_d": "Jan-2018", "loan_status": "Fully Paid",
              "last_pymnt_d": "Jun-2018", "total_rec_prncp": "12000"})
    p = _path(t, "1")
    assert list(p.index) == ["2018-01", "2018-02", "2018-03", "2018-04", "2018-05", "2018-06"]
    assert (p["days_past_due"] == 0).all() and p["balance"].iloc[-1] == 0
    assert p["balance"].iloc[0] == 12000
    # before the payoff the balance follows the schedule
    sched = scheduled_balance(np.array([12000.0]), np.array([0.12]), np.array([36.0]), np.array([3.0]))
    assert p.loc["2018-04", "balance"] == pytest.approx(sched[0], abs=0.01)
    assert p["is_reconstructed"].tolist() == [True] * 5 + [False]
    assert p["write_off"].sum() == 0 and p["recovery"].sum() == 0


def test_charged_off_with_recovery():
    t = _run({"id": "2", "issue_d": "Jan-2017", "loan_status": "Charged Off",
              "last_pymnt_d": "Jun-2017", "total_rec_prncp": "1500", "recoveries": "1000",
              "collection_recovery_fee": "150"})
    p = _path(t, "2")
    # last payment Jun-2017; 30 days more each month; charged off at 150 days (Nov); recovery Dec
    assert p.loc["2017-06":, "days_past_due"].tolist() == [0, 30, 60, 90, 120, 150, 180]
    assert p.loc["2017-07", "balance"] == 10500
    assert p.loc["2017-11", "write_off"] == 10500 and p.loc["2017-11", "balance"] == 0
    assert p.loc["2017-12", "recovery"] == 850 and p["recovery"].sum() == 850
    assert p.index[-1] == "2017-12"


def test_settlement_payments_are_not_regular_payments():
    # payments up to Jan-2019 but a settlement agreed in Nov-2018: regular payments end in Oct
    t = _run({"id": "3", "issue_d": "Feb-2016", "loan_status": "Charged Off",
              "last_pymnt_d": "Jan-2019", "settlement_date": "Nov-2018", "total_rec_prncp": "9000",
              "recoveries": "300"})
    p = _path(t, "3")
    assert p.loc["2018-10", "days_past_due"] == 0 and p.loc["2018-11", "days_past_due"] == 30
    # charge-off 5 months after Oct-2018 is Mar-2019 = the snapshot; recovery there too
    assert p.index[-1] == "2019-03" and p.loc["2019-03", "write_off"] == 3000
    assert p.loc["2019-03", "recovery"] == 300


def test_hardship_deferral_and_status_at_snapshot():
    t = _run({"id": "4", "issue_d": "Aug-2017", "loan_status": "Current", "last_pymnt_d": "Mar-2019",
              "hardship_start_date": "Oct-2018", "hardship_dpd": "15", "deferral_term": "3",
              "out_prncp": "8000", "total_rec_prncp": "4000"},
             {"id": "5", "issue_d": "Sep-2017", "loan_status": "Late (31-120 days)",
              "last_pymnt_d": "Feb-2019", "out_prncp": "9000", "total_rec_prncp": "3000"})
    p = _path(t, "4")
    assert p.loc["2018-09", "days_past_due"] == 15 and not p.loc["2018-09", "is_reconstructed"]
    assert (p.drop(index="2018-09")["days_past_due"] == 0).all()
    assert p.loc["2019-03", "balance"] == 8000 and not p.loc["2019-03", "is_reconstructed"]
    q = _path(t, "5")
    # one month after the last payment would be 30 days; the status says at least 31
    assert q.loc["2019-03", "days_past_due"] == 31 and q.loc["2019-02", "days_past_due"] == 0
    assert q.index[-1] == "2019-03"


def test_hardship_within_a_late_path_is_deferred():
    t = _run({"id": "6", "issue_d": "Dec-2016", "loan_status": "Charged Off",
              "last_pymnt_d": "Dec-2017", "hardship_start_date": "Sep-2017", "hardship_dpd": "10",
              "deferral_term": "3", "total_rec_prncp": "2000"})
    p = _path(t, "6")
    assert p.loc["2017-08", "days_past_due"] == 10
    assert p.loc["2017-09":"2017-12", "days_past_due"].tolist() == [0, 0, 0, 0]
    assert p.loc["2018-05", "write_off"] == 10000


def test_unreadable_records_are_reported():
    frame = pd.DataFrame([{**BASE, "id": "7", "issue_d": "Foo-2017", "loan_status": "Current"},
                          {**BASE, "id": "8", "issue_d": "Jan-2017", "loan_status": "Odd"},
                          {**BASE, "id": "9", "issue_d": "Jan-2017", "loan_status": "Current",
                           "term": "ten"},
                          {**BASE, "id": "10", "issue_d": "Jan-2017", "loan_status": "Current"}])
    d = lendingclub_performance(frame, PARAMS)
    reasons = dict(zip(d.problems["__row"], d.problems["reason"], strict=True))
    assert reasons == {
        0: "performance: cannot read issue_d as a month (%b-%Y)",
        1: "performance: loan_status not in the status map",
        2: "performance: term missing or not a positive number of months",
    }
    assert set(d.table["loan_id"]) == {"10"} and len(d.table) == 27  # Jan-2017 .. Mar-2019
