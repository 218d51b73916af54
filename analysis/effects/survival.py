"""Time to cure with default as a competing risk: cumulative incidence and Cox hazards.

Method
------
An episode ends cured, defaulted, or is still open (censored) at ``months_to_exit``
(``exit_type`` in {cure, default, open}). One minus Kaplan-Meier of cure would treat
defaulted episodes as if they could still cure, so we use competing-risks tools:

* **Cumulative incidence** (Aalen-Johansen): with distinct times t_i, n_i at risk
  (time >= t_i), d_i events of any kind and d_ki of kind k,
  S(t) = prod_{t_i <= t} (1 - d_i / n_i) and CIF_k(t) = sum_{t_i <= t} S(t_i-) d_ki / n_i.
  Ties of different kinds at the same month are handled exactly by this discrete form.
  Pointwise variance: the Greenwood-type delta-method formula (Collett, *Modelling
  Survival Data*, 3rd ed., p. 411; the one lifelines uses); intervals on the
  log(-log) scale, so they stay in (0, 1).
* **IP-weighted curves**: the same estimator with counts replaced by sums of weights
  1/e_a(X) (multinomial-logit propensity fitted on all episodes, clipped at ``clip``),
  estimating the curve had every episode received measure ``a``. Their intervals use
  the unweighted formula with counts scaled to Kish's effective sample size (an
  approximation that ignores propensity estimation; read them as indicative).
* **Cox model** (statsmodels ``PHReg``, Efron ties): the cause-specific hazard of cure
  (default and open both censor), with measure indicators (``none`` reference) and the
  start-of-episode covariates; hazard ratios with Wald intervals. A cause-specific
  hazard ratio is not a ratio of cumulative incidences: a measure can raise the cure
  hazard and still leave the cure share unchanged if it also delays default. Above
  :data:`COX_MAX_ROWS` episodes the model is fitted on a seeded random subset of that
  many (the curves still use every episode).

Fitting the Cox model on awkward data
-------------------------------------
Before the fit, terms that the partial likelihood cannot identify are dropped: a column
whose information at beta = 0 (the within-risk-set variance at the cure times,
:func:`cox_information`) is nil or collinear with earlier columns (arm indicators come
first, so a covariate goes before an arm); a dropped arm has no hazard ratio, and a
warning names every dropped term. When the plain fit still fails (a singular Hessian,
non-finite estimates or errors, no convergence, or a log hazard ratio beyond
``COX_MAX_LOG_HR``: an arm or covariate that separates cures, the monotone likelihood
of Heinze and Schemper), the hazard ratios come from a ridge-penalised partial
likelihood (``COX_RIDGE / 2 * ||beta||^2``, :func:`analysis.models.penalised_newton`),
shrunk toward 1 and marked in the warnings and in ``SurvivalResult.cox_fit``. Without a
single cure the model cannot be estimated (:class:`~analysis.errors.EstimationError`);
:func:`analyse_time_to_cure` then keeps the curves and leaves the hazard ratios empty.

Assumptions: independent censoring (open episodes are cut by the reporting date, not
by their prospects); proportional hazards for the Cox model (check the curves).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.definitions import NO_RELIEF
from analysis.effects.design import build_design, default_covariates
from analysis.effects.glm import blas_limit, fit_propensity, mn_probs
from analysis.errors import FIT_ERRORS, EstimationError, InputError, ParameterError
from analysis.models import independent_gram_ordered, penalised_newton, random_rows

EVENTS: tuple[str, ...] = ("cure", "default")
COX_RIDGE = 1.0  # fallback L2 penalty on the log partial likelihood: N(0, 1) prior per log HR
COX_MAX_LOG_HR = 15.0  # a plain fit with |log HR| beyond this has separated (monotone likelihood)
HR_COLUMNS: tuple[str, ...] = ("measure", "hazard_ratio", "ci_low", "ci_high", "p_value",
                               "n_episodes", "n_cures")


def aalen_johansen(time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None,
                   n_events: int = 2) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of event codes 1..n_events (0 = censored).

    Returns one row per distinct time: ``time``, ``at_risk``, ``d_any``, ``surv``, and for
    each k ``d_k``, ``cif_k``, ``var_k`` (delta-method variance, unweighted formula on the
    given counts).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    w = np.ones(len(time)) if weights is None else np.asarray(weights, float)
    ut, inv = np.unique(time, return_inverse=True)
    tot = np.bincount(inv, weights=w, minlength=len(ut))
    at_risk = tot[::-1].cumsum()[::-1]
    d = np.column_stack([np.bincount(inv, weights=w * (event == k), minlength=len(ut))
                         for k in range(1, n_events + 1)])
    d_any = d.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        haz = np.where(at_risk > 0, d_any / at_risk, 0.0)
        surv = np.cumprod(1 - haz)
        lag = np.concatenate([[1.0], surv[:-1]])
        out = {"time": ut, "at_risk": at_risk, "d_any": d_any, "surv": surv}
        a = np.where(at_risk - d_any > 0, d_any / (at_risk * (at_risk - d_any)), 0.0)
        for k in range(n_events):
            dk = d[:, k]
            f = np.cumsum(lag * dk / at_risk)
            b = lag ** 2 * dk * (at_risk - dk) / at_risk ** 3
            c = lag * dk / at_risk ** 2
            # sum_i a_i (F - F_i)^2 + sum_i b_i - 2 sum_i c_i (F - F_i), expanded in cumsums
            var = (f ** 2 * np.cumsum(a) - 2 * f * np.cumsum(a * f) + np.cumsum(a * f ** 2)
                   + np.cumsum(b) - 2 * (f * np.cumsum(c) - np.cumsum(c * f)))
            out[f"d_{k + 1}"] = dk
            out[f"cif_{k + 1}"] = f
            out[f"var_{k + 1}"] = np.maximum(var, 0.0)
    return pd.DataFrame(out)


def _loglog_ci(f: np.ndarray, var: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        lf = np.log(-np.log(f))
        se = np.sqrt(var) / (f * np.abs(np.log(f)))
        hi = np.exp(-np.exp(lf - z * se))
        lo = np.exp(-np.exp(lf + z * se))
    ok = (f > 0) & (f < 1)
    return np.where(ok, lo, np.where(f <= 0, 0.0, 1.0)), np.where(ok, hi, np.where(f <= 0, 0.0, 1.0))


def _survival_frame(episodes: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    if not isinstance(episodes, pd.DataFrame):
        raise InputError(f"episodes must be a DataFrame, got {type(episodes).__name__}")
    need = [c for c in ("measure", "exit_type", "months_to_exit") if c not in episodes]
    if need:
        raise InputError(f"episodes: survival analysis needs column(s) {need}")
    bad = ~episodes["exit_type"].isin(["cure", "default", "open"]) & episodes["exit_type"].notna()
    if bad.any():
        raise InputError("episodes: exit_type must be cure, default or open; found "
                         f"{sorted(episodes.loc[bad, 'exit_type'].astype(str).unique())[:5]}")
    warns = []
    ok = episodes["months_to_exit"].notna() & episodes["exit_type"].notna()
    if (~ok).any():
        warns.append(f"survival: {int((~ok).sum())} episodes without months_to_exit/exit_type left out")
    neg = episodes["months_to_exit"] < 0
    if neg.any():
        raise InputError(f"episodes: months_to_exit < 0 in rows {list(episodes.index[neg][:3])}")
    return episodes.loc[ok], warns


@dataclass(frozen=True, eq=False)
class SurvivalResult:
    """Cumulative incidence curves (``table``) and Cox hazard ratios (``hazard_ratios``).

    ``table`` columns: measure, weighting (unweighted / ipw), event (cure / default),
    month, cif, ci_low, ci_high, at_risk. ``hazard_ratios`` columns: measure,
    hazard_ratio, ci_low, ci_high, p_value, n_episodes, n_cures. ``cox_fit`` says how the
    hazard ratios were obtained: ``plain`` (partial likelihood), ``penalised`` (the ridge
    fallback, estimates shrunk toward 1), ``unavailable`` (the model could not be
    estimated; the warnings say why) or ``skipped`` (not asked for, or no arm to compare).
    """

    table: pd.DataFrame
    hazard_ratios: pd.DataFrame
    warnings: tuple[str, ...]
    level: float = 0.95
    cox_fit: str = "plain"

    def summary(self, months: Sequence[int] = (3, 6, 12)) -> pd.DataFrame:
        """Cure incidence at a few months per measure and weighting, beside the hazard ratio."""
        t = self.table[self.table["event"] == "cure"]
        rows = []
        for (m, wt), g in t.groupby(["measure", "weighting"], sort=True):
            g = g.sort_values("month")
            r = {"measure": m, "weighting": wt}
            for mo in months:
                sel = g[g["month"] <= mo]
                r[f"cure_by_{mo}m"] = float(sel["cif"].iloc[-1]) if len(sel) else 0.0
            rows.append(r)
        s = pd.DataFrame(rows)
        hr = self.hazard_ratios.set_index("measure")["hazard_ratio"] if len(self.hazard_ratios) else {}
        s["cure_hazard_ratio"] = s["measure"].map(hr)
        return s

    def _repr_html_(self) -> str:
        w = "".join(f"<li>{x}</li>" for x in self.warnings)
        return ("<h4>Time to cure (competing risk: default)</h4>"
                + self.summary().to_html(index=False, float_format="{:.3f}".format)
                + (f"<ul>{w}</ul>" if w else ""))


def cumulative_incidence(episodes: pd.DataFrame, weighting: Sequence[str] = ("unweighted", "ipw"),
                         covariates: Sequence[str] | None = None, clip: float = 0.01,
                         level: float = 0.95, min_cell: int = 10) -> tuple[pd.DataFrame, list[str]]:
    """Cure and default cumulative incidence by measure (see module docstring)."""
    df, warns = _survival_frame(episodes)
    bad = [w for w in weighting if w not in ("unweighted", "ipw")]
    if bad:
        raise ParameterError(f"weighting must be unweighted and/or ipw, got {bad}")
    counts = df["measure"].astype("string").value_counts()
    small = sorted(m for m, c in counts.items() if c < min_cell)
    if small:
        warns.append(f"survival: arm(s) {small} have fewer than min_cell={min_cell} episodes; no curve")
    arms = [m for m in counts.index if m not in small]
    arms = ([NO_RELIEF] if NO_RELIEF in arms else []) + sorted(m for m in arms if m != NO_RELIEF)
    df = df[df["measure"].astype("string").isin(arms)]
    a = pd.Categorical(df["measure"].astype("string"), categories=arms).codes
    time = df["months_to_exit"].to_numpy(float)
    event = df["exit_type"].map({"open": 0, "cure": 1, "default": 2}).to_numpy(int)
    weights = {"unweighted": np.ones(len(df))}
    if "ipw" in weighting and len(arms) >= 2:
        covs = list(covariates) if covariates is not None else default_covariates(df)
        x = build_design(df, covs).transform(df)
        gamma, note = fit_propensity(x, a, len(arms))
        if note:
            warns.append(f"survival: {note}")
        e = np.maximum(mn_probs(x, gamma), clip)
        weights["ipw"] = 1.0 / e[np.arange(len(df)), a]
    out = []
    for wname in weighting:
        if wname not in weights:
            continue
        for k, arm in enumerate(arms):
            sel = a == k
            w = weights[wname][sel]
            aj = aalen_johansen(time[sel], event[sel], w)
            scale = 1.0
            if wname == "ipw":
                ess = w.sum() ** 2 / (w ** 2).sum()
                scale = ess / w.sum()
            for j, ev in enumerate(EVENTS, start=1):
                f = aj[f"cif_{j}"].to_numpy()
                if wname == "ipw":
                    aj2 = aalen_johansen(time[sel], event[sel], w * scale)
                    var = aj2[f"var_{j}"].to_numpy()
                else:
                    var = aj[f"var_{j}"].to_numpy()
                lo, hi = _loglog_ci(f, var, level)
                out.append(pd.DataFrame({"measure": arm, "weighting": wname, "event": ev,
                                         "month": aj["time"].to_numpy(), "cif": f,
                                         "ci_low": lo, "ci_high": hi,
                                         "at_risk": aj["at_risk"].to_numpy() * scale}))
    table = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["measure", "weighting", "event", "month", "cif", "ci_low", "ci_high", "at_risk"])
    return table, warns


def cox_information(time: np.ndarray, status: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Information matrix (p x p) of the Cox partial likelihood at beta = 0, Breslow ties:
    sum over event times t of d_t times the covariance of ``x`` over the risk set
    {time >= t}. A direction with no information is one along which ``x`` is constant
    within every risk set at an event time: the partial likelihood cannot identify it,
    whatever the coefficients (the weights exp(x'beta) are positive)."""
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=status, minlength=len(ut))
    p = x.shape[1]
    s0 = np.bincount(inv, minlength=len(ut)).astype(float)
    s1 = np.zeros((len(ut), p))
    s2 = np.zeros((len(ut), p, p))
    for t in range(len(ut)):  # distinct months, not rows
        xt = x[inv == t]
        s1[t], s2[t] = xt.sum(axis=0), xt.T @ xt
    s0, s1, s2 = (a[::-1].cumsum(axis=0)[::-1] for a in (s0, s1, s2))  # risk set: time >= t
    ev = d > 0
    m = s1[ev] / s0[ev, None]
    return np.einsum("t,tij->ij", d[ev], s2[ev] / s0[ev, None, None] - m[:, :, None] * m[:, None, :])


