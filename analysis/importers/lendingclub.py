"""LendingClub: a monthly performance path reconstructed from the loan export's snapshot.

The public LendingClub export has one row per loan as of a snapshot (about March 2019),
not a monthly history. ``lendingclub_performance`` rebuilds one month-end row per loan and
month, from the issue month to the month the loan left the book (or the snapshot). It is an
**approximation**; every row says whether it was observed or reconstructed
(``is_reconstructed``), and reports built on it must say so.

What is observed (per loan): issue month ``issue_d``, term, funded amount, interest rate,
status at the snapshot ``loan_status``, month of the last payment ``last_pymnt_d``,
principal repaid ``total_rec_prncp``, outstanding principal ``out_prncp``, recoveries
after charge-off (``recoveries`` less ``collection_recovery_fee``), the hardship plan
(``hardship_start_date`` = first payment due under the plan, ``deferral_term`` months,
``hardship_dpd`` = days past due when the plan started) and the settlement month
(``settlement_date``). Months are integers (``I`` issue, ``L`` last payment, ``S``
snapshot, from ``params.snapshot_month``).

Assumptions, in order of application:

1. **Last regular payment.** ``L`` = ``last_pymnt_d`` (the issue month if none). For a
   charged-off loan with a settlement agreed in or before ``L``, payments from the
   settlement month on are settlement payments, so ``L`` = the month before the settlement.
2. **Months on the book.** Fully paid: ``I`` .. ``L`` (repaid in full at ``L``). Charged
   off: ``I`` .. charge-off month ``C = L + ceil(charge_off_dpd / 30)`` (LendingClub charges
   off at about 150 days past due, so 5 months after the last payment), capped at ``S``;
   if there are recoveries, the path runs on to the recovery month ``R`` = the month after
   ``C``, or the settlement month if later, capped at ``S``. Still active (current, grace,
   late, default): ``I`` .. ``S``.
3. **Balance** (outstanding principal): principal is repaid along the contractual annuity
   schedule (funded amount, rate, term; first instalment the month after issue), capped by
   the principal actually repaid; from ``L`` on it is funded - ``total_rec_prncp``; ``0``
   from the payoff month of a fully-paid loan and from the charge-off month of a
   charged-off one; for an active loan the snapshot month shows ``out_prncp``. Prepayments
   therefore appear as one lump at ``L``, and arrears on principal before ``L`` are invisible.
4. **Days past due.** ``0`` up to ``L``. After ``L``, loans that did not repay in full
   miss every instalment: ``30 * (months since L)`` days. Months of a hardship deferral
   (``hardship_start_date`` .. + ``deferral_term`` - 1) are ``0`` (payments deferred). The
   month before the plan's first due date shows at least ``hardship_dpd``. For an active
   loan the snapshot month is clipped into the range of its status (grace 1-15, late
   16-30, 31-120, default 121-150); ``Current`` loans are at 0 throughout except the
   hardship month. Fully-paid loans are never late except before a hardship plan: their
   lateness in between is not recorded in the export.
5. **Write-off and recovery.** ``write_off`` in ``C`` = the principal outstanding
   (funded - ``total_rec_prncp``); ``recovery`` in ``R`` = ``recoveries`` -
   ``collection_recovery_fee`` (net of collection costs, floored at 0), all at once.
6. **Observed rows** (``is_reconstructed`` False): the payoff month of a fully-paid loan,
   the snapshot month of an active loan, the month before a hardship plan. All others are
   reconstructed.

Known drawbacks: a borrower who was late and caught up before paying off leaves no trace
(cures are undercounted, episodes too; ``total_rec_late_fee`` > 0 shows such a lapse on
about 2 % of repaid or current loans of the public samples, without its month, so it is
not put into the path); DPD between the last payment and charge-off is a
schedule, not an observation; the timing of recoveries is a guess (at most a few months
off), which matters only with a discount rate. Records whose issue month, term, amount,
rate or status cannot be read are quarantined with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.importers.derive import Derived, problems_frame, register
from analysis.months import month_end

ACTIVE_DPD_RANGE: dict[str, tuple[int, int]] = {
    "current": (0, 0),
    "grace": (1, 15),
    "late_16_30": (16, 30),
    "late_31_120": (31, 120),
    "default": (121, 150),
}
STATUSES: tuple[str, ...] = ("fully_paid", "charged_off", *ACTIVE_DPD_RANGE)
DEFAULT_STATUS_MAP: dict[str, str] = {
    "Fully Paid": "fully_paid",
    "Charged Off": "charged_off",
    "Current": "current",
    "In Grace Period": "grace",
    "Late (16-30 days)": "late_16_30",
    "Late (31-120 days)": "late_31_120",
    "Default": "default",
    "Does not meet the credit policy. Status:Fully Paid": "fully_paid",
    "Does not meet the credit policy. Status:Charged Off": "charged_off",
}


def _month(values: pd.Series, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """(months since 1970-01 as float with NaN, failed-to-parse mask)."""
    present = values.notna().to_numpy(bool)
    d = pd.to_datetime(values.astype(object).where(present, None), format=fmt, errors="coerce")
    if d.isna().to_numpy(bool)[present].any():  # retry with blanks stripped
        d = pd.to_datetime(values.astype(str).str.strip().where(present, None), format=fmt,
                           errors="coerce")
    m = (d.dt.year - 1970) * 12 + (d.dt.month - 1)
    return m.to_numpy(float, na_value=np.nan), present & d.isna().to_numpy(bool)


def _num(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a text column; "13.56%" and " 36 months" give their leading number."""
    if col not in frame.columns:
        n = len(frame)
        return np.full(n, np.nan), np.zeros(n, bool)
    raw = frame[col]
    present = raw.notna().to_numpy(bool)
    v = pd.to_numeric(raw, errors="coerce").to_numpy(float, na_value=np.nan)
    retry = present & np.isnan(v)
    if retry.any():
        got = raw[retry].astype(str).str.extract(r"^\D*?(-?\d+(?:\.\d+)?)", expand=False)
        v[retry] = pd.to_numeric(got, errors="coerce").to_numpy(float, na_value=np.nan)
    return v, present & np.isnan(v)


