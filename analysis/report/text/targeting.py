"""The targeting page in the report language: policy names, the learned rule as text, tables.

Display only: the CSV tables keep the policy codes and the English ``rule`` column
(:mod:`analysis.targeting.policies`). Here a rule of :mod:`analysis.targeting.rules` is read
from its *structure* (a :class:`~analysis.targeting.rules.Node` tree, a
:class:`~analysis.targeting.rules.GridRule`, a
:class:`~analysis.targeting.rules.BudgetRule`), not parsed from its English text, and
rendered with the catalogue of a :class:`analysis.report.i18n.catalogue.Translator`:

- features: the cause columns (``primary_family``, ``reported_family``), ``borrower_type``,
  ``ead``, ``credit_score`` have names (``feature.*``); any other column keeps its name;
- levels: cause families, borrower types and measures are named by
  :meth:`~analysis.report.i18n.catalogue.Translator.category`; ``<NA>`` reads "missing"; other levels
  (industries, regions) are shown as they are;
- numeric thresholds: whole numbers with thousands separators from 1,000 up (CNY),
  else 4 significant digits.

Policy codes: ``current_practice``, ``no_relief``, ``all_<measure>``, ``learned``,
``learned_budget`` (``policy.*``); an unknown code is shown as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.report.i18n.catalogue import Translator
from analysis.report.text.display import display_codes
from analysis.targeting.rules import MISSING, BudgetRule, GridRule, Node, Split

CAUSE_FEATURES: tuple[str, ...] = ("primary_family", "reported_family", "cause")
_FEATURE_KEYS = {"primary_family": "feature.primary_family",
                 "reported_family": "feature.reported_family",
                 "cause": "feature.primary_family",
                 "ead": "feature.ead", "credit_score": "feature.credit_score"}
_POLICY_KEYS = {"current_practice": "policy.current_practice", "no_relief": "policy.no_relief",
                "learned": "policy.learned", "learned_budget": "policy.learned_budget"}
_POLICY_RULE_KEYS = {"current_practice": "policy_rule.current_practice",
                     "no_relief": "policy_rule.no_relief"}
_BUDGET_KIND_KEYS = {"ead": "budget_kind.ead", "treated": "budget_kind.treated"}
_SMALL_SHARES = ("budget_share", "cost_share_ead")


# ----------------------------------------------------------------------------- names
def feature_name(feature: str, t: Translator) -> str:
    """Readable name of a rule feature (``primary_family`` -> "attributed cause")."""
    if feature == "borrower_type":
        return t.category("segment_type", "borrower_type")
    key = _FEATURE_KEYS.get(feature)
    return t(key) if key else feature


def level_name(feature: str, level: Any, t: Translator) -> str:
    """Readable name of a categorical level of ``feature`` (cause family, borrower type)."""
    if str(level) == MISSING:
        return t("rule.missing")
    if feature in CAUSE_FEATURES:
        return t.category("family", level)
    if feature == "borrower_type":
        return t.category("borrower_type", level)
    return str(level)


def measure_name(code: Any, t: Translator) -> str:
    """Readable name of a measure (arm) code."""
    return t.category("measure", code)


def policy_name(code: str, t: Translator) -> str:
    """Readable name of a policy code (``all_deferral`` -> "deferral for everybody")."""
    if code in _POLICY_KEYS:
        return t(_POLICY_KEYS[code])
    if code.startswith("all_"):
        return t("policy.all_measure", measure=measure_name(code.removeprefix("all_"), t))
    return code


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.4g}"


# ----------------------------------------------------------------------------- conditions
def split_text(split: Split, side: str, t: Translator) -> str:
    """One side (``left``/``right``) of a split as a readable condition."""
    name = feature_name(split.feature, t)
    if split.kind == "numeric":
        key = "rule.le" if side == "left" else "rule.gt"
        return t(key, feature=name, value=_number(split.threshold))
    levels = [level_name(split.feature, v, t) for v in split.levels]
    if len(levels) == 1:
        key = "rule.is" if side == "left" else "rule.is_not"
        return t(key, feature=name, level=levels[0])
    key = "rule.one_of" if side == "left" else "rule.none_of"
    return t(key, feature=name, levels=t("format.list_sep").join(levels))


def _path_conditions(path: tuple[tuple[Split, str], ...], t: Translator) -> list[str]:
    """A leaf's conditions, numeric bounds on one feature merged (as ``Node.leaves``)."""
    out: list[str] = []
    upper: dict[str, float] = {}
    lower: dict[str, float] = {}
    for sp, side in path:
        if sp.kind != "numeric":
            out.append(split_text(sp, side, t))
        elif side == "left":
            upper[sp.feature] = min(upper.get(sp.feature, np.inf), sp.threshold)
        else:
            lower[sp.feature] = max(lower.get(sp.feature, -np.inf), sp.threshold)
    for f in dict.fromkeys([*lower, *upper]):
        lo, hi, name = lower.get(f), upper.get(f), feature_name(f, t)
        if lo is not None and hi is not None:
            out.append(t("rule.between", feature=name, low=_number(lo), high=_number(hi)))
        elif hi is not None:
            out.append(t("rule.le", feature=name, value=_number(hi)))
        else:
            out.append(t("rule.gt", feature=name, value=_number(lo)))
    return out


