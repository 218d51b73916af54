"""The loans a forecast starts from and the signal paths a scenario gives them.

:func:`population` takes the loans active and performing at ``as_of``: their balance,
the instalments left (balances amortise as annuities on the contract rate, loans leave
the forecast when they mature) and the first future month in which they can start an
episode (a loan still in probation after a cure waits until its clean run reaches
``probation_months``, as in :func:`analysis.causes.at_risk_months`). Loans in an overdue
episode at ``as_of`` are left out: their next onset would follow a cure and a probation,
mostly beyond a six-month horizon.

:class:`SignalPaths` holds each loan's standardised signals of the last
``window_months`` (the level the baseline continues), the scenario's shifts and set
values per loan and future month, and, for backtests, the realised future signals;
:meth:`SignalPaths.draw` gives one simulation's ``(loans, months, signals)`` array
(vectorised; no loop over loans).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.book import Book
from analysis.errors import InputError
from analysis.months import month_index, month_number
from analysis.scenarios.hazards import instalments_left
from analysis.scenarios.spec import Scenario, month_ahead

_FLAG_VALUES = {0.0, 1.0}


@dataclass(frozen=True)
class Population:
    """Loans performing at ``as_of`` (arrays aligned with ``loans``, one row per loan)."""

    loans: pd.DataFrame  # loan attributes (loan_id, borrower_type, region, industry, ...)
    balance: np.ndarray  # (n, h) balance at the start of each future month (EAD of an onset), CNY
    months_left: np.ndarray  # (n, h) instalments left in each future month
    months_on_book: np.ndarray  # (n, h)
    months_since_overdue: np.ndarray  # (n, h) months since the last overdue month (NaN: never)
    at_risk: np.ndarray  # (n, h) bool: can start an episode in that month

    def subset(self, keep: np.ndarray) -> Population:
        """The loans ``keep`` (boolean mask) only."""
        return Population(self.loans.loc[keep].reset_index(drop=True), self.balance[keep],
                          self.months_left[keep], self.months_on_book[keep],
                          self.months_since_overdue[keep], self.at_risk[keep])


def population(book: Book, as_of: pd.Timestamp, horizon_months: int, *,
               overdue_dpd: int = 1, probation_months: int = 3) -> Population:
    """Loans with a clean, positive-balance row at ``as_of`` and their amortisation paths."""
    perf = book.performance
    m = month_index(perf["month"])
    t0 = month_number(as_of)
    dpd = perf["days_past_due"].to_numpy()
    wo = (pd.to_numeric(perf["write_off"], errors="coerce").fillna(0).to_numpy() > 0
          if "write_off" in perf else np.zeros(len(perf), bool))
    bad = (dpd >= overdue_dpd) | wo
    last_bad = (pd.Series(np.where(bad & (m <= t0), m, -10**6)).groupby(perf["loan_id"].to_numpy())
                .max())
    now = perf.loc[m == t0, ["loan_id", "balance", "days_past_due"]]
    bal = pd.to_numeric(now["balance"], errors="coerce").to_numpy(float)
    now = now.loc[(bal > 0) & (now["days_past_due"].to_numpy() < overdue_dpd)]
    ever_wo = perf.loc[wo, "loan_id"].unique()
    now = now.loc[~now["loan_id"].isin(ever_wo)]
    if now.empty:
        raise InputError(f"scenario forecast: no loan is performing at {as_of:%Y-%m}")
    loans = book.loans.set_index("loan_id").loc[now["loan_id"]].reset_index()
    b0 = pd.to_numeric(now["balance"]).to_numpy(float)
    mob0 = t0 - month_index(loans["origination_date"])
    r = pd.to_numeric(loans.get("annual_rate", pd.Series(0.0, index=loans.index)),
                      errors="coerce").fillna(0).to_numpy(float)
    n_left = instalments_left(b0, pd.to_numeric(loans["principal"]).to_numpy(float), r,
                              pd.to_numeric(loans["term_months"]).to_numpy(float))
    r = r / 12
    k = np.arange(horizon_months)[None, :]  # payments made after as_of before month k + 1
    g_n = (1 + r[:, None]) ** n_left[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ann = np.where(r[:, None] > 0, (g_n - (1 + r[:, None]) ** k) / (g_n - 1),
                       1 - k / np.maximum(n_left[:, None], 1))
    balance = np.where(k < n_left[:, None], b0[:, None] * np.clip(ann, 0, 1), 0.0)
    months_left = n_left[:, None] - k  # instalments left at the start of month k + 1
    last = last_bad.reindex(now["loan_id"]).fillna(-10**6).to_numpy()
    run = t0 - last
    first_k = np.maximum(1, probation_months + 1 - run)  # first month ahead at risk
    at_risk = ((k + 1) >= first_k[:, None]) & (months_left >= 1) & (balance > 0)
    since = np.where(last[:, None] > -10**6, run[:, None] + k + 1, np.nan)
    return Population(loans, balance, months_left, mob0[:, None] + k + 1, since, at_risk)


def _segment_mask(loans: pd.DataFrame, segments: tuple) -> np.ndarray:
    mask = np.ones(len(loans), bool)
    for col, vals in segments:
        mask &= loans[col].astype(str).isin(vals).to_numpy()
    return mask


@dataclass(frozen=True)
class SignalPaths:
    """Standardised signals of a forecast (see the module docstring).

    ``window``: ``(n, L, S)`` the loans' last ``L`` months (NaN filled with the loan's
    latest value, then 0 = the at-risk mean); ``shift``: ``(n, h, S)`` added shifts;
    ``set_mask``/``set_value``: ``(n, h, S)`` values set by the scenario table;
    ``realised``: ``(n, h, S)`` observed future signals (NaN where none; None outside
    backtests); ``flags``: ``(S,)`` which signals are 0/1 flags.
    """

    signals: tuple[str, ...]
    window: np.ndarray
    shift: np.ndarray
    set_mask: np.ndarray
    set_value: np.ndarray
    realised: np.ndarray | None
    flags: np.ndarray

    def subset(self, keep: np.ndarray) -> SignalPaths:
        """The loans ``keep`` (boolean mask) only."""
        return SignalPaths(self.signals, self.window[keep], self.shift[keep], self.set_mask[keep],
                           self.set_value[keep], None if self.realised is None
                           else self.realised[keep], self.flags)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One simulation's ``(n, h, S)`` standardised signal array."""
        n, length, _ = self.window.shape
        h = self.shift.shape[1]
        pick = rng.integers(0, length, size=(n, h))
        z = self.window[np.arange(n)[:, None], pick]
        if self.realised is not None:
            z = np.where(np.isnan(self.realised), z, self.realised)
        z = z + self.shift
        return np.where(self.set_mask, self.set_value, z)