def _fit_cox(time: np.ndarray, status: np.ndarray, exog: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, str]:
    """(params, standard errors, note): statsmodels PHReg (Efron ties), or the ridge
    fallback when the plain fit fails (see module docstring; the note says why)."""
    from statsmodels.duration.hazard_regression import PHReg  # heavy: imported on first use
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

    model = PHReg(time, exog, status=status, ties="efron")
    why = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit()
            b, se = np.asarray(res.params, float), np.asarray(res.bse, float)
        except FIT_ERRORS as exc:
            why = f"{type(exc).__name__}: {exc}"
    if not why:
        trouble = [w for w in caught if issubclass(w.category, (ConvergenceWarning, HessianInversionWarning))]
        if trouble:
            why = f"{trouble[0].category.__name__}"
        elif not (np.all(np.isfinite(b)) and np.all(np.isfinite(se)) and np.all(se > 0)):
            why = "non-finite estimates or standard errors"
        elif np.abs(b).max() > COX_MAX_LOG_HR:
            why = f"a log hazard ratio of {b[np.abs(b).argmax()]:.0f} (a term separates the cures)"
    if not why:
        return b, se, ""
    fit = penalised_newton(model.loglike, model.score, model.hessian, np.zeros(exog.shape[1]),
                           COX_RIDGE, what="cox: cure hazard model")
    note = (f"cox: the plain fit failed ({why}); hazard ratios come from a ridge-penalised "
            f"partial likelihood (penalty {COX_RIDGE:g} per coefficient), shrunk toward 1")
    return fit.params, np.sqrt(np.diag(fit.cov)), note


