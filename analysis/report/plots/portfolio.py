"""Figures of the portfolio overview and the management summary.

Each function takes a tidy table from :mod:`analysis.report.tables` /
:mod:`analysis.kpis` (already suppressed with :mod:`analysis.report.privacy`: NaN values
are drawn as gaps or labelled "suppressed") and returns a matplotlib ``Figure`` in the
report style (:mod:`analysis.report.style`): titled, axes with units, sample sizes in the title.

Every function takes ``t``, a :class:`analysis.report.i18n.catalogue.Translator` (``ctx.t`` in a notebook;
None = English): titles, axes, legends and category names come from the message
catalogue. Without a CJK font a Chinese figure falls back to English labels with a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.definitions import DPD_BUCKETS, LOAN_CATEGORIES
from analysis.report import style
from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback


def _rate_label(t: Translator, col: str) -> str:
    """``overdue_rate_balance`` -> "DPD 1+"; ``*_count`` -> "DPD 1+ (loans)"."""
    base = col.replace("_count", "_balance")
    label = t.category("metric", base)
    return label if col == base else t("plot.rate_loans_suffix", label=label)


def _seg(t: Translator, segment_type: str, code: object) -> str:
    return t.category("borrower_type", code) if segment_type == "borrower_type" else str(code)


def _empty(t: Translator, title: str) -> Figure:
    fig, ax = style.new_figure(figsize=(8, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, t("plot.no_data"), ha="center", va="center", color="#777")
    ax.set_title(title)
    return mark_fallback(fig, t)


def plot_mix(mix: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Share of active balance by borrower type, industry and region (one panel each)."""
    tr = figure_translator(t)
    types = [s for s in ("borrower_type", "industry", "region") if s in set(mix["segment_type"])]
    if not types:
        return _empty(tr, tr("plot.mix_title"))
    fig, axes = style.new_figure(1, len(types), figsize=(4.0 * len(types), 3.6), squeeze=False)
    total = mix.groupby("segment_type")["n_loans"].sum()
    for ax, st in zip(axes[0], types, strict=True):
        d = mix[mix["segment_type"] == st].sort_values("share_balance", ascending=True)
        ax.barh([_seg(tr, st, s) for s in d["segment"].astype(str)], d["share_balance"].fillna(0),
                color=style.colors_for(d["segment"].astype(str).tolist()))
        for y, v in enumerate(d["share_balance"]):
            if pd.isna(v):
                ax.annotate(tr("plot.suppressed"), (0, y), fontsize=8, color="#777", va="center")
        style.percent_axis(ax, "x")
        style.finish(ax, tr.category("segment_type", st), xlabel=tr("plot.mix_xlabel"),
                     n=total.get(st), n_unit=tr("plot.loans"))
    fig.suptitle(tr("plot.mix_title"), fontweight="bold", x=0.01, ha="left")
    return mark_fallback(fig, tr)


def plot_overdue_trend(trend: pd.DataFrame, kind: str = "balance", *,
                       t: Translator | None = None) -> Figure:
    """Overdue rates (DPD 1+, 30+, 90+) per month for the whole book."""
    tr = figure_translator(t)
    unit = tr("plot.unit_balance") if kind == "balance" else tr("plot.unit_loans")
    d = trend[trend["segment_type"] == "all"].sort_values("month")
    if d.empty:
        return _empty(tr, tr("plot.overdue_title", unit=unit))
    fig, ax = style.new_figure()
    cols = [f"overdue_rate_{kind}", f"rate_30plus_{kind}", f"rate_90plus_{kind}"]
    colors = ["#f2c14e", "#e15759", "#9c1f1f"]
    for c, col in zip(cols, colors, strict=True):
        ax.plot(d["month"], d[c], marker="o", ms=3, color=col, label=_rate_label(tr, c))
    style.percent_axis(ax, decimals=1)
    style.month_axis(ax)
    last = d["n_loans"].dropna()
    style.finish(ax, tr("plot.overdue_title", unit=unit), xlabel=tr("plot.month_end"),
                 ylabel=tr("plot.overdue_ylabel", unit=unit),
                 n=last.iloc[-1] if len(last) else None,
                 n_unit=tr("plot.n_active_last"), legend=True)
    return mark_fallback(fig, tr)