def _loan_month_matrix(book_signals: pd.DataFrame, loan_ids: pd.Series, months: np.ndarray,
                       cols: list[str]) -> np.ndarray:
    """``(n, len(months), S)`` of the signal rows of ``loan_ids`` in month numbers ``months``."""
    codes = pd.Index(loan_ids).get_indexer(book_signals["loan_id"])
    mi = month_index(book_signals["month"])
    pos = np.searchsorted(months, mi)
    ok = (codes >= 0) & (pos < len(months))
    ok[ok] &= months[pos[ok]] == mi[ok]
    out = np.full((len(loan_ids), len(months), len(cols)), np.nan)
    vals = book_signals.loc[ok, cols].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    out[codes[ok], pos[ok]] = vals
    return out


def signal_paths(book: Book, pop: Population, scenario: Scenario, as_of: pd.Timestamp,
                 horizon_months: int, means: dict, sds: dict,
                 future: Book | None = None) -> SignalPaths:
    """The scenario's signals for the population (standardised with ``means``/``sds``).

    ``future``: the book holding the months after ``as_of`` (``realised`` baselines).
    """
    cols = list(means)
    mu = np.array([means[c] for c in cols])
    sd = np.array([sds[c] for c in cols])
    t0 = month_number(as_of)
    win_months = np.arange(t0 - scenario.window_months + 1, t0 + 1)
    raw = _loan_month_matrix(book.signals, pop.loans["loan_id"], win_months, cols)
    for j in range(len(cols)):  # gaps: the loan's nearest observed month (a few signals)
        raw[:, :, j] = pd.DataFrame(raw[:, :, j]).ffill(axis=1).bfill(axis=1).to_numpy()
    window = np.nan_to_num((raw - mu) / sd)
    vals = book.signals[cols].apply(pd.to_numeric, errors="coerce")
    flags = np.array([set(np.unique(vals[c].dropna())) <= _FLAG_VALUES for c in cols])
    n, h, s = len(pop.loans), horizon_months, len(cols)
    shift = np.zeros((n, h, s))
    if scenario.method == "trend":
        shift += _trend(raw, pop.loans, scenario.trend_segment, flags, sd)[:, None, :] \
            * (np.arange(1, h + 1) + (scenario.window_months - 1) / 2)[None, :, None]
    for sh in scenario.shocks:
        j = cols.index(sh.signal)
        ks = [month_ahead(m, as_of, h, scenario.name) for m in sh.months] or range(1, h + 1)
        seg = _segment_mask(pop.loans, sh.segments)
        dz = sh.shift / sd[j] + sh.shift_sd
        for k in ks:  # a handful of months: no loop over loans
            shift[seg, k - 1, j] += dz
    set_mask = np.zeros((n, h, s), bool)
    set_value = np.zeros((n, h, s))
    for row in scenario.values.itertuples(index=False):  # rows of the scenario table
        j = cols.index(row.signal)
        k = month_ahead(row.month, as_of, h, scenario.name)
        segs = tuple((c, (str(getattr(row, c)),)) for c in ("region", "industry", "borrower_type")
                     if c in scenario.values and pd.notna(getattr(row, c)))
        seg = _segment_mask(pop.loans, segs)
        set_mask[seg, k - 1, j] = True
        set_value[seg, k - 1, j] = (float(row.value) - mu[j]) / sd[j]
    realised = None
    if scenario.method == "realised" and future is not None:
        fut = _loan_month_matrix(future.signals, pop.loans["loan_id"], np.arange(t0 + 1, t0 + h + 1),
                                 cols)
        realised = (fut - mu) / sd
    return SignalPaths(tuple(cols), window, shift, set_mask, set_value, realised, flags)


def _trend(raw: np.ndarray, loans: pd.DataFrame, segment: str, flags: np.ndarray,
           sd: np.ndarray) -> np.ndarray:
    """Per loan ``(n, S)`` monthly slope (standardised units) of its segment's mean signal
    over the window (0 for flags and one-month windows)."""
    length = raw.shape[1]
    if length < 2:
        return np.zeros((raw.shape[0], raw.shape[2]))
    codes, _ = pd.factorize(loans[segment].astype(str))
    counts = np.bincount(codes)
    seg_mean = np.stack([np.stack([np.bincount(codes, raw[:, t, j], minlength=len(counts))
                                   for j in range(raw.shape[2])], axis=1)
                         for t in range(length)], axis=0) / counts[None, :, None]
    tt = np.arange(length) - (length - 1) / 2
    slope = np.einsum("t,tgs->gs", tt, seg_mean) / np.sum(tt ** 2)
    slope = np.where(flags[None, :], 0.0, slope) / sd[None, :]
    return slope[codes]


__all__ = ["Population", "SignalPaths", "population", "signal_paths"]