def _cox_inputs(episodes: pd.DataFrame, covariates: Sequence[str] | None, min_cell: int) -> tuple:
    """The cure-hazard model's data: (arms, m, time, status, exog, keep, names, warnings);
    ``arms`` empty when no measure has ``min_cell`` episodes."""
    df, warns = _survival_frame(episodes)
    counts = df["measure"].astype("string").value_counts()
    if NO_RELIEF not in counts.index:
        raise InputError(f"episodes: no {NO_RELIEF!r} episodes; hazard ratios need the reference arm")
    small = sorted(m for m, c in counts.items() if c < min_cell and m != NO_RELIEF)
    if small:
        warns.append(f"cox: arm(s) {small} have fewer than min_cell={min_cell} episodes; no hazard ratio")
    arms = sorted(m for m in counts.index if m not in small and m != NO_RELIEF)
    df = df[df["measure"].astype("string").isin([NO_RELIEF, *arms])]
    if not arms:
        return arms, None, None, None, None, None, [], warns
    m = df["measure"].astype("string").to_numpy()
    status = (df["exit_type"] == "cure").to_numpy(int)
    if status.sum() == 0:
        raise EstimationError(f"cox: none of the {len(df)} analysed episodes cured; the cure "
                              "hazard cannot be estimated")
    dummies = np.column_stack([(m == arm).astype(float) for arm in arms])
    covs = list(covariates) if covariates is not None else default_covariates(df)
    design = build_design(df, covs) if covs else None
    warns += [f"cox: covariate {c!r} dropped ({why})" for c, why in (design.dropped if design else ())]
    x = design.transform(df)[:, 1:] if covs else np.empty((len(df), 0))
    names = [f"measure={arm}" for arm in arms] + (list(design.columns) if design else [])
    exog = np.column_stack([dummies, x])
    time = df["months_to_exit"].to_numpy(float)
    keep = independent_gram_ordered(cox_information(time, status, exog))
    if not keep.all():
        warns.append(f"cox: {[n for n, k in zip(names, keep, strict=True) if not k]} dropped from "
                     "the hazard model (constant or collinear within the risk sets at the cure times)")
    return arms, m, time, status, exog, keep, names, warns


