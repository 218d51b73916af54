"""Figures of the relief effects (notebook 03). They take result tables, never load data.

Every figure goes through :mod:`analysis.report.style` (fixed measure colours, titles with the
number of episodes, percent axes). Rows without an estimate (too few episodes) are
labelled "no estimate" instead of being dropped.

Every function takes ``t``, a :class:`analysis.report.i18n.catalogue.Translator` (``ctx.t`` in a notebook;
None = English): titles, axes, legends, measure, cause-family and borrower-type names come
from the message catalogue. Without a CJK font a Chinese figure falls back to English
labels with a visible note. Covariate names (balance plot) are shown as coded.
The plain-language findings are :func:`analysis.report.text.effects.conclusions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.effects import ATE_OVERLAP
from analysis.report.i18n.catalogue import Translator, figure_translator, mark_fallback
from analysis.report.style import (
    MEASURE_COLORS,
    OUTCOME_COLORS,
    WIDE_FIGSIZE,
    colors_for,
    finish,
    new_figure,
    percent_axis,
    thousands_axis,
)
from analysis.report.text.effects import METHOD_KEYS, STATUS_KEYS, outcome_name, segment_name

__all__ = ["balance_plot", "cure_curves", "forest_plot", "net_benefit_plot", "overlap_plot"]

_GREY = "#8c8c8c"


def _row_labels(tr: Translator, d: pd.DataFrame, segment_type: str) -> list[str]:
    """Measure names, or "segment | measure" within segments."""
    names = [tr.category("measure", m) for m in d["measure"]]
    if segment_type == "all":
        return names
    return [f"{segment_name(tr, segment_type, s)} | {m}"
            for s, m in zip(d["segment"], names, strict=True)]


def forest_plot(table: pd.DataFrame, outcome: str = "cure", estimand: str = "ATE",
                method: str = "aipw", segment_type: str = "all", show_naive: bool = True,
                truth: pd.DataFrame | None = None, *, t: Translator | None = None) -> Figure:
    """Effects of each measure vs none (percentage points) with intervals, one row per
    measure x segment; the naive difference as a hollow marker beside the adjusted one;
    the true effect (synthetic books) as a black cross when ``truth`` is given."""
    tr = figure_translator(t)
    # the ATE of a measure without overlap is the overlap population's (labelled so)
    estimands = [estimand, ATE_OVERLAP] if estimand == "ATE" else [estimand]
    d = table[(table["outcome"] == outcome) & table["estimand"].isin(estimands)
              & (table["segment_type"] == segment_type)]
    main = d[d["method"] == method].reset_index(drop=True)
    overlap = (main["estimand"] == ATE_OVERLAP).to_numpy()
    n_rows = max(len(main), 1)
    fig, ax = new_figure(figsize=(8.0, 1.2 + 0.38 * n_rows))
    pos = np.arange(len(main))
    for i, r in main.iterrows():
        c = MEASURE_COLORS.get(r["measure"], "#555555")
        if np.isfinite(r["estimate"]):
            ax.errorbar(r["estimate"], i, xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                        fmt="o", color=c, capsize=3, lw=1.5, label="_")
        elif r.get("status", "too_few") in STATUS_KEYS and r["status"] not in ("too_few", "ok"):
            ax.annotate(tr(STATUS_KEYS[r["status"]]), xy=(0, i), fontsize=8, color=_GREY, va="center")
        else:
            ax.annotate(tr("effects.plot.no_estimate_treated", n=tr.count(r["n_treated"])), xy=(0, i),
                        fontsize=8, color=_GREY, va="center")
    if show_naive and method != "naive":
        nv = d[d["method"] == "naive"].set_index(["measure", "segment"])
        xs = [nv["estimate"].get((m, s), np.nan) for m, s in zip(main["measure"], main["segment"], strict=True)]
        ax.scatter(xs, pos + 0.22, marker="o", facecolors="none", edgecolors=_GREY,
                   label=tr("effects.plot.naive_difference"))
    if truth is not None and len(truth):
        tv = truth[(truth["outcome"] == outcome) & (truth["estimand"] == estimand)
                   & (truth["segment_type"] == segment_type)].set_index(["measure", "segment"])["estimate"]
        xs = [np.nan if o else tv.get((m, s), np.nan)  # the truth is the full-population ATE
              for m, s, o in zip(main["measure"], main["segment"], overlap, strict=True)]
        ax.scatter(xs, pos, marker="x", color="black", zorder=5, label=tr("effects.plot.true_effect"))
    ax.axvline(0, color="black", lw=0.8)
    labels = [lab + tr("effects.plot.overlap_suffix", share=tr.pct(r["population_share"])) if o else lab
              for lab, o, (_, r) in zip(_row_labels(tr, main, segment_type), overlap, main.iterrows(), strict=True)]
    ax.set_yticks(pos, labels)
    ax.invert_yaxis()
    percent_axis(ax, "x", 0)
    n = int(main["n_control"].max() + main.groupby("segment")["n_treated"].sum().max()) if len(main) else None
    outcome_text = outcome_name(tr, outcome, long=True)
    method_text = tr(METHOD_KEYS[method]) if method in METHOD_KEYS else method
    finish(ax, tr("effects.plot.forest_title", outcome=outcome_text, estimand=estimand,
                  method=method_text),
           xlabel=tr("effects.plot.forest_xlabel"), n=n, n_unit=tr("plot.episodes"),
           note=tr("effects.plot.forest_note"), legend=show_naive or truth is not None)
    return mark_fallback(fig, tr)


def cure_curves(table: pd.DataFrame, weighting: str = "ipw", event: str = "cure",
                measures: Sequence[str] | None = None, horizon: int | None = None, *,
                t: Translator | None = None) -> Figure:
    """Cumulative incidence of ``event`` by measure (Aalen-Johansen), with bands."""
    tr = figure_translator(t)
    d = table[(table["weighting"] == weighting) & (table["event"] == event)]
    if measures is not None:
        d = d[d["measure"].isin(measures)]
    fig, ax = new_figure()
    n_total = 0
    for m, g in d.groupby("measure", sort=False):
        g = g.sort_values("month")
        if horizon is not None:
            g = g[g["month"] <= horizon]
        x = np.concatenate([[0], g["month"].to_numpy()])
        c = MEASURE_COLORS.get(m, None)
        ax.step(x, np.concatenate([[0], g["cif"].to_numpy()]), where="post", color=c,
                label=tr.category("measure", m), lw=2)
        ax.fill_between(x, np.concatenate([[0], g["ci_low"].to_numpy()]),
                        np.concatenate([[0], g["ci_high"].to_numpy()]), step="post", color=c, alpha=0.12)
        n_total += float(g["at_risk"].max()) if len(g) else 0
    percent_axis(ax, "y")
    how = tr("effects.plot.weighting_ipw" if weighting == "ipw" else "effects.plot.weighting_none")
    cured = event == "cure"
    finish(ax, tr("effects.plot.cured_title" if cured else "effects.plot.defaulted_title", how=how),
           xlabel=tr("effects.plot.months_since_start"),
           ylabel=tr("effects.plot.cif_cure" if cured else "effects.plot.cif_default"),
           n=n_total, n_unit=tr("plot.episodes"), note=tr("effects.plot.cif_note"))
    return mark_fallback(fig, tr)


def _arm_label(tr: Translator, arm: str) -> str:
    """"deferral" -> its name; "deferral (none weighted)" (ATT balance) -> named the same way."""
    code, _, rest = arm.partition(" ")
    name = tr.category("measure", code)
    return tr("effects.plot.arm_none_weighted", measure=name) if "none weighted" in rest else name


def balance_plot(balance: pd.DataFrame, estimand: str = "ATE", top: int = 25, *,
                 t: Translator | None = None) -> Figure:
    """Absolute SMD before (hollow) and after (filled) weighting, worst covariates."""
    tr = figure_translator(t)
    b = balance[balance["estimand"] == estimand].copy()
    b["abs_after"] = b["smd_after"].abs()
    worst = (b.groupby("covariate")["smd_before"].apply(lambda s: s.abs().max())
             .sort_values(ascending=False).head(top).index.tolist())
    b = b[b["covariate"].isin(worst)]
    fig, ax = new_figure(figsize=(8.0, 1.5 + 0.28 * len(worst)))
    pos = {c: i for i, c in enumerate(worst)}
    arms = list(dict.fromkeys(b["arm"]))
    for j, (arm, g) in enumerate(b.groupby("arm", sort=False)):
        c = colors_for([arm.split(" ")[0]])[0]
        y = g["covariate"].map(pos).to_numpy() + (j - len(arms) / 2) * 0.12
        ax.scatter(g["smd_before"].abs(), y, facecolors="none", edgecolors=c, s=22)
        ax.scatter(g["smd_after"].abs(), y, color=c, s=22, label=_arm_label(tr, arm))
    ax.axvline(0.1, color="#c23b3b", ls="--", lw=1)
    ax.set_yticks(range(len(worst)), worst)
    ax.invert_yaxis()
    finish(ax, tr("effects.plot.balance_title", estimand=estimand),
           xlabel=tr("effects.plot.balance_xlabel"), note=tr("effects.plot.balance_note"),
           legend=True)
    return mark_fallback(fig, tr)


def overlap_plot(propensities: pd.DataFrame, arms: pd.Series | np.ndarray, clip: float = 0.01,
                 *, t: Translator | None = None) -> Figure:
    """Distribution of each arm's propensity among episodes that got it vs the rest."""
    tr = figure_translator(t)
    cols = [c for c in propensities.columns if c != "none"] or list(propensities.columns)
    fig, axes = new_figure(1, len(cols), figsize=WIDE_FIGSIZE, sharey=False, squeeze=False)
    arms = np.asarray(arms)
    bins = np.linspace(0, 1, 41)
    for ax, c in zip(axes[0], cols, strict=True):
        e = propensities[c].to_numpy()
        name = tr.category("measure", c)
        ax.hist(e[arms != c], bins=bins, density=True, alpha=0.5, color=_GREY,
                label=tr("effects.plot.others"))
        ax.hist(e[arms == c], bins=bins, density=True, alpha=0.6, color=MEASURE_COLORS.get(c, "#1f5fa8"),
                label=name)
        ax.axvline(clip, color="#c23b3b", ls="--", lw=1)
        finish(ax, tr("effects.plot.overlap_title", measure=name),
               xlabel=tr("effects.plot.propensity"), n=int((arms == c).sum()),
               n_unit=tr("effects.plot.treated"), legend=True)
    return mark_fallback(fig, tr)


