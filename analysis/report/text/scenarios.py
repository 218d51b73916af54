"""The scenarios page in the report language: headline sentences, assumptions, tables.

Display only: the CSV tables keep codes (families, policies, quantities). Families are
named with ``Translator.category("family", ...)``; policies and quantities with the
``scenarios.policy.*`` and ``scenarios.quantity.*`` keys.
"""

from __future__ import annotations

import pandas as pd

from analysis.report.i18n.catalogue import Translator
from analysis.scenarios import BacktestResult, ForecastResult

POLICY_ORDER: tuple[str, ...] = ("none", "current", "learned")
# Catalogue keys by code, spelled out so that a key nothing uses is found by the i18n test.
POLICY_KEYS: dict[str, str] = {"none": "scenarios.policy.none",
                               "current": "scenarios.policy.current",
                               "learned": "scenarios.policy.learned"}
ASSUMPTION_KEYS: tuple[str, ...] = (
    "scenarios.assumption.hazards_stable", "scenarios.assumption.policy_as_given",
    "scenarios.assumption.no_feedback", "scenarios.assumption.population")
QUANTITY_KEYS: dict[str, str] = {
    "relief_granted": "scenarios.quantity.relief_granted",
    "relief_cost_cny": "scenarios.quantity.relief_cost_cny",
    "cures": "scenarios.quantity.cures", "loss_cny": "scenarios.quantity.loss_cny",
    "loss_saved_cny": "scenarios.quantity.loss_saved_cny"}


def policy_name(code: str, t: Translator) -> str:
    """Display name of a policy code (a measure name for single-measure policies)."""
    return t(POLICY_KEYS[code]) if code in POLICY_KEYS else t.category("measure", code)


def assumptions_text(t: Translator) -> str:
    """The forecast's assumptions as a Markdown list (hazards stable, policy as given, no
    feedback, which loans are forecast)."""
    return "\n".join(f"- {t(k)}" for k in ASSUMPTION_KEYS)


def _n(x: float) -> str:
    """A forecast count (a model's expectation, not a cell of the data): whole, with
    thousands separators."""
    return f"{round(float(x)):,}"


def _total(res: ForecastResult) -> tuple[float, float, float]:
    tot = res.totals()
    return (float(tot["new_episodes"].sum()), float(tot["ci_low"].sum()),
            float(tot["ci_high"].sum()))


def forecast_sentence(res: ForecastResult, t: Translator) -> str:
    """One sentence: new overdue episodes over the horizon by family, with intervals."""
    tot = res.totals()
    parts = t("format.list_sep").join(
        t("scenarios.family_count", family=t.category("family", r.family),
          value=_n(r.new_episodes), low=_n(r.ci_low), high=_n(r.ci_high))
        for r in tot.itertuples())
    return t("scenarios.forecast_sentence", scenario=res.scenario, months=res.horizon_months,
             as_of=t.month(res.as_of), loans=t.count(res.n_loans), total=_n(_total(res)[0]),
             parts=parts)


def summary_frame(base: ForecastResult, shock: ForecastResult) -> pd.DataFrame:
    """One row for the management summary (``tables/scenario_summary.csv``): the shock's
    name and horizon (months), new overdue episodes over the horizon under the baseline
    and under the shock (model expectations), and the loss (CNY) the shock's policy saves
    against current practice under the shock."""
    pt = shock.policy_totals().set_index(["policy", "quantity"])["value"]
    saved = float(pt.get(("current", "loss_cny"), 0.0) - pt.get((shock.policy, "loss_cny"), 0.0))
    return pd.DataFrame([{"scenario": shock.scenario, "months": shock.horizon_months,
                          "base_episodes": _total(base)[0], "shock_episodes": _total(shock)[0],
                          "saved_cny": saved, "policy": shock.policy}])


