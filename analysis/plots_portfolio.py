"""Figures of the portfolio overview and the management summary.

Each function takes a tidy table from :mod:`analysis.report_tables` /
:mod:`analysis.metrics` (already suppressed with :mod:`analysis.privacy`: NaN values
are drawn as gaps or labelled "suppressed") and returns a matplotlib ``Figure`` in the
report style (:mod:`analysis.style`): titled, axes with units, sample sizes in the title.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import style
from analysis.definitions import DPD_BUCKETS, LOAN_CATEGORIES

_RATE_LABELS = {
    "overdue_rate_balance": "DPD 1+",
    "rate_30plus_balance": "DPD 30+",
    "rate_90plus_balance": "DPD 90+",
    "overdue_rate_count": "DPD 1+ (loans)",
    "rate_30plus_count": "DPD 30+ (loans)",
    "rate_90plus_count": "DPD 90+ (loans)",
}
_OUTCOME_TITLES = {"cure_rate": "Cure rate", "default_rate": "Default rate",
                   "loss_rate": "Loss rate", "redefault_rate": "Re-default rate"}


def _empty(title: str, message: str) -> Figure:
    fig, ax = style.new_figure(figsize=(8, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#777")
    ax.set_title(title)
    return fig


def plot_mix(mix: pd.DataFrame) -> Figure:
    """Share of active balance by borrower type, industry and region (one panel each)."""
    types = [t for t in ("borrower_type", "industry", "region") if t in set(mix["segment_type"])]
    if not types:
        return _empty("Portfolio mix", "no segments")
    fig, axes = style.new_figure(1, len(types), figsize=(4.0 * len(types), 3.6), squeeze=False)
    total = mix.groupby("segment_type")["n_loans"].sum()
    for ax, t in zip(axes[0], types, strict=True):
        d = mix[mix["segment_type"] == t].sort_values("share_balance", ascending=True)
        ax.barh(d["segment"].astype(str), d["share_balance"].fillna(0),
                color=style.colors_for(d["segment"].astype(str).tolist()))
        for y, v in enumerate(d["share_balance"]):
            if pd.isna(v):
                ax.annotate("suppressed", (0, y), fontsize=8, color="#777", va="center")
        style.percent_axis(ax, "x")
        style.finish(ax, t.replace("_", " "), xlabel="share of active balance",
                     n=total.get(t))
    fig.suptitle("Portfolio mix at the reporting month", fontweight="bold", x=0.01, ha="left")
    return fig


def plot_overdue_trend(trend: pd.DataFrame, kind: str = "balance") -> Figure:
    """Overdue rates (DPD 1+, 30+, 90+) per month for the whole book."""
    d = trend[trend["segment_type"] == "all"].sort_values("month")
    if d.empty:
        return _empty("Overdue rates", "no months")
    fig, ax = style.new_figure()
    cols = [f"overdue_rate_{kind}", f"rate_30plus_{kind}", f"rate_90plus_{kind}"]
    colors = ["#f2c14e", "#e15759", "#9c1f1f"]
    for c, col in zip(cols, colors, strict=True):
        ax.plot(d["month"], d[c], marker="o", ms=3, color=col, label=_RATE_LABELS[c])
    style.percent_axis(ax, decimals=1)
    style.month_axis(ax)
    unit = "balance" if kind == "balance" else "loans"
    last = d["n_loans"].dropna()
    style.finish(ax, f"Overdue rates by month (share of active {unit})", xlabel="month-end",
                 ylabel=f"share of active {unit}", n=last.iloc[-1] if len(last) else None,
                 n_unit="active loans in the last month", legend=True)
    return fig


def plot_overdue_by_segment(trend: pd.DataFrame, segment_type: str = "borrower_type",
                            rate: str = "overdue_rate_balance") -> Figure:
    """One line per segment of ``rate`` over months."""
    d = trend[trend["segment_type"] == segment_type].sort_values("month")
    if d.empty:
        return _empty("Overdue rate by segment", f"no {segment_type} segments")
    fig, ax = style.new_figure()
    segs = list(d["segment"].astype(str).unique())
    for seg, col in zip(segs, style.colors_for(segs), strict=True):
        g = d[d["segment"].astype(str) == seg]
        ax.plot(g["month"], g[rate], marker="o", ms=3, color=col, label=seg)
    style.percent_axis(ax, decimals=1)
    style.month_axis(ax)
    last = d[d["month"] == d["month"].max()]["n_loans"].sum()
    style.finish(ax, f"{_RATE_LABELS.get(rate, rate)} rate by {segment_type.replace('_', ' ')}",
                 xlabel="month-end", ylabel="share of active balance", n=last,
                 n_unit="active loans in the last month", legend=True)
    return fig


def plot_roll_heatmap(roll: pd.DataFrame) -> Figure:
    """From-bucket x to-bucket shares (rows sum to 100 %); suppressed rows greyed."""
    import seaborn as sns

    if roll.empty:
        return _empty("Roll rates", "no transitions")
    m = roll.pivot_table(index="from_bucket", columns="to_bucket", values="share",
                         aggfunc="first", observed=False, dropna=False)
    order_from = [b for b in DPD_BUCKETS if b in m.index]
    order_to = [b for b in (*DPD_BUCKETS, "closed") if b in m.columns]
    m = m.loc[order_from, order_to].astype(float)
    n_from = roll.groupby("from_bucket", observed=True)["n_from"].first().reindex(order_from)
    fig, ax = style.new_figure(figsize=(8.5, 4.6))
    sns.heatmap(m, ax=ax, annot=True, fmt=".0%", cmap="Reds", vmin=0, vmax=1, cbar=False,
                linewidths=0.5, linecolor="white", annot_kws={"fontsize": 8})
    ax.set_yticks(np.arange(len(order_from)) + 0.5,
                  [f"{b}  (n={'<min' if pd.isna(n) else f'{int(n):,}'})"
                   for b, n in zip(order_from, n_from, strict=True)], rotation=0)
    for i, b in enumerate(order_from):
        if m.loc[b].isna().all():
            ax.text(len(order_to) / 2, i + 0.5, "suppressed", ha="center", va="center",
                    color="#777", fontsize=8)
    weight = str(roll["weight"].iloc[0]) if "weight" in roll.columns else "count"
    period = ""
    if "period_start" in roll.columns:
        period = (f", {pd.Timestamp(roll['period_start'].iloc[0]):%Y-%m} to "
                  f"{pd.Timestamp(roll['period_end'].iloc[0]):%Y-%m}")
    style.finish(ax, f"Roll rates, month to month (weighted by {weight}{period})",
                 xlabel="DPD bucket next month", ylabel="DPD bucket this month (n loan-months)",
                 n=n_from.sum(), n_unit="loan-months")
    return fig


def plot_vintages(vc: pd.DataFrame, max_cohorts: int = 8) -> Figure:
    """Cumulative share ever 30+ DPD by months on book, one line per origination cohort."""
    d = vc[vc["segment_type"] == "all"] if "segment_type" in vc.columns else vc
    if d.empty:
        return _empty("Vintage curves", "no cohorts")
    cohorts = sorted(d["cohort"].astype(str).unique())[-max_cohorts:]
    fig, ax = style.new_figure()
    colors = [style.PALETTE[i % len(style.PALETTE)] for i in range(len(cohorts))]
    for c, col in zip(cohorts, colors, strict=True):
        g = d[d["cohort"].astype(str) == c].sort_values("months_on_book")
        ax.plot(g["months_on_book"], g["share_ever"], color=col, label=c, lw=1.5)
    thr = int(d["dpd_threshold"].iloc[0]) if "dpd_threshold" in d.columns else 30
    style.percent_axis(ax, decimals=1)
    n = d[d["cohort"].astype(str).isin(cohorts)].groupby("cohort")["n_loans"].max().sum()
    style.finish(ax, f"Vintage curves: share of loans ever {thr}+ DPD",
                 xlabel="months on book", ylabel=f"cumulative share ever {thr}+ DPD",
                 n=n, n_unit=f"loans in the {len(cohorts)} latest cohorts", legend=True)
    if len(cohorts) > 5:
        ax.legend(ncol=2, fontsize=8, title="origination quarter")
    return fig


def plot_outcomes(outcomes: pd.DataFrame, segment_type: str = "borrower_type",
                  metrics_shown: tuple[str, ...] = ("cure_rate", "default_rate", "loss_rate"),
                  ) -> Figure:
    """Outcome rates with 95 % intervals by segment, one panel per metric."""
    d = outcomes[outcomes["segment_type"].isin([segment_type, "all"])]
    if d.empty:
        return _empty("Episode outcomes", "no episodes")
    fig, axes = style.new_figure(1, len(metrics_shown), figsize=(4.0 * len(metrics_shown), 3.8),
                                 squeeze=False)
    for ax, metric in zip(axes[0], metrics_shown, strict=True):
        g = d[d["metric"] == metric].copy()
        g["label"] = np.where(g["segment_type"] == "all", "all episodes", g["segment"].astype(str))
        style.ci_bars(ax, g, label="label", estimate="value", lower="ci_low", upper="ci_high")
        style.percent_axis(ax, "x")
        n_all = g.loc[g["segment_type"] == "all", "n"]
        style.finish(ax, _OUTCOME_TITLES.get(metric, metric), xlabel="rate (95 % CI)",
                     n=n_all.iloc[0] if len(n_all) and pd.notna(n_all.iloc[0]) else None,
                     n_unit="episodes")
    fig.suptitle(f"Outcomes of overdue episodes by {segment_type.replace('_', ' ')}",
                 fontweight="bold", x=0.01, ha="left")
    return fig


def plot_categories(cls: pd.DataFrame) -> Figure:
    """Five-category balance shares per month (stacked bars)."""
    d = cls[cls["segment_type"] == "all"] if "segment_type" in cls.columns else cls
    if d.empty:
        return _empty("Loan classification", "no months")
    wide = d.pivot_table(index="month", columns="category", values="share_balance",
                         aggfunc="first", observed=False).reindex(columns=list(LOAN_CATEGORIES))
    fig, ax = style.new_figure()
    bottom = np.zeros(len(wide))
    x = np.arange(len(wide))
    for cat, col in zip(wide.columns, style.colors_for(list(wide.columns)), strict=True):
        v = wide[cat].fillna(0).to_numpy()
        ax.bar(x, v, bottom=bottom, color=col, label=cat.replace("_", " "), width=0.8)
        bottom += v
    ax.set_xticks(x, [f"{pd.Timestamp(m):%Y-%m}" for m in wide.index], rotation=45, ha="right")
    style.percent_axis(ax)
    n_last = d[d["month"] == d["month"].max()]["n_loans"].sum()
    style.finish(ax, "Five-category classification (DPD backstop), share of balance",
                 xlabel="month-end", ylabel="share of balance", n=n_last,
                 n_unit="loans in the last month", legend=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
