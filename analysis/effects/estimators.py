"""Effects of relief measures on cure, re-default and loss: four estimators, one table.

Method
------
The treatment is the episode's ``measure``, a multi-valued treatment with ``none`` as
the reference arm; every other code present (``deferral``, ``instalment``,
``rate_reduction``, ``counselling`` and any extra code) is compared with ``none``.
Outcomes (:data:`OUTCOMES`):

* ``cure`` -- ``is_cured`` within the horizon (binary). Censored episodes (``is_cured``
  is ``<NA>``) are excluded, never counted as failures.
* ``redefault`` -- ``is_redefaulted`` among the cured (binary). Caution: this conditions
  on cure, which happens after treatment; the estimate compares re-default of cured
  episodes adjusted for start-of-episode covariates, and is causal only if which
  episodes cure is itself unconfounded given those covariates (a principal-strata
  caveat the report repeats).
* ``loss_rate`` -- loss / EAD (continuous). Modelled by a fractional logit (binomial
  quasi-likelihood, logit link) when every value lies in [0, 1], otherwise by a
  Gaussian identity GLM; the result's warnings say which.

Follow-up (:class:`Followup`): an episode enters the cure and loss analyses only when
the data cover its horizon plus probation in calendar time, whatever its outcome;
keeping recent episodes because they happened to cure early would select on the
outcome (a cured-early recent episode is "known", a slow one is not).

Estimands: for each measure ``a``, ATE = E[Y(a) - Y(none)] over the analysed episodes
and ATT = E[Y(a) - Y(none) | A = a]. Estimates are differences, as fractions.

* ``naive``: difference of arm means, Welch standard error (shown only to make the
  confounding visible).
* ``regression`` (g-computation): one GLM per arm (statsmodels; binomial-logit for
  binary outcomes). ATE = mean over all episodes of mu_a(X) - mu_none(X); ATT = mean
  over arm a of Y - mu_none(X). Standard errors from the influence function, including
  the term for the estimated GLM coefficients (M-estimation sandwich).
* ``ipw``: multinomial-logit propensity (statsmodels ``MNLogit``), stabilised
  (Hajek, normalised) weights 1/e_a for the ATE and odds weights e_a/e_none for the
  controls in the ATT. Propensities are clipped below at ``clip`` (default 0.01, i.e.
  weights at most 100); the share of episodes affected is in ``.overlap``. Standard
  errors from the influence function including the propensity-estimation term
  (clipped episodes contribute no derivative: an approximation).
* ``aipw`` (doubly robust): score phi_a = mu_a + 1{A=a}/e_a (Y - mu_a); ATE = mean of
  phi_a - phi_none. ATT uses only the control outcome model and odds weights:
  [1{A=a}(Y - mu_none) - 1{A=none} e_a/e_none (Y - mu_none)] / P(A=a). Standard
  errors are the sample standard deviation of the influence function over sqrt(n).
  With ``crossfit_folds=K >= 2`` the nuisances in the score are fitted out of fold.

Heterogeneity (``by``): nuisance models are fitted once on all episodes with the
segment variable added to the covariates; each estimator is then averaged within the
segment (the segment is a start-of-episode variable, so this targets the conditional
effect). ``cause_family`` uses ``primary_family`` (from the cause attribution) when the
column exists, else ``reported_family``.

Covariates: default every start-of-episode loan attribute and signal (every column not
a key, treatment detail, outcome, placebo quantity, date or reason code); categoricals
one-hot with the most frequent level as reference, numerics median-imputed with a
missing indicator when needed, all standardised; zero-variance and collinear columns
are dropped (pivoted QR), with a warning.

Small samples: an arm with fewer than ``min_cell`` episodes is left out of the models
and its rows carry no estimate (never dropped silently); an outcome model with fewer
than 10 events per parameter gets an L2 penalty 0.2 / EPV on its standardised slopes,
the propensity a ten times lighter one; every penalised or refitted model is named in
the warnings. Penalised fits enter the influence functions through their penalised
Hessian.

Assumptions: no unmeasured confounding given the covariates, overlap (every episode
could have received every measure), no interference between episodes, consistency (a
measure code means one treatment). Known drawbacks: GLMs without interactions are a
modest outcome model (AIPW stays consistent if the propensity is right); clipping
trades bias for variance; the multinomial logit may be misspecified; the ATE of a
rarely given measure extrapolates far and its interval says so.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, stats
from scipy.linalg import lapack

from analysis.errors import InputError, ParameterError

REFERENCE = "none"
OUTCOMES: tuple[str, ...] = ("cure", "redefault", "loss_rate")
METHODS: tuple[str, ...] = ("naive", "regression", "ipw", "aipw")
ESTIMANDS: tuple[str, ...] = ("ATE", "ATT")
TABLE_COLUMNS: tuple[str, ...] = (
    "outcome", "measure", "estimand", "segment_type", "segment", "method",
    "estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_control",
)
# Columns never used as covariates by default: keys, treatment and its terms, outcomes,
# placebo quantities (measured before the start, kept out so the placebo check can fail),
# dates, free-text-like codes, attribution outputs.
NON_COVARIATES: frozenset[str] = frozenset({
    "loan_id", "borrower_id", "episode_no", "start_month", "end_month",
    "measure", "granted_month", "deferral_months", "instalments", "rate_cut_bp",
    "counselling_sessions", "is_cured", "is_defaulted", "is_censored", "cure_month",
    "months_to_cure", "is_cure_observed", "default_month", "months_to_default",
    "exit_type", "months_to_exit", "loss", "loss_rate", "is_redefaulted",
    "prev_dpd", "prev_balance", "reason_code", "primary_family", "primary_cause",
    "cause_family", "origination_date", "maturity_date",
})
MAX_LEVELS = 50


def _blas_limit(n_rows: int):
    """Run BLAS single-threaded: on this shared 2-core machine multithreaded OpenBLAS
    was up to 50 times slower on small and mid-sized matrices (thread contention), and
    the heavy steps here are many modest GEMMs rather than one large one. ``n_rows`` is
    kept for a future size rule."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _require(cond: bool, msg: str, exc: type[Exception] = InputError) -> None:
    if not cond:
        raise exc(msg)


# --------------------------------------------------------------------------- outcome


