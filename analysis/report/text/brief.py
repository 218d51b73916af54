"""The management brief in words: KPIs with their change, the recommendation, what it means.

Every sentence is a catalogue template (``brief.*``, ``paired.*`` in
``analysis/report/i18n/locale/<language>/brief.yml``). Numbers read as on every page:
rates in percent, changes of rates in percentage points, CNY whole with thousands
separators, counts as integers ("fewer than min_cell" below it: :meth:`Translator.count`).

* :func:`kpi_brief_table`: the headline KPIs with their change since the previous month;
* :func:`policy_sentence`: the recommended policy's paired gain over current practice and
  its cost;
* :func:`meaning_sentences`: at most three sentences of "what this means";
* :func:`difference_sentences`: each policy against the learned rule, saying plainly
  when the data cannot separate the two (notebook 04);
* :func:`republished_note`: the months whose figures changed when published again.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.report.i18n.catalogue import Translator
from analysis.report.text.kpis import metric_kind
from analysis.report.text.targeting import measure_name, policy_name

#: The KPIs of the brief's first table, in order.
BRIEF_METRICS: tuple[str, ...] = (
    "n_loans_active", "balance_active", "overdue_rate_balance", "rate_90plus_balance",
    "npl_ratio_balance", "cure_rate", "default_rate", "loss_rate",
)
#: A change of a rate smaller than this (a fraction: 0.05 points) reads as "unchanged".
FLAT_CHANGE = 0.0005


def kpi_value(value: float, kind: str, t: Translator) -> str:
    """One KPI value: a rate in percent, a count as an integer (withheld below
    ``t.min_cell``), an amount whole with thousands separators (its label names the
    currency)."""
    if kind == "rate":
        return t.pct(value)
    if kind == "count":
        return t.count(value)
    return t("format.suppressed") if pd.isna(value) else f"{value:,.0f}"


def kpi_change(change: float, kind: str, t: Translator) -> str:
    """A change since the previous month: percentage points for a rate, a signed integer
    for a count or amount; "–" without a previous month."""
    if change is None or pd.isna(change):
        return t("brief.no_previous")
    if kind == "rate":
        return t.points(change)
    return f"{change:+,.0f}"


def kpi_brief_table(changes: pd.DataFrame, t: Translator,
                    metrics: tuple[str, ...] = BRIEF_METRICS) -> pd.DataFrame:
    """The brief's KPI table from :func:`analysis.report.brief.kpi_changes`: columns
    ``indicator``, ``value``, ``change`` (formatted text; titles from the catalogue)."""
    c = changes.set_index("metric")
    rows = []
    for m in metrics:
        if m not in c.index:
            continue
        kind = metric_kind(m)
        rows.append({"indicator": t(f"kpi.{m}"), "value": kpi_value(c.loc[m, "value"], kind, t),
                     "change": kpi_change(c.loc[m, "change"], kind, t)})
    return pd.DataFrame(rows, columns=["indicator", "value", "change"])


def kpi_caption(changes: pd.DataFrame, month: str, t: Translator) -> str:
    """Caption of :func:`kpi_brief_table`: the month and the month compared with."""
    prev = str(changes["previous_month"].iloc[0]) if len(changes) else ""
    month_text = t.month(pd.Timestamp(month + "-01"))
    if not prev:
        return t("brief.caption_kpis_first", month=month_text)
    return t("brief.caption_kpis", month=month_text,
             previous=t.month(pd.Timestamp(prev + "-01")))


def republished_note(republished: pd.DataFrame, t: Translator) -> str:
    """One sentence per month whose figures changed when published again ("" if none),
    naming at most three of the changed indicators."""
    out = []
    for r in republished.itertuples(index=False):  # a few months
        codes = str(r.metrics).split(",")
        names = [t(f"kpi.{m}") if f"kpi.{m}" in t.messages else m for m in codes[:3]]
        names += ["…"] if len(codes) > 3 else []
        out.append(t("brief.republished", month=t.month(pd.Timestamp(str(r.as_of) + "-01")),
                     metrics=t("format.list_sep").join(names)))
    return " ".join(out)


def policy_sentence(gain: pd.DataFrame | None, targeting: pd.DataFrame | None, t: Translator,
                    policy: str = "learned") -> str:
    """The recommended policy's gain over current practice with its paired interval, and
    its cost (CNY per episode). ``gain``: :meth:`PolicyResult.gain` against
    ``current_practice`` (``tables/targeting_gain.csv``); ``targeting``: the policy table
    (``tables/targeting.csv``, for the cost)."""
    if gain is None or targeting is None or policy not in set(gain["policy"]):
        return t("brief.policy_missing")
    g = gain.set_index("policy").loc[policy]
    cost = targeting.set_index("policy").loc[policy, "cost"]
    if any(pd.isna(v) for v in (g["gain_per_episode_cny"], g["ci_low"], g["ci_high"], cost)):
        return t("brief.policy_missing")
    key = "brief.policy" if g["ci_low"] > 0 or g["ci_high"] < 0 else "brief.policy_unclear"
    return t(key, policy=policy_name(policy, t), gain=t.money(g["gain_per_episode_cny"]),
             low=t.money(g["ci_low"]), high=t.money(g["ci_high"]), cost=t.money(cost))


def _overdue_sentence(changes: pd.DataFrame, t: Translator) -> str | None:
    c = changes.set_index("metric")
    if "overdue_rate_balance" not in c.index or pd.isna(c.loc["overdue_rate_balance", "value"]):
        return None
    r = c.loc["overdue_rate_balance"]
    if pd.isna(r["change"]):
        return t("brief.meaning_overdue_first", rate=t.pct(r["value"]))
    prev = t.month(pd.Timestamp(str(r["previous_month"]) + "-01"))
    key = ("brief.meaning_overdue_flat" if abs(r["change"]) < FLAT_CHANGE
           else "brief.meaning_overdue_up" if r["change"] > 0 else "brief.meaning_overdue_down")
    return t(key, rate=t.pct(r["value"]), change=t.points(r["change"]), previous=prev)


def _effect_sentence(estimates: pd.DataFrame, t: Translator) -> str:
    e = estimates[(estimates["outcome"] == "cure") & (estimates["segment_type"] == "all")]
    e = e.dropna(subset=["estimate", "ci_low", "ci_high"])
    clear = e[e["ci_low"] > 0]
    if clear.empty:
        return t("brief.meaning_no_effect")
    best = clear.sort_values("ci_low", ascending=False).iloc[0]
    name = measure_name(best["measure"], t)
    return t("brief.meaning_effect", measure=name[:1].upper() + name[1:],
             points=f"{100 * best['estimate']:.1f}", low=f"{100 * best['ci_low']:+.1f}",
             high=f"{100 * best['ci_high']:+.1f}")


def meaning_sentences(changes: pd.DataFrame, estimates: pd.DataFrame,
                      gain: pd.DataFrame | None, t: Translator) -> list[str]:
    """At most three sentences: where overdue is heading, the clearest relief effect on
    cure (whole book, doubly robust, interval above zero), and whether to act on the
    recommended policy (its paired gain over current practice, in total)."""
    out = [s for s in (_overdue_sentence(changes, t), _effect_sentence(estimates, t)) if s]
    if gain is not None and "learned" in set(gain["policy"]):
        g = gain.set_index("policy").loc["learned"]
        if not any(pd.isna(g[c]) for c in ("ci_low", "ci_high", "gain_total_cny")):
            out.append(t("brief.meaning_act", total=t.money(g["gain_total_cny"]))
                       if g["ci_low"] > 0 else t("brief.meaning_wait"))
    return out[:3]


def difference_sentences(differences: pd.DataFrame, t: Translator) -> list[str]:
    """One sentence per policy against the learned rule (:meth:`PolicyResult.differences`),
    saying plainly when the data cannot separate the two."""
    out = []
    for r in differences.itertuples(index=False):  # a handful of policies
        if r.policy == r.vs or any(math.isnan(float(v)) for v in (r.difference_cny, r.ci_low,
                                                                   r.ci_high)):
            continue
        name = policy_name(str(r.policy), t)
        kw = {"policy": name[:1].upper() + name[1:], "low": t.money(r.ci_low),
              "high": t.money(r.ci_high)}
        if not (r.ci_low > 0 or r.ci_high < 0):
            out.append(t("paired.not_separable", diff=t.money(r.difference_cny), **kw))
        elif r.difference_cny > 0:
            out.append(t("paired.separable_better", diff=t.money(r.difference_cny), **kw))
        else:
            out.append(t("paired.separable_worse", diff=t.money(-r.difference_cny), **kw))
    return out


__all__ = ["BRIEF_METRICS", "FLAT_CHANGE", "difference_sentences", "kpi_brief_table",
           "kpi_caption", "kpi_change", "kpi_value", "meaning_sentences", "policy_sentence",
           "republished_note"]
