"""Plain-language findings of the relief-effects page (notebook 03), in the report language.

:func:`conclusions` turns the effects table (:func:`analysis.effects.estimators.estimate_effects`),
the net-benefit table (:func:`analysis.effects.losses.net_benefit`) and the E-values into
Markdown: per measure, its effect on the cure rate and the loss rate among the episodes
that received it (ATT) with the 95 % interval, whether the interval excludes zero, how
strong an unmeasured confounder would need to be (E-value) and the net benefit in CNY;
then the best measure per cause family, then the caveats. Every sentence is a template
of the message catalogue (``effects.conclusion.*``); numbers are percentage points of a
rate (0.05 = 5 points) and whole CNY. :func:`effect_sentences` gives the management
summary (notebook 00) one sentence per measure on the cure rate from ``effects.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report.i18n.catalogue import Translator, translator

# Catalogue keys of the outcome codes of the effects tables: short names (tables,
# captions) and the longer description used in figure titles.
OUTCOME_KEYS = {
    "cure": "effects.outcome.cure", "redefault": "effects.outcome.redefault",
    "loss_rate": "effects.outcome.loss_rate", "prev_dpd": "effects.outcome.prev_dpd",
    "prev_balance": "effects.outcome.prev_balance",
}
OUTCOME_LONG_KEYS = {
    "cure": "effects.outcome_long.cure", "redefault": "effects.outcome_long.redefault",
    "loss_rate": "effects.outcome_long.loss_rate",
}
# Catalogue keys of the estimation methods.
METHOD_KEYS = {
    "naive": "effects.method.naive", "regression": "effects.method.regression",
    "ipw": "effects.method.ipw", "aipw": "effects.method.aipw",
}


def outcome_name(t: Translator, outcome: str, long: bool = False) -> str:
    """Display name of an outcome code (unknown codes as they are)."""
    keys = OUTCOME_LONG_KEYS if long and outcome in OUTCOME_LONG_KEYS else OUTCOME_KEYS
    return t(keys[outcome]) if outcome in keys else outcome


def segment_name(t: Translator, segment_type: str, code: object) -> str:
    """A segment value by its catalogue name (cause families, borrower types)."""
    if segment_type == "cause_family":
        return t.category("family", code)
    if segment_type == "borrower_type":
        return t.category("borrower_type", code)
    return str(code)


def _interval(t: Translator, r: pd.Series) -> dict[str, str]:
    return {"points": t.points(r["estimate"]), "low": f"{100 * r['ci_low']:+.1f}",
            "high": f"{100 * r['ci_high']:+.1f}"}


def _effect_parts(t: Translator, eff: pd.DataFrame, evalues: pd.DataFrame | None,
                  measure: str, method: str) -> list[str]:
    """Cure and loss-rate effect (ATT) of one measure, with the E-value of the cure effect."""
    parts = []
    for outcome, metric in (("cure", "cure_rate"), ("loss_rate", "loss_rate")):
        r = eff[(eff["measure"] == measure) & (eff["outcome"] == outcome) & (eff["estimand"] == "ATT")]
        if not len(r) or not np.isfinite(r["estimate"].iloc[0]):
            continue
        r = r.iloc[0]
        clear = r["ci_low"] > 0 or r["ci_high"] < 0
        key = "effects.conclusion.effect_clear" if clear else "effects.conclusion.effect_unclear"
        parts.append(t(key, outcome=t.category("metric", metric), **_interval(t, r)))
        if outcome == "cure" and evalues is not None:
            ev = evalues[(evalues["measure"] == measure) & (evalues["outcome"] == "cure")
                         & (evalues["estimand"] == "ATT") & (evalues["method"] == method)
                         & (evalues["segment_type"] == "all")]
            if len(ev) and np.isfinite(ev["e_value_ci"].iloc[0]) and ev["e_value_ci"].iloc[0] > 1:
                parts.append(t("effects.conclusion.evalue", e_value=f"{ev['e_value_ci'].iloc[0]:.2f}"))
    return parts


def _net_part(t: Translator, net: pd.DataFrame | None, measure: str) -> list[str]:
    """The net benefit (ATT, all episodes) of one measure and what it says."""
    if net is None:
        return []
    r = net[(net["measure"] == measure) & (net["estimand"] == "ATT") & (net["segment_type"] == "all")]
    if not len(r) or not np.isfinite(r["net_benefit_cny"].iloc[0]):
        return []
    r = r.iloc[0]
    key = ("effects.conclusion.net_pays" if r["ci_low"] > 0 else
           "effects.conclusion.net_costs" if r["ci_high"] < 0 else "effects.conclusion.net_unclear")
    return [t(key, net=f"{r['net_benefit_cny']:,.0f}", low=f"{r['ci_low']:,.0f}",
              high=f"{r['ci_high']:,.0f}")]


def _best_by_family(t: Translator, effects: pd.DataFrame, method: str) -> list[str]:
    seg = effects[(effects["method"] == method) & (effects["segment_type"] == "cause_family")
                  & (effects["outcome"] == "cure") & (effects["estimand"] == "ATT")]
    seg = seg[np.isfinite(seg["estimate"])]
    if not len(seg):
        return []
    best = seg.loc[seg.groupby("segment")["estimate"].idxmax()]
    return [t("effects.conclusion.best_heading")] + [
        "  - " + t("effects.conclusion.best_item", family=t.category("family", r["segment"]),
                   measure=t.category("measure", r["measure"]), **_interval(t, r))
        for _, r in best.iterrows()]


def conclusions(effects: pd.DataFrame, net: pd.DataFrame | None = None,
                evalues: pd.DataFrame | None = None, method: str = "aipw", *,
                t: Translator | None = None) -> str:
    """Plain-language findings (Markdown) from the effects and net-benefit tables.

    One bullet per measure with sub-bullets: its effect on cure and on the loss rate for
    the episodes that received it (ATT), whether the interval excludes zero, the net
    benefit, and how strong an unmeasured confounder would need to be (E-value); then the
    best measure per cause family. Caveats follow the findings. ``t``: the report
    language (None = English).
    """
    t = t or translator("en")
    eff = effects[(effects["method"] == method) & (effects["segment_type"] == "all")]
    lines = []
    for m in sorted(eff["measure"].unique()):
        parts = _effect_parts(t, eff, evalues, m, method) + _net_part(t, net, m)
        if parts:
            n = eff[eff["measure"] == m]["n_treated"].max()
            lines.append(t("effects.conclusion.measure_line", measure=t.category("measure", m),
                           n=t.count(n)))
            lines += [f"  - {p}" for p in parts]
    lines += _best_by_family(t, effects, method)
    lines += ["", t("effects.conclusion.caveats")]
    return "\n".join(lines)


def analysed_text(counts: dict[str, int], notes: list[str], attributed: bool,
                  t: Translator) -> str:
    """Markdown at the top of the page: episodes analysed per outcome, what was left out,
    where the cause family comes from, and the estimation notes (written by the analysis
    in English, shown under a heading that says so in another language).

    ``counts``: outcome code -> episodes analysed; ``attributed``: the cause family is the
    attributed primary family (else the reported one).
    """
    if counts:
        sep = t.messages.get("format.list_sep", ", ")  # "、" in Chinese where defined
        items = sep.join(t("effects.text.analysed_item", outcome=outcome_name(t, o), n=t.count(n))
                          for o, n in counts.items())
        head = t("effects.text.analysed", counts=items)
    else:
        head = t("effects.text.nothing_analysed")
    family = t("effects.text.family_attributed" if attributed else "effects.text.family_reported")
    text = head + " " + t("effects.text.analysed_note", family=family)
    unique = list(dict.fromkeys(notes))
    if unique:
        text += "\n\n" + t("effects.text.notes_heading") + "\n\n" + "\n".join(f"- {w}" for w in unique)
    return text


def effect_sentences(effects: pd.DataFrame | None, t: Translator, horizon: int,
                     method: str = "aipw", estimand: str = "ATE") -> list[str]:
    """Narrative sentences on the cure-rate effects of an ``effects.csv`` table.

    One sentence per measure for the whole book and per cause family, from the rows of
    ``method``/``estimand`` with outcome ``cure``; suppressed or missing estimates are
    skipped. ``horizon``: the outcome window in months.
    """
    need = {"outcome", "measure", "estimate", "ci_low", "ci_high"}
    if effects is None or not need <= set(effects.columns):
        return []
    d = effects[effects["outcome"].astype(str) == "cure"]
    for col, val in (("method", method), ("estimand", estimand)):
        if col in d.columns and (d[col].astype(str) == val).any():
            d = d[d[col].astype(str) == val]
    if "segment_type" in d.columns:
        d = d[d["segment_type"].astype(str).isin(["all", "cause_family"])]
    d = d.dropna(subset=["estimate", "ci_low", "ci_high"])
    out = []
    for r in d.itertuples(index=False):  # a handful of measures x families
        st = str(getattr(r, "segment_type", "all"))
        seg = (t("narrative.segment_family", family=t.category("family", r.segment))
               if st == "cause_family" else t("narrative.segment_all"))
        out.append(t.effect_sentence(str(r.measure), seg, float(r.estimate), float(r.ci_low),
                                     float(r.ci_high), horizon))
    return out
