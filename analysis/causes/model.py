"""Overdue-onset model and the exact Shapley split of its log-odds into cause families.

Part of :mod:`analysis.causes.attribution` (read its docstring first); this module holds the
signal side of the attribution.

Method
------
*At-risk set.* A loan-month ``t`` is at risk of an overdue onset when a new episode
could start in it under the episode rules of :mod:`analysis.episodes`: it is the loan's
first row, or the previous month was clean (DPD below ``overdue_dpd``, no write-off)
and either the loan was never overdue before or the clean run ending at ``t-1`` lasted
at least ``probation_months`` (so the loan is not inside an unresolved episode, whose
relapses continue that episode). Rows of a written-off loan and rows with a zero balance
that start no episode are not at risk. The event is "an episode starts in ``t``"; every
episode start of the episode table is in the set by construction. Built with numpy on the
rows sorted by loan and month (no loop over loans).

*Sub-sampling.* When the at-risk set has more than ``max_rows`` rows, all events are kept
and non-events are kept with a known probability ``q`` (case-control sampling), at least
five non-events per event. In a logit
this changes only the intercept, by ``log(1/q)``; the slopes are consistent. The fitted
intercept is corrected by ``+log(q)``; the Shapley split does not use the intercept.

*Design.* Signals in month ``t`` and loan attributes as controls: numeric columns are
standardised with the (sampling-weighted) mean and standard deviation of the at-risk
set, so the *reference borrower* (the at-risk portfolio mean) is the zero vector; a
missing signal value is set to that mean (it contributes nothing). Categorical attributes
(``borrower_type``, ``industry``, ``region``, other text columns with at most
``max_levels`` levels) enter as dummies with the most frequent level as base;
``months_on_book`` and the numeric loan columns are numeric controls.

*Onset logit.* Fitted by Newton-Raphson (:func:`analysis.causes.glm.logit_fit`, the
estimate and covariance of ``statsmodels`` ``Logit``; on the distinct design rows with
their event counts when that at least halves the rows, which is exact); coefficients carry
their asymptotic covariance, used for the model-uncertainty draws of the bootstrap.
Controls collinear with earlier columns are dropped; signals are kept (the Shapley split
needs a coefficient for each), so two collinear or constant signals make the
information singular. Then, or when the plain fit fails numerically, the logit is
refitted with a ridge penalty ``ONSET_RIDGE / 2 * ||b||^2`` on every coefficient but
the constant (:func:`analysis.models.penalised_newton`): collinear signals share their
coefficient, a constant one gets zero; ``OnsetModel.note`` says so.

*Shapley split.* For an episode with standardised design ``z`` and coefficients ``b``,
the value of a coalition ``S`` of families is the log-odds with the signals of the
families in ``S`` at the episode's values and all other signals at the reference:
``v(S) = sum_{j in signals of S} b_j z_j`` (controls held at the episode's values, so they
cancel). The exact Shapley value of family ``g`` over the 8 coalitions of the 3 players is
``phi_g = sum_S |S|!(2-|S|)!/3! [v(S + g) - v(S)]``. Because the logit's linear predictor
is additive in the signal groups, this reduces to the closed form
``phi_g = sum_{j in g} b_j z_j`` (efficiency: the three values sum to the log-odds
difference due to signals). :func:`group_contributions` uses the closed form;
:func:`shapley_three` is the general coalition formula, kept as an independent check
of the closed form (the tests compare them) and for any future model with interactions.

*Probabilities.* The positive parts of the three contributions, normalised, give
``p_economic``, ``p_management``, ``p_personal``. When no contribution is positive (the
episode's signals all look better than the reference's) the episode gets the *base
shares*: the mean probabilities of the episodes that do have a positive contribution.

Assumptions and known drawbacks
-------------------------------
* Signals are assigned to exactly one family by ``cause_map``; a signal that speaks for
  two causes is credited to the one it is mapped to.
* The split explains the model's log-odds relative to an average borrower, not a causal
  counterfactual; a signal correlated with an unmeasured cause takes its credit.
* The positive-part normalisation is a heuristic mapping of contributions to
  probabilities, not a calibrated posterior; :mod:`analysis.causes.labels` checks its
  calibration against reported reasons when there are any.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import Logit

from analysis.causes.glm import collapse_rows, logit_fit
from analysis.data.book import Book
from analysis.definitions import FAMILIES
from analysis.errors import FIT_ERRORS, EstimationError
from analysis.models import independent_columns_ordered, penalised_newton
from analysis.months import month_index

_KEY_SPAN = 1 << 20  # loan code x this + month index: an integer key per loan-month
_NOT_CONTROLS = ("loan_id", "borrower_id", "origination_date")
_CATEGORICAL = ("borrower_type", "industry", "region")
ONSET_RIDGE = 1.0  # fallback L2 penalty (sum scale): N(0, 1) prior per standardised coefficient


class ModelFitError(EstimationError):
    """The onset model cannot be fitted on this book (too few events, degenerate data)."""


def _num(s: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing (works for nullable and boolean dtypes)."""
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()


