"""Figures of the relief effects (notebook 03). They take result tables, never load data.

Every figure goes through :mod:`analysis.style` (fixed measure colours, titles with the
number of episodes, percent axes). Rows without an estimate (too few episodes) are
labelled "no estimate" instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.style import (
    MEASURE_COLORS,
    OUTCOME_COLORS,
    WIDE_FIGSIZE,
    colors_for,
    finish,
    new_figure,
    percent_axis,
    thousands_axis,
)

_OUTCOME_TEXT = {"cure": "cure within the horizon", "redefault": "re-default among the cured",
                 "loss_rate": "loss rate (loss / EAD)"}
_GREY = "#8c8c8c"


def forest_plot(table: pd.DataFrame, outcome: str = "cure", estimand: str = "ATE",
                method: str = "aipw", segment_type: str = "all", show_naive: bool = True,
                truth: pd.DataFrame | None = None) -> Figure:
    """Effects of each measure vs none (percentage points) with intervals, one row per
    measure x segment; the naive difference as a hollow marker beside the adjusted one;
    the true effect (synthetic books) as a black cross when ``truth`` is given."""
    t = table[(table["outcome"] == outcome) & (table["estimand"] == estimand)
              & (table["segment_type"] == segment_type)]
    main = t[t["method"] == method].reset_index(drop=True)
    n_rows = max(len(main), 1)
    fig, ax = new_figure(figsize=(8.0, 1.2 + 0.38 * n_rows))
    labels = (main["measure"] if segment_type == "all" else main["segment"] + " | " + main["measure"]).tolist()
    pos = np.arange(len(main))
    for i, r in main.iterrows():
        c = MEASURE_COLORS.get(r["measure"], "#555555")
        if np.isfinite(r["estimate"]):
            ax.errorbar(r["estimate"], i, xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                        fmt="o", color=c, capsize=3, lw=1.5, label="_")
        else:
            ax.annotate(f"no estimate ({int(r['n_treated'])} treated)", xy=(0, i), fontsize=8,
                        color=_GREY, va="center")
    if show_naive and method != "naive":
        nv = t[t["method"] == "naive"].set_index(["measure", "segment"])
        xs = [nv["estimate"].get((m, s), np.nan) for m, s in zip(main["measure"], main["segment"], strict=True)]
        ax.scatter(xs, pos + 0.22, marker="o", facecolors="none", edgecolors=_GREY, label="naive difference")
    if truth is not None and len(truth):
        tv = truth[(truth["outcome"] == outcome) & (truth["estimand"] == estimand)
                   & (truth["segment_type"] == segment_type)].set_index(["measure", "segment"])["estimate"]
        xs = [tv.get((m, s), np.nan) for m, s in zip(main["measure"], main["segment"], strict=True)]
        ax.scatter(xs, pos, marker="x", color="black", zorder=5, label="true effect")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(pos, labels)
    ax.invert_yaxis()
    percent_axis(ax, "x", 0)
    n = int(main["n_control"].max() + main.groupby("segment")["n_treated"].sum().max()) if len(main) else None
    finish(ax, f"Effect on {_OUTCOME_TEXT.get(outcome, outcome)}: {estimand}, {method} vs no relief",
           xlabel="difference, percentage points (measure - none)", n=n, n_unit="episodes",
           note="bars: 95% intervals; hollow: unadjusted difference", legend=show_naive or truth is not None)
    return fig


def cure_curves(table: pd.DataFrame, weighting: str = "ipw", event: str = "cure",
                measures: Sequence[str] | None = None, horizon: int | None = None) -> Figure:
    """Cumulative incidence of ``event`` by measure (Aalen-Johansen), with bands."""
    t = table[(table["weighting"] == weighting) & (table["event"] == event)]
    if measures is not None:
        t = t[t["measure"].isin(measures)]
    fig, ax = new_figure()
    n_total = 0
    for m, g in t.groupby("measure", sort=False):
        g = g.sort_values("month")
        if horizon is not None:
            g = g[g["month"] <= horizon]
        x = np.concatenate([[0], g["month"].to_numpy()])
        c = MEASURE_COLORS.get(m, None)
        ax.step(x, np.concatenate([[0], g["cif"].to_numpy()]), where="post", color=c, label=m, lw=2)
        ax.fill_between(x, np.concatenate([[0], g["ci_low"].to_numpy()]),
                        np.concatenate([[0], g["ci_high"].to_numpy()]), step="post", color=c, alpha=0.12)
        n_total += float(g["at_risk"].max()) if len(g) else 0
    percent_axis(ax, "y")
    how = "weighted to the whole population (IPW)" if weighting == "ipw" else "unadjusted"
    finish(ax, f"Share {'cured' if event == 'cure' else 'defaulted'} by month since the start, {how}",
           xlabel="months since the episode started", ylabel=f"cumulative incidence of {event}",
           n=n_total, n_unit="episodes", note="default (or cure) is a competing risk; bands: 95% pointwise")
    return fig


def balance_plot(balance: pd.DataFrame, estimand: str = "ATE", top: int = 25) -> Figure:
    """Absolute SMD before (hollow) and after (filled) weighting, worst covariates."""
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
        ax.scatter(g["smd_after"].abs(), y, color=c, s=22, label=arm)
    ax.axvline(0.1, color="#c23b3b", ls="--", lw=1)
    ax.set_yticks(range(len(worst)), worst)
    ax.invert_yaxis()
    finish(ax, f"Covariate balance, {estimand} weights: |SMD| per covariate",
           xlabel="|SMD| (hollow: before weighting, filled: after; red line 0.1)",
           note="target: all episodes (ATE) / the treated arm (ATT)", legend=True)
    return fig


def overlap_plot(propensities: pd.DataFrame, arms: pd.Series | np.ndarray, clip: float = 0.01) -> Figure:
    """Distribution of each arm's propensity among episodes that got it vs the rest."""
    cols = [c for c in propensities.columns if c != "none"] or list(propensities.columns)
    fig, axes = new_figure(1, len(cols), figsize=WIDE_FIGSIZE, sharey=False, squeeze=False)
    arms = np.asarray(arms)
    bins = np.linspace(0, 1, 41)
    for ax, c in zip(axes[0], cols, strict=True):
        e = propensities[c].to_numpy()
        ax.hist(e[arms != c], bins=bins, density=True, alpha=0.5, color=_GREY, label="others")
        ax.hist(e[arms == c], bins=bins, density=True, alpha=0.6, color=MEASURE_COLORS.get(c, "#1f5fa8"), label=c)
        ax.axvline(clip, color="#c23b3b", ls="--", lw=1)
        finish(ax, f"P({c})", xlabel="propensity", n=int((arms == c).sum()), n_unit="treated", legend=True)
    return fig


