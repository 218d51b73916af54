"""The scenarios page's sentences, tables and figures, on hand-made results, in every
report language."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.definitions import FAMILIES
from analysis.report.i18n.catalogue import translator
from analysis.report.plots import scenarios as ps
from analysis.report.text import scenarios as st
from analysis.scenarios import BACKTEST_COLUMNS, BacktestResult, ForecastResult

MONTHS = ["2024-07", "2024-08", ""]


def _forecast(scale: float, name: str) -> ForecastResult:
    rows, relief = [], []
    for j, f in enumerate(FAMILIES):
        for m, v in zip(MONTHS, (10.0, 20.0, 30.0), strict=True):
            v = v * scale * (j + 1)
            rows.append({"month": m, "family": f, "new_episodes": v, "ci_low": 0.8 * v,
                         "ci_high": 1.2 * v, "expected_episodes": v, "ead_cny": 1e4 * v,
                         "ead_ci_low": 8e3 * v, "ead_ci_high": 1.2e4 * v})
    for pol, loss, cost, share in (("none", 1000.0, 0.0, 0.0), ("current", 900.0, 50.0, 0.4),
                                   ("learned", 600.0, 80.0, 0.7)):
        for q, v in (("relief_granted", 60 * share), ("relief_cost_cny", cost), ("cures", 20.0),
                     ("loss_cny", loss * scale)):
            relief.append({"month": "", "family": "all", "policy": pol, "quantity": q,
                           "value": v, "ci_low": v, "ci_high": v})
    return ForecastResult(pd.DataFrame(rows), pd.DataFrame(relief), name,
                          pd.Timestamp("2024-06-30"), 2, "learned", 0.95, 1234, 10)


def test_backtest_table_hides_small_months_and_their_complement():
    t = pd.DataFrame({
        "family": ["economic"] * 4 + ["personal"] * 4,
        "month": ["2024-07", "2024-08", "2024-09", ""] * 2,
        "predicted": 10.0, "ci_low": 5.0, "ci_high": 15.0,
        "actual": [4.0, 30.0, 12.0, 46.0, 20.0, 30.0, 40.0, 90.0],
        "ratio": 1.0, "covered": True,
    })
    out = st.backtest_table(t, min_cell=10)
    hidden = out["actual"].isna().to_numpy()
    # economic: 4 < 10 hidden, and the next smallest (12) with it; total and 30 shown
    np.testing.assert_array_equal(hidden, [True, False, True, False] + [False] * 4)
    assert out["is_suppressed"].sum() == 2 and "covered" not in out
    assert out["ratio"].isna().sum() == 2


@pytest.mark.parametrize("language", ["en", "zh-CN", "zh-TW"])
def test_sentences_tables_and_figures_in_every_language(language):
    t = translator(language)
    base, shock = _forecast(1.0, "baseline"), _forecast(1.5, "regional_demand_shock")
    s = st.forecast_sentence(shock, t)
    assert "regional_demand_shock" in s and "270" in s  # 30 + 60 + 90, x 1.5
    summary = st.summary_frame(base, shock)
    line = st.summary_line(pd.read_csv(io.StringIO(summary.to_csv(index=False))), t)
    assert "90" in line  # 270 - 180 more episodes
    assert t.money((900.0 - 600.0) * 1.5) in line  # current minus learned losses
    fan = pd.read_csv(io.StringIO(st.fan_frame(base, shock).to_csv(index=False)))
    got_base, got_shock, name = st.fan_parts(fan)  # as the summary reads it back
    assert name == "regional_demand_shock" and len(got_base) == len(base.table)
    assert (got_shock["month"] == "").sum() == (shock.table["month"] == "").sum() > 0
    np.testing.assert_allclose(got_shock["new_episodes"], shock.table["new_episodes"])
    assert isinstance(ps.plot_fan(got_base, got_shock, shock_name=name, t=t), Figure)
    frame = st.relief_frame(shock, t)
    assert len(frame) == 3 and frame.shape[1] == 6
    saved = frame[t("scenarios.quantity.loss_saved_cny")].to_numpy()
    np.testing.assert_allclose(saved, [0.0, 150.0, 600.0])
    assert isinstance(ps.plot_relief(shock, t=t), Figure)
    assert st.assumptions_text(t).count("\n") == 3
    bt_table = shock.table.rename(columns={"new_episodes": "predicted"}).assign(
        actual=lambda d: d["predicted"] * 1.1)
    bt_table["ratio"] = 1 / 1.1
    bt_table["covered"] = True
    bt = BacktestResult(bt_table[list(BACKTEST_COLUMNS)], pd.DataFrame(), shock,
                        pd.Timestamp("2024-06-30"), 2, 0.95)
    assert "0.91" in st.backtest_sentence(bt, t)
    assert isinstance(ps.plot_backtest(bt.table, t=t), Figure)
    assert bt.coverage == 1.0