# ----------------------------------------------------------------------------- at-risk set
def at_risk_months(
    book: Book,
    episodes: pd.DataFrame,
    *,
    overdue_dpd: int = 1,
    probation_months: int = 3,
) -> pd.DataFrame:
    """The loan-months at risk of an overdue onset, with the event flag.

    Returns columns ``loan_id``, ``month`` (month-end), ``is_onset`` (bool): one row per
    at-risk loan-month (rules in the module docstring). Episode starts of ``episodes``
    that the rules would miss (a differently built episode table) are added as events.
    """
    perf = book.performance
    cols = ["loan_id", "month", "balance", "days_past_due"]
    has_wo = "write_off" in perf.columns
    perf = perf[cols + (["write_off"] if has_wo else [])]
    codes, uniques = pd.factorize(perf["loan_id"], sort=False)
    mi = month_index(perf["month"])
    order = _loan_month_order(codes, mi)
    codes, mi = codes[order], mi[order]
    dpd = perf["days_past_due"].to_numpy()[order]
    bal = _num(perf["balance"])[order]
    n = len(codes)
    if n == 0:
        return pd.DataFrame({"loan_id": [], "month": pd.to_datetime([]), "is_onset": []})
    new_loan = np.r_[True, codes[1:] != codes[:-1]]
    first_row = np.maximum.accumulate(np.where(new_loan, np.arange(n), 0))
    if has_wo:
        wo = np.nan_to_num(_num(perf["write_off"])[order]) > 0
        cum = np.cumsum(wo)
        written = (cum - cum[first_row] + wo[first_row]) > 0
    else:
        written = np.zeros(n, dtype=bool)
    overdue = (dpd >= overdue_dpd) | written
    # run lengths of equal overdue state within a loan
    run_start = new_loan | np.r_[True, overdue[1:] != overdue[:-1]]
    run_first = np.maximum.accumulate(np.where(run_start, np.arange(n), 0))
    run_pos = np.arange(n) - run_first + 1  # position within the run, 1-based
    cum_od = np.cumsum(overdue)
    od_before = cum_od - overdue - (cum_od[first_row] - overdue[first_row])
    prev_clean = np.r_[False, ~overdue[:-1]] & ~new_loan
    prev_run = np.r_[0, run_pos[:-1]]
    resolved = (od_before == 0) | (prev_run >= probation_months)
    at_risk = new_loan | (prev_clean & resolved)
    at_risk &= ~np.r_[False, written[:-1]] | new_loan
    onset = at_risk & overdue
    at_risk &= onset | (bal > 0)
    r_codes, r_m, r_onset = codes[at_risk], mi[at_risk], onset[at_risk]
    if len(episodes):
        # episode starts by integer key (loan code, month): flag them, add any missed
        e_codes = pd.Index(uniques).get_indexer(episodes["loan_id"])
        e_m = month_index(episodes["start_month"])
        known = e_codes >= 0
        e_key = e_codes[known].astype(np.int64) * _KEY_SPAN + e_m[known]
        r_key = r_codes.astype(np.int64) * _KEY_SPAN + r_m  # sorted: rows are in key order
        pos = np.minimum(np.searchsorted(r_key, e_key), max(len(r_key) - 1, 0))
        hit = (r_key[pos] == e_key) if len(r_key) else np.zeros(len(e_key), dtype=bool)
        r_onset = r_onset.copy()
        r_onset[pos[hit]] = True
        extra = ~hit
        if extra.any():
            r_codes = np.r_[r_codes, e_codes[known][extra]]
            r_m = np.r_[r_m, e_m[known][extra]]
            r_onset = np.r_[r_onset, np.ones(int(extra.sum()), dtype=bool)]
    # month-end: the first day of the next month, less a day (no pandas offset arithmetic)
    month = ((r_m + 1).astype("datetime64[M]").astype("datetime64[D]")
             - np.timedelta64(1, "D")).astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "loan_id": np.asarray(uniques)[r_codes],
            "month": month,
            "is_onset": r_onset,
        }
    )