@dataclass(frozen=True)
class Followup:
    """Administrative follow-up rule for horizon outcomes.

    An episode enters the cure and loss_rate analyses only when the data (up to
    ``data_end``, default the latest ``end_month`` in the episodes) cover
    ``horizon_months + probation_months - 1`` months after its start, and a cured
    episode enters the re-default analysis only when they cover ``redefault_months``
    after its cure month. The rule looks at calendar time only: keeping recent
    episodes whose outcome happens to be known early (an early cure) would select on
    the outcome.
    """

    horizon_months: int = 6
    probation_months: int = 3
    redefault_months: int = 12
    data_end: pd.Timestamp | str | None = None


def _month_no(s: pd.Series | pd.Timestamp) -> np.ndarray | int:
    if isinstance(s, pd.Timestamp):
        return s.year * 12 + s.month
    d = pd.to_datetime(s)
    return (d.dt.year * 12 + d.dt.month).to_numpy()


def _covered(episodes: pd.DataFrame, followup: Followup | None, outcome: str) -> np.ndarray:
    """Boolean mask of episodes whose follow-up window the data cover (all True if None)."""
    if followup is None or "start_month" not in episodes:
        return np.ones(len(episodes), bool)
    if followup.data_end is not None:
        end = pd.Timestamp(followup.data_end)
    elif "end_month" in episodes:
        end = pd.to_datetime(episodes["end_month"]).max()
    else:
        return np.ones(len(episodes), bool)
    if outcome == "redefault":
        if "cure_month" not in episodes:
            return np.ones(len(episodes), bool)
        cm = _month_no(episodes["cure_month"].fillna(pd.Timestamp("2262-01-31")))
        return (_month_no(end) - cm) >= followup.redefault_months
    need = followup.horizon_months + followup.probation_months - 1
    return (_month_no(end) - _month_no(episodes["start_month"])) >= need


def outcome_frame(episodes: pd.DataFrame, outcome: str,
                  followup: Followup | None = Followup()) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Rows of ``episodes`` with an observed ``outcome`` and the outcome as floats.

    Returns (rows, y, kind) where kind is ``binary``, ``fraction`` or ``continuous``.
    Any numeric column name is accepted too (used for placebo outcomes).
    ``followup`` applies the calendar follow-up rule to cure, redefault and loss_rate
    (None: keep every episode whose outcome is not missing).
    """
    if outcome in ("cure", "redefault", "loss_rate"):
        episodes = episodes.loc[_covered(episodes, followup, outcome)]
    if outcome == "cure":
        _require("is_cured" in episodes, "episodes: outcome 'cure' needs column 'is_cured'")
        keep = episodes["is_cured"].notna()
        if "is_censored" in episodes:
            keep &= ~episodes["is_censored"].fillna(True).astype(bool)
        rows = episodes.loc[keep]
        return rows, rows["is_cured"].astype(float).to_numpy(), "binary"
    if outcome == "redefault":
        for c in ("is_cured", "is_redefaulted"):
            _require(c in episodes, f"episodes: outcome 'redefault' needs column {c!r}")
        keep = episodes["is_cured"].eq(True).fillna(False) & episodes["is_redefaulted"].notna()
        rows = episodes.loc[keep.astype(bool)]
        return rows, rows["is_redefaulted"].astype(float).to_numpy(), "binary"
    _require(outcome in episodes, f"episodes: outcome column {outcome!r} is missing",
             InputError if outcome == "loss_rate" else ParameterError)
    col = episodes[outcome]
    _require(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col),
             f"episodes: outcome column {outcome!r} is not numeric (dtype {col.dtype})")
    keep = col.notna()
    if outcome == "loss_rate" and "is_censored" in episodes:
        keep &= ~episodes["is_censored"].fillna(True).astype(bool)
    rows = episodes.loc[keep]
    y = rows[outcome].astype(float).to_numpy()
    bad = ~np.isfinite(y)
    if bad.any():
        raise InputError(f"episodes: outcome {outcome!r} has {int(bad.sum())} infinite values, "
                         f"e.g. rows {list(rows.index[bad][:3])}")
    if np.isin(y, (0.0, 1.0)).all():
        kind = "binary"
    elif outcome == "loss_rate" and (y >= 0).all() and (y <= 1).all():
        kind = "fraction"
    else:
        kind = "continuous"
    return rows, y, kind


# --------------------------------------------------------------------------- design


def default_covariates(episodes: pd.DataFrame) -> list[str]:
    """Every start-of-episode attribute and signal: columns not in :data:`NON_COVARIATES`,
    not dates, and numeric, boolean or categorical."""
    out = []
    for c in episodes.columns:
        if c in NON_COVARIATES or c.startswith(("truth_", "p_", "cause_")):
            continue
        s = episodes[c]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            continue
        out.append(c)
    return out


@dataclass(frozen=True)
class Design:
    """How covariates become a standardised design matrix (intercept first).

    ``transform(df)`` applies the same encoding to new episodes (e.g. open ones).
    """

    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]  # column -> non-reference levels kept
    reference: dict[str, str]
    medians: dict[str, float]
    missing_flags: tuple[str, ...]
    columns: tuple[str, ...]  # names of the columns after the intercept
    center: np.ndarray
    scale: np.ndarray
    dropped: tuple[tuple[str, str], ...] = ()  # (column, reason)

    def raw(self, df: pd.DataFrame) -> pd.DataFrame:
        """Unstandardised encoded covariates (numeric imputed, dummies), all candidates."""
        parts: dict[str, np.ndarray] = {}
        for c in self.numeric:
            v = pd.to_numeric(df[c], errors="coerce").astype(float).to_numpy()
            if c in self.missing_flags:
                parts[f"{c}__missing"] = np.isnan(v).astype(float)
            parts[c] = np.where(np.isnan(v), self.medians[c], v)
        for c, levels in self.categorical.items():
            s = df[c].astype("string").fillna("<NA>").to_numpy()
            for lev in levels:
                parts[f"{c}={lev}"] = (s == lev).astype(float)
        return pd.DataFrame(parts, index=df.index)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in (*self.numeric, *self.categorical) if c not in df]
        _require(not missing, f"episodes: covariate column(s) missing: {missing}")
        raw = self.raw(df)
        x = raw[list(self.columns)].to_numpy(dtype=float)
        z = (x - self.center) / self.scale
        return np.column_stack([np.ones(len(df)), z])


def build_design(df: pd.DataFrame, covariates: Sequence[str]) -> Design:
    """Fit the encoding on ``df``: levels, medians, scales, dropped columns."""
    numeric, categorical, reference, medians, flags = [], {}, {}, {}, []
    dropped: list[tuple[str, str]] = []
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)):
            v = pd.to_numeric(s, errors="coerce").astype(float)
            if v.notna().sum() == 0:
                dropped.append((c, "all missing"))
                continue
            numeric.append(c)
            medians[c] = float(v.median())
            if v.isna().any():
                flags.append(c)
        else:
            counts = s.astype("string").fillna("<NA>").value_counts()
            if len(counts) > MAX_LEVELS:
                dropped.append((c, f"{len(counts)} levels > {MAX_LEVELS}"))
                continue
            reference[c] = str(counts.index[0])
            categorical[c] = tuple(str(x) for x in counts.index[1:])
    proto = Design(tuple(numeric), categorical, reference, medians, tuple(flags), (),
                   np.zeros(0), np.ones(0))
    raw = proto.raw(df)
    sd = raw.std(ddof=0).to_numpy()
    const = sd <= 1e-12
    dropped += [(c, "zero variance") for c in raw.columns[const]]
    raw = raw.loc[:, ~const]
    center, scale = raw.mean().to_numpy(), raw.std(ddof=0).to_numpy()
    z = (raw.to_numpy(dtype=float) - center) / scale
    # collinearity: pivoted QR on (a subsample of) [1, Z]
    keep = np.ones(z.shape[1], bool)
    if z.shape[1]:
        zs = z[_row_sample(len(z))]
        good = _independent_columns(np.column_stack([np.ones(len(zs)), zs]))
        keep = np.isin(np.arange(1, z.shape[1] + 1), good)
        dropped += [(c, "collinear") for c in raw.columns[~keep]]
    cols = tuple(raw.columns[keep])
    return Design(tuple(numeric), categorical, reference, medians, tuple(flags), cols,
                  center[keep], scale[keep], tuple(dropped))


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ArmModel:
    """A fitted per-arm GLM on design columns ``cols`` (indices into [1, Z])."""

    arm: str
    cols: np.ndarray
    params: np.ndarray
    link: str  # "logit" or "identity"
    note: str = ""
    penalty: float = 0.0  # L2 penalty per observation on the slopes (0 = plain GLM)

    def predict(self, x: np.ndarray) -> np.ndarray:
        eta = x[:, self.cols] @ self.params
        return 1.0 / (1.0 + np.exp(-eta)) if self.link == "logit" else eta

    def derivative(self, mu: np.ndarray) -> np.ndarray:
        """d mu / d eta (also the IRLS weight for the canonical link)."""
        return mu * (1.0 - mu) if self.link == "logit" else np.ones_like(mu)


def _independent_columns(x: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Sorted indices of a maximal set of linearly independent columns of ``x``, always
    including column 0 (the intercept): pivoted Cholesky (LAPACK ``dpstrf``) of the
    correlation-scaled Gram matrix, keeping pivots above ``tol``."""
    g = x.T @ x
    dg = np.sqrt(np.maximum(np.diag(g), 1e-300))
    g = g / np.outer(dg, dg)
    _, piv, rank, _ = lapack.dpstrf(g, lower=1, tol=tol)
    good = np.sort(piv[:rank] - 1)
    return good if 0 in good else np.sort(np.concatenate([[0], good[:-1]]))


