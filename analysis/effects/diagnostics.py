"""Diagnostics of the relief-effect estimates: balance, overlap, E-values, placebo.

Method
------
* **Balance**: standardised mean difference (SMD) of every encoded covariate between an
  arm and the target population, before and after weighting. For the ATE the target is
  all analysed episodes and arm ``a`` is weighted by 1/e_a; for the ATT of measure ``a``
  the target is arm ``a`` and the ``none`` arm is weighted by the odds e_a/e_none. The
  denominator is sqrt((s_arm^2 + s_target^2) / 2) with unweighted variances, so the
  before and after figures share a scale. |SMD| > 0.1 after weighting is flagged
  (Austin 2009).
* **Overlap**: distribution of each arm's propensity among its own episodes and among
  all, the share of episodes whose propensity fell below the clipping bound, and
  Kish's effective sample size (sum w)^2 / sum w^2 of the weights. Warnings when more
  than 5 % of all episodes need clipping for an arm (the ATE extrapolates) or the
  effective sample size is below 20 % of the arm.
* **Reliability** (calibration of the propensities): per arm, the out-of-fold
  propensities are cut into deciles and each bin's mean predicted probability is set
  beside the observed share of the arm in it; the largest gap weighted by bin size is
  the ``calibration_error``. Bins with fewer than ``min_cell`` episodes are not shown.
* **E-value** (VanderWeele & Ding 2017): the minimum strength of association, on the
  risk-ratio scale, that an unmeasured confounder would need with both treatment and
  outcome to explain the estimate away. Differences are converted to risk ratios
  with the counterfactual baseline risk under ``none`` (RR = (p0 + RD) / p0; the
  model-based mean of mu_none over the target population). For loss_rate (not a risk)
  the approximation RR = exp(0.91 d) with d = difference / SD(outcome) is used. An
  interval containing 0 has E-value 1 for its limit. Known drawback: the conversion
  treats the baseline as known.
* **Placebo**: the same estimators applied to quantities fixed before the episode
  started (``prev_dpd``, ``prev_balance`` in the month before), which are kept out of
  the default covariates; a credible design shows no "effect". Flagged when the
  interval excludes 0 and the effect exceeds 0.1 outcome standard deviations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.effects.cells import TABLE_COLUMNS, ci, estimate_cell
from analysis.effects.nuisance import Nuisance, fit_nuisance
from analysis.models import random_rows

SMD_THRESHOLD = 0.1


def _wmean_var(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (x * w[:, None]).sum(axis=0) / w.sum()


def balance_table(nu: Nuisance) -> pd.DataFrame:
    """SMD of each encoded covariate, arm and estimand before and after weighting.

    Columns: estimand, arm, covariate, smd_before, smd_after, flag (|after| > 0.1).
    """
    z = nu.x[:, 1:]
    names = list(nu.design.columns)
    rows = []
    mean_all, var_all = z.mean(axis=0), z.var(axis=0)
    e, e_raw = nu.e, nu.e_raw
    for k, arm in enumerate(nu.arms):
        ink = nu.a == k
        if ink.sum() < 2:
            continue
        za = z[ink]
        m_a, v_a = za.mean(axis=0), za.var(axis=0)
        den = np.sqrt((v_a + var_all) / 2)
        den[den == 0] = np.nan
        mw = _wmean_var(za, 1.0 / e[ink, k])
        rows.append(pd.DataFrame({"estimand": "ATE", "arm": arm, "covariate": names,
                                  "smd_before": (m_a - mean_all) / den,
                                  "smd_after": (mw - mean_all) / den}))
        if k == 0:
            continue
        c0 = nu.a == 0
        z0 = z[c0]
        m0, v0 = z0.mean(axis=0), z0.var(axis=0)
        den = np.sqrt((v0 + v_a) / 2)
        den[den == 0] = np.nan
        odds = e_raw[c0, k] / e[c0, 0]
        mw0 = _wmean_var(z0, odds)
        rows.append(pd.DataFrame({"estimand": "ATT", "arm": f"{arm} (none weighted)",
                                  "covariate": names, "smd_before": (m0 - m_a) / den,
                                  "smd_after": (mw0 - m_a) / den}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["estimand", "arm", "covariate", "smd_before", "smd_after"])
    out["flag"] = out["smd_after"].abs() > SMD_THRESHOLD
    return out


def _ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) and (w ** 2).sum() > 0 else 0.0


def overlap_table(nu: Nuisance) -> tuple[pd.DataFrame, list[str]]:
    """Propensity overlap per arm and warnings.

    Columns: arm, n, e_min, e_p01, e_median, e_p99, e_max (the arm's propensity among its
    own episodes), e_p01_all (among all), share_clipped_all (share of all episodes with
    e_arm < clip), share_clipped_arm, max_weight, ess_ate, ess_ate_share,
    ess_att_control (effective size of the reweighted ``none`` arm for the ATT).
    """
    rows, warns = [], []
    e_raw, e = nu.e_raw, nu.e
    for k, arm in enumerate(nu.arms):
        ink = nu.a == k
        ek = e_raw[ink, k]
        w = 1.0 / e[ink, k]
        q = np.quantile(ek, [0, 0.01, 0.5, 0.99, 1]) if ink.any() else [np.nan] * 5
        share_all = float((e_raw[:, k] < nu.clip).mean())
        share_arm = float((ek < nu.clip).mean()) if ink.any() else np.nan
        ess = _ess(w)
        ess_att = np.nan
        if k > 0:
            c0 = nu.a == 0
            ess_att = _ess(e_raw[c0, k] / e[c0, 0])
        rows.append({"arm": arm, "n": int(ink.sum()), "e_min": q[0], "e_p01": q[1],
                     "e_median": q[2], "e_p99": q[3], "e_max": q[4],
                     "e_p01_all": float(np.quantile(e_raw[:, k], 0.01)),
                     "share_clipped_all": share_all, "share_clipped_arm": share_arm,
                     "max_weight": float(w.max()) if len(w) else np.nan,
                     "ess_ate": ess, "ess_ate_share": ess / max(int(ink.sum()), 1),
                     "ess_att_control": ess_att})
        if share_all > 0.05:
            warns.append(f"overlap: {share_all:.1%} of episodes have P({arm}) < clip={nu.clip}; "
                         f"the ATE of {arm} extrapolates to them (weights clipped)")
        if ink.any() and ess < 0.2 * ink.sum():
            warns.append(f"overlap: effective sample size of arm {arm} is {ess:.0f} "
                         f"of {int(ink.sum())} episodes (< 20%): weights are very uneven")
    return pd.DataFrame(rows), warns


RELIABILITY_COLUMNS = ("arm", "bin", "n", "mean_predicted", "observed_share", "gap")


def reliability_table(nu: Nuisance, bins: int = 10, min_cell: int = 10) -> pd.DataFrame:
    """Binned predicted vs observed arm shares of the out-of-fold propensities.

    One row per arm and propensity decile (``bin`` 1..bins, fewer when probabilities
    tie): ``n`` episodes, ``mean_predicted`` and ``observed_share`` (fractions), ``gap``
    (observed - predicted). A well-calibrated propensity has gaps near 0 in every bin
    with many episodes; bins with fewer than ``min_cell`` episodes are left out
    (aggregates only). Columns :data:`RELIABILITY_COLUMNS`.
    """
    e = nu.e_cf_raw
    bins = max(1, min(bins, len(e)))
    frames = []
    for k, arm in enumerate(nu.arms):
        q = pd.qcut(pd.Series(e[:, k]).rank(method="first"), bins, labels=False) + 1
        g = pd.DataFrame({"bin": q.to_numpy(), "p": e[:, k], "d": (nu.a == k).astype(float)})
        agg = g.groupby("bin").agg(n=("p", "size"), mean_predicted=("p", "mean"),
                                   observed_share=("d", "mean")).reset_index()
        agg.insert(0, "arm", arm)
        frames.append(agg[agg["n"] >= min_cell])
    out = pd.concat(frames, ignore_index=True)
    out["gap"] = out["observed_share"] - out["mean_predicted"]
    return out[list(RELIABILITY_COLUMNS)]


def calibration_error(reliability: pd.DataFrame) -> pd.Series:
    """Expected calibration error per arm: the bin-size weighted mean |gap| (fraction)."""
    r = reliability.assign(w=reliability["gap"].abs() * reliability["n"])
    g = r.groupby("arm", sort=False)
    return (g["w"].sum() / g["n"].sum()).rename("calibration_error")


def e_value_rr(rr: np.ndarray) -> np.ndarray:
    """E-value of a risk ratio (either direction): RR* + sqrt(RR* (RR* - 1)), RR* >= 1."""
    rr = np.asarray(rr, float)
    rr = np.where(rr < 1, 1 / rr, rr)
    return rr + np.sqrt(rr * (rr - 1))


def e_values(table: pd.DataFrame, baseline: pd.Series, kind: str, sd_y: float) -> pd.DataFrame:
    """E-values for the estimate and for the interval limit nearer the null.

    ``baseline``: counterfactual mean under ``none`` per table row (same index);
    ``kind``: ``binary`` (risk differences -> risk ratios) or other (SMD approximation).
    """
    est = table["estimate"].to_numpy(float)
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    near = np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))

    def to_rr(diff: np.ndarray) -> np.ndarray:
        if kind == "binary":
            p0 = np.clip(baseline.to_numpy(float), 1e-6, 1)
            p1 = np.clip(p0 + diff, 1e-6, 1)
            return p1 / p0
        return np.exp(0.91 * np.abs(diff) / sd_y) if sd_y > 0 else np.full_like(diff, np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        out = table[["outcome", "measure", "estimand", "segment_type", "segment", "method",
                     "estimate"]].copy()
        out["baseline_none"] = baseline.to_numpy(float)
        out["risk_ratio"] = to_rr(est)
        out["e_value"] = e_value_rr(out["risk_ratio"].to_numpy())
        ev_ci = e_value_rr(to_rr(near))
        out["e_value_ci"] = np.where(near == 0, 1.0, ev_ci)
        out.loc[table["estimate"].isna(), ["e_value", "e_value_ci"]] = np.nan
    return out


#: Above this many episodes :func:`placebo` runs on a seeded random subset of this many.
#: Why: its flag is an effect size (|estimate| > 0.1 SD), which 200,000 episodes measure
#: to about 0.01 SD, while the GLM fits on the 10M-loan book's 1.97M episodes took 86 s.
PLACEBO_MAX_EPISODES = 200_000


def placebo(episodes: pd.DataFrame, outcomes: Sequence[str] = ("prev_dpd", "prev_balance"),
            covariates: Sequence[str] | None = None, methods: Sequence[str] = ("naive", "aipw"),
            clip: float = 0.01, min_cell: int = 10, level: float = 0.95,
            max_episodes: int | None = PLACEBO_MAX_EPISODES, seed: int = 0) -> pd.DataFrame:
    """Effects of each measure on pre-treatment quantities (should be nil).

    Returns the effects-table columns plus ``sd_outcome``, ``std_effect``
    (estimate / SD) and ``flag`` (interval excludes 0 and |std_effect| > 0.1). Naive rows
    show how different the arms were; adjusted rows should be near zero. Above
    ``max_episodes`` episodes (None: no cap) the checks run on a seeded random subset of
    that many (the ``n_*`` columns count it).
    """
    pick = random_rows(len(episodes), max_episodes, seed)
    if pick is not None:
        episodes = episodes.iloc[pick]
    out = []
    for name in outcomes:
        if name not in episodes:
            continue
        nu = fit_nuisance(episodes, name, covariates, 0, clip, min_cell, loss_model="gaussian")
        sd = float(np.std(nu.y))
        allseg = np.ones(len(nu.y), bool)
        for k, arm in enumerate(nu.arms[1:], start=1):
            n_t, n_c = int((nu.a == k).sum()), int((nu.a == 0).sum())
            for est in ("ATE", "ATT"):
                for meth in methods:
                    val, se = estimate_cell(nu, k, allseg, meth, est)
                    out.append((name, arm, est, "all", "all", meth, val, se, n_t, n_c, 1.0,
                                nu.learner, "ok", sd))
    cols = [c for c in TABLE_COLUMNS if c not in ("ci_low", "ci_high")] + ["sd_outcome"]
    t = pd.DataFrame(out, columns=cols)
    t["ci_low"], t["ci_high"] = ci(t["estimate"], t["std_error"], level)
    t["std_effect"] = t["estimate"] / t["sd_outcome"]
    t["flag"] = ((t["ci_low"] > 0) | (t["ci_high"] < 0)) & (t["std_effect"].abs() > 0.1)
    return t[[*TABLE_COLUMNS, "sd_outcome", "std_effect", "flag"]]
