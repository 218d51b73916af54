"""Loan-months to overdue episodes, with their outcomes: the one place the rules apply.

Method
------
Each loan's month-end rows are read in order. A month is *overdue* when
``days_past_due >= overdue_dpd`` or the loan has been written off (every month from the
first write-off on stays overdue: a written-off loan cannot cure). A month is *clean*
otherwise.

* An **episode** starts in the first overdue month of a loan, and in every later overdue
  month that follows a run of at least ``probation_months`` clean months. An overdue month
  after a shorter clean run is a *relapse* within probation: it continues the episode
  (a "false cure"). An episode's rows run until the next episode of the loan starts, or to
  the loan's last row.
* **Cure**: the first month of the clean run that ends the episode (the *return month*),
  when that run lasts at least ``probation_months`` month-ends, or when the loan is repaid
  in full during it (last row with balance 0 and no write-off). ``months_to_cure`` = return
  month - start month; ``is_cured`` = cured with ``months_to_cure <= horizon_months``.
* **Default**: the first month of the episode, before the return month, with
  ``days_past_due >= default_dpd`` or a write-off; ``is_defaulted`` = a default within
  ``horizon_months`` of the start.
* **Censoring**: a horizon outcome is known only when the data (up to ``data_end``, by
  default the latest month in the performance table) cover
  ``start + horizon_months + probation_months - 1`` in calendar time (so a cure returning
  at the horizon can complete its probation), and the loan's own rows reach that month or
  the loan closed (last balance 0). The rule looks at calendar time, not at the outcome:
  keeping a recent episode because it happened to cure early would select on the outcome.
  Otherwise ``is_cured`` / ``is_defaulted`` are ``<NA>`` and ``is_censored`` is True: a
  censored episode is never counted as a failure.
* **Loss** = write-offs - recoveries over the episode's rows (so recoveries long after the
  horizon count, as in the realised LGD of EBA/GL/2017/16; no later episode can start after
  a write-off, so nothing is counted twice), discounted to the default month (or the start
  month) at ``discount_rate`` a year. ``loss_rate`` = loss / ``ead``, ``ead`` the balance
  in the start month.
* **Re-default**: among episodes with ``is_cured``, the loan's next episode starts within
  ``redefault_months`` of the return month. ``<NA>`` unless the data cover
  ``redefault_months`` after the return month (same calendar rule).
* **Sustained cure** (:mod:`analysis.definitions`): ``is_cured`` and no re-default (the
  loan's next episode starting within ``redefault_months`` of the return month), over
  *all* episodes, not only the cured. ``is_sustained_cure`` is ``<NA>`` unless the data
  cover ``start + horizon_months + probation_months - 1 + redefault_months`` in calendar
  time and the loan's rows reach that month or the loan closed (the censoring rule of the
  horizon outcomes, over the longer window): a fixed window, so an episode that failed
  early is not "known" sooner than one that cured. Where it is known, ``is_cured`` and
  (for cured episodes) ``is_redefaulted`` are known too. ``is_redefaulted`` stays as a
  descriptive rate among the cured.
* **Competing risks**: ``exit_type`` is the first of cure (return month) or default, else
  ``open``; ``months_to_exit`` the months to it (or to the episode's last row).
* **Measure**: the first relief granted from the start month to ``relief_window_months``
  later, else ``none``; covariates are read in the start month (signals) or before it
  (``prev_dpd``, ``prev_balance``: the month before the start, for placebo checks), and the
  reason reported from one month before to two months after the start.

Everything is computed with numpy on the rows sorted by loan and month (no Python loop over
loans), and only within a loan, so the function gives the same answer on any slice of the
data that keeps each loan whole (the Dask engine maps it over loan partitions).

Known drawbacks
---------------
Performance rows must be contiguous months (validation checks it). A loan whose rows stop
with a positive balance is treated as censored at its last row. Relief granted later than
the window (for example in month 3 of an episode) is not attributed to the episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.definitions import NO_RELIEF, Definitions
from analysis.months import month_end, month_index

RELIEF_PARAMETERS = ("deferral_months", "instalments", "rate_cut_bp", "counselling_sessions")


def _owner(starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Index of the block (loan or run, given by sorted start rows) holding each row."""
    return np.searchsorted(starts, rows, side="right") - 1


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(values.astype(bool), ~known.astype(bool))


