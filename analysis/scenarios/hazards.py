"""Per-family onset hazards for forecasting: log-linear in each family's own signals.

Method
------
The latent competing-causes model of :mod:`analysis.causes` gives every overdue episode a
probability ``p_f`` that family ``f`` started it. Here each family gets its own monthly
onset hazard, fitted on the loan-months at risk (:func:`analysis.causes.at_risk_months`)
with the fractional events ``y_f = p_f`` at an onset (0 elsewhere):

    ``h_f(x) = exp(a_f + b_f . z_f(x) + c_f . controls(x))``,

``z_f`` the standardised signals that ``cause_map`` gives to ``f`` (the exclusion
restriction: a family's hazard never reads another family's signals, so a shock to a
management signal cannot move the economic forecast) and the controls the borrower type,
the credit score and the loan's position in its schedule (first month, three or four
instalments left, when onsets are rare). Fitted by Poisson quasi-likelihood (Newton steps,
ridge ``ridge / 2 * ||b||^2`` off the intercept; on the distinct covariate rows when they
repeat, :func:`poisson_cells`, same estimates), whose fitted rates sum to the attributed
onsets of each family exactly; above ``max_rows`` at-risk rows the non-events are sampled
with probability ``q`` and weighted ``1 / q``. Coefficient uncertainty: the sandwich
covariance ``A^-1 B A^-1`` (robust to the fractional events and the weights).

Known drawbacks: the family split of past onsets is taken as given (the attribution's
posterior uncertainty is not propagated); the hazards are log-linear, while a book's true
hazards may add spikes (distress, life events) on top of a background rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.causes import at_risk_months, subsample
from analysis.data.book import Book
from analysis.definitions import FAMILIES
from analysis.errors import EstimationError, InputError
from analysis.months import month_index

CONTROL_NAMES: tuple[str, ...] = ("score_z", "first_month", "left_le3", "left_eq4",
                                   "cured_le12", "cured_gt12")
RECENT_CURE_MONTHS = 12  # re-default risk after a cure is highest within this many months


@dataclass(frozen=True)
class FamilyHazard:
    """One family's fitted hazard: ``signals`` (its own), ``coef`` (intercept, signals,
    borrower-type dummies, :data:`CONTROL_NAMES`), ``cov`` (sandwich covariance)."""

    family: str
    signals: tuple[str, ...]
    coef: np.ndarray
    cov: np.ndarray
    n_events: float


@dataclass(frozen=True)
class HazardModel:
    """The three fitted hazards and the standardisation they share (signal means and SDs
    over the at-risk months, the borrower-type levels, the score's mean and SD)."""

    families: tuple[FamilyHazard, ...]
    signal_mean: dict
    signal_sd: dict
    types: tuple[str, ...]  # non-reference borrower types (dummies)
    score_mean: float
    score_sd: float

    def draws(self, rng: np.random.Generator, n: int) -> list[np.ndarray]:
        """Per family ``(n, p)`` coefficient draws from the normal with the sandwich
        covariance; the first row is the point estimate."""
        out = []
        for fh in self.families:
            d = rng.multivariate_normal(fh.coef, fh.cov, size=max(n, 1), method="eigh")
            d[0] = fh.coef
            out.append(d)
        return out


def signal_families(book: Book) -> dict[str, str]:
    """Signal column -> family from ``cause_map`` (signals of the book only)."""
    cmap = book.cause_map
    if cmap is None or not book.signal_columns:
        raise InputError("scenario forecast: the book needs signals and a cause_map that maps "
                         "them to families")
    sig = cmap[cmap["source"] == "signal"]
    out = {str(n): str(f) for n, f in zip(sig["name"], sig["family"], strict=True)
           if str(n) in book.signal_columns and str(f) in FAMILIES}
    missing = [f for f in FAMILIES if f not in out.values()]
    if missing:
        raise InputError(f"scenario forecast: cause_map gives no signal to famil(ies) {missing}")
    return out


def loan_controls(loans: pd.DataFrame, types: tuple[str, ...], score_mean: float,
                  score_sd: float) -> np.ndarray:
    """Static controls per loan: borrower-type dummies and the standardised score."""
    bt = loans["borrower_type"].astype(str).to_numpy() if "borrower_type" in loans else None
    cols = [(bt == t).astype(float) if bt is not None else np.zeros(len(loans)) for t in types]
    score = (pd.to_numeric(loans["credit_score"], errors="coerce").to_numpy(float)
             if "credit_score" in loans else np.full(len(loans), score_mean))
    cols.append(np.nan_to_num((score - score_mean) / score_sd))
    return np.column_stack(cols) if cols else np.zeros((len(loans), 0))


def schedule_controls(months_left: np.ndarray, months_on_book: np.ndarray,
                      months_since_overdue: np.ndarray) -> np.ndarray:
    """Schedule and history dummies: first month on book, <= 3 and exactly 4 instalments
    left, last overdue month at most :data:`RECENT_CURE_MONTHS` ago and longer ago (NaN:
    never overdue). Any shape; a last axis of 5 is added."""
    since = np.nan_to_num(months_since_overdue, nan=-1.0)
    return np.stack([(months_on_book <= 0), (months_left <= 3), (months_left == 4),
                     (since > 0) & (since <= RECENT_CURE_MONTHS), since > RECENT_CURE_MONTHS],
                    axis=-1).astype(float)


def instalments_left(balance: np.ndarray, principal: np.ndarray, annual_rate: np.ndarray,
                     term_months: np.ndarray) -> np.ndarray:
    """Whole instalments that repay ``balance`` (CNY, at the start of a month) with the
    loan's annuity (``principal`` over ``term_months`` at ``annual_rate``, a fraction):
    the schedule as it stands, arrears and all, rather than the calendar term."""
    r = np.asarray(annual_rate, float) / 12
    term = np.asarray(term_months, float)
    bal = np.asarray(balance, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g = (1 + r) ** term
        ann = np.where(r > 0, principal * r * g / (g - 1), principal / term)
        x = np.clip(1 - r * bal / ann, 1e-12, 1)
        n = np.where(r > 0, -np.log(x) / np.log1p(np.where(r > 0, r, 1)), bal / ann)
    return np.where(bal > 0, np.round(np.nan_to_num(n, nan=0.0)), 0.0)


def start_of_month_balance(book: Book, keys: pd.DataFrame) -> np.ndarray:
    """Balance (CNY) of the previous month's row of each ``keys`` row (``loan_id``,
    ``month``): the exposure at the start of the month; NaN in a loan's first month."""
    perf = book.performance[["loan_id", "month", "balance"]]
    k = keys[["loan_id"]].assign(m=month_index(keys["month"]) - 1)
    prev = perf[["loan_id", "balance"]].assign(m=month_index(perf["month"]))
    out = k.merge(prev, on=["loan_id", "m"], how="left")["balance"]
    return pd.to_numeric(out, errors="coerce").to_numpy(float)


def months_since_overdue(book: Book, keys: pd.DataFrame, overdue_dpd: int = 1) -> np.ndarray:
    """Months from the loan's last overdue (or written-off) month before each row of
    ``keys`` (``loan_id``, ``month``) to that row's month; NaN when never overdue before."""
    perf = book.performance[["loan_id", "month", "days_past_due"]]
    m = month_index(perf["month"])
    bad = perf["days_past_due"].to_numpy() >= overdue_dpd
    if "write_off" in book.performance:
        bad |= pd.to_numeric(book.performance["write_off"], errors="coerce").fillna(0).to_numpy() > 0
    order = np.lexsort((m, pd.factorize(perf["loan_id"])[0]))
    frame = pd.DataFrame({"loan_id": perf["loan_id"].to_numpy()[order], "m": m[order],
                          "b": np.where(bad[order], m[order], -1)})
    frame["last"] = frame.groupby("loan_id", sort=False)["b"].cummax()
    frame["last"] = frame.groupby("loan_id", sort=False)["last"].shift(1)
    k = keys[["loan_id"]].assign(m=month_index(keys["month"]))
    last = k.merge(frame[["loan_id", "m", "last"]], on=["loan_id", "m"], how="left")["last"]
    last = last.to_numpy(float)
    return np.where(last >= 0, k["m"].to_numpy() - last, np.nan)


def _poisson_objective(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray,
                       pen: np.ndarray) -> tuple[float, np.ndarray]:
    """Penalised weighted Poisson log-likelihood (up to a constant) and ``exp(x @ b)``
    (reused by the next Newton step)."""
    eta = x @ b
    ex = np.exp(eta)
    return float(np.sum(w * (y * eta - ex)) - 0.5 * np.sum(pen * b * b)), ex


@dataclass(frozen=True)
class PoissonCells:
    """Rows of a Poisson design collapsed to their distinct covariate vectors: ``x``
    (cells x p), ``w`` (sum of the row weights), ``y`` (weighted mean outcome), and the
    sums behind the sandwich's meat: ``w2`` = sum w^2, ``w2y`` = sum w^2 y,
    ``w2yy`` = sum w^2 y^2 per cell."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    w2: np.ndarray
    w2y: np.ndarray
    w2yy: np.ndarray


def poisson_cells(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                  share_max: float = 1.0) -> PoissonCells | None:
    """Collapse rows with identical covariates. The weighted Poisson log-likelihood, its
    gradient and Hessian only see a cell's total weight ``sum w`` and weighted outcome
    ``sum w y``, so the fit on the cells has the row-level coefficients (up to the order
    of summation); the sandwich's meat needs the three sums of ``w^2`` kept here.
    Rows are grouped by a 64-bit hash, then checked equal to their cell's row (exact).
    None when the cells (or one column's distinct values, checked first as it is cheap)
    exceed ``share_max`` of the rows (little to gain) or a hash collides."""
    limit = share_max * len(x)
    if any(len(pd.unique(col)) > limit for col in x.T):  # a loan-month signal: no cells
        return None
    h = pd.util.hash_pandas_object(pd.DataFrame(x), index=False).to_numpy()
    inv, uniq = pd.factorize(h)
    k = len(uniq)
    if k > limit:
        return None
    first = np.zeros(k, np.int64)
    first[inv[::-1]] = np.arange(len(x))[::-1]  # first row of every cell
    if not np.array_equal(x[first][inv], x):
        return None
    tw, w2 = np.bincount(inv, w, k), np.bincount(inv, w * w, k)
    ybar = np.divide(np.bincount(inv, w * y, k), tw, out=np.zeros(k), where=tw > 0)
    return PoissonCells(x[first], ybar, tw, w2,
                        np.bincount(inv, w * w * y, k), np.bincount(inv, w * w * y * y, k))


#: Collapse a Poisson design into cells (:func:`poisson_cells`) when it has at most this
#: share of distinct rows: on the demo book one family's design (controls only) has 9,000
#: distinct rows of 300,000; a design with a loan-month signal has hardly any repeats.
CELL_SHARE_MAX = 0.25


def poisson_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float,
                max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Poisson quasi-likelihood by Newton with step halving (the objective never
    decreases); returns (coef, sandwich covariance). Runs on BLAS single-threaded (many
    modest products; threads only contend on a shared 2-core machine) and, when rows
    repeat, on the distinct rows (:func:`poisson_cells`, same estimates)."""
    with threadpool_limits(limits=1, user_api="blas"):
        cells = poisson_cells(x, y, w, CELL_SHARE_MAX)
        if cells is not None:
            b, a_inv = _poisson_newton(cells.x, cells.y, cells.w, ridge, max_iter)
            mu = np.exp(cells.x @ b)
            meat = cells.w2yy - 2 * mu * cells.w2y + mu * mu * cells.w2
            meat_x = (cells.x * np.maximum(meat, 0.0)[:, None]).T @ cells.x
        else:
            b, a_inv = _poisson_newton(x, y, w, ridge, max_iter)
            s = x * (w * (y - np.exp(x @ b)))[:, None]
            meat_x = s.T @ s
    cov = a_inv @ meat_x @ a_inv
    return b, (cov + cov.T) / 2


def _poisson_newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float,
                    max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Newton iterations of :func:`poisson_fit`: (coef, inverse penalised information)."""
    p = x.shape[1]
    pen = np.full(p, ridge)
    pen[0] = 0.0
    b = np.zeros(p)
    b[0] = np.log(max(np.sum(w * y) / np.sum(w), 1e-12))
    wy = w * y
    obj, ex = _poisson_objective(x, y, w, b, pen)
    for _ in range(max_iter):
        mu = w * ex
        grad = x.T @ (wy - mu) - pen * b
        hess = (x * mu[:, None]).T @ x + np.diag(pen)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        for _ in range(30):  # halve the step until the objective does not fall
            new, ex_new = _poisson_objective(x, y, w, b + step, pen)
            if new >= obj - 1e-9 * abs(obj):
                break
            step = step / 2
        b, gain, obj, ex = b + step, new - obj, new, ex_new
        if np.max(np.abs(step)) < 1e-7 or abs(gain) < 1e-10 * (1 + abs(obj)):
            break
    mu = np.exp(x @ b)
    return b, np.linalg.pinv((x * (w * mu)[:, None]).T @ x + np.diag(pen))


def fit_hazards(book: Book, episodes: pd.DataFrame, p_family: np.ndarray, *,
                overdue_dpd: int = 1, probation_months: int = 3, max_rows: int = 300_000,
                ridge: float = 1.0, seed: int = 0) -> HazardModel:
    """Fit the three family hazards on ``book`` (already restricted to the fit window).

    ``p_family``: ``(len(episodes), 3)`` probability of each family (columns in
    :data:`analysis.definitions.FAMILIES` order) for every episode, e.g. the cause
    attribution's posterior.
    """
    fam_of = signal_families(book)
    risk = at_risk_months(book, episodes, overdue_dpd=overdue_dpd,
                          probation_months=probation_months)
    risk, q = subsample(risk, max_rows, np.random.default_rng(seed))
    if not risk["is_onset"].any():
        raise EstimationError("scenario forecast: no overdue onset before as_of; the onset "
                              "hazards cannot be estimated")
    sig_cols = list(fam_of)
    risk = risk.merge(book.signals[["loan_id", "month", *sig_cols]], on=["loan_id", "month"],
                      how="left", sort=False)
    keys = episodes[["loan_id", "start_month"]].rename(columns={"start_month": "month"})
    pf = pd.DataFrame(np.asarray(p_family, float), columns=list(FAMILIES))
    ev = pd.concat([keys.reset_index(drop=True), pf], axis=1).drop_duplicates(["loan_id", "month"])
    risk = risk.merge(ev, on=["loan_id", "month"], how="left", sort=False)
    onset = risk["is_onset"].to_numpy(bool)
    y = risk[list(FAMILIES)].to_numpy(float)
    y[onset & np.isnan(y).any(axis=1)] = 1.0 / 3.0  # an onset without an episode row
    y = np.where(onset[:, None], np.nan_to_num(y), 0.0)
    w = np.where(onset, 1.0, 1.0 / q)
    loans = book.loans.set_index("loan_id")
    lo = loans.loc[risk["loan_id"]].reset_index()
    mob = month_index(risk["month"]) - month_index(lo["origination_date"])
    start_bal = start_of_month_balance(book, risk)
    start_bal = np.where(np.isnan(start_bal), pd.to_numeric(lo["principal"]).to_numpy(float),
                         start_bal)
    left = instalments_left(start_bal, pd.to_numeric(lo["principal"]).to_numpy(float),
                            pd.to_numeric(lo["annual_rate"]).to_numpy(float),
                            pd.to_numeric(lo["term_months"]).to_numpy(float))
    bt = loans["borrower_type"].astype(str).value_counts() if "borrower_type" in loans else None
    types = tuple(sorted(bt.index[1:])) if bt is not None else ()
    score = pd.to_numeric(lo.get("credit_score", pd.Series(np.nan, index=lo.index)),
                          errors="coerce").to_numpy(float)
    s_mean = float(np.nanmean(score)) if np.isfinite(score).any() else 0.0
    s_sd = float(np.nanstd(score)) if np.isfinite(score).any() and np.nanstd(score) > 0 else 1.0
    since = months_since_overdue(book, risk, overdue_dpd)
    controls = np.hstack([loan_controls(lo, types, s_mean, s_sd),
                          schedule_controls(left, mob, since)])
    means, sds, z = {}, {}, {}
    for c in sig_cols:
        v = pd.to_numeric(risk[c], errors="coerce").to_numpy(float)
        ok = np.isfinite(v)
        means[c] = float(np.average(v[ok], weights=w[ok])) if ok.any() else 0.0
        sd = float(np.sqrt(np.average((v[ok] - means[c]) ** 2, weights=w[ok]))) if ok.any() else 0.0
        sds[c] = sd if sd > 0 else 1.0
        z[c] = np.where(ok, (v - means[c]) / sds[c], 0.0)
    fams = []
    for j, f in enumerate(FAMILIES):
        own = tuple(c for c in sig_cols if fam_of[c] == f)
        x = np.column_stack([np.ones(len(risk)), *[z[c] for c in own], controls])
        coef, cov = poisson_fit(x, y[:, j], w, ridge)
        fams.append(FamilyHazard(f, own, coef, cov, float(y[:, j].sum())))
    return HazardModel(tuple(fams), means, sds, types, s_mean, s_sd)


__all__ = ["CONTROL_NAMES", "FamilyHazard", "HazardModel", "fit_hazards", "loan_controls",
           "instalments_left", "months_since_overdue", "poisson_cells", "poisson_fit", "schedule_controls",
           "signal_families", "start_of_month_balance"]