def net_benefit_plot(table: pd.DataFrame, estimand: str = "ATT", segment_type: str = "all",
                     per_ead: bool = False) -> Figure:
    """Net benefit (loss avoided - cost) per episode with intervals, per measure/segment."""
    t = table[(table["estimand"] == estimand) & (table["segment_type"] == segment_type)].reset_index(drop=True)
    col, lo, hi = (("net_benefit_per_10k_ead", "ci_low_per_10k_ead", "ci_high_per_10k_ead") if per_ead
                   else ("net_benefit_cny", "ci_low", "ci_high"))
    t = t.assign(label=t["measure"] if segment_type == "all" else t["segment"] + " | " + t["measure"])
    fig, ax = new_figure(figsize=(8.0, 1.4 + 0.38 * max(len(t), 1)))
    pos = np.arange(len(t))
    est = t[col].astype(float).to_numpy()
    ax.barh(pos, np.nan_to_num(est), color=[MEASURE_COLORS.get(m, "#555555") for m in t["measure"]], alpha=0.85)
    ax.errorbar(est, pos, xerr=np.vstack([est - t[lo].astype(float), t[hi].astype(float) - est]),
                fmt="none", ecolor="black", capsize=3, lw=1)
    ax.scatter(-t["cost_cny"] if not per_ead else [], pos[: len(t)] if not per_ead else [],
               marker="|", color=OUTCOME_COLORS["default"], s=120, label="cost" if not per_ead else None)
    for i in np.flatnonzero(np.isnan(est)):
        ax.annotate("no estimate", xy=(0, pos[i]), fontsize=8, color=_GREY, va="center")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(pos, t["label"])
    ax.invert_yaxis()
    thousands_axis(ax, "x")
    unit = "CNY per 10,000 CNY of EAD" if per_ead else "CNY per episode"
    finish(ax, f"Net benefit of each measure ({estimand}): loss avoided minus cost",
           xlabel=unit, n=int(t["n_treated"].sum()) if len(t) else None, n_unit="treated episodes",
           note="bars: 95% intervals from the doubly robust scores; red tick: minus the cost",
           legend=not per_ead)
    return fig


