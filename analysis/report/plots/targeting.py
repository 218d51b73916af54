"""Plots of the targeting report (notebook 04): policy values, the rule grid, the budget curve.

Functions take the tidy tables of :class:`analysis.targeting.policies.PolicyResult` (never load
data) and return a matplotlib Figure in the report style (:mod:`analysis.report.style`).

Every function takes ``t``, a :class:`analysis.report.i18n.catalogue.Translator` (``ctx.t`` in a notebook;
None = English): titles, axes, legends, policy, measure, cause and borrower-type names
come from the message catalogue (:mod:`analysis.report.text.targeting` for the policy names).
Without a CJK font a Chinese figure falls back to English labels with a visible note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback
from analysis.report.style import MEASURE_COLORS, finish, new_figure, percent_axis, thousands_axis
from analysis.report.text.targeting import level_name, measure_name, policy_name

_POLICY_COLORS = {"current_practice": "#555555", "no_relief": MEASURE_COLORS["none"],
                  "learned": "#c23b3b", "learned_budget": "#e07b7b"}


def _policy_color(name: str) -> str:
    if name in _POLICY_COLORS:
        return _POLICY_COLORS[name]
    return MEASURE_COLORS.get(name.removeprefix("all_"), "#3aa6b9")


def plot_policy_values(table: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """Value of each policy (net benefit vs no relief, CNY per episode) with 95 % intervals."""
    tr = figure_translator(t)
    d = table.reset_index(drop=True)
    fig, ax = new_figure(figsize=(8.0, 0.45 * len(d) + 1.6))
    pos = np.arange(len(d))
    est = d["value_net_benefit"].to_numpy(float)
    err = np.vstack([est - d["ci_low"].to_numpy(float), d["ci_high"].to_numpy(float) - est])
    ax.barh(pos, est, color=[_policy_color(p) for p in d["policy"]], alpha=0.85)
    ax.errorbar(est, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(pos, [policy_name(str(p), tr) for p in d["policy"]])
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    thousands_axis(ax, "x")
    n = int(d["n_episodes"].max()) if len(d) else None
    finish(ax, tr("targeting_plot.policy_title"), xlabel=tr("targeting_plot.policy_xlabel"),
           n=n, n_unit=tr("plot.episodes"), note=tr("targeting_plot.policy_note"))
    return mark_fallback(fig, tr)


def plot_rule_grid(cells: pd.DataFrame, *, t: Translator | None = None) -> Figure:
    """The learned rule as a cause x borrower-type grid: the measure most episodes of each
    cell get, and the share of the cell that gets it (``PolicyResult.rule_cells()``)."""
    tr = figure_translator(t)
    causes = sorted(cells["cause"].unique())
    types = sorted(cells["borrower_type"].unique())
    fig, ax = new_figure(figsize=(2.2 * len(types) + 2.5, 0.9 * len(causes) + 1.8))
    lookup = cells.set_index(["cause", "borrower_type"])
    for i, c in enumerate(causes):
        for j, b in enumerate(types):
            if (c, b) not in lookup.index:
                continue
            r = lookup.loc[(c, b)]
            ax.add_patch(_rect(j, i, MEASURE_COLORS.get(str(r["measure"]), "#3aa6b9")))
            share = (tr("targeting_plot.grid_share", share=f"{r['share']:.0%}")
                     if r["share"] < 0.995 else tr("targeting_plot.grid_whole"))
            label = f"{measure_name(r['measure'], tr)}\n{share}\nn = {int(r['n_episodes']):,}"
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=9,
                    color="white", fontweight="bold")
    ax.set_xlim(0, len(types))
    ax.set_ylim(len(causes), 0)
    ax.set_xticks(np.arange(len(types)) + 0.5, [level_name("borrower_type", b, tr) for b in types])
    ax.set_yticks(np.arange(len(causes)) + 0.5, [level_name("cause", c, tr) for c in causes])
    ax.grid(False)
    n = int(cells["n_episodes"].sum()) if len(cells) else None
    finish(ax, tr("targeting_plot.grid_title"),
           xlabel=tr.category("segment_type", "borrower_type"),
           ylabel=tr("feature.primary_family"), n=n, n_unit=tr("plot.episodes"))
    return mark_fallback(fig, tr)


def _rect(x: float, y: float, color: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x + 0.03, y + 0.03), 0.94, 0.94, color=color, alpha=0.9)


def plot_budget_curve(curve: pd.DataFrame, learned_value: float | None = None, *,
                      t: Translator | None = None) -> Figure:
    """Value (CNY per episode, 95 % band) against the budget (share of EAD or of episodes)."""
    tr = figure_translator(t)
    d = curve.sort_values("budget_share")
    fig, ax = new_figure()
    x = d["budget_share"].to_numpy(float)
    ax.plot(x, d["value_net_benefit"], marker="o", color="#c23b3b",
            label=policy_name("learned_budget", tr))
    ax.fill_between(x, d["ci_low"], d["ci_high"], color="#c23b3b", alpha=0.15,
                    label=tr("targeting_plot.interval"))
    if learned_value is not None:
        ax.axhline(learned_value, color="#555555", ls="--", lw=1,
                   label=tr("targeting_plot.no_budget"))
    kind = str(d["budget_kind"].iloc[0]) if len(d) else "ead"
    percent_axis(ax, "x", decimals=2 if kind == "ead" else 0)
    thousands_axis(ax, "y")
    xl = tr("targeting_plot.budget_xlabel_ead" if kind == "ead"
            else "targeting_plot.budget_xlabel_treated")
    n = int(d["n_episodes"].max()) if len(d) else None
    finish(ax, tr("targeting_plot.budget_title"), xlabel=xl,
           ylabel=tr("targeting_plot.budget_ylabel"), n=n, n_unit=tr("plot.episodes"))
    return mark_fallback(fig, tr)
