"""Figures of the cause attribution (notebook 02). They take an :class:`Attribution`.

Every figure uses :mod:`analysis.style` (fixed family colours, titles with sample sizes,
percent axes). Suppressed segments (too few episodes) are drawn as gaps and labelled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.causes import Attribution
from analysis.definitions import FAMILIES
from analysis.style import FAMILY_COLORS, WIDE_FIGSIZE, finish, new_figure, percent_axis

_METHOD_TEXT = {
    "combined": "reported reason where given, else the better-calibrated model",
    "model": "Shapley split of the overdue-onset model",
    "reported": "reported reasons only (borrowers who report)",
}


def _n_all(att: Attribution, method: str | None = None) -> float:
    t = att.shares(method=method)
    return float(t["n_episodes"].max()) if len(t) else float("nan")


def plot_portfolio_shares(att: Attribution, method: str | None = None) -> Figure:
    """Share of overdue episodes and of overdue balance per family, with intervals."""
    m = method or att.method
    fig, ax = new_figure()
    width = 0.38
    x = np.arange(len(FAMILIES))
    for k, (weight, label, alpha) in enumerate(
        (("count", "episodes", 0.9), ("balance", "overdue balance", 0.5))
    ):
        t = att.shares(weight=weight, method=m).set_index("family").reindex(FAMILIES)
        est = t["share"].to_numpy(dtype=float)
        err = np.vstack([est - t["ci_low"], t["ci_high"] - est])
        pos = x + (k - 0.5) * width
        ax.bar(pos, np.nan_to_num(est), width, color=[FAMILY_COLORS[f] for f in FAMILIES],
               alpha=alpha, label=f"share of {label}")
        ax.errorbar(pos, est, yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_xticks(x, FAMILIES)
    percent_axis(ax)
    finish(ax, "Why loans go overdue: share per cause family", ylabel="share",
           n=_n_all(att, m), n_unit="episodes",
           note=f"{int(att.level * 100)}% intervals; {_METHOD_TEXT.get(m, m)}; "
                "light bars: EAD-weighted")
    return fig


def plot_segment_shares(att: Attribution, by: str, method: str | None = None) -> Figure:
    """Family shares with intervals per segment (borrower_type, industry or region)."""
    t = att.shares(by=by, method=method)
    segs = list(dict.fromkeys(t["segment"]))
    fig, ax = new_figure(figsize=(WIDE_FIGSIZE[0], max(3.0, 0.45 * len(segs) + 1.5)))
    y = np.arange(len(segs))
    for k, f in enumerate(FAMILIES):
        d = t[t["family"] == f].set_index("segment").reindex(segs)
        est = d["share"].to_numpy(dtype=float)
        err = np.vstack([est - d["ci_low"], d["ci_high"] - est])
        pos = y + (k - 1) * 0.25
        ax.errorbar(est, pos, xerr=err, fmt="o", color=FAMILY_COLORS[f], capsize=2, lw=1,
                    label=f)
    small = t.groupby("segment", sort=False)["share"].apply(lambda s: s.isna().all())
    for i, s in enumerate(segs):
        if bool(small.get(s, False)):
            ax.annotate("suppressed (too few episodes)", xy=(0.01, y[i]), fontsize=8,
                        color="grey", va="center")
    ax.set_yticks(y, segs)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    percent_axis(ax, "x")
    n = np.nansum(t.drop_duplicates("segment")["n_episodes"])
    finish(ax, f"Cause shares by {by.replace('_', ' ')}", xlabel="share of overdue episodes",
           n=n, n_unit="episodes", note=f"{int(att.level * 100)}% intervals")
    return fig


def plot_trends(att: Attribution, method: str | None = None) -> Figure:
    """Monthly family shares of new overdue episodes with interval bands."""
    t = att.shares(by="month", method=method)
    fig, ax = new_figure(figsize=WIDE_FIGSIZE)
    for f in FAMILIES:
        d = t[t["family"] == f].copy()
        d["month"] = pd.PeriodIndex(d["segment"], freq="M").to_timestamp(how="end")
        ax.plot(d["month"], d["share"], color=FAMILY_COLORS[f], label=f, lw=1.6)
        ax.fill_between(d["month"], d["ci_low"], d["ci_high"], color=FAMILY_COLORS[f],
                        alpha=0.15, lw=0)
    percent_axis(ax)
    ax.set_ylim(0, 1)
    n = np.nansum(t.drop_duplicates("segment")["n_episodes"])
    finish(ax, "Cause shares of new overdue episodes by start month",
           xlabel="month the episode started", ylabel="share of episodes", n=n,
           n_unit="episodes", note="bands: intervals; gaps: months with too few episodes")
    return fig


def plot_drivers(att: Attribution) -> Figure:
    """Onset-logit coefficient of each signal (log-odds per standard deviation)."""
    d = att.drivers
    fig, ax = new_figure(figsize=(WIDE_FIGSIZE[0], max(3.0, 0.4 * len(d) + 1.5)))
    if len(d) == 0:
        ax.text(0.5, 0.5, "no signals: no onset model", ha="center", transform=ax.transAxes)
        finish(ax, "Signals that drive each cause family")
        return fig
    y = np.arange(len(d))
    est = d["coef_per_sd"].to_numpy(dtype=float)
    err = np.vstack([est - d["ci_low"], d["ci_high"] - est])
    ax.barh(y, est, color=[FAMILY_COLORS[f] for f in d["family"]], alpha=0.85)
    ax.errorbar(est, y, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{s} ({f})" for s, f in zip(d["signal"], d["family"], strict=True)])
    ax.invert_yaxis()
    finish(ax, "Signals that drive each cause family",
           xlabel="change in log-odds of an overdue onset per standard deviation",
           n=att.info.get("n_onsets"), n_unit="onsets",
           note="onset logit with loan attributes as controls")
    return fig


def plot_calibration(att: Attribution) -> Figure:
    """Reliability: mean predicted probability vs reported frequency, per family and model."""
    c = att.calibration
    fig, axes = new_figure(1, 3, figsize=WIDE_FIGSIZE, sharey=True)
    for ax, f in zip(np.atleast_1d(axes), FAMILIES, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for model, marker in (("shapley", "o"), ("label_model", "s")):
            d = c[(c["model"] == model) & (c["family"] == f)] if len(c) else c
            if len(d):
                ax.plot(d["mean_predicted"], d["observed"], marker=marker, color=FAMILY_COLORS[f],
                        alpha=0.9 if model == "shapley" else 0.5, label=model)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        percent_axis(ax)
        percent_axis(ax, "x")
        finish(ax, f, xlabel="predicted probability",
               ylabel="reported frequency" if f == FAMILIES[0] else None)
    return fig


def plot_truth_comparison(comparison: pd.DataFrame) -> Figure:
    """Estimated portfolio shares with intervals against the true shares (synthetic book).

    ``comparison``: the output of :func:`analysis.causes.truth_comparison`.
    """
    t = comparison.set_index("family").reindex(FAMILIES)
    fig, ax = new_figure()
    x = np.arange(len(FAMILIES))
    est = t["share"].to_numpy(dtype=float)
    ax.bar(x, est, 0.5, color=[FAMILY_COLORS[f] for f in FAMILIES], alpha=0.8, label="estimate")
    ax.errorbar(x, est, yerr=np.vstack([est - t["ci_low"], t["ci_high"] - est]), fmt="none",
                ecolor="black", capsize=4, lw=1)
    ax.scatter(x, t["true_share"].to_numpy(dtype=float), marker="D", color="black", zorder=3,
               label="true share")
    ax.set_xticks(x, FAMILIES)
    percent_axis(ax)
    n = comparison.loc[comparison["family"] == "all", "n_episodes"]
    finish(ax, "Estimated vs true cause shares (synthetic book)", ylabel="share of episodes",
           n=float(n.iloc[0]) if len(n) else None, n_unit="episodes")
    return fig
