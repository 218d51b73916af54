"""Plots of the scenarios page (notebook 05): the fan chart, relief by policy, the backtest.

Functions take the tidy tables of :mod:`analysis.scenarios` results (never load data) and
return a matplotlib Figure in the report style; every label comes from the catalogue
through ``t`` (None = English). :func:`summary_block` is the management summary's one line
and one figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.definitions import FAMILIES
from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback
from analysis.report.style import FAMILY_COLORS, finish, new_figure, thousands_axis
from analysis.report.text.scenarios import policy_name, relief_frame
from analysis.scenarios import ForecastResult


def _monthly(table: pd.DataFrame, family: str) -> pd.DataFrame:
    return table[(table["family"] == family) & (table["month"] != "")]


def plot_fan(base: pd.DataFrame, shock: pd.DataFrame | None = None, *, shock_name: str = "",
             t: Translator | None = None) -> Figure:
    """New overdue episodes by month, one panel per family: baseline (grey band) and the
    shock (coloured band), each the mean with its interval (``ForecastResult.table``)."""
    tr = figure_translator(t)
    fig, axes = new_figure(1, 3, figsize=(11.0, 3.6), sharey=False)
    for ax, f in zip(np.atleast_1d(axes), FAMILIES, strict=True):
        for tab, color, label in ((base, "#888888", tr("scenarios.plot.baseline")),
                                  (shock, FAMILY_COLORS.get(f, "#c23b3b"), shock_name)):
            if tab is None:
                continue
            d = _monthly(tab, f)
            x = np.arange(len(d))
            ax.fill_between(x, d["ci_low"], d["ci_high"], color=color, alpha=0.25, lw=0)
            ax.plot(x, d["new_episodes"], color=color, marker="o", ms=3, label=label)
            ax.set_xticks(x, list(d["month"]), rotation=45, fontsize=8)
        thousands_axis(ax, "y")
        finish(ax, tr.category("family", f), ylabel=tr("scenarios.plot.episodes"),
               legend=shock is not None)
    fig.suptitle(tr("scenarios.plot.fan_title"))
    return mark_fallback(fig, tr)


def plot_relief(res: ForecastResult, *, t: Translator | None = None) -> Figure:
    """Relief cost and losses over the horizon per policy (CNY), from ``res.relief``."""
    tr = figure_translator(t)
    frame = relief_frame(res, tr)
    fig, ax = new_figure(figsize=(8.0, 3.6))
    x = np.arange(len(frame))
    cost = frame[tr("scenarios.quantity.relief_cost_cny")].to_numpy(float)
    loss = frame[tr("scenarios.quantity.loss_cny")].to_numpy(float)
    ax.bar(x - 0.2, cost, width=0.4, color="#3aa6b9", label=tr("scenarios.quantity.relief_cost_cny"))
    ax.bar(x + 0.2, loss, width=0.4, color="#c23b3b", label=tr("scenarios.quantity.loss_cny"))
    ax.set_xticks(x, list(frame.iloc[:, 0]))
    thousands_axis(ax, "y")
    finish(ax, tr("scenarios.plot.relief_title"), ylabel=tr("scenarios.plot.cny"),
           note=tr("scenarios.plot.relief_note", policy=policy_name(res.policy, tr)))
    return mark_fallback(fig, tr)


def plot_backtest(table: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Backtest: predicted new episodes (interval) against actual, per family and month
    (``BacktestResult.table``)."""
    tr = figure_translator(t)
    fig, axes = new_figure(1, 3, figsize=(11.0, 3.4))
    for ax, f in zip(np.atleast_1d(axes), FAMILIES, strict=True):
        d = _monthly(table, f)
        x = np.arange(len(d))
        ax.fill_between(x, d["ci_low"], d["ci_high"], color="#888888", alpha=0.3, lw=0)
        ax.plot(x, d["predicted"], color="#555555", marker="o", ms=3,
                label=tr("scenarios.plot.predicted"))
        ax.plot(x, d["actual"], color=FAMILY_COLORS.get(f, "#c23b3b"), marker="s", ms=4, lw=0,
                label=tr("scenarios.plot.actual"))
        ax.set_xticks(x, list(d["month"]), rotation=45, fontsize=8)
        finish(ax, tr.category("family", f), ylabel=tr("scenarios.plot.episodes"))
    fig.suptitle(tr("scenarios.plot.backtest_title"))
    return mark_fallback(fig, tr)


__all__ = ["plot_backtest", "plot_fan", "plot_relief"]
