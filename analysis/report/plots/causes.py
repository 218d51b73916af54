"""Figures of the cause attribution (notebook 02). They take an :class:`Attribution`.

Every figure uses :mod:`analysis.report.style` (fixed family colours, titles with sample sizes,
percent axes). Suppressed segments (too few episodes) are drawn as gaps and labelled.

Every function takes ``t``, a :class:`analysis.report.i18n.catalogue.Translator` (``ctx.t`` in a notebook;
None = English): titles, axes, legends and category names (cause families, borrower
types, models) come from the message catalogue. Without a CJK font a Chinese figure
falls back to English labels with a visible note (:func:`analysis.report.i18n.catalogue.mark_fallback`).
Industry, region and signal codes are shown as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.causes import Attribution
from analysis.definitions import FAMILIES
from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback
from analysis.report.style import FAMILY_COLORS, WIDE_FIGSIZE, finish, new_figure, percent_axis
from analysis.report.text.causes import MODEL_KEYS, has_reporting, method_name


def _n_all(att: Attribution, method: str | None = None) -> float:
    t = att.shares(method=method)
    return float(t["n_episodes"].max()) if len(t) else float("nan")


def _families(tr: Translator) -> list[str]:
    return [tr.category("family", f) for f in FAMILIES]


def _segment_name(tr: Translator, by: str, code: object) -> str:
    """Borrower types by their catalogue name; industries, regions, months as coded."""
    return tr.category("borrower_type", code) if by == "borrower_type" else str(code)


def plot_portfolio_shares(att: Attribution, method: str | None = None, *,
                          t: Translator | None = None) -> Figure:
    """Share of overdue episodes and of overdue balance per family, with intervals."""
    tr = figure_translator(t)
    m = method or att.method
    fig, ax = new_figure()
    width = 0.38
    x = np.arange(len(FAMILIES))
    for k, (weight, label, alpha) in enumerate(
        (("count", "causes.plot.share_of_episodes", 0.9),
         ("balance", "causes.plot.share_of_balance", 0.5))
    ):
        d = att.shares(weight=weight, method=m).set_index("family").reindex(FAMILIES)
        est = d["share"].to_numpy(dtype=float)
        err = np.vstack([est - d["ci_low"], d["ci_high"] - est])
        pos = x + (k - 0.5) * width
        ax.bar(pos, np.nan_to_num(est), width, color=[FAMILY_COLORS[f] for f in FAMILIES],
               alpha=alpha, label=tr(label))
        ax.errorbar(pos, est, yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_xticks(x, _families(tr))
    percent_axis(ax)
    method_text = method_name(tr, m, note=True, latent=has_reporting(att))
    finish(ax, tr("causes.plot.shares_title"), ylabel=tr("causes.plot.share"),
           n=_n_all(att, m), n_unit=tr("plot.episodes"),
           note=tr("causes.plot.shares_note", level=int(att.level * 100), method=method_text))
    return mark_fallback(fig, tr)


def plot_segment_shares(att: Attribution, by: str, method: str | None = None, *,
                        t: Translator | None = None) -> Figure:
    """Family shares with intervals per segment (borrower_type, industry or region)."""
    tr = figure_translator(t)
    d_all = att.shares(by=by, method=method)
    segs = list(dict.fromkeys(d_all["segment"]))
    fig, ax = new_figure(figsize=(WIDE_FIGSIZE[0], max(3.0, 0.45 * len(segs) + 1.5)))
    y = np.arange(len(segs))
    for k, f in enumerate(FAMILIES):
        d = d_all[d_all["family"] == f].set_index("segment").reindex(segs)
        est = d["share"].to_numpy(dtype=float)
        err = np.vstack([est - d["ci_low"], d["ci_high"] - est])
        pos = y + (k - 1) * 0.25
        ax.errorbar(est, pos, xerr=err, fmt="o", color=FAMILY_COLORS[f], capsize=2, lw=1,
                    label=tr.category("family", f))
    small = d_all.groupby("segment", sort=False)["share"].apply(lambda s: s.isna().all())
    for i, s in enumerate(segs):
        if bool(small.get(s, False)):
            ax.annotate(tr("causes.plot.suppressed_segment"), xy=(0.01, y[i]), fontsize=8,
                        color="grey", va="center")
    ax.set_yticks(y, [_segment_name(tr, by, s) for s in segs])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    percent_axis(ax, "x")
    n = np.nansum(d_all.drop_duplicates("segment")["n_episodes"])
    finish(ax, tr("causes.plot.segment_title", segment_type=tr.category("segment_type", by)),
           xlabel=tr("causes.plot.share_of_overdue_episodes"), n=n, n_unit=tr("plot.episodes"),
           note=tr("causes.plot.intervals_note", level=int(att.level * 100)))
    return mark_fallback(fig, tr)


def plot_trends(att: Attribution, method: str | None = None, *,
                t: Translator | None = None) -> Figure:
    """Monthly family shares of new overdue episodes with interval bands."""
    tr = figure_translator(t)
    d_all = att.shares(by="month", method=method)
    fig, ax = new_figure(figsize=WIDE_FIGSIZE)
    for f in FAMILIES:
        d = d_all[d_all["family"] == f].copy()
        d["month"] = pd.PeriodIndex(d["segment"], freq="M").to_timestamp(how="end")
        ax.plot(d["month"], d["share"], color=FAMILY_COLORS[f], label=tr.category("family", f),
                lw=1.6)
        ax.fill_between(d["month"], d["ci_low"], d["ci_high"], color=FAMILY_COLORS[f],
                        alpha=0.15, lw=0)
    percent_axis(ax)
    ax.set_ylim(0, 1)
    n = np.nansum(d_all.drop_duplicates("segment")["n_episodes"])
    finish(ax, tr("causes.plot.trends_title"), xlabel=tr("causes.plot.trends_xlabel"),
           ylabel=tr("causes.plot.share_of_episodes_axis"), n=n, n_unit=tr("plot.episodes"),
           note=tr("causes.plot.trends_note"))
    return mark_fallback(fig, tr)


def plot_drivers(att: Attribution, *, t: Translator | None = None) -> Figure:
    """Onset-logit coefficient of each signal (log-odds per standard deviation)."""
    tr = figure_translator(t)
    d = att.drivers
    fig, ax = new_figure(figsize=(WIDE_FIGSIZE[0], max(3.0, 0.4 * len(d) + 1.5)))
    if len(d) == 0:
        ax.text(0.5, 0.5, tr("causes.plot.no_signals"), ha="center", transform=ax.transAxes)
        finish(ax, tr("causes.plot.drivers_title"))
        return mark_fallback(fig, tr)
    y = np.arange(len(d))
    est = d["coef_per_sd"].to_numpy(dtype=float)
    err = np.vstack([est - d["ci_low"], d["ci_high"] - est])
    ax.barh(y, est, color=[FAMILY_COLORS[f] for f in d["family"]], alpha=0.85)
    ax.errorbar(est, y, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{s} ({tr.category('family', f)})"
                      for s, f in zip(d["signal"], d["family"], strict=True)])
    ax.invert_yaxis()
    finish(ax, tr("causes.plot.drivers_title"), xlabel=tr("causes.plot.drivers_xlabel"),
           n=att.info.get("n_onsets"), n_unit=tr("causes.plot.onsets"),
           note=tr("causes.plot.drivers_note"))
    return mark_fallback(fig, tr)


def plot_calibration(att: Attribution, *, t: Translator | None = None) -> Figure:
    """Reliability: mean predicted probability vs reported frequency, per family and model.

    Models: the Shapley split and the label model (held out), and the latent model's
    probability of each reported family given a report (in-sample) when it was fitted.
    """
    tr = figure_translator(t)
    c = att.calibration
    fig, axes = new_figure(1, 3, figsize=WIDE_FIGSIZE, sharey=True)
    for ax, f in zip(np.atleast_1d(axes), FAMILIES, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for model, marker, alpha in (("shapley", "o", 0.9), ("label_model", "s", 0.5),
                                     ("latent", "^", 0.9)):
            d = c[(c["model"] == model) & (c["family"] == f)] if len(c) else c
            if len(d):
                ax.plot(d["mean_predicted"], d["observed"], marker=marker, color=FAMILY_COLORS[f],
                        alpha=alpha, ls=":" if model == "latent" else "-",
                        label=tr(MODEL_KEYS[model]))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        percent_axis(ax)
        percent_axis(ax, "x")
        finish(ax, tr.category("family", f), xlabel=tr("causes.plot.predicted_probability"),
               ylabel=tr("causes.plot.reported_frequency") if f == FAMILIES[0] else None)
    fig.suptitle(tr("causes.plot.calibration_title"), fontweight="bold", x=0.01, ha="left")
    return mark_fallback(fig, tr)


def plot_truth_comparison(comparison: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Estimated portfolio shares with intervals against the true shares (synthetic book).

    ``comparison``: the output of :func:`analysis.causes.truth_comparison`.
    """
    tr = figure_translator(t)
    d = comparison.set_index("family").reindex(FAMILIES)
    fig, ax = new_figure()
    x = np.arange(len(FAMILIES))
    est = d["share"].to_numpy(dtype=float)
    ax.bar(x, est, 0.5, color=[FAMILY_COLORS[f] for f in FAMILIES], alpha=0.8,
           label=tr("causes.plot.estimate"))
    ax.errorbar(x, est, yerr=np.vstack([est - d["ci_low"], d["ci_high"] - est]), fmt="none",
                ecolor="black", capsize=4, lw=1)
    ax.scatter(x, d["true_share"].to_numpy(dtype=float), marker="D", color="black", zorder=3,
               label=tr("causes.plot.true_share"))
    ax.set_xticks(x, _families(tr))
    percent_axis(ax)
    n = comparison.loc[comparison["family"] == "all", "n_episodes"]
    finish(ax, tr("causes.plot.truth_title"), ylabel=tr("causes.plot.share_of_episodes_axis"),
           n=float(n.iloc[0]) if len(n) else None, n_unit=tr("plot.episodes"))
    return mark_fallback(fig, tr)