def _usable_cols(x: np.ndarray) -> np.ndarray:
    sd = x[:, 1:].std(axis=0)
    cols = np.concatenate([[0], 1 + np.flatnonzero(sd > 1e-12)])
    if len(x) <= len(cols):
        return cols[:1]
    return cols[_independent_columns(x[_row_sample(len(x))][:, cols])]


EPV_MIN = 10  # events per parameter below which models are penalised
RIDGE_SCALE = 0.2  # outcome models: penalty = RIDGE_SCALE / (events per parameter)
PROPENSITY_RIDGE_SCALE = 0.02  # propensity: ten times lighter (shrinking it leaves confounding)


def small_sample_penalty(n_events: float, n_params: int, scale: float = RIDGE_SCALE) -> float:
    """L2 penalty (per observation, on standardised slopes) for a model with
    ``n_events`` of the rarer outcome (or arm) and ``n_params`` parameters: 0 when there
    are at least :data:`EPV_MIN` events per parameter, else RIDGE_SCALE / EPV (about half
    shrinkage at one event per parameter), so small arms borrow strength from the
    intercept instead of overfitting."""
    epv = n_events / max(n_params, 1)
    return 0.0 if epv >= EPV_MIN else scale / max(epv, 1e-3)


def fit_arm_model(arm: str, x: np.ndarray, y: np.ndarray, kind: str,
                  ridge: float = 1e-3) -> ArmModel:
    """Fit a GLM of ``y`` on ``x`` (statsmodels): binomial-logit for binary and
    fractional outcomes, Gaussian identity otherwise. With fewer than ``EPV_MIN`` events
    per parameter it is fitted with the L2 penalty of :func:`small_sample_penalty`; on
    separation or non-convergence it is refitted with at least ``ridge``. Either is
    said in ``note``."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    cols = _usable_cols(x)
    xs = x[:, cols]
    family = sm.families.Binomial() if kind in ("binary", "fraction") else sm.families.Gaussian()
    link = "logit" if kind in ("binary", "fraction") else "identity"
    note = ""
    events = min(y.sum(), (1 - y).sum()) if kind in ("binary", "fraction") else len(y)
    alpha = small_sample_penalty(events, xs.shape[1])
    ok = False
    if alpha == 0:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                start = None
                if len(y) > 2 * MAX_HESSIAN_ROWS:
                    # warm start from a subsample, then Newton on all rows (a p x p
                    # Hessian per step, no n x p pseudo-inverse as in IRLS)
                    sub = _row_sample(len(y), MAX_HESSIAN_ROWS, seed=3)
                    start = sm.GLM(y[sub], xs[sub], family=family).fit(maxiter=50, wls_method="qr").params
                    res = sm.GLM(y, xs, family=family).fit(method="newton", start_params=start,
                                                          maxiter=20, disp=False)
                    res.converged = bool(res.mle_retvals.get("converged", False))
                else:
                    res = sm.GLM(y, xs, family=family).fit(maxiter=50, wls_method="qr")
                params = np.asarray(res.params)
                ok = np.isfinite(params).all() and bool(res.converged)
            except Exception as exc:  # noqa: BLE001 - statsmodels raises several kinds
                ok, params, note = False, None, f"GLM failed ({type(exc).__name__})"
        trouble = [w for w in caught if issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning))]
        if link == "logit" and ok and (trouble or np.abs(params).max() > 15):
            ok = False
        if not ok:
            alpha = ridge
            note = (note + "; " if note else "") + (
                f"arm {arm!r}: outcome GLM separated or did not converge, refitted with L2 penalty {ridge}")
    elif len(y) > 0:
        note = (f"arm {arm!r}: {events:.0f} events for {xs.shape[1]} parameters; outcome GLM "
                f"fitted with L2 penalty {alpha:.3g}")
    if not ok:
        pen = np.full(xs.shape[1], alpha)
        pen[0] = 0.0
        res = sm.GLM(y, xs, family=family).fit_regularized(alpha=pen, L1_wt=0.0)
        params = np.asarray(res.params)
    return ArmModel(arm, cols, params, link, note, alpha if not ok else 0.0)


def _mn_probs(x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    eta = np.column_stack([np.zeros(len(x)), x @ gamma])
    eta -= eta.max(axis=1, keepdims=True)
    p = np.exp(eta)
    return p / p.sum(axis=1, keepdims=True)


MAX_HESSIAN_ROWS = 50_000


def _row_sample(n: int, max_rows: int = MAX_HESSIAN_ROWS, seed: int = 2) -> np.ndarray | slice:
    """All rows, or a fixed random subset of ``max_rows`` (for expectations of p x p
    matrices, which 50,000 rows estimate to about 1 %)."""
    if n <= max_rows:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


def mn_information(x: np.ndarray, e: np.ndarray, max_rows: int = MAX_HESSIAN_ROWS) -> np.ndarray:
    """Average Fisher information of a multinomial logit (reference class 0), blocks
    (k, m) = mean of e_k (1{k=m} - e_m) x x' for the non-reference classes; estimated
    on at most ``max_rows`` rows (a fixed random subset)."""
    rows = _row_sample(len(x), max_rows)
    x, e = x[rows], e[rows]
    n, p = x.shape
    k1 = e.shape[1] - 1
    info = np.empty((k1 * p, k1 * p))
    for k in range(k1):
        for m in range(k, k1):
            w = e[:, k + 1] * ((k == m) - e[:, m + 1])
            blk = (x * w[:, None]).T @ x / n
            info[k * p:(k + 1) * p, m * p:(m + 1) * p] = blk
            info[m * p:(m + 1) * p, k * p:(k + 1) * p] = blk.T
    return info


def _mnlogit_class():
    """statsmodels ``MNLogit`` with a vectorised Hessian (same value, far faster on
    large n than the stock per-pair loop). Above ``MAX_HESSIAN_ROWS`` rows the Hessian
    is estimated on a fixed random subset and computed once (a chord Newton method:
    the gradient stays exact, so the optimum is the exact MLE; on large data the fit
    starts from a subsample fit, where the fixed Hessian is accurate)."""
    from statsmodels.discrete.discrete_model import MNLogit

    class FastMNLogit(MNLogit):
        _fixed_hessian = None

        def hessian(self, params):
            n = len(self.exog)
            if self._fixed_hessian is not None:
                return self._fixed_hessian
            gamma = np.asarray(params).reshape(self.exog.shape[1], -1, order="F")
            x = self.exog[_row_sample(n)]
            h = -n * mn_information(x, _mn_probs(x, gamma), max_rows=len(x))
            if n > MAX_HESSIAN_ROWS:
                self._fixed_hessian = h
            return h

    return FastMNLogit


def fit_propensity(x: np.ndarray, a: np.ndarray, n_arms: int,
                   ridge: float = 1e-3) -> tuple[np.ndarray, str]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``; returns
    (gamma p x (K-1), note). See :func:`fit_propensity_penalised` for the penalty."""
    gamma, note, _ = fit_propensity_penalised(x, a, n_arms, ridge)
    return gamma, note


