"""Figures of the management brief: the rates over the published months, the effects of
relief by cause family, and how the effect estimates moved from month to month.

Each function takes a tidy table of :mod:`analysis.report.brief` (already suppressed:
NaN values are drawn as gaps) and returns a matplotlib ``Figure`` in the report style,
labelled from the catalogue in the language of ``t`` (None = English).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.report import style
from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback

TREND_COLORS = {"overdue_rate_balance": "#e15759", "cure_rate": "#59a14f", "loss_rate": "#4e79a7"}
_FAMILY_ORDER = ("all", "economic", "management", "personal")


def _empty(t: Translator, title: str, figsize: tuple[float, float] = (8, 2)) -> Figure:
    fig, ax = style.new_figure(figsize=figsize)
    ax.axis("off")
    ax.text(0.5, 0.5, t("plot.no_data"), ha="center", va="center", color="#777")
    ax.set_title(title)
    return mark_fallback(fig, t)


def plot_rate_trend(trend: pd.DataFrame, republished: pd.DataFrame | None = None, *,
                    t: Translator | None = None, figsize: tuple[float, float] = (5.6, 3.2)
                    ) -> Figure:
    """Overdue (share of balance), cure and loss rates per published month
    (:func:`analysis.report.brief.metric_trend`); months re-published with changed
    figures are marked. A single month is drawn as points. ``figsize`` in inches: small
    by default, to sit beside the KPI table on the first screen."""
    tr = figure_translator(t)
    title = tr("brief.plot.trend_title")
    if trend.empty or trend["value"].notna().sum() == 0:
        return _empty(tr, title)
    months = sorted(trend["as_of"].unique())
    x = {m: i for i, m in enumerate(months)}
    fig, ax = style.new_figure(figsize=figsize)
    for metric, color in TREND_COLORS.items():
        d = trend[trend["metric"] == metric].sort_values("as_of")
        if d.empty:
            continue
        label = (tr("brief.plot.overdue") if metric == "overdue_rate_balance"
                 else tr.category("metric", metric))
        ax.plot(d["as_of"].map(x), d["value"], marker="o", ms=5, color=color, label=label)
        last = d.dropna(subset=["value"]).tail(1)
        for _, r in last.iterrows():
            ax.annotate(tr.pct(r["value"]), (x[r["as_of"]], r["value"]), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=8, color=color)
    for m in (republished["as_of"] if republished is not None and len(republished) else []):
        if m in x:
            ax.axvline(x[m], color="#999", ls=":", lw=1)
            ax.annotate(tr("brief.plot.republished"), (x[m], 1), xycoords=("data", "axes fraction"),
                        xytext=(3, -10), textcoords="offset points", fontsize=7, color="#777")
    ax.set_xticks(range(len(months)), [tr.month(pd.Timestamp(m + "-01")) for m in months])
    ax.set_xlim(-0.5, len(months) - 0.5 + (0.4 if len(months) > 1 else 0.6))
    ax.set_ylim(bottom=0)
    style.percent_axis(ax, decimals=0)
    style.finish(ax, title, ylabel=tr("brief.plot.trend_ylabel"), legend=False)
    ax.legend(loc="upper left", fontsize=8, ncols=3, frameon=False, bbox_to_anchor=(0, -0.1))
    return mark_fallback(fig, tr)


def plot_effects_grid(estimates: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Each measure's average effect on the cure rate and on the loss rate (percentage
    points against no relief, 95 % intervals), for the whole book and each cause family:
    one row per measure, one marker per family. ``estimates``:
    :func:`analysis.report.history.headline_estimates` of this month (suppressed cells
    are left out)."""
    tr = figure_translator(t)
    title = tr("brief.plot.effects_title")
    e = estimates.dropna(subset=["estimate", "ci_low", "ci_high"])
    if e.empty:
        return _empty(tr, title)
    measures = sorted(e["measure"].unique())
    families = [f for f in _FAMILY_ORDER if f in set(e["segment"])]
    fig, axes = style.new_figure(1, 2, figsize=(9.0, 0.55 * len(measures) + 1.8), sharey=True)
    offsets = np.linspace(-0.27, 0.27, max(len(families), 1))
    colors = style.colors_for(families)
    for ax, outcome, label in zip(axes, ("cure", "loss_rate"),
                                  ("brief.plot.effects_cure", "brief.plot.effects_loss"),
                                  strict=True):
        d = e[e["outcome"] == outcome]
        for off, fam, color in zip(offsets, families, colors, strict=True):
            f = d[d["segment"] == fam]
            y = np.array([measures.index(m) for m in f["measure"]], float) + off
            est = 100 * f["estimate"].to_numpy(float)
            err = np.clip(np.vstack([est - 100 * f["ci_low"].to_numpy(float),
                                     100 * f["ci_high"].to_numpy(float) - est]), 0, None)
            name = tr("brief.plot.whole_book") if fam == "all" else tr.category("family", fam)
            ax.errorbar(est, y, xerr=err, fmt="o", ms=4, color=color, ecolor=color, lw=1.2,
                        capsize=2, label=name)
        ax.axvline(0, color="#333", lw=0.8)
        ax.set_title(tr(label), fontsize=10)
        ax.set_yticks(range(len(measures)), [tr.category("measure", m) for m in measures])
        ax.set_ylim(len(measures) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(families), fontsize=8,
               frameon=False)
    fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    return mark_fallback(fig, tr)


def plot_estimate_history(trend: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """The whole-book effect of each measure on the cure rate, by published month, with
    95 % intervals (:func:`analysis.report.brief.estimate_trend`)."""
    tr = figure_translator(t)
    title = tr("brief.plot.estimates_title")
    d = trend[(trend["outcome"] == "cure") & (trend["segment_type"] == "all")]
    if d.empty or d["estimate"].notna().sum() == 0:
        return _empty(tr, title)
    months = sorted(d["as_of"].unique())
    x = {m: i for i, m in enumerate(months)}
    measures = sorted(d["measure"].unique())
    fig, ax = style.new_figure(figsize=(7.5, 3.0))
    offsets = np.linspace(-0.15, 0.15, len(measures))
    for off, m, color in zip(offsets, measures, style.colors_for(measures), strict=True):
        f = d[d["measure"] == m].sort_values("as_of")
        xs = f["as_of"].map(x).to_numpy(float) + off
        est = 100 * f["estimate"].to_numpy(float)
        err = np.clip(np.vstack([est - 100 * f["ci_low"].to_numpy(float),
                                 100 * f["ci_high"].to_numpy(float) - est]), 0, None)
        ax.errorbar(xs, est, yerr=err, fmt="-o", ms=4, color=color, lw=1.2, capsize=2,
                    label=tr.category("measure", m))
    ax.axhline(0, color="#333", lw=0.8)
    ax.set_xticks(range(len(months)), [tr.month(pd.Timestamp(m + "-01")) for m in months])
    ax.set_xlim(-0.5, len(months) - 0.5)
    style.finish(ax, title, ylabel=tr("brief.plot.estimates_ylabel"), legend=False)
    ax.legend(loc="upper left", fontsize=8, ncols=min(len(measures), 4), frameon=False,
              bbox_to_anchor=(0, -0.12))
    return mark_fallback(fig, tr)


__all__ = ["TREND_COLORS", "plot_effects_grid", "plot_estimate_history", "plot_rate_trend"]