def _id_values(ids: pd.Series) -> np.ndarray:
    """Loan IDs as an array cheap to compare: category codes when the column is categorical."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.codes.to_numpy()
    return ids.to_numpy()


def _loan_order(perf: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Row order by (loan, month), a new-loan flag and month indices in that order.

    Data already grouped by loan with increasing months (the usual layout) are used as
    they are, which avoids hashing millions of ID strings.
    """
    ids = _id_values(perf["loan_id"])
    mi = month_index(perf["month"])
    n = len(ids)
    new_loan = np.ones(n, dtype=bool)
    new_loan[1:] = ids[1:] != ids[:-1]
    same = ~new_loan[1:]
    grouped = bool(np.all(mi[1:][same] > mi[:-1][same]))
    if grouped:
        firsts = ids[new_loan]
        grouped = len(pd.unique(firsts)) == len(firsts)
    if grouped:
        return None, new_loan, mi
    codes, _ = pd.factorize(ids)
    order = np.lexsort((mi, codes))
    codes, mi = codes[order], mi[order]
    new_loan = np.ones(n, dtype=bool)
    new_loan[1:] = codes[1:] != codes[:-1]
    return order, new_loan, mi


def build_episodes(
    book: Book,
    horizon_months: int = 6,
    probation_months: int = 3,
    overdue_dpd: int = 1,
    relief_window_months: int = 1,
    *,
    default_dpd: int = 90,
    redefault_months: int = 12,
    discount_rate: float = 0.0,
    data_end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """One row per overdue episode, with outcomes and covariates at its start.

    The rules are in the module docstring and ``data/README.md`` section 2; the
    parameters are those of :class:`analysis.definitions.Definitions` (months, days,
    annual rate as a fraction). ``data_end`` is the last month the data cover (default:
    the latest month in ``book.performance``; pass the whole book's when building
    episodes on a slice of it). Columns are listed in ``docs/ARCHITECTURE.md``.
    """
    d = Definitions(
        overdue_dpd=overdue_dpd,
        probation_months=probation_months,
        horizon_months=horizon_months,
        relief_window_months=relief_window_months,
        default_dpd=default_dpd,
        redefault_months=redefault_months,
        discount_rate=discount_rate,
    )
    return episodes_from_definitions(book, d, data_end=data_end)


def episodes_from_definitions(
    book: Book, d: Definitions, data_end: pd.Timestamp | str | None = None
) -> pd.DataFrame:
    """:func:`build_episodes` taking a :class:`Definitions` object."""
    perf = book.performance
    if len(perf) == 0:
        return _empty_frame(book)
    rows = _sorted_rows(perf)
    overdue, written_at_end = _overdue_months(rows, d.overdue_dpd)
    runs = _runs(overdue, rows.new_loan, d.probation_months)
    if not runs.ep_start.any():
        return _empty_frame(book)
    end_m = rows.mi.max() if data_end is None else int(month_index([pd.Timestamp(data_end)])[0])
    s_idx = runs.start[np.flatnonzero(runs.ep_start)]
    start_m = rows.mi[s_idx]
    start_rows = s_idx if rows.order is None else rows.order[s_idx]
    ep = pd.DataFrame(
        {
            "loan_id": perf["loan_id"].to_numpy()[start_rows],
            **_episode_columns(rows, runs, written_at_end, d, end_m),
        }
    )
    ep = _add_loan_attributes(ep, book, start_m)
    ep = _add_relief(ep, book, start_m, d.relief_window_months)
    ep = _add_signals(ep, book, start_rows)
    ep = _add_reasons(ep, book, start_m)
    return ep.reset_index(drop=True)


@dataclass(frozen=True)
class _Rows:
    """The performance rows as arrays in (loan, month) order."""

    order: np.ndarray | None  # positions in the performance table (None: already in order)
    new_loan: np.ndarray  # True on a loan's first row
    mi: np.ndarray  # month numbers
    dpd: np.ndarray  # days past due (missing: 0)
    bal: np.ndarray  # balance (missing: 0)
    wo: np.ndarray  # write-off (missing: 0)
    rec: np.ndarray  # recovery (missing: 0)
    loan_first: np.ndarray  # each loan's first row
    loan_last: np.ndarray  # each loan's last row


def _sorted_rows(perf: pd.DataFrame) -> _Rows:
    order, new_loan, mi = _loan_order(perf)
    n = len(perf)

    def column(name: str, dtype: type) -> np.ndarray:
        if name not in perf.columns:
            return np.zeros(n, dtype=dtype)
        values = perf[name].to_numpy(dtype=dtype, na_value=0)
        return values if order is None else values[order]

    dpd = column("days_past_due", np.int64)
    bal = column("balance", np.float64)
    wo = column("write_off", np.float64)
    rec = column("recovery", np.float64)
    loan_first = np.flatnonzero(new_loan)
    loan_last = np.r_[loan_first[1:] - 1, n - 1]
    return _Rows(order, new_loan, mi, dpd, bal, wo, rec, loan_first, loan_last)


def _overdue_months(rows: _Rows, overdue_dpd: int) -> tuple[np.ndarray, np.ndarray]:
    """Overdue flag of every row, and per loan whether it was ever written off.

    Every row from a loan's first write-off on counts as overdue (a difference array).
    """
    n, loan_first, loan_last = len(rows.mi), rows.loan_first, rows.loan_last
    overdue = rows.dpd >= overdue_dpd
    written_at_end = np.zeros(len(loan_first), dtype=bool)
    wo_rows = np.flatnonzero(rows.wo > 0)
    if len(wo_rows):
        wo_loans, first = np.unique(_owner(loan_first, wo_rows), return_index=True)
        marks = np.zeros(n + 1, dtype=np.int32)
        marks[wo_rows[first]] += 1
        marks[loan_last[wo_loans] + 1] -= 1
        overdue |= np.cumsum(marks[:n]) > 0
        written_at_end[wo_loans] = True
    return overdue, written_at_end


@dataclass(frozen=True)
class _Runs:
    """Runs of consecutive overdue or clean months of a loan, and their episodes.

    The rules act on runs, far fewer than rows.
    """

    start: np.ndarray  # first row of each run
    length: np.ndarray  # months in the run
    over: np.ndarray  # the run is overdue
    first: np.ndarray  # the run is its loan's first
    loan: np.ndarray  # loan number of the run
    ep_start: np.ndarray  # the run starts an episode
    episode_no: np.ndarray  # number of the loan's episode the run belongs to (0: none yet)
    in_ep: np.ndarray  # the run belongs to an episode
    ep: np.ndarray  # episode number (over all loans) of the run


def _runs(overdue: np.ndarray, new_loan: np.ndarray, probation_months: int) -> _Runs:
    """An episode starts at a loan's first overdue run, and at every overdue run after a
    clean run of at least ``probation_months``; shorter clean runs are false cures."""
    n = len(overdue)
    run_start = new_loan.copy()
    run_start[1:] |= overdue[1:] != overdue[:-1]
    rs = np.flatnonzero(run_start)
    run_len = np.diff(np.r_[rs, n])
    run_over = overdue[rs]
    run_first = new_loan[rs]
    run_loan = np.cumsum(run_first) - 1
    prev_len = np.r_[0, run_len[:-1]]
    prev_first = np.r_[False, run_first[:-1]]
    run_ep_start = run_over & (run_first | prev_first | (prev_len >= probation_months))
    starts_cum = np.cumsum(run_ep_start)
    base = (starts_cum - run_ep_start)[np.flatnonzero(run_first)][run_loan]
    episode_no_run = starts_cum - base
    in_ep_run = episode_no_run > 0
    ep_of_run = starts_cum - 1
    return _Runs(rs, run_len, run_over, run_first, run_loan, run_ep_start, episode_no_run,
                 in_ep_run, ep_of_run)


def _episode_columns(
    rows: _Rows, runs: _Runs, written_at_end: np.ndarray, d: Definitions, end_m: int
) -> dict[str, object]:
    """Every column of the episode table after ``loan_id``, in table order; ``end_m`` is
    the month number of the last month the data cover."""
    n, mi, dpd, bal, loan_last = len(rows.mi), rows.mi, rows.dpd, rows.bal, rows.loan_last
    s_run = np.flatnonzero(runs.ep_start)
    n_ep = len(s_run)
    s_idx = runs.start[s_run]
    ep_loan = runs.loan[s_run]
    ep_last_row = np.minimum(np.r_[s_idx[1:] - 1, n - 1], loan_last[ep_loan])
    start_m = mi[s_idx]

    closed = bal[loan_last] == 0
    repaid = closed & ~written_at_end
    cure_idx = _cure_rows(runs, repaid, n_ep, d.probation_months)
    has_cure = cure_idx >= 0
    default_idx = _default_rows(rows, runs, cure_idx, has_cure, n_ep, d.default_dpd)
    has_default = default_idx >= 0

    months_to_cure_obs = mi[np.maximum(cure_idx, 0)] - start_m
    months_to_default = np.where(has_default, mi[np.maximum(default_idx, 0)] - start_m, -1)
    last_m = mi[loan_last[ep_loan]]
    ep_end_m = mi[ep_last_row]

    cured_h = has_cure & (months_to_cure_obs <= d.horizon_months)
    defaulted_h = has_default & (months_to_default <= d.horizon_months)
    need = d.horizon_known_months
    known = ((end_m - start_m) >= need) & (((last_m - start_m) >= need) | closed[ep_loan])
    cure_m = mi[np.maximum(cure_idx, 0)]
    redef, redef_known = _redefaults(ep_loan, start_m, cure_m, last_m, closed, cured_h, known,
                                     end_m, d.redefault_months)
    need_s = d.sustained_known_months
    sustained_known = ((end_m - start_m) >= need_s) & (
        ((last_m - start_m) >= need_s) | closed[ep_loan])

    ref_m = np.where(has_default, mi[np.maximum(default_idx, 0)], start_m)
    loss = _losses(rows, runs, ref_m, n_ep, d.discount_rate)
    ead = bal[s_idx]

    exit_default = has_default & (~has_cure | (default_idx < cure_idx))
    exit_type = np.where(exit_default, "default", np.where(has_cure, "cure", "open"))
    months_to_exit = np.where(
        exit_default, months_to_default, np.where(has_cure, months_to_cure_obs, ep_end_m - start_m)
    )
    not_first = ~rows.new_loan[s_idx]
    prev_idx = np.maximum(s_idx - 1, 0)
    return {
        "episode_no": runs.episode_no[s_run].astype(np.int64),
        "start_month": month_end(start_m),
        "end_month": month_end(ep_end_m),
        "ead": ead,
        "dpd_at_start": dpd[s_idx],
        "prev_dpd": np.where(not_first, dpd[prev_idx], np.nan),
        "prev_balance": np.where(not_first, bal[prev_idx], np.nan),
        "is_cured": _nullable(cured_h, known),
        "is_defaulted": _nullable(defaulted_h, known),
        "is_censored": ~known,
        "cure_month": pd.Series(month_end(cure_m)).where(has_cure).to_numpy(),
        "months_to_cure": np.where(has_cure, months_to_cure_obs, ep_end_m - start_m),
        "is_cure_observed": has_cure,
        "default_month": pd.Series(month_end(ref_m)).where(has_default).to_numpy(),
        "months_to_default": pd.arrays.IntegerArray(
            np.where(has_default, months_to_default, 0), ~has_default
        ),
        "exit_type": exit_type,
        "months_to_exit": months_to_exit,
        "loss": loss,
        "loss_rate": np.divide(loss, ead, out=np.full(n_ep, np.nan), where=ead > 0),
        "is_redefaulted": _nullable(redef, redef_known),
        "is_sustained_cure": _nullable(cured_h & ~redef, sustained_known),
    }


def _cure_rows(runs: _Runs, repaid: np.ndarray, n_ep: int, probation_months: int) -> np.ndarray:
    """Each episode's return row (-1: no cure): the first row of the clean run that ends
    it, when the run lasts ``probation_months`` or the loan is repaid in full during it."""
    run_is_last = np.r_[runs.first[1:], True]
    cure_run = (
        ~runs.over
        & runs.in_ep
        & ((runs.length >= probation_months) | (run_is_last & repaid[runs.loan]))
    )
    cure_idx = np.full(n_ep, -1, dtype=np.int64)
    cure_idx[runs.ep[cure_run]] = runs.start[cure_run]
    return cure_idx


def _default_rows(rows: _Rows, runs: _Runs, cure_idx: np.ndarray, has_cure: np.ndarray,
                  n_ep: int, default_dpd: int) -> np.ndarray:
    """Each episode's default row (-1: none): its first row, before the return month, at
    ``default_dpd`` or written off."""
    cand = np.flatnonzero((rows.dpd >= default_dpd) | (rows.wo > 0))
    cand_run = _owner(runs.start, cand)
    keep = runs.in_ep[cand_run]
    cand, cand_ep = cand[keep], runs.ep[cand_run[keep]]
    before_cure = ~has_cure[cand_ep] | (cand < cure_idx[cand_ep])
    cand, cand_ep = cand[before_cure], cand_ep[before_cure]
    default_idx = np.full(n_ep, -1, dtype=np.int64)
    ep_def, first_def = np.unique(cand_ep, return_index=True)
    default_idx[ep_def] = cand[first_def]
    return default_idx


def _redefaults(ep_loan: np.ndarray, start_m: np.ndarray, cure_m: np.ndarray,
                last_m: np.ndarray, closed: np.ndarray, cured_h: np.ndarray, known: np.ndarray,
                end_m: int, redefault_months: int) -> tuple[np.ndarray, np.ndarray]:
    """(re-defaulted, known): the loan's next episode starts within ``redefault_months`` of
    the return month; known when the data cover that long after it (``closed`` per loan)."""
    next_same_loan = np.r_[ep_loan[1:] == ep_loan[:-1], False]
    next_start_m = np.r_[start_m[1:], 0]
    redef = next_same_loan & ((next_start_m - cure_m) <= redefault_months)
    redef_known = (
        cured_h
        & known
        & ((end_m - cure_m) >= redefault_months)
        & (redef | ((last_m - cure_m) >= redefault_months) | closed[ep_loan])
    )
    return redef, redef_known


def _losses(rows: _Rows, runs: _Runs, ref_m: np.ndarray, n_ep: int,
            discount_rate: float) -> np.ndarray:
    """Write-offs - recoveries over each episode's rows, discounted at ``discount_rate`` a
    year to the month ``ref_m`` (default, else start)."""
    mi, wo, rec = rows.mi, rows.wo, rows.rec
    flows = np.flatnonzero((wo != 0) | (rec != 0))
    flow_run = _owner(runs.start, flows)
    keep = runs.in_ep[flow_run]
    flows, flow_ep = flows[keep], runs.ep[flow_run[keep]]
    net = wo[flows] - rec[flows]
    if discount_rate > 0:
        years = (mi[flows] - ref_m[flow_ep]) / 12.0
        net = net * (1.0 + discount_rate) ** (-years)
    return np.bincount(flow_ep, weights=net, minlength=n_ep)


def _add_loan_attributes(ep: pd.DataFrame, book: Book, start_m: np.ndarray) -> pd.DataFrame:
    loans = book.loans
    pos = pd.Index(loans["loan_id"]).get_indexer(ep["loan_id"])
    keep = [c for c in loans.columns if c not in ep.columns]
    attrs = loans[keep].take(pos).reset_index(drop=True)
    for c in attrs.columns[[isinstance(t, pd.CategoricalDtype) for t in attrs.dtypes]]:
        # the loader's categorical IDs and codes: text again in the (small) episode table,
        # whose contract (and every analysis reading it) is in plain values
        attrs[c] = attrs[c].astype(object)
    ep = pd.concat([ep[["loan_id"]], attrs, ep.drop(columns="loan_id")], axis=1)
    ep.insert(1, "borrower_id", ep.pop("borrower_id"))
    orig = month_index(ep["origination_date"])
    ep.insert(ep.columns.get_loc("prev_balance") + 1, "months_on_book", start_m - orig)
    return ep


def _add_relief(ep: pd.DataFrame, book: Book, start_m: np.ndarray, window: int) -> pd.DataFrame:
    params = [c for c in RELIEF_PARAMETERS if c in book.relief.columns]
    relief = book.relief[["loan_id", "granted_date", "measure", *params]]
    cand = ep[["loan_id"]].assign(_ep=np.arange(len(ep)), _s=start_m).merge(relief, on="loan_id")
    g = month_index(cand["granted_date"])
    cand = cand[(g >= cand["_s"]) & (g <= cand["_s"] + window)]
    first = cand.sort_values(["_ep", "granted_date"], kind="stable").drop_duplicates("_ep")
    out = pd.DataFrame(index=np.arange(len(ep)))
    out["measure"] = NO_RELIEF
    out.loc[first["_ep"], "measure"] = first["measure"].to_numpy()
    out["granted_month"] = pd.NaT
    out.loc[first["_ep"], "granted_month"] = month_end(month_index(first["granted_date"]))
    out["granted_month"] = pd.to_datetime(out["granted_month"])
    for c in RELIEF_PARAMETERS:
        out[c] = np.nan
        if c in first.columns:
            out.loc[first["_ep"], c] = first[c].to_numpy(dtype=float)
    return pd.concat([ep, out.set_index(ep.index)], axis=1)


def _add_signals(ep: pd.DataFrame, book: Book, start_rows: np.ndarray) -> pd.DataFrame:
    """Every signal column's value in the episode's start month (NaN where none)."""
    if book.signals is None or not book.signal_columns:
        return ep
    sig, perf = book.signals, book.performance
    if len(sig) == len(perf) and _same_keys(sig, perf):
        # The usual layout: one signal row per loan-month, in the performance order.
        rows = sig.iloc[start_rows]
        for c in book.signal_columns:
            ep[c] = rows[c].to_numpy()
        return ep
    sig = sig[sig["loan_id"].isin(pd.unique(ep["loan_id"]))]
    keys = ep[["loan_id", "start_month"]].rename(columns={"start_month": "month"})
    found = keys.merge(sig, on=["loan_id", "month"], how="left", sort=False)
    for c in book.signal_columns:
        ep[c] = found[c].to_numpy()
    return ep


def _same_keys(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    same_month = np.array_equal(a["month"].to_numpy(), b["month"].to_numpy())
    return same_month and bool((_id_values(a["loan_id"]) == _id_values(b["loan_id"])).all())


def _add_reasons(ep: pd.DataFrame, book: Book, start_m: np.ndarray) -> pd.DataFrame:
    ep["reason_code"] = pd.Series(pd.NA, index=ep.index, dtype="object")
    ep["reported_family"] = pd.Series(pd.NA, index=ep.index, dtype="object")
    if book.reasons is None or book.reasons.empty:
        return ep
    reasons = book.reasons[["loan_id", "reported_date", "reason_code"]]
    cand = ep[["loan_id"]].assign(_ep=np.arange(len(ep)), _s=start_m).merge(reasons, on="loan_id")
    r = month_index(cand["reported_date"])
    cand = cand[(r >= cand["_s"] - 1) & (r <= cand["_s"] + 2)]
    first = cand.sort_values(["_ep", "reported_date"], kind="stable").drop_duplicates("_ep")
    ep.loc[first["_ep"].to_numpy(), "reason_code"] = first["reason_code"].to_numpy()
    if book.cause_map is not None:
        cmap = book.cause_map[book.cause_map["source"] == "reason"]
        fam = dict(zip(cmap["name"].astype(str), cmap["family"], strict=False))
        ep["reported_family"] = ep["reason_code"].map(fam).astype("object")
    return ep


def _empty_frame(book: Book) -> pd.DataFrame:
    loans = book.loans.iloc[:1].reindex([0])
    loans["loan_id"] = "_"
    loans["origination_date"] = pd.Timestamp("2000-01-01")
    empty = Book(
        loans=loans,
        performance=pd.DataFrame(
            {
                "loan_id": ["_"],
                "month": [pd.Timestamp("2000-01-31")],
                "balance": [1.0],
                "days_past_due": [30],
            }
        ),
        relief=book.relief.iloc[:0],
        measures=book.measures,
        signals=book.signals.iloc[:0] if book.signals is not None else None,
        reasons=None,
        cause_map=book.cause_map,
    )
    return episodes_from_definitions(empty, Definitions()).iloc[:0]