def fit_propensity_penalised(x: np.ndarray, a: np.ndarray, n_arms: int,
                             ridge: float = 1e-3) -> tuple[np.ndarray, str, float]:
    """Multinomial logit of arm codes ``a`` (0 = reference) on ``x``.

    statsmodels ``MNLogit`` (Newton with a vectorised Hessian, started from a fit on a
    subsample when n is large). When the smallest arm has fewer than ``EPV_MIN``
    episodes per parameter, or MNLogit fails or does not converge, a Newton fit with an
    L2 penalty on the slopes (:func:`small_sample_penalty`, at least ``ridge``), noted.
    Returns (gamma, note, penalty per observation).
    """
    MNLogit = _mnlogit_class()
    n, p = x.shape
    note = ""
    start = None
    alpha = small_sample_penalty(np.bincount(a, minlength=n_arms).min(), p, PROPENSITY_RIDGE_SCALE)
    ok = False
    if alpha == 0:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                if n > MAX_HESSIAN_ROWS:  # chord Newton below: start near the optimum
                    sub = _row_sample(n, MAX_HESSIAN_ROWS, seed=1)
                    if len(np.unique(a[sub])) == n_arms:
                        r0 = MNLogit(a[sub], x[sub]).fit(method="newton", maxiter=30, disp=False)
                        start = np.asarray(r0.params).ravel(order="F")
                res = MNLogit(a, x).fit(method="newton", maxiter=50, disp=False, start_params=start)
                gamma = np.asarray(res.params).reshape(p, n_arms - 1)
                conv = bool(res.mle_retvals.get("converged", True))
                ok = conv and np.isfinite(gamma).all() and np.abs(gamma).max() < 20
            except Exception as exc:  # noqa: BLE001
                ok, gamma, note = False, None, f"MNLogit failed ({type(exc).__name__})"
        if ok and any("separation" in str(w.message).lower() for w in caught):
            ok = False
        if ok:
            return gamma, note, 0.0
        alpha = ridge
        note = (note + "; " if note else "") + (
            f"propensity MNLogit did not converge cleanly; refitted with L2 penalty {ridge}")
    else:
        note = (f"propensity: smallest arm has {np.bincount(a, minlength=n_arms).min()} episodes "
                f"for {p} parameters per arm; multinomial logit fitted with L2 penalty {alpha:.3g}")
    gamma = np.zeros((p, n_arms - 1))
    d = np.eye(n_arms)[a][:, 1:]
    pen = np.full(p, alpha)
    pen[0] = 0.0
    for _ in range(100):
        e = _mn_probs(x, gamma)
        grad = ((d - e[:, 1:]).T @ x / n).T - pen[:, None] * gamma
        info = mn_information(x, e) + np.kron(np.eye(n_arms - 1), np.diag(pen))
        step = linalg.solve(info, grad.ravel(order="F"), assume_a="pos")
        gamma = gamma + step.reshape(p, n_arms - 1, order="F")
        if np.abs(step).max() < 1e-8:
            break
    return gamma, note, alpha