def conclusions(effects: pd.DataFrame, net: pd.DataFrame | None = None,
                evalues: pd.DataFrame | None = None, method: str = "aipw") -> str:
    """Plain-language findings (Markdown) from the effects and net-benefit tables.

    One bullet per measure: its effect on cure and on the loss rate for the episodes
    that received it (ATT), whether the interval excludes zero, the net benefit, and how
    strong an unmeasured confounder would need to be (E-value); then the best measure
    per cause family. Caveats follow the findings.
    """
    def fmt_pp(r: pd.Series) -> str:
        return (f"{100 * r['estimate']:+.1f} points (95% interval {100 * r['ci_low']:+.1f} to "
                f"{100 * r['ci_high']:+.1f})")

    t = effects[(effects["method"] == method) & (effects["segment_type"] == "all")]
    lines = []
    for m in sorted(t["measure"].unique()):
        parts = []
        for outcome, word in (("cure", "cure rate"), ("loss_rate", "loss rate")):
            r = t[(t["measure"] == m) & (t["outcome"] == outcome) & (t["estimand"] == "ATT")]
            if not len(r) or not np.isfinite(r["estimate"].iloc[0]):
                continue
            r = r.iloc[0]
            sure = "clearly" if (r["ci_low"] > 0 or r["ci_high"] < 0) else "not clearly"
            parts.append(f"{word} {fmt_pp(r)}, {sure} different from no relief")
            if outcome == "cure" and evalues is not None:
                ev = evalues[(evalues["measure"] == m) & (evalues["outcome"] == "cure")
                             & (evalues["estimand"] == "ATT") & (evalues["method"] == method)
                             & (evalues["segment_type"] == "all")]
                if len(ev) and np.isfinite(ev["e_value_ci"].iloc[0]) and ev["e_value_ci"].iloc[0] > 1:
                    parts.append(f"an unmeasured factor would need a risk ratio of "
                                 f"{ev['e_value_ci'].iloc[0]:.2f} with both the measure and cure to "
                                 "erase the cure effect")
        if net is not None:
            r = net[(net["measure"] == m) & (net["estimand"] == "ATT") & (net["segment_type"] == "all")]
            if len(r) and np.isfinite(r["net_benefit_cny"].iloc[0]):
                r = r.iloc[0]
                verdict = ("pays for itself" if r["ci_low"] > 0 else
                           "costs more than it saves" if r["ci_high"] < 0 else "may or may not pay")
                parts.append(f"net benefit {r['net_benefit_cny']:,.0f} CNY per episode "
                             f"({r['ci_low']:,.0f} to {r['ci_high']:,.0f}): it {verdict}")
        if parts:
            n = int(t[t["measure"] == m]["n_treated"].max())
            lines.append(f"- **{m}** ({n:,} episodes): " + "; ".join(parts) + ".")
    seg = effects[(effects["method"] == method) & (effects["segment_type"] == "cause_family")
                  & (effects["outcome"] == "cure") & (effects["estimand"] == "ATT")]
    seg = seg[np.isfinite(seg["estimate"])]
    if len(seg):
        best = seg.loc[seg.groupby("segment")["estimate"].idxmax()]
        lines.append("- **Best measure for cure by cause family** (largest ATT): " + "; ".join(
            f"{r['segment']}: {r['measure']} ({100 * r['estimate']:+.1f} points, "
            f"interval {100 * r['ci_low']:+.1f} to {100 * r['ci_high']:+.1f})" for _, r in best.iterrows()) + ".")
    lines += [
        "",
        "**Caveats.** Relief was not randomised: these estimates adjust for what the lender "
        "recorded at the start of each episode (loan terms, credit score, exposure, days past "
        "due, signals, reported reason) and are only as good as that list; a factor seen by "
        "the collections officer but not recorded would bias them (the E-values say how strong "
        "it would have to be). Measures given rarely, or to very different borrowers, have wide "
        "intervals and rely on extrapolation (see overlap). Effects on re-default compare cured "
        "episodes only and mix the effect on who cures with the effect on the cured. Costs rest "
        "on the stated funding-cost and counselling-cost assumptions.",
    ]
    return "\n".join(lines)