def rule_leaves(rule: Node | GridRule, t: Translator) -> list[tuple[str, str]]:
    """``(condition, measure)`` of every leaf / cell of ``rule``, readable."""
    join = t("rule.and").join
    if isinstance(rule, GridRule):
        f1, f2 = rule.features
        cells = [(join([t("rule.is", feature=feature_name(f1, t), level=level_name(f1, a, t)),
                        t("rule.is", feature=feature_name(f2, t), level=level_name(f2, b, t))]),
                  measure_name(arm, t)) for a, b, arm in rule.cells]
        return [*cells, (t("rule.other_cells"), measure_name(rule.default, t))]

    def walk(node: Node, path: tuple) -> list[tuple[tuple, str]]:
        if node.is_leaf:
            return [(path, str(node.arm))]
        return (walk(node.left, (*path, (node.split, "left")))
                + walk(node.right, (*path, (node.split, "right"))))

    return [(join(_path_conditions(p, t)) or t("narrative.segment_all"), measure_name(a, t))
            for p, a in walk(rule, ())]


# ----------------------------------------------------------------------------- rules
def rule_text(rule: Node | GridRule, t: Translator, indent: str = "") -> str:
    """The learned rule as nested if / else lines (a grid: one line per cell)."""
    if isinstance(rule, GridRule):  # one line per cell, the default cell last ("else")
        *cells, (_, default) = rule_leaves(rule, t)
        lines = [t("rule.if", condition=c) + " " + t("rule.then", measure=m) for c, m in cells]
        return "\n".join(indent + x for x in [*lines, t("rule.else") + " "
                                               + t("rule.then", measure=default)])
    if rule.is_leaf:
        return indent + t("rule.then", measure=measure_name(rule.arm, t))
    deeper = indent + "    "
    return "\n".join([indent + t("rule.if", condition=split_text(rule.split, "left", t)),
                      rule_text(rule.left, t, deeper), indent + t("rule.else"),
                      rule_text(rule.right, t, deeper)])


def rule_one_line(rule: Node | GridRule | BudgetRule, t: Translator) -> str:
    """The rule on one line (a table cell); a budget rule: its budget and group count."""
    if isinstance(rule, BudgetRule):
        if rule.budget_kind == "ead":
            return t("policy_rule.budget_ead", budget=t.pct(rule.budget_share),
                     groups=len(rule.selected))
        return t("policy_rule.budget_treated", budget=t.pct(rule.budget_share),
                 groups=len(rule.selected))
    if isinstance(rule, Node) and rule.is_leaf:
        return measure_name(rule.arm, t)
    return t("format.item_sep").join(c + " " + t("rule.then", measure=m)
                                   for c, m in rule_leaves(rule, t))


def policy_rule_text(code: str, t: Translator, rules: dict[str, Any] | None = None) -> str:
    """What a policy does, readable; ``rules``: the rule objects of the learned policies."""
    if rules and code in rules:
        return rule_one_line(rules[code], t)
    if code in ("learned", "learned_budget"):  # e.g. read back from targeting.csv
        return t("policy_rule.see_targeting")
    if code in _POLICY_RULE_KEYS:
        return t(_POLICY_RULE_KEYS[code])
    if code.startswith("all_"):
        return t("policy_rule.all_measure", measure=measure_name(code.removeprefix("all_"), t))
    return code


# ----------------------------------------------------------------------------- tables
def policy_frame(df: pd.DataFrame, t: Translator, rules: dict[str, Any] | None = None
                 ) -> pd.DataFrame:
    """A display copy of a targeting table: policy codes named, rules readable.

    Columns handled when present: ``policy`` and ``vs`` (policy codes), ``rule``
    (rebuilt from ``policy`` and ``rules``, e.g. ``{"learned": res.rule,
    "learned_budget": res.budget_rule}``; a learned policy without its rule object points
    to the targeting page), ``budget_kind``, ``budget_share`` and ``cost_share_ead``
    (percent with 3 decimals: budgets are fractions of a percent of EAD); then
    :func:`analysis.report.text.display.display_codes` (``covered`` reads yes/no, ...).
    Column titles are left to :func:`analysis.report.i18n.catalogue.translate_frame` (``ctx.show``).
    """
    out = df.copy()
    if "rule" in out.columns and "policy" in out.columns:
        out["rule"] = [policy_rule_text(str(p), t, rules) for p in df["policy"]]
    for col in ("policy", "vs"):
        if col in out.columns:
            out[col] = out[col].map(lambda v: v if pd.isna(v) else policy_name(str(v), t))
    for col in _SMALL_SHARES:  # shares of EAD are a fraction of a percent: 3 decimals
        if col in out.columns:
            out[col] = out[col].map(
                lambda v: v if pd.isna(v) else t("format.pct_fine", value=100 * float(v)))
    if "budget_kind" in out.columns:
        out["budget_kind"] = out["budget_kind"].map(
            lambda v: t(_BUDGET_KIND_KEYS[v]) if v in _BUDGET_KIND_KEYS else v)
    return display_codes(out, t)  # yes/no columns (covered), other page codes


def compared_sentence(n_episodes: int, arms: list[str], t: Translator) -> str:
    """"Compared on N episodes (measures compared: ...)" for the top of the page."""
    return t("targeting.compared_on", episodes=t.count(n_episodes),
             measures=t("format.list_sep").join(measure_name(a, t) for a in arms))


def gain_sentence(gain: pd.DataFrame, budget_share: float, t: Translator) -> str:
    """The learned rule's gain over current practice, per episode and in total (CNY).

    ``gain``: :meth:`analysis.targeting.policies.PolicyResult.gain` output; ``budget_share``:
    the budget as a share of EAD (fraction).
    """
    g = gain.set_index("policy")
    row = g.loc["learned"]
    return t("targeting.gain_sentence", per_episode=t.money(row["gain_per_episode_cny"]),
             low=t.money(row["ci_low"]), high=t.money(row["ci_high"]),
             total=t.money(row["gain_total_cny"]), episodes=f"{int(row['n_episodes']):,}",
             budget=t.pct(budget_share),
             budget_gain=t.money(g.loc["learned_budget", "gain_per_episode_cny"]))