# --------------------------------------------------------------------------- nuisance


@dataclass(frozen=True, eq=False)
class Nuisance:
    """Fitted per-arm outcome models and propensities, for reuse (targeting).

    ``index`` are the analysed episodes' index labels; ``a`` their arm codes (0 =
    ``none``); ``y`` the outcome; ``x`` the design matrix; ``mu``/``e`` full-sample
    predictions (n x K); ``mu_cf``/``e_cf`` out-of-fold ones (equal to the full-sample
    ones without cross-fitting). ``e`` and ``e_cf`` are clipped below at ``clip``.
    """

    outcome: str
    kind: str
    arms: tuple[str, ...]
    design: Design
    models: tuple[ArmModel, ...]
    gamma: np.ndarray
    index: pd.Index
    a: np.ndarray
    y: np.ndarray
    x: np.ndarray
    mu: np.ndarray
    e_raw: np.ndarray
    mu_cf: np.ndarray
    e_cf_raw: np.ndarray
    clip: float
    crossfit_folds: int
    notes: tuple[str, ...] = ()
    gamma_penalty: float = 0.0

    @cached_property
    def info_inv(self) -> np.ndarray:
        """Inverse average Hessian of the (penalised) propensity objective (IPW errors)."""
        p, k1 = self.gamma.shape
        pen = np.kron(np.eye(k1), np.diag(np.r_[0.0, np.full(p - 1, self.gamma_penalty)]))
        return linalg.pinvh(mn_information(self.x, self.e_raw) + pen)

    @property
    def e(self) -> np.ndarray:
        return np.maximum(self.e_raw, self.clip)

    @property
    def e_cf(self) -> np.ndarray:
        return np.maximum(self.e_cf_raw, self.clip)

    @cached_property
    def d(self) -> np.ndarray:
        """One-hot arm indicators (n x K)."""
        return np.eye(len(self.arms))[self.a]

    @cached_property
    def _phi(self) -> np.ndarray:
        resid = (self.y[:, None] - self.mu_cf) * self.d / self.e_cf
        return self.mu_cf + resid

    def _x(self, episodes: pd.DataFrame | np.ndarray) -> np.ndarray:
        return episodes if isinstance(episodes, np.ndarray) else self.design.transform(episodes)

    def predict_outcomes(self, episodes: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Expected outcome under every arm (columns = arms), full-sample models."""
        x = self._x(episodes)
        idx = episodes.index if isinstance(episodes, pd.DataFrame) else None
        return pd.DataFrame(np.column_stack([m.predict(x) for m in self.models]),
                            columns=list(self.arms), index=idx)

    def propensities(self, episodes: pd.DataFrame | np.ndarray, clipped: bool = False) -> pd.DataFrame:
        """P(arm | covariates) from the multinomial logit (columns = arms)."""
        x = self._x(episodes)
        e = _mn_probs(x, self.gamma)
        if clipped:
            e = np.maximum(e, self.clip)
        idx = episodes.index if isinstance(episodes, pd.DataFrame) else None
        return pd.DataFrame(e, columns=list(self.arms), index=idx)

    def aipw_scores(self) -> pd.DataFrame:
        """AIPW score phi_a = mu_a + 1{A=a}/e_a (Y - mu_a) per analysed episode and arm
        (out of fold when cross-fitted); the mean of a column estimates E[Y(a)]."""
        return pd.DataFrame(self._phi, columns=list(self.arms), index=self.index)

    def att_scores(self, arm: str) -> pd.Series:
        """Per-episode ATT numerator 1{A=a}(Y-mu_none) - 1{A=none} e_a/e_none (Y-mu_none);
        its sum over the segment divided by the segment's treated count is the ATT."""
        k = self.arms.index(arm)
        r0 = self.y - self.mu_cf[:, 0]
        odds = self.e_cf_raw[:, k] / self.e_cf[:, 0]
        v = self.d[:, k] * r0 - self.d[:, 0] * odds * r0
        return pd.Series(v, index=self.index, name=arm)


def fold_ids(a: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cross-fitting fold (0..k-1) of each episode, stratified by arm code ``a``: a seeded
    permutation, sorted by arm, dealt round-robin (the folds :func:`fit_nuisance` uses for
    ``crossfit_folds=k`` and ``seed``)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(a))
    order = order[np.argsort(a[order], kind="stable")]
    f = np.empty(len(a), int)
    f[order] = np.arange(len(a)) % k
    return f



def fit_nuisance(episodes: pd.DataFrame, outcome: str = "cure",
                 covariates: Sequence[str] | None = None, crossfit_folds: int = 0,
                 clip: float = 0.01, min_cell: int = 10, seed: int = 0,
                 loss_model: str = "auto", extra_covariates: Sequence[str] = (),
                 followup: Followup | None = Followup()) -> Nuisance:
    """Fit propensities and per-arm outcome models for ``outcome`` on ``episodes``.

    Arms with fewer than ``min_cell`` analysed episodes are left out (a note says so).
    ``loss_model``: ``auto`` (fractional logit when the outcome lies in [0, 1]),
    ``fractional_logit`` or ``gaussian``. ``extra_covariates`` are added to the
    covariates (segment variables). Reuse the result for targeting:
    ``predict_outcomes``, ``propensities``, ``aipw_scores``, ``att_scores``.
    """
    with _blas_limit(len(episodes) if isinstance(episodes, pd.DataFrame) else 0):
        return _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell,
                             seed, loss_model, extra_covariates, followup)