def summary_line(summary: pd.DataFrame, t: Translator) -> str:
    """The management summary's line from :func:`summary_frame`: extra overdue episodes
    under the shock, and the loss the policy saves against current practice under it."""
    r = summary.iloc[0]
    b, s = float(r["base_episodes"]), float(r["shock_episodes"])
    return t("scenarios.summary_line", scenario=r["scenario"], months=int(r["months"]),
             extra=_n(max(s - b, 0)), base=_n(b), shock=_n(s),
             saved=t.money(float(r["saved_cny"])), policy=policy_name(str(r["policy"]), t))


def fan_frame(base: ForecastResult, shock: ForecastResult) -> pd.DataFrame:
    """Both forecasts' tables in one (``tables/scenario_fan.csv``), ``scenario`` first:
    what the management summary draws the fan chart from."""
    return pd.concat([base.table.assign(scenario="baseline"),
                      shock.table.assign(scenario=shock.scenario)], ignore_index=True)[
        ["scenario", *base.table.columns]]


def fan_parts(fan: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(baseline table, shock table, shock name) of a :func:`fan_frame` read back from
    CSV (an empty ``month``, the horizon total, reads as missing there)."""
    fan = fan.assign(month=fan["month"].fillna("").astype(str))
    shock = fan[fan["scenario"] != "baseline"]
    name = str(shock["scenario"].iloc[0]) if len(shock) else ""
    return (fan[fan["scenario"] == "baseline"].drop(columns="scenario"),
            shock.drop(columns="scenario"), name)


def relief_frame(res: ForecastResult, t: Translator) -> pd.DataFrame:
    """Horizon totals per policy (rows) and quantity (columns), with display names."""
    pt = res.policy_totals()
    wide = pt.pivot(index="policy", columns="quantity", values="value")
    order = [p for p in (*POLICY_ORDER, res.policy) if p in wide.index]
    wide = wide.loc[list(dict.fromkeys(order))]
    none_loss = float(wide.loc["none", "loss_cny"]) if "none" in wide.index else float("nan")
    wide["loss_saved_cny"] = none_loss - wide["loss_cny"]
    wide.index = [policy_name(p, t) for p in wide.index]
    wide.columns = [t(QUANTITY_KEYS[c]) for c in wide.columns]
    return wide.rename_axis(t("scenarios.quantity.policy")).reset_index()


def backtest_table(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """``BacktestResult.table`` for publication (``tables/backtest.csv``): a month whose
    actual new episodes of a family are fewer than ``min_cell`` shows no ``actual`` and no
    ``ratio``; when that leaves a single hidden month in a family, the next smallest month
    is hidden too, so the horizon total does not give it away. ``covered`` is dropped
    (the page states the coverage)."""
    out = table.drop(columns=[c for c in ("covered",) if c in table]).copy()
    monthly = out["month"] != ""
    small = monthly & (out["actual"] < min_cell)
    for fam in out["family"].unique():  # three families
        rows = monthly & (out["family"] == fam)
        if (small & rows).sum() == 1:
            shown = out.loc[rows & ~small, "actual"]
            if len(shown):
                small.loc[shown.idxmin()] = True
    out.loc[small, ["actual", "ratio"]] = float("nan")
    out["is_suppressed"] = small
    return out


def backtest_sentence(bt: BacktestResult, t: Translator) -> str:
    """Calibration in one sentence: predicted/actual per family over the horizon and the
    interval coverage of the monthly counts."""
    s = bt.summary()
    ratios = t("format.list_sep").join(
        t("scenarios.family_ratio", family=t.category("family", r.family), ratio=f"{r.ratio:.2f}")
        for r in s.itertuples())
    return t("scenarios.backtest_sentence", as_of=t.month(bt.as_of), months=bt.horizon_months,
             ratios=ratios, coverage=t.pct(bt.coverage), level=t.pct(bt.level))


__all__ = ["POLICY_ORDER", "assumptions_text", "backtest_sentence", "backtest_table", "fan_frame",
           "fan_parts", "forecast_sentence", "policy_name", "relief_frame", "summary_frame",
           "summary_line"]