def net_benefit_plot(table: pd.DataFrame, estimand: str = "ATT", segment_type: str = "all",
                     per_ead: bool = False, *, t: Translator | None = None) -> Figure:
    """Net benefit (loss avoided - cost) per episode with intervals, per measure/segment."""
    tr = figure_translator(t)
    d = table[(table["estimand"] == estimand) & (table["segment_type"] == segment_type)].reset_index(drop=True)
    col, lo, hi = (("net_benefit_per_10k_ead", "ci_low_per_10k_ead", "ci_high_per_10k_ead") if per_ead
                   else ("net_benefit_cny", "ci_low", "ci_high"))
    fig, ax = new_figure(figsize=(8.0, 1.4 + 0.38 * max(len(d), 1)))
    pos = np.arange(len(d))
    est = d[col].astype(float).to_numpy()
    ax.barh(pos, np.nan_to_num(est), color=[MEASURE_COLORS.get(m, "#555555") for m in d["measure"]], alpha=0.85)
    ax.errorbar(est, pos, xerr=np.vstack([est - d[lo].astype(float), d[hi].astype(float) - est]),
                fmt="none", ecolor="black", capsize=3, lw=1)
    ax.scatter(-d["cost_cny"] if not per_ead else [], pos[: len(d)] if not per_ead else [],
               marker="|", color=OUTCOME_COLORS["default"], s=120,
               label=tr("effects.plot.cost") if not per_ead else None)
    for i in np.flatnonzero(np.isnan(est)):
        ax.annotate(tr("effects.plot.no_estimate"), xy=(0, pos[i]), fontsize=8, color=_GREY, va="center")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(pos, _row_labels(tr, d, segment_type))
    ax.invert_yaxis()
    thousands_axis(ax, "x")
    unit = tr("effects.plot.per_10k_ead" if per_ead else "effects.plot.per_episode")
    finish(ax, tr("effects.plot.net_benefit_title", estimand=estimand), xlabel=unit,
           n=int(d["n_treated"].sum()) if len(d) else None,
           n_unit=tr("effects.plot.treated_episodes"), note=tr("effects.plot.net_benefit_note"),
           legend=not per_ead)
    return mark_fallback(fig, tr)