def _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                  loss_model, extra_covariates, followup=Followup()) -> Nuisance:
    _check_frame(episodes)
    rows, y, kind = outcome_frame(episodes, outcome, followup)
    if loss_model == "gaussian" and kind == "fraction":
        kind = "continuous"
    elif loss_model == "fractional_logit" and kind == "continuous":
        raise ParameterError(f"loss_model='fractional_logit' needs {outcome!r} in [0, 1]")
    notes: list[str] = []
    if kind == "fraction":
        notes.append(f"{outcome}: outcome model is a fractional logit (binomial quasi-likelihood)")
    elif kind == "continuous":
        notes.append(f"{outcome}: outcome model is a Gaussian identity GLM")
    arm_s = rows["measure"].astype("string")
    counts = arm_s.value_counts()
    _require(REFERENCE in counts.index,
             f"episodes: no episode with measure {REFERENCE!r} and an observed {outcome!r}; "
             "the reference arm is needed")
    small = [m for m, c in counts.items() if c < min_cell and m != REFERENCE]
    if small:
        notes.append(f"{outcome}: arm(s) {sorted(small)} have fewer than min_cell={min_cell} "
                     "episodes and are left out of the models (no estimate)")
    arms = (REFERENCE, *sorted(m for m in counts.index if m not in small and m != REFERENCE))
    _require(len(arms) >= 2,
             f"episodes: only the {REFERENCE!r} arm has >= {min_cell} episodes with an observed "
             f"{outcome!r}; nothing to compare (arm counts: {counts.to_dict()})")
    keep = arm_s.isin(arms).to_numpy()
    rows, y = rows.loc[keep], y[keep]
    a = pd.Categorical(rows["measure"].astype("string"), categories=list(arms)).codes.astype(int)
    covs = list(covariates) if covariates is not None else default_covariates(rows)
    covs += [c for c in extra_covariates if c not in covs]
    missing = [c for c in covs if c not in rows]
    _require(not missing, f"episodes: covariate column(s) not found: {missing}")
    design = build_design(rows, covs)
    notes += [f"{outcome}: covariate {c!r} dropped ({why})" for c, why in design.dropped]
    x = design.transform(rows)
    k_arms = len(arms)

    def fit_all(idx: np.ndarray) -> tuple[list[ArmModel], np.ndarray, str]:
        gamma, note, pen = fit_propensity_penalised(x[idx], a[idx], k_arms)
        models = [fit_arm_model(arms[k], x[idx][a[idx] == k], y[idx][a[idx] == k], kind)
                  for k in range(k_arms)]
        return models, gamma, note, pen

    models, gamma, pnote, gpen = fit_all(np.arange(len(y)))
    notes += [n for n in [pnote, *(m.note for m in models)] if n]
    mu = np.column_stack([m.predict(x) for m in models])
    e_raw = _mn_probs(x, gamma)
    if crossfit_folds >= 2:
        folds = fold_ids(a, crossfit_folds, seed)
        mu_cf, e_cf = np.empty_like(mu), np.empty_like(e_raw)
        for f in range(crossfit_folds):
            tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            if len(np.unique(a[tr])) < k_arms:
                raise InputError(f"cross-fitting: a training fold lacks an arm; use fewer folds than {crossfit_folds}")
            ms, g, note, _ = fit_all(tr)
            mu_cf[te] = np.column_stack([m.predict(x[te]) for m in ms])
            e_cf[te] = _mn_probs(x[te], g)
            bad = [n for n in [note, *(m.note for m in ms)] if "converge" in n or "failed" in n]
            if bad:  # penalised small-sample fits are already named by the full-sample fit
                notes.append(f"cross-fitting fold {f}: " + "; ".join(bad))
    else:
        mu_cf, e_cf = mu, e_raw
    return Nuisance(outcome, kind, arms, design, tuple(models), gamma, rows.index, a, y, x,
                    mu, e_raw, mu_cf, e_cf, clip, crossfit_folds, tuple(dict.fromkeys(notes)), gpen)


# --------------------------------------------------------------------------- estimators


def _ra_correction(nu: Nuisance, k: int, weights_rows: np.ndarray) -> np.ndarray:
    """Influence-function term for the coefficients of arm k's GLM when estimating
    the mean of mu_k(X) weighted by ``weights_rows`` (weights sum to 1 over n rows).
    Returns n-vector c with (1/n) sum c_i the linearised coefficient effect."""
    m = nu.models[k]
    xs = nu.x[:, m.cols]
    mu_k = nu.mu[:, k]
    deriv = m.derivative(mu_k)
    g = xs.T @ (weights_rows * deriv)  # gradient of the weighted mean
    ink = nu.a == k
    h = (xs[ink] * deriv[ink][:, None]).T @ xs[ink] / len(nu.y)
    if m.penalty:  # Hessian of the penalised objective, in the same (1/n) units
        h = h + np.diag(np.r_[0.0, np.full(len(m.cols) - 1, m.penalty)]) * ink.sum() / len(nu.y)
    v = linalg.lstsq(h, g)[0]
    c = np.zeros(len(nu.y))
    c[ink] = (xs[ink] @ v) * (nu.y[ink] - mu_k[ink])
    return c


def _gamma_correction(nu: Nuisance, grad: np.ndarray) -> np.ndarray:
    """Influence term grad' I^{-1} s_i of the multinomial-logit coefficients.
    ``grad`` is p x (K-1) (derivative of the estimating equation, averaged over n)."""
    p, k1 = grad.shape
    v = (nu.info_inv @ grad.ravel(order="F")).reshape(p, k1, order="F")
    return ((nu.x @ v) * (nu.d[:, 1:] - nu.e_raw[:, 1:])).sum(axis=1)


def _se(infl: np.ndarray) -> float:
    n = len(infl)
    return float(np.sqrt(np.sum(infl ** 2)) / n)


