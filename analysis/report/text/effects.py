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

from analysis.effects import ATE_OVERLAP, MAX_OUTCOME_ROWS, MAX_RATE_SE
from analysis.report.i18n.catalogue import Translator, translator

# Catalogue keys of the outcome codes of the effects tables: short names (tables,
# captions) and the longer description used in figure titles.
OUTCOME_KEYS = {
    "sustained_cure": "effects.outcome.sustained_cure", "cure": "effects.outcome.cure", "redefault": "effects.outcome.redefault",
    "loss_rate": "effects.outcome.loss_rate", "prev_dpd": "effects.outcome.prev_dpd",
    "prev_balance": "effects.outcome.prev_balance",
}
OUTCOME_LONG_KEYS = {
    "sustained_cure": "effects.outcome_long.sustained_cure", "cure": "effects.outcome_long.cure", "redefault": "effects.outcome_long.redefault",
    "loss_rate": "effects.outcome_long.loss_rate",
}
# Catalogue keys of the effects table's status codes, learners and estimands, of the
# refutation checks, and of the captions and notes of the tables notebook 03 shows.
STATUS_KEYS = {
    "ok": "effects.status.ok", "too_few": "effects.status.too_few",
    "imprecise": "effects.status.imprecise", "no_overlap": "effects.status.no_overlap",
}
LEARNER_KEYS = {"glm": "effects.learner.glm", "boosting": "effects.learner.boosting"}
ESTIMAND_KEYS = {
    "ATE": "effects.estimand.ATE", "ATT": "effects.estimand.ATT",
    "ATE_overlap": "effects.estimand.ATE_overlap",
}
REFUTE_KEYS = {
    "placebo_treatment": "effects.refute.placebo_treatment",
    "random_common_cause": "effects.refute.random_common_cause",
    "data_subset": "effects.refute.data_subset",
    "proportional_hazards": "effects.refute.proportional_hazards",
}
CAPTION_KEYS = {
    "refutation": "effects.caption.refutation", "reliability": "effects.caption.reliability",
    "redefault_rates": "effects.caption.redefault_rates",
    "proportional_hazards": "effects.caption.proportional_hazards",
    "redefault_note": "effects.text.redefault_descriptive",
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
    for outcome, metric in (("sustained_cure", "sustained_cure_rate"), ("cure", "cure_rate"),
                            ("loss_rate", "loss_rate")):
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


def estimate_notes(effects: pd.DataFrame, t: Translator, folds: int = 5,
                   method: str = "aipw") -> list[str]:
    """Markdown notes on how the effects were estimated and what is not shown.

    From an effects table with the ``learner``, ``status``, ``estimand`` and
    ``population_share`` columns (tables without them give no notes): the nuisance
    learner(s) and the ``folds`` of the cross-fitting; how many ``method`` estimates are
    hidden and why (too few episodes, too imprecise); and, per measure whose ATE moved to
    the overlap population, that its full-population ATE is not estimable.
    """
    need = {"learner", "status", "estimand", "population_share", "method", "measure"}
    if effects is None or not need <= set(effects.columns):
        return []
    d = effects[effects["method"] == method]
    notes = []
    for learner in d["learner"].dropna().unique():
        att = d[(d["learner"] == learner) & (d["segment_type"] == "all") & (d["estimand"] == "ATT")]
        per = att.drop_duplicates(["outcome", "measure"]).groupby("outcome")
        n = int((per["n_treated"].sum() + per["n_control"].max()).max()) if len(att) else 0
        notes.append(t("effects.text.learner_note", learner=t(LEARNER_KEYS[learner]) if learner in LEARNER_KEYS else learner,
                       folds=folds, n=t.count(n)))
    if _capped(d, folds):
        notes.append(t("effects.text.cap_note", cap=t.count(MAX_OUTCOME_ROWS)))
    hidden = d[d["status"] != "ok"]["status"].value_counts()
    if len(hidden):
        reasons = ", ".join(t("effects.text.suppressed_item", status=t(STATUS_KEYS[s]), n=int(c))
                            for s, c in hidden.items())
        notes.append(t("effects.text.suppressed_note", n=int(hidden.sum()), reasons=reasons,
                       max_se=f"{100 * MAX_RATE_SE:.0f}"))
    ov = d[(d["estimand"] == ATE_OVERLAP) & (d["segment_type"] == "all")]
    for r in ov.drop_duplicates("measure").itertuples(index=False):
        notes.append(t("effects.text.overlap_note", measure=t.category("measure", r.measure),
                       share=t.pct(r.population_share)))
    return notes


def _capped(d: pd.DataFrame, folds: int) -> bool:
    """Whether a boosted outcome model was trained on a capped subset of its arm's training
    rows (:data:`analysis.effects.learners.MAX_OUTCOME_ROWS`): some arm's episodes in the
    ``folds - 1`` training folds exceed the cap."""
    b = d[(d["learner"] == "boosting") & (d["segment_type"] == "all")]
    arm = pd.concat([b["n_treated"], b["n_control"]])
    return bool(len(arm)) and float(arm.max()) * (folds - 1) / max(folds, 1) > MAX_OUTCOME_ROWS


def refutation_text(summary: pd.DataFrame, t: Translator, n_episodes: int = 0,
                    n_total: int = 0) -> tuple[str, pd.DataFrame]:
    """The refutation section of notebook 03: Markdown (what the checks are, on how many
    episodes when sampled, and whether all passed) and the summary table
    (:meth:`analysis.effects.RefutationResult.summary`) with the checks named in the
    report language."""
    failed = int((~summary["passed"].astype(bool)).sum()) if len(summary) else 0
    verdict = (t("effects.text.refutation_failed", n=failed) if failed
               else t("effects.text.refutation_passed"))
    if 0 < n_episodes < n_total:
        verdict = t("effects.text.refutation_sample", n=f"{n_episodes:,}",
                    total=f"{n_total:,}") + " " + verdict
    shown = summary.assign(check=[t(REFUTE_KEYS[c]) if c in REFUTE_KEYS else c for c in summary["check"]])
    return t("effects.text.refutation_intro") + "\n\n" + verdict, shown