def scheduled_balance(principal: np.ndarray, annual_rate: np.ndarray, term: np.ndarray,
                      k: np.ndarray) -> np.ndarray:
    """Outstanding principal of an annuity after ``k`` monthly instalments.

    ``annual_rate`` is a fraction; ``k`` is clipped to [0, term]. With monthly rate
    i > 0: B_k = P ((1+i)^T - (1+i)^k) / ((1+i)^T - 1); with i = 0: P (1 - k/T).
    """
    i = annual_rate / 12.0
    k = np.clip(k, 0, term)
    with np.errstate(divide="ignore", invalid="ignore"):
        grow_t = np.power(1.0 + i, term)
        annuity = principal * (grow_t - np.power(1.0 + i, k)) / (grow_t - 1.0)
        linear = principal * (1.0 - k / term)
    return np.where(i > 0, annuity, linear)


SOURCE_COLUMNS: tuple[str, ...] = (
    "issue_d", "last_pymnt_d", "hardship_start_date", "settlement_date", "term", "funded_amnt",
    "int_rate", "total_rec_prncp", "out_prncp", "recoveries", "collection_recovery_fee",
    "hardship_dpd", "deferral_term", "loan_status",
)


@register("lendingclub_performance",
          columns=lambda params: {params.get("loan_id", "id"), *SOURCE_COLUMNS})