def _estimate_cell(nu: Nuisance, k: int, seg: np.ndarray, method: str, estimand: str) -> tuple[float, float]:
    """(estimate, standard error) of arm k vs reference on segment mask ``seg``."""
    y, d, n = nu.y, nu.d, len(nu.y)
    da, d0 = d[:, k] * seg, d[:, 0] * seg
    na, n0, ns = da.sum(), d0.sum(), seg.sum()
    if method == "naive":
        m1, m0 = y[da > 0].mean(), y[d0 > 0].mean()
        v1 = y[da > 0].var(ddof=1) if na > 1 else np.nan
        v0 = y[d0 > 0].var(ddof=1) if n0 > 1 else np.nan
        return m1 - m0, float(np.sqrt(v1 / na + v0 / n0))
    if method == "regression":
        if estimand == "ATE":
            v = nu.mu[:, k] - nu.mu[:, 0]
            tau = v[seg].mean()
            w = seg / ns
            infl = (n / ns) * seg * (v - tau) + _ra_correction(nu, k, w) - _ra_correction(nu, 0, w)
        else:
            r = y - nu.mu[:, 0]
            tau = (da * r).sum() / na
            infl = (n / na) * da * (r - tau) - _ra_correction(nu, 0, da / na)
        return float(tau), _se(infl)
    if method == "ipw":
        e, e_raw = nu.e, nu.e_raw
        unclipped = (e_raw >= nu.clip)
        if estimand == "ATE":
            tau, infl = 0.0, np.zeros(n)
            for j, sign in ((k, 1.0), (0, -1.0)):
                w = d[:, j] * seg / e[:, j]
                wbar = w.sum() / n
                m = (w * y).sum() / w.sum()
                res = y - m
                # d/d gamma_l of 1{A=j} (Y-m)/e_j: -1{A=j}(Y-m)(1{j=l}-e_l) x / e_j
                coef = -(w * res * unclipped[:, j])[:, None] * ((np.arange(1, d.shape[1]) == j) - e_raw[:, 1:])
                grad = nu.x.T @ coef / n / wbar
                infl += sign * (w * res / wbar + _gamma_correction(nu, grad))
                tau += sign * m
            return float(tau), _se(infl)
        m1 = y[da > 0].mean()
        odds = e_raw[:, k] / e[:, 0]
        w = d0 * odds
        wbar = w.sum() / n
        m0 = (w * y).sum() / w.sum()
        grad = np.zeros((nu.x.shape[1], d.shape[1] - 1))
        grad[:, k - 1] = nu.x.T @ (w * (y - m0)) / n / wbar
        infl = (n / na) * da * (y - m1) - (w * (y - m0) / wbar + _gamma_correction(nu, grad))
        return float(m1 - m0), _se(infl)
    if method == "aipw":
        if estimand == "ATE":
            phi = nu._phi
            v = phi[:, k] - phi[:, 0]
            tau = v[seg].mean()
            infl = (n / ns) * seg * (v - tau)
        else:
            s = nu.att_scores(nu.arms[k]).to_numpy() * seg
            tau = s.sum() / na
            infl = (n / na) * (s - da * tau)
        return float(tau), _se(infl)
    raise ParameterError(f"unknown method {method!r}; choose from {METHODS}")


# --------------------------------------------------------------------------- result


def _ci(est: pd.Series, se: pd.Series, level: float) -> tuple[pd.Series, pd.Series]:
    z = stats.norm.ppf(0.5 + level / 2)
    return est - z * se, est + z * se


@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Effects of every measure vs ``none`` on one outcome.

    ``table``: one row per (measure, estimand, segment, method), columns
    :data:`TABLE_COLUMNS`; ``balance``: standardised mean differences before/after
    weighting; ``overlap``: propensity overlap and effective sample sizes per arm;
    ``evalues``: E-value of each effect; ``warnings``: everything the reader must know;
    ``nuisance``: the fitted models (reuse them for targeting).
    """

    outcome: str
    table: pd.DataFrame
    balance: pd.DataFrame
    overlap: pd.DataFrame
    evalues: pd.DataFrame
    warnings: tuple[str, ...]
    nuisance: Nuisance = field(repr=False)
    level: float = 0.95

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """The table's keys with normal intervals at ``level``."""
        _require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
        out = self.table.drop(columns=["ci_low", "ci_high"]).copy()
        out["ci_low"], out["ci_high"] = _ci(out["estimate"], out["std_error"], level)
        return out[list(TABLE_COLUMNS)]

    def summary(self) -> pd.DataFrame:
        """AIPW (else the best available method) effects over all episodes, naive beside."""
        t = self.table[self.table["segment_type"] == "all"]
        best = "aipw" if (t["method"] == "aipw").any() else t["method"].iloc[-1]
        piv = t.pivot_table(index=["measure", "estimand"], columns="method",
                            values="estimate", aggfunc="first")
        main = t[t["method"] == best].set_index(["measure", "estimand"])
        out = main[["estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_control"]].copy()
        out.insert(0, "method", best)
        if "naive" in piv and best != "naive":
            out["naive_estimate"] = piv["naive"]
        return out.reset_index()

    def _repr_html_(self) -> str:
        head = f"<h4>Effects on {self.outcome} (vs {REFERENCE}, level {self.level:.0%})</h4>"
        warn = "".join(f"<li>{w}</li>" for w in self.warnings)
        return head + self.summary().to_html(index=False, float_format="{:.4f}".format) + (
            f"<ul>{warn}</ul>" if warn else "")


def _check_frame(episodes: object) -> None:
    _require(isinstance(episodes, pd.DataFrame),
             f"episodes must be a pandas DataFrame, got {type(episodes).__name__}")
    _require("measure" in episodes, "episodes: column 'measure' (the treatment) is missing")
    na = episodes["measure"].isna()
    if na.any():
        raise InputError(f"episodes: column 'measure' has {int(na.sum())} missing values "
                         f"(use 'none' for no relief), e.g. rows {list(episodes.index[na][:3])}")


def segment_column(episodes: pd.DataFrame, by: str) -> str:
    """The column behind a segment type: ``cause_family`` -> ``primary_family`` if
    present else ``reported_family``; anything else is a column name."""
    if by == "cause_family":
        for c in ("primary_family", "reported_family"):
            if c in episodes:
                return c
        raise InputError("episodes: segment 'cause_family' needs 'primary_family' or 'reported_family'")
    _require(by in episodes, f"episodes: segment column {by!r} not found")
    return by