def _loan_month_order(codes: np.ndarray, mi: np.ndarray) -> np.ndarray | slice:
    """Row order by loan code, then month index (stable): a full slice when the rows are
    already in that order (books are usually written loan by loan, month by month), which
    saves the sort and the copies of every loan-month column."""
    same = codes[1:] == codes[:-1]
    if np.all((codes[1:] > codes[:-1]) | (same & (mi[1:] >= mi[:-1]))):
        return slice(None)
    return np.lexsort((mi, codes))


def subsample(
    risk: pd.DataFrame, max_rows: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, float]:
    """Keep every event and a Bernoulli(q) sample of non-events; returns (rows, q)."""
    n_event = int(risk["is_onset"].sum())
    n_non = len(risk) - n_event
    if len(risk) <= max_rows or n_non == 0:
        return risk, 1.0
    # at least 5 non-events per event, whatever max_rows says (case-control efficiency)
    q = max(min(1.0, max(max_rows - n_event, 5 * n_event) / n_non), 1e-6)
    keep = risk["is_onset"].to_numpy() | (rng.random(len(risk)) < q)
    return risk[keep].reset_index(drop=True), q


# ----------------------------------------------------------------------------- design
def attach_covariates(keys: pd.DataFrame, book: Book) -> pd.DataFrame:
    """``keys`` (loan_id, month) with the signals of that month and the loan attributes."""
    out = keys.merge(book.loans, on="loan_id", how="left", sort=False)
    if "origination_date" in out.columns:
        out["months_on_book"] = month_index(out["month"]) - month_index(out["origination_date"])
    if book.signals is not None and book.signal_columns:
        sig = book.signals
        s_codes, s_uniques = pd.factorize(sig["loan_id"], sort=False)
        s_key = s_codes.astype(np.int64) * _KEY_SPAN + month_index(sig["month"])
        order = np.argsort(s_key, kind="stable")
        s_sorted = s_key[order]
        k_codes = pd.Index(s_uniques).get_indexer(out["loan_id"])
        k_key = np.where(
            k_codes >= 0, k_codes.astype(np.int64) * _KEY_SPAN + month_index(out["month"]), -1
        )
        if len(s_sorted) and not np.any(s_sorted[1:] == s_sorted[:-1]):
            at = np.minimum(np.searchsorted(s_sorted, k_key), len(s_sorted) - 1)
            found = s_sorted[at] == k_key
            pos = order[at]
            for c in book.signal_columns:
                vals = np.full(len(out), np.nan)
                vals[found] = _num(sig[c])[pos[found]]
                out[c] = vals
        else:  # duplicated (loan_id, month): validation normally refuses them
            cols = ["loan_id", "month", *book.signal_columns]
            out = out.merge(sig[cols], on=["loan_id", "month"], how="left", sort=False)
    return out


