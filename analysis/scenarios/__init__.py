"""Scenario planning: next months' overdue by cause under a scenario, its relief, backtested."""

from analysis.scenarios.backtest import actual_onsets, backtest
from analysis.scenarios.forecast import FittedModels, family_probabilities, fit_models, forecast
from analysis.scenarios.outcomes import POLICIES
from analysis.scenarios.result import (
    BACKTEST_COLUMNS,
    RELIEF_COLUMNS,
    TABLE_COLUMNS,
    BacktestResult,
    ForecastResult,
)
from analysis.scenarios.spec import Scenario, Shock, load_scenario, scenario_dir, scenario_from_dict

__all__ = [
    "BACKTEST_COLUMNS",
    "BacktestResult",
    "FittedModels",
    "ForecastResult",
    "POLICIES",
    "RELIEF_COLUMNS",
    "Scenario",
    "Shock",
    "TABLE_COLUMNS",
    "actual_onsets",
    "backtest",
    "family_probabilities",
    "fit_models",
    "forecast",
    "load_scenario",
    "scenario_dir",
    "scenario_from_dict",
]