def _cox(episodes: pd.DataFrame, covariates: Sequence[str] | None, level: float,
         min_cell: int, max_rows: int | None = None) -> tuple[pd.DataFrame, list[str], str]:
    """:func:`cox_cure_hazards` plus how the hazard ratios were fitted (``plain``,
    ``penalised`` or ``skipped``)."""
    arms, m, time, status, exog, keep, names, warns = _cox_inputs(episodes, covariates, min_cell)
    if not arms:
        return pd.DataFrame(columns=list(HR_COLUMNS)), warns, "skipped"
    sub = random_rows(len(time), max_rows, 0)
    if sub is not None:  # seed 0: the proportional-hazards test's default subset
        warns.append(f"cox: hazard ratios fitted on a random {max_rows:,} of the {len(time):,} "
                     "episodes (the curves use every episode)")
        m, time, status, exog = m[sub], time[sub], status[sub], exog[sub]
    b = np.full(exog.shape[1], np.nan)
    se = np.full(exog.shape[1], np.nan)
    fit = "plain"
    if keep.any():
        b[keep], se[keep], note = _fit_cox(time, status, exog[:, keep])
        if note:
            warns.append(note)
            fit = "penalised"
    no_cure = [arm for arm in [NO_RELIEF, *arms] if status[m == arm].sum() == 0]
    if no_cure:
        warns.append(f"cox: no cure in arm(s) {no_cure}; the hazard ratios against {NO_RELIEF!r} "
                     "are bounded only by the penalty (read them as far from 1, not as values)")
    z = stats.norm.ppf(0.5 + level / 2)
    b, se = b[: len(arms)], se[: len(arms)]
    n_cure = pd.Series(status).groupby(m).sum()
    hr = pd.DataFrame({"measure": arms, "hazard_ratio": np.exp(b), "ci_low": np.exp(b - z * se),
                       "ci_high": np.exp(b + z * se),
                       "p_value": 2 * stats.norm.sf(np.abs(b / se)),
                       "n_episodes": [int((m == arm).sum()) for arm in arms],
                       "n_cures": [int(n_cure.get(arm, 0)) for arm in arms]})
    return hr, warns, fit