def lendingclub_performance(frame: pd.DataFrame, params: dict) -> Derived:
    """Monthly performance rows of LendingClub loans (see the module docstring).

    params: ``snapshot_month`` ("YYYY-MM", required), ``date_format`` (default "%b-%Y"),
    ``loan_id`` (source column, default "id"), ``charge_off_dpd`` (default 150),
    ``status_map`` (source status -> one of :data:`STATUSES`; default
    :data:`DEFAULT_STATUS_MAP`).
    Returns ``loan_id, month, balance, days_past_due, write_off, recovery,
    is_reconstructed`` plus ``__row``. Amounts in the export's currency (USD).
    """
    fmt = params.get("date_format", "%b-%Y")
    id_col = params.get("loan_id", "id")
    co_months = int(np.ceil(float(params.get("charge_off_dpd", 150)) / 30.0))
    status_map = params.get("status_map", DEFAULT_STATUS_MAP)
    snap = pd.Period(str(params["snapshot_month"]), freq="M")
    S = (snap.year - 1970) * 12 + snap.month - 1
    loans, problems = _read_loans(frame, fmt, status_map, S)

    broken = np.zeros(len(frame), bool)
    for p in problems:
        broken |= frame.index.isin(p["__row"])
    keep = ~broken
    idx = frame.index[keep]
    ids = frame.loc[keep, id_col].astype(str).str.strip().to_numpy(object)
    table = _loan_months({k: v[keep] for k, v in loans.items()}, co_months, S, ids, idx)
    probs = pd.concat(problems, ignore_index=True) if problems else problems_frame([], "", ())
    return Derived(table=table, problems=probs)


def _read_loans(frame: pd.DataFrame, fmt: str, status_map: dict, S: int
                ) -> tuple[dict[str, np.ndarray], list[pd.DataFrame]]:
    """The observed fields of every record (months since 1970-01 with NaN, numbers, status
    in :data:`STATUSES` or None) and the problems of the records that cannot be used."""
    problems: list[pd.DataFrame] = []

    def bad(mask: np.ndarray, reason: str, cols: tuple[str, ...]) -> None:
        if mask.any():
            problems.append(problems_frame(frame.index[mask], f"performance: {reason}", cols))

    iss, f_i = _month(frame["issue_d"], fmt)
    L, f_l = _month(frame["last_pymnt_d"], fmt)
    HS, f_hs = _month(frame.get("hardship_start_date", pd.Series(pd.NA, index=frame.index)), fmt)
    SD, f_sd = _month(frame.get("settlement_date", pd.Series(pd.NA, index=frame.index)), fmt)
    T, f_t = _num(frame, "term")
    P, f_p = _num(frame, "funded_amnt")
    r, f_r = _num(frame, "int_rate")
    r = r / 100.0
    paid, _ = _num(frame, "total_rec_prncp")
    out_p, _ = _num(frame, "out_prncp")
    rec, _ = _num(frame, "recoveries")
    fee, _ = _num(frame, "collection_recovery_fee")
    hdpd, _ = _num(frame, "hardship_dpd")
    dterm, _ = _num(frame, "deferral_term")
    status = frame["loan_status"].astype(object).str.strip().map(status_map)
    status = status.astype(object).where(status.isin(STATUSES), None).to_numpy(object)

    bad(f_i | np.isnan(iss), f"cannot read issue_d as a month ({fmt})", ("issue_d",))
    bad(f_l, f"cannot read last_pymnt_d as a month ({fmt})", ("last_pymnt_d",))
    bad(f_hs | f_sd, f"cannot read hardship_start_date or settlement_date ({fmt})",
        ("hardship_start_date", "settlement_date"))
    bad(f_t | ~(T > 0), "term missing or not a positive number of months", ("term",))
    bad(f_p | ~(P > 0), "funded_amnt missing or not positive", ("funded_amnt",))
    bad(f_r | ~((r >= 0) & (r < 1)), "int_rate missing or outside [0, 100) %", ("int_rate",))
    bad(pd.isna(status), "loan_status not in the status map", ("loan_status",))
    bad(iss > S, "issued after the snapshot month", ("issue_d",))
    bad(L > S, "last payment after the snapshot month", ("last_pymnt_d",))
    is_paid_off = status == "fully_paid"
    bad(is_paid_off & np.isnan(L), "fully paid without last_pymnt_d", ("loan_status", "last_pymnt_d"))

    fields = {"iss": iss, "L": L, "HS": HS, "SD": SD, "T": T, "P": P, "r": r, "paid": paid,
              "out_p": out_p, "rec": rec, "fee": fee, "hdpd": hdpd, "dterm": dterm,
              "status": status}
    return fields, problems