def plot_overdue_by_segment(trend: pd.DataFrame, segment_type: str = "borrower_type",
                            rate: str = "overdue_rate_balance", *,
                            t: Translator | None = None) -> Figure:
    """One line per segment of ``rate`` over months."""
    tr = figure_translator(t)
    title = tr("plot.segment_rate_title", rate=_rate_label(tr, rate),
               segment_type=tr.category("segment_type", segment_type))
    d = trend[trend["segment_type"] == segment_type].sort_values("month")
    if d.empty:
        return _empty(tr, title)
    fig, ax = style.new_figure()
    segs = list(d["segment"].astype(str).unique())
    for seg, col in zip(segs, style.colors_for(segs), strict=True):
        g = d[d["segment"].astype(str) == seg]
        ax.plot(g["month"], g[rate], marker="o", ms=3, color=col, label=_seg(tr, segment_type, seg))
    style.percent_axis(ax, decimals=1)
    style.month_axis(ax)
    last = d[d["month"] == d["month"].max()]["n_loans"].sum()
    style.finish(ax, title, xlabel=tr("plot.month_end"), ylabel=tr("plot.mix_xlabel"), n=last,
                 n_unit=tr("plot.n_active_last"), legend=True)
    return mark_fallback(fig, tr)


def plot_roll_heatmap(roll: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """From-bucket x to-bucket shares (rows sum to 100 %); suppressed rows greyed."""
    import seaborn as sns

    tr = figure_translator(t)
    if roll.empty:
        return _empty(tr, tr("heading.roll_rates"))
    m = roll.pivot_table(index="from_bucket", columns="to_bucket", values="share",
                         aggfunc="first", observed=False, dropna=False)
    order_from = [b for b in DPD_BUCKETS if b in m.index]
    order_to = [b for b in (*DPD_BUCKETS, "closed") if b in m.columns]
    m = m.loc[order_from, order_to].astype(float)
    m.columns = [tr.category("dpd_bucket", b) for b in order_to]
    n_from = roll.groupby("from_bucket", observed=True)["n_from"].first().reindex(order_from)
    fig, ax = style.new_figure(figsize=(8.5, 4.6))
    sns.heatmap(m, ax=ax, annot=True, fmt=".0%", cmap="Reds", vmin=0, vmax=1, cbar=False,
                linewidths=0.5, linecolor="white", annot_kws={"fontsize": 8})
    ax.set_yticks(np.arange(len(order_from)) + 0.5,
                  [f"{tr.category('dpd_bucket', b)}  (n={'<min' if pd.isna(n) else f'{int(n):,}'})"
                   for b, n in zip(order_from, n_from, strict=True)], rotation=0)
    for i in range(len(order_from)):
        if m.iloc[i].isna().all():
            ax.text(len(order_to) / 2, i + 0.5, tr("plot.suppressed"), ha="center", va="center",
                    color="#777", fontsize=8)
    weight = str(roll["weight"].iloc[0]) if "weight" in roll.columns else "count"
    period = ""
    if "period_start" in roll.columns:
        period = tr("plot.roll_period", start=tr.month(roll["period_start"].iloc[0]),
                    end=tr.month(roll["period_end"].iloc[0]))
    weight = tr("plot.unit_balance") if weight == "balance" else tr("plot.unit_loans")
    style.finish(ax, tr("plot.roll_title", weight=weight, period=period),
                 xlabel=tr("plot.roll_xlabel"), ylabel=tr("plot.roll_ylabel"),
                 n=n_from.sum(), n_unit=tr("plot.loan_months"))
    return mark_fallback(fig, tr)


def plot_vintages(vc: pd.DataFrame, max_cohorts: int = 8, *,
                  t: Translator | None = None) -> Figure:
    """Cumulative share ever 30+ DPD by months on book, one line per origination cohort."""
    tr = figure_translator(t)
    d = vc[vc["segment_type"] == "all"] if "segment_type" in vc.columns else vc
    if d.empty:
        return _empty(tr, tr("heading.vintage_curves"))
    cohorts = sorted(d["cohort"].astype(str).unique())[-max_cohorts:]
    fig, ax = style.new_figure()
    colors = [style.PALETTE[i % len(style.PALETTE)] for i in range(len(cohorts))]
    for c, col in zip(cohorts, colors, strict=True):
        g = d[d["cohort"].astype(str) == c].sort_values("months_on_book")
        ax.plot(g["months_on_book"], g["share_ever"], color=col, label=c, lw=1.5)
    # Suppression may blank the threshold of small cohorts: read it from any row that has it.
    known = d["dpd_threshold"].dropna() if "dpd_threshold" in d.columns else pd.Series([30])
    thr = int(known.iloc[0]) if len(known) else 30
    style.percent_axis(ax, decimals=1)
    n = d[d["cohort"].astype(str).isin(cohorts)].groupby("cohort")["n_loans"].max().sum()
    style.finish(ax, tr("plot.vintage_title", threshold=thr),
                 xlabel=tr("plot.vintage_xlabel"), ylabel=tr("plot.vintage_ylabel", threshold=thr),
                 n=n, n_unit=tr("plot.vintage_n", count=len(cohorts)), legend=True)
    if len(cohorts) > 5:
        ax.legend(ncol=2, fontsize=8, title=tr("plot.vintage_legend"))
    return mark_fallback(fig, tr)


def plot_outcomes(outcomes: pd.DataFrame, segment_type: str = "borrower_type",
                  metrics_shown: tuple[str, ...] = ("cure_rate", "default_rate", "loss_rate"),
                  *, t: Translator | None = None) -> Figure:
    """Outcome rates with 95 % intervals by segment, one panel per metric."""
    tr = figure_translator(t)
    title = tr("plot.outcomes_title", segment_type=tr.category("segment_type", segment_type))
    d = outcomes[outcomes["segment_type"].isin([segment_type, "all"])]
    if d.empty:
        return _empty(tr, title)
    fig, axes = style.new_figure(1, len(metrics_shown), figsize=(4.0 * len(metrics_shown), 3.8),
                                 squeeze=False)
    for ax, metric in zip(axes[0], metrics_shown, strict=True):
        g = d[d["metric"] == metric].copy()
        g["label"] = np.where(g["segment_type"] == "all", tr("plot.all_episodes"),
                              [_seg(tr, segment_type, s) for s in g["segment"].astype(str)])
        style.ci_bars(ax, g, label="label", estimate="value", lower="ci_low", upper="ci_high")
        style.percent_axis(ax, "x")
        n_all = g.loc[g["segment_type"] == "all", "n"]
        style.finish(ax, tr.category("metric", metric), xlabel=tr("plot.outcomes_xlabel"),
                     n=n_all.iloc[0] if len(n_all) and pd.notna(n_all.iloc[0]) else None,
                     n_unit=tr("plot.episodes"))
    fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    return mark_fallback(fig, tr)


def plot_categories(cls: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Five-category balance shares per month (stacked bars)."""
    tr = figure_translator(t)
    d = cls[cls["segment_type"] == "all"] if "segment_type" in cls.columns else cls
    if d.empty:
        return _empty(tr, tr("plot.categories_title"))
    wide = d.pivot_table(index="month", columns="category", values="share_balance",
                         aggfunc="first", observed=False).reindex(columns=list(LOAN_CATEGORIES))
    fig, ax = style.new_figure()
    bottom = np.zeros(len(wide))
    x = np.arange(len(wide))
    for cat, col in zip(wide.columns, style.colors_for(list(wide.columns)), strict=True):
        v = wide[cat].fillna(0).to_numpy()
        ax.bar(x, v, bottom=bottom, color=col, label=tr.category("loan_category", cat), width=0.8)
        bottom += v
    ax.set_xticks(x, [tr.month(m) for m in wide.index], rotation=45, ha="right")
    style.percent_axis(ax)
    n_last = d[d["month"] == d["month"].max()]["n_loans"].sum()
    style.finish(ax, tr("plot.categories_title"),
                 xlabel=tr("plot.month_end"), ylabel=tr("plot.categories_ylabel"), n=n_last,
                 n_unit=tr("plot.n_loans_last"), legend=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return mark_fallback(fig, tr)