def estimate_effects(
    episodes: pd.DataFrame,
    outcome: str = "cure",
    covariates: Sequence[str] | None = None,
    by: Iterable[str] | str | None = None,
    methods: Sequence[str] = METHODS,
    estimands: Sequence[str] = ESTIMANDS,
    crossfit_folds: int = 0,
    clip: float = 0.01,
    level: float = 0.95,
    min_cell: int = 10,
    loss_model: str = "auto",
    seed: int = 0,
    followup: Followup | None = Followup(),
) -> EffectsResult:
    """Estimate every measure's effect vs ``none`` on ``outcome`` (see module docstring).

    ``outcome`` in :data:`OUTCOMES`; ``covariates`` (default: every start-of-episode
    attribute and signal, see :func:`default_covariates`); ``by`` segment types
    (``cause_family``, ``borrower_type`` or a column); ``methods`` from :data:`METHODS`;
    ``estimands`` from :data:`ESTIMANDS`; ``crossfit_folds`` 0 (none) or K >= 2 for AIPW;
    ``clip`` lower bound on propensities (fraction, 0 < clip < 0.5); ``level`` of the
    intervals; ``min_cell`` minimum treated and control episodes per cell, below which
    the row carries no estimate and a warning; ``loss_model`` ``auto`` /
    ``fractional_logit`` / ``gaussian``; ``seed`` of the cross-fitting folds;
    ``followup`` the calendar follow-up rule (:class:`Followup`; pass the notebook's
    horizon and probation; None keeps every episode with a known outcome).
    """
    n = len(episodes) if isinstance(episodes, pd.DataFrame) else 0
    with _blas_limit(n):
        return _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                                 crossfit_folds, clip, level, min_cell, loss_model, seed, followup)


def _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                      crossfit_folds, clip, level, min_cell, loss_model, seed,
                      followup) -> EffectsResult:
    """:func:`estimate_effects` inside its BLAS thread limit (same arguments)."""
    from analysis.effects.diagnostics import balance_table, e_values, overlap_table

    _check_frame(episodes)
    _require(outcome in OUTCOMES, f"outcome must be one of {OUTCOMES}, got {outcome!r}", ParameterError)
    bad = [m for m in methods if m not in METHODS]
    _require(not bad and len(methods) > 0, f"methods must be from {METHODS}, got {list(methods)}", ParameterError)
    bad = [m for m in estimands if m not in ESTIMANDS]
    _require(not bad and len(estimands) > 0, f"estimands must be from {ESTIMANDS}, got {list(estimands)}", ParameterError)
    _require(0 < clip < 0.5, f"clip must be in (0, 0.5), got {clip}", ParameterError)
    _require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
    _require(crossfit_folds == 0 or crossfit_folds >= 2,
             f"crossfit_folds must be 0 or >= 2, got {crossfit_folds}", ParameterError)
    _require(int(min_cell) >= 1, f"min_cell must be >= 1, got {min_cell}", ParameterError)
    _require(loss_model in ("auto", "fractional_logit", "gaussian"),
             f"loss_model must be auto, fractional_logit or gaussian, got {loss_model!r}", ParameterError)
    arms_present = episodes["measure"].astype("string").unique()
    _require(len(arms_present) >= 2,
             f"episodes: only one arm present ({list(arms_present)}); effects need '{REFERENCE}' and at least one measure")
    by_list = [by] if isinstance(by, str) else list(by or [])
    seg_cols = {b: segment_column(episodes, b) for b in by_list}
    nu = _fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                       loss_model, list(seg_cols.values()), followup)
    warns = [n if n.startswith(f"{outcome}:") else f"{outcome}: {n}" for n in nu.notes]
    rows = episodes.loc[nu.index]
    obs = outcome_frame(episodes, outcome, followup)[0]
    segments: list[tuple[str, str, np.ndarray]] = [("all", "all", np.ones(len(nu.y), bool))]
    for b, col in seg_cols.items():
        vals = rows[col].astype("string").fillna("<NA>").to_numpy()
        for v in sorted(set(vals)):
            segments.append((b, v, vals == v))
    all_measures = sorted(m for m in episodes["measure"].astype("string").unique() if m != REFERENCE)
    out, base = [], []
    for m in all_measures:
        k = nu.arms.index(m) if m in nu.arms else None
        for st, sv, seg in segments:
            if k is None:  # arm left out of the models: count it among observed outcomes
                in_seg = np.ones(len(obs), bool) if st == "all" else (
                    obs[seg_cols[st]].astype("string").fillna("<NA>").to_numpy() == sv)
                n_t = int(((obs["measure"].astype("string") == m).to_numpy() & in_seg).sum())
            else:
                n_t = int((nu.a == k)[seg].sum())
            n_c = int((nu.a == 0)[seg].sum())
            small = k is None or n_t < min_cell or n_c < min_cell
            if small:
                warns.append(f"{outcome}: {m} in {st}={sv}: {n_t} treated / {n_c} control episodes "
                             f"(< min_cell={min_cell}); no estimate")
            for est in estimands:
                if small:
                    b0 = np.nan
                elif est == "ATE":
                    b0 = float(nu.mu[seg, 0].mean())
                else:
                    b0 = float(nu.mu[seg & (nu.a == k), 0].mean())
                for meth in methods:
                    if small:
                        val, se = np.nan, np.nan
                    else:
                        val, se = _estimate_cell(nu, k, seg, meth, est)
                    out.append((outcome, m, est, st, sv, meth, val, se, n_t, n_c))
                    base.append(b0)
    table = pd.DataFrame(out, columns=[c for c in TABLE_COLUMNS if c not in ("ci_low", "ci_high")])
    table["ci_low"], table["ci_high"] = _ci(table["estimate"], table["std_error"], level)
    table = table[list(TABLE_COLUMNS)]
    balance = balance_table(nu)
    overlap, owarn = overlap_table(nu)
    warns += [f"{outcome}: {w}" for w in owarn]
    nflag = balance["flag"].sum()
    if nflag:
        worst = balance.loc[balance["smd_after"].abs().idxmax()]
        warns.append(f"{outcome}: balance: {int(nflag)} covariate x arm x estimand cells have |SMD| > 0.1 after "
                     f"weighting (worst {worst['covariate']} in {worst['arm']} {worst['estimand']}: "
                     f"{worst['smd_after']:.2f})")
    ev = e_values(table, pd.Series(base, index=table.index), nu.kind, float(np.std(nu.y)))
    return EffectsResult(outcome, table, balance, overlap, ev, tuple(dict.fromkeys(warns)), nu, level)