def cox_cure_hazards(episodes: pd.DataFrame, covariates: Sequence[str] | None = None,
                     level: float = 0.95, min_cell: int = 10) -> tuple[pd.DataFrame, list[str]]:
    """Cause-specific Cox hazard ratios of cure by measure vs ``none`` (statsmodels PHReg),
    with the fallbacks of the module docstring (dropped terms, ridge fit) named in the
    warnings. Raises :class:`~analysis.errors.EstimationError` when no episode cured."""
    hr, warns, _ = _cox(episodes, covariates, level, min_cell)
    return hr, warns


PH_COLUMNS: tuple[str, ...] = ("measure", "correlation", "statistic", "p_value", "n_cures", "passed")
#: p-value below which the proportional-hazards assumption of a measure is flagged.
PH_ALPHA = 0.01


def proportional_hazards_test(episodes: pd.DataFrame, covariates: Sequence[str] | None = None,
                              min_cell: int = 10, max_rows: int = 200_000,
                              seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Schoenfeld-residual test of proportional hazards for each measure's cure hazard.

    Fits the Cox model of :func:`cox_cure_hazards` (plain PHReg, Efron ties) and, per
    measure indicator, correlates its Schoenfeld residuals (statsmodels
    ``schoenfeld_residuals``) with the rank of the cure time: under proportional hazards
    the residuals do not trend with time. Statistic ``n_cures * r^2`` ~ chi-square(1)
    (Schoenfeld 1982; the rank-time form of Grambsch and Therneau's test, without the
    scaling by the information). ``passed``: p-value >= :data:`PH_ALPHA`. Books with more
    than ``max_rows`` analysed episodes are tested on a seeded random subset of that
    size (said in the warnings). Returns (table with :data:`PH_COLUMNS`, warnings).
    """
    from statsmodels.duration.hazard_regression import PHReg  # heavy: imported on first use

    with blas_limit(len(episodes)):
        arms, m, time, status, exog, keep, names, warns = _cox_inputs(episodes, covariates, min_cell)
        if not arms:
            return pd.DataFrame(columns=list(PH_COLUMNS)), warns
        sub = random_rows(len(time), max_rows, seed)
        if sub is not None:
            m, time, status, exog = m[sub], time[sub], status[sub], exog[sub]
            warns.append(f"cox: proportional-hazards test on a random {max_rows:,} of the episodes")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = PHReg(time, exog[:, keep], status=status, ties="efron").fit()
        resid = np.asarray(res.schoenfeld_residuals)
    ev = status == 1
    rank_t = stats.rankdata(time[ev])
    cols = np.flatnonzero(keep)
    rows = []
    for j, arm in enumerate(arms):
        r = np.nan
        if keep[j]:
            rj = resid[ev, int(np.searchsorted(cols, j))]
            ok = np.isfinite(rj)
            if ok.sum() > 2 and rj[ok].std() > 0:
                r = float(np.corrcoef(rj[ok], rank_t[ok])[0, 1])
        stat = ev.sum() * r ** 2
        p = float(stats.chi2.sf(stat, 1)) if np.isfinite(stat) else np.nan
        rows.append((arm, r, stat, p, int((ev & (m == arm)).sum()), bool(p >= PH_ALPHA) if np.isfinite(p) else False))
    return pd.DataFrame(rows, columns=list(PH_COLUMNS)), warns


#: Above this many analysed episodes the Cox model of :func:`analyse_time_to_cure` is
#: fitted on a seeded random subset of this many. Why: statsmodels' Efron Hessian costs
#: about 3 s per Newton step on 400,000 episodes and grows with them (the 10M-loan book's
#: 1.97M episodes: 214 s for the time-to-cure section, benchmarks/README.md); hazard
#: ratios from 200,000 episodes are already tight (their intervals say how tight).
COX_MAX_ROWS = 200_000


def analyse_time_to_cure(episodes: pd.DataFrame, covariates: Sequence[str] | None = None,
                         weighting: Sequence[str] = ("unweighted", "ipw"), clip: float = 0.01,
                         level: float = 0.95, min_cell: int = 10, cox: bool = True,
                         cox_max_rows: int | None = COX_MAX_ROWS) -> SurvivalResult:
    """Cumulative incidence of cure and default by measure and Cox cure hazard ratios.

    The curves use every episode; above ``cox_max_rows`` analysed episodes (None: no
    cap) the Cox model is fitted on a seeded random subset of that many, and the
    warnings say so (``hazard_ratios``' counts are the subset's). When the Cox model
    cannot be estimated (a :data:`~analysis.errors.FIT_ERRORS` failure, e.g. no cure at
    all) the curves are still returned, with empty hazard ratios,
    ``cox_fit="unavailable"`` and the reason in the warnings."""
    with blas_limit(len(episodes) if isinstance(episodes, pd.DataFrame) else 0):
        return _analyse(episodes, covariates, weighting, clip, level, min_cell, cox, cox_max_rows)


def _analyse(episodes, covariates, weighting, clip, level, min_cell, cox, cox_max_rows) -> SurvivalResult:
    table, w1 = cumulative_incidence(episodes, weighting, covariates, clip, level, min_cell)
    hr, w2, fit = pd.DataFrame(columns=list(HR_COLUMNS)), [], "skipped"
    if cox:
        try:
            hr, w2, fit = _cox(episodes, covariates, level, min_cell, cox_max_rows)
        except FIT_ERRORS as exc:  # the curves stand without the hazard ratios
            w2, fit = [f"cox: hazard ratios could not be estimated ({exc})"], "unavailable"
    return SurvivalResult(table, hr, tuple(dict.fromkeys(w1 + w2)), level, fit)