def _loan_months(loans: dict[str, np.ndarray], co_months: int, S: int, ids: np.ndarray,
                 idx: pd.Index) -> pd.DataFrame:
    """The monthly rows of the usable records (fields of :func:`_read_loans`), by the
    assumptions of the module docstring, with the source record of each row in ``__row``."""
    iss, L, HS, SD, T, P, r = (loans[k] for k in ("iss", "L", "HS", "SD", "T", "P", "r"))
    paid, out_p, rec, fee, hdpd, dterm = (np.nan_to_num(loans[k]) for k in
                                          ("paid", "out_p", "rec", "fee", "hdpd", "dterm"))
    status = loans["status"]

    paid_off = status == "fully_paid"
    charged = status == "charged_off"
    active = ~(paid_off | charged)
    settled = ~np.isnan(SD)
    L = np.where(np.isnan(L), iss, np.maximum(L, iss))
    L = np.where(charged & settled & (SD <= L), np.maximum(SD - 1, iss), L)
    C = np.minimum(L + co_months, S)
    net_rec = np.clip(rec - fee, 0, None)
    R = np.where(settled, np.maximum(C + 1, SD), C + 1)
    R = np.where(net_rec > 0, np.minimum(R, S), C)
    end = np.where(paid_off, L, np.where(charged, np.maximum(C, R), S))
    n = (end - iss + 1).astype(np.int64)

    # explode to loan-months (vectorised)
    rep = np.repeat(np.arange(len(n)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    k = np.arange(n.sum()) - start  # months since issue
    m = iss[rep] + k
    Lr, Cr, Rr = L[rep], C[rep], R[rep]
    po, ch, ac = paid_off[rep], charged[rep], active[rep]
    Pr, paid_r = P[rep], paid[rep]
    outstanding = np.clip(Pr - paid_r, 0, None)

    sched_paid = Pr - scheduled_balance(Pr, r[rep], T[rep], k.astype(float))
    balance = np.where(m < Lr, Pr - np.minimum(sched_paid, paid_r), outstanding)
    balance = np.where(po & (m >= Lr), 0.0, balance)
    balance = np.where(ch & (m >= Cr), 0.0, balance)
    at_snap = ac & (m == S)
    balance = np.where(at_snap, out_p[rep], balance)
    balance = np.clip(np.round(balance, 2), 0, None)

    dpd = np.where((m > Lr) & ~po, 30 * (m - Lr), 0)
    dpd = np.where(ac & (status[rep] == "current"), 0, dpd)
    in_deferral = (m >= HS[rep]) & (m < HS[rep] + dterm[rep])
    dpd = np.where(in_deferral, 0, dpd)
    pre_plan = m == HS[rep] - 1
    dpd = np.where(pre_plan, np.maximum(dpd, hdpd[rep]), dpd)
    lo = np.array([ACTIVE_DPD_RANGE.get(s, (0, 0))[0] for s in STATUSES])
    hi = np.array([ACTIVE_DPD_RANGE.get(s, (0, 0))[1] for s in STATUSES])
    code = pd.Categorical(status, categories=list(STATUSES)).codes[rep]
    dpd = np.where(at_snap, np.clip(dpd, lo[code], hi[code]), dpd)

    write_off = np.where(ch & (m == Cr), outstanding, 0.0)
    recovery = np.where(ch & (m == Rr), net_rec[rep], 0.0)
    observed = (po & (m == Lr)) | at_snap | pre_plan

    return pd.DataFrame({
        "loan_id": ids[rep],
        "month": month_end(np.asarray(m, dtype=np.int64)),
        "balance": balance,
        "days_past_due": dpd.astype(np.int64),
        "write_off": np.round(write_off, 2),
        "recovery": np.round(recovery, 2),
        "is_reconstructed": ~observed,
        "__row": np.asarray(idx)[rep],
    })