@dataclass(frozen=True)
class Design:
    """How raw columns become the standardised design matrix (fitted on the at-risk set).

    ``signals``: signal column -> family; ``numeric``: numeric controls; ``categorical``:
    column -> levels kept as dummies (base level dropped); ``mean``/``scale``: of every
    numeric column (signals and controls), sampling-weighted over the at-risk set.
    """

    signals: dict[str, str]
    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]
    mean: dict[str, float]
    scale: dict[str, float]
    columns: tuple[str, ...] = field(default=())

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        signals: dict[str, str],
        weights: np.ndarray,
        *,
        controls: bool = True,
        max_levels: int = 30,
    ) -> Design:
        numeric: list[str] = []
        categorical: dict[str, tuple[str, ...]] = {}
        if controls:
            for c in frame.columns:
                if c in signals or c in _NOT_CONTROLS or c in ("month", "is_onset", "_w"):
                    continue
                s = frame[c]
                if pd.api.types.is_bool_dtype(s) or (
                    pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_datetime64_any_dtype(s)
                ):
                    if np.nanstd(_num(s)) > 0:
                        numeric.append(c)
                elif (
                    c in _CATEGORICAL
                    or pd.api.types.is_object_dtype(s)
                    or isinstance(s.dtype, pd.CategoricalDtype)
                    or pd.api.types.is_string_dtype(s)
                ) and not pd.api.types.is_datetime64_any_dtype(s):
                    counts = s.astype("object").value_counts(dropna=True)
                    if 2 <= len(counts) <= max_levels:
                        categorical[c] = tuple(str(v) for v in counts.index[1:])
        mean: dict[str, float] = {}
        scale: dict[str, float] = {}
        w = np.asarray(weights, dtype=float)
        for c in [*signals, *numeric]:
            x = _num(frame[c])
            ok = np.isfinite(x)
            if not ok.any():
                mean[c], scale[c] = 0.0, 1.0
                continue
            m = float(np.average(x[ok], weights=w[ok]))
            sd = float(np.sqrt(np.average((x[ok] - m) ** 2, weights=w[ok])))
            mean[c], scale[c] = m, (sd if sd > 0 else 1.0)
        cols = [*signals, *numeric]
        for c, levels in categorical.items():
            cols += [f"{c}={lv}" for lv in levels]
        return cls(signals, tuple(numeric), categorical, mean, scale, tuple(cols))

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Standardised design (rows of ``frame``, columns :attr:`columns`, no constant)."""
        parts = []
        for c in [*self.signals, *self.numeric]:
            x = _num(frame[c]) if c in frame.columns else np.full(len(frame), np.nan)
            z = (x - self.mean[c]) / self.scale[c]
            parts.append(np.where(np.isfinite(z), z, 0.0))
        for c, levels in self.categorical.items():
            s = frame[c].astype("object").astype(str).to_numpy() if c in frame.columns else None
            for lv in levels:
                parts.append((s == lv).astype(float) if s is not None else np.zeros(len(frame)))
        if not parts:
            return np.zeros((len(frame), 0))
        return np.column_stack(parts)

    def groups(self) -> dict[str, np.ndarray]:
        """Family -> column positions of its signals in :meth:`matrix`."""
        names = list(self.signals)
        return {
            f: np.array([i for i, c in enumerate(names) if self.signals[c] == f], dtype=int)
            for f in FAMILIES
        }


# ----------------------------------------------------------------------------- onset model
@dataclass(frozen=True)
class OnsetModel:
    """Fitted overdue-onset logit. ``params``/``cov`` include the constant first."""

    design: Design
    params: np.ndarray
    cov: np.ndarray
    n_at_risk: int
    n_events: int
    n_fit_rows: int
    sample_fraction: float
    converged: bool
    note: str = ""  # set when the ridge fallback was used (see module docstring)

    @property
    def names(self) -> list[str]:
        return ["const", *self.design.columns]

    def coef_table(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficients (log-odds per standard deviation, or per dummy) with intervals."""
        from scipy.stats import norm

        se = np.sqrt(np.clip(np.diag(self.cov), 0, None))
        zc = norm.ppf(0.5 + level / 2)
        fam = {c: self.design.signals.get(c, "control") for c in self.design.columns}
        fam["const"] = "intercept"
        return pd.DataFrame(
            {
                "term": self.names,
                "family": [fam[c] for c in self.names],
                "coef": self.params,
                "std_err": se,
                "ci_low": self.params - zc * se,
                "ci_high": self.params + zc * se,
                "p_value": 2 * norm.sf(np.abs(self.params / np.where(se > 0, se, np.nan))),
            }
        )

    def signal_beta(self, params: np.ndarray | None = None) -> np.ndarray:
        """Coefficients of the signal columns (in :attr:`Design.signals` order)."""
        p = self.params if params is None else params
        return np.asarray(p)[..., 1 : 1 + len(self.design.signals)]

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` coefficient vectors from the asymptotic normal of the estimate."""
        return rng.multivariate_normal(self.params, self.cov, size=size, method="cholesky")


def fit_onset(
    risk: pd.DataFrame,
    book: Book,
    signals: dict[str, str],
    *,
    sample_fraction: float = 1.0,
    n_at_risk: int | None = None,
    controls: bool = True,
    frame: pd.DataFrame | None = None,
) -> tuple[OnsetModel, pd.DataFrame]:
    """Fit the onset logit on the (sub-sampled) at-risk rows; returns (model, frame).

    ``frame``: ``risk`` with its covariates (:func:`attach_covariates`) when the caller has
    them already (the attribution looks up the sample's and the episodes' signals in one
    pass over the signal table); None: looked up here.
    """
    frame = attach_covariates(risk, book) if frame is None else frame
    y = frame["is_onset"].to_numpy(dtype=float)
    n_events = int(y.sum())
    if n_events < 10 or n_events == len(y):
        raise ModelFitError(
            f"onset model: {n_events} episode starts among {len(y)} loan-months at risk; "
            "need at least 10 starts and some months without one"
        )
    w = np.where(y > 0, 1.0, 1.0 / sample_fraction)
    design = Design.fit(frame, signals, w, controls=controls)
    x = design.matrix(frame)
    keep = independent_columns_ordered(x)
    if not keep.all():
        dropped = set(np.asarray(design.columns)[~keep])
        design = Design(
            design.signals,
            tuple(c for c in design.numeric if c not in dropped),
            {
                c: tuple(lv for lv in lvls if f"{c}={lv}" not in dropped)
                for c, lvls in design.categorical.items()
            },
            design.mean,
            design.scale,
            tuple(c for c in design.columns if c not in dropped or c in signals),
        )
        x = design.matrix(frame)
    X = np.column_stack([np.ones(len(x)), x])
    params, cov, converged, note = _fit_logit(y, X)
    params = params.copy()
    params[0] += np.log(sample_fraction)
    model = OnsetModel(
        design=design,
        params=params,
        cov=cov,
        n_at_risk=int(n_at_risk if n_at_risk is not None else len(y)),
        n_events=n_events,
        n_fit_rows=len(y),
        sample_fraction=float(sample_fraction),
        converged=converged,
        note=note,
    )
    return model, frame


def _fit_logit(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """(params, cov, converged, note) of the onset logit: plain Newton on the distinct
    design rows with their event counts (:mod:`analysis.causes.glm`: the row-level
    estimate and covariance, at the cost of the cells), or the ridge fallback when that
    fails or its covariance is not finite (note says why)."""
    why = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cells = collapse_rows(X, y)
            fit = logit_fit(cells.x, cells.counts[:, 1], cells.trials)
            params, cov, converged = fit.params, fit.cov, fit.converged
            if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))):
                why = "singular information matrix (collinear or constant signals?)"
        except (*FIT_ERRORS, ValueError, FloatingPointError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        if not why:
            return params, cov, converged, ""
        model = Logit(y, X)
        pen = np.full(X.shape[1], ONSET_RIDGE)
        pen[0] = 0.0
        try:
            fit = penalised_newton(model.loglike, model.score, model.hessian,
                                   np.zeros(X.shape[1]), pen, what="onset model")
        except EstimationError as exc:
            raise ModelFitError(f"onset model could not be fitted: {why}; {exc}") from exc
    note = (f"The onset logit could not be fitted plainly ({why}); it was refitted with a "
            f"ridge penalty of {ONSET_RIDGE:g} per standardised coefficient (collinear signals "
            "share their weight, a constant signal gets none).")
    return fit.params, fit.cov, fit.converged, note


# ----------------------------------------------------------------------------- Shapley
def group_contributions(
    z_signals: np.ndarray, beta: np.ndarray, groups: dict[str, np.ndarray]
) -> np.ndarray:
    """Closed-form Shapley values of a linear predictor: ``(n, 3)`` in :data:`FAMILIES` order.

    ``z_signals``: ``(n, k)`` signal deviations from the reference (standardised);
    ``beta``: ``(k,)`` coefficients, or ``(B, k)`` for ``B`` draws (returns ``(B, n, 3)``).
    """
    contrib = z_signals * beta[..., None, :]
    out = [contrib[..., idx].sum(axis=-1) for idx in (groups[f] for f in FAMILIES)]
    return np.stack(out, axis=-1)


# Shapley weight of a coalition of size s (not holding the player) among 3 players.
_SHAPLEY_WEIGHT = {0: 1.0 / 3.0, 1: 1.0 / 6.0, 2: 1.0 / 3.0}


def shapley_three(value: dict[frozenset[int], np.ndarray]) -> np.ndarray:
    """Exact Shapley values of 3 players from the values of all 8 coalitions.

    ``value[S]`` is an array (n,) for each ``frozenset`` S of {0, 1, 2} (the empty set
    included). Returns ``(n, 3)``: ``phi_i = sum_S w(|S|) [v(S + i) - v(S)]`` over the
    coalitions S without i, ``w = 1/3, 1/6, 1/3`` for ``|S| = 0, 1, 2``.
    """
    players = (0, 1, 2)
    phi = []
    for i in players:
        others = [p for p in players if p != i]
        subsets = [frozenset(), frozenset({others[0]}), frozenset({others[1]}), frozenset(others)]
        phi.append(
            sum(_SHAPLEY_WEIGHT[len(s)] * (value[s | {i}] - value[s]) for s in subsets)
        )
    return np.column_stack(phi)


def shapley_by_coalitions(
    z_signals: np.ndarray, beta: np.ndarray, groups: dict[str, np.ndarray]
) -> np.ndarray:
    """Shapley split by the general coalition formula (a check of :func:`group_contributions`).

    The value of a coalition is the linear predictor with the signals of the other
    families at the reference (zero).
    """
    fams = list(FAMILIES)
    value = {}
    for mask in range(8):
        s = frozenset(i for i in range(3) if mask >> i & 1)
        cols = np.concatenate([groups[fams[i]] for i in s]) if s else np.array([], dtype=int)
        value[s] = z_signals[:, cols] @ beta[cols] if len(cols) else np.zeros(len(z_signals))
    return shapley_three(value)


def contributions_to_probabilities(
    contrib: np.ndarray, base: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positive parts normalised to sum 1; rows with no positive part get ``base``.

    ``contrib``: ``(..., n, 3)``. ``base`` defaults to the mean of the rows that have a
    positive part (the model's base shares; uniform if none). Returns (probabilities,
    mask of rows that fell back to ``base``).
    """
    pos = np.clip(contrib, 0.0, None)
    total = (pos[..., 0] + pos[..., 1] + pos[..., 2])[..., None]  # = sum(axis=-1), faster
    has = total[..., 0] > 1e-12
    p = np.divide(pos, total, out=np.zeros_like(pos), where=total > 1e-12)
    if base is None:
        if contrib.ndim == 2:
            base = p[has].mean(axis=0) if has.any() else np.full(3, 1.0 / 3.0)
        else:
            cnt = has.sum(axis=-1, keepdims=True)
            base = np.where(cnt > 0, p.sum(axis=-2) / np.maximum(cnt, 1), 1.0 / 3.0)
            base = base[..., None, :]
    base = np.broadcast_to(base, p.shape)
    p = np.where(has[..., None], p, base)
    return p, ~has
