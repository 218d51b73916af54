"""Scenario files: shapes, shipped scenarios, validation against a book."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import InputError, ParameterError
from analysis.scenarios import load_scenario, scenario_dir, scenario_from_dict
from analysis.scenarios.spec import month_ahead

AS_OF = pd.Timestamp("2024-06-30")


def test_shipped_scenarios_load_and_validate(synth_book):
    names = sorted(p.stem for p in scenario_dir().glob("*.yml"))
    assert {"baseline", "regional_demand_shock", "input_cost_shock"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name
        sc.validate(synth_book, AS_OF, 6)
    shock = load_scenario("regional_demand_shock").shocks[0]
    assert (shock.signal, shock.shift, shock.months) == ("demand_index_change", -15.0, (1, 2, 3))
    assert shock.segments == (("region", ("shanghai",)),)


def test_month_ahead_converts_and_bounds():
    assert month_ahead(2, AS_OF, 6) == 2
    assert month_ahead("2024-09", AS_OF, 6) == 3
    with pytest.raises(ParameterError, match="outside the forecast horizon"):
        month_ahead("2025-01", AS_OF, 6)
    with pytest.raises(ParameterError, match="outside"):
        month_ahead(0, AS_OF, 6)


@pytest.mark.parametrize(("spec", "error", "match"), [
    ({"shocks": [{"signal": "no_such_signal", "shift": 1}]}, InputError, "unknown signal"),
    ({"shocks": [{"signal": "demand_index_change", "shift": 1, "regions": ["atlantis"]}]},
     InputError, "unknown region value"),
    ({"shocks": [{"signal": "demand_index_change", "shift": 1, "months": [9]}]},
     ParameterError, "outside the forecast horizon"),
    ({"values": [{"month": 1, "signal": "input_cost_change", "value": 3,
                  "industry": "mining"}]}, InputError, "unknown industry"),
])
def test_validation_against_the_book(synth_book, spec, error, match):
    with pytest.raises(error, match=match):
        scenario_from_dict({"name": "bad", **spec}).validate(synth_book, AS_OF, 6)


@pytest.mark.parametrize(("spec", "match"), [
    ({"shocks": [{"signal": "x", "shift": 1, "shift_sd": 1}]}, "exactly one of"),
    ({"shocks": [{"signal": "x"}]}, "exactly one of"),
    ({"shocks": [{"signal": "x", "shift": 1, "when": 3}]}, "unknown shock key"),
    ({"baseline": {"method": "guess"}}, "baseline method"),
    ({"surprise": 1}, "unknown key"),
    ({"values": [{"month": 1, "signal": "x"}]}, "needs month, signal, value"),
])
def test_ill_formed_scenarios(spec, match):
    with pytest.raises(ParameterError, match=match):
        scenario_from_dict(spec)


def test_missing_file_names_the_shipped_ones(tmp_path):
    with pytest.raises(InputError, match="regional_demand_shock"):
        load_scenario(tmp_path / "nope.yml")
