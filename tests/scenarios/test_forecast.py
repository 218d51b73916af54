"""The forecast on the session's synthetic book: shapes, the exclusion property, policies."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.definitions import FAMILIES
from analysis.errors import ParameterError
from analysis.scenarios import TABLE_COLUMNS, forecast
from analysis.scenarios.hazards import loan_controls, schedule_controls
from analysis.scenarios.paths import population, signal_paths
from analysis.scenarios.simulate import family_hazards
from analysis.scenarios.spec import load_scenario, scenario_from_dict

AS_OF = "2024-06"
MANAGEMENT_SHOCK = {"name": "management_shock",
                    "shocks": [{"signal": "revenue_volatility", "shift_sd": 2.0}]}


def _run(book, fitted, scenario, **kw):
    return forecast(book, AS_OF, scenario, models=fitted, n_draws=30, seed=5, **kw)


def test_forecast_table_shape_and_intervals(synth_book, fitted):
    res = _run(synth_book, fitted, "baseline")
    t = res.table
    assert tuple(t.columns) == TABLE_COLUMNS
    assert len(t) == 3 * 7 and set(t["family"]) == set(FAMILIES)
    assert list(t["month"].iloc[:7]) == ["2024-07", "2024-08", "2024-09", "2024-10", "2024-11",
                                         "2024-12", ""]
    assert (t["ci_low"] <= t["new_episodes"]).all() and (t["new_episodes"] <= t["ci_high"]).all()
    assert (t["ead_cny"] > 0).all()
    for f in FAMILIES:  # the horizon row is the sum of the months (means are additive)
        rows = t[t["family"] == f]
        assert rows["new_episodes"].iloc[-1] == pytest.approx(rows["new_episodes"].iloc[:-1].sum())
    # the Monte Carlo counts average to the expected counts
    tot = res.totals()
    assert np.allclose(tot["new_episodes"], tot["expected_episodes"], rtol=0.15)
    again = _run(synth_book, fitted, "baseline")
    assert again.table.equals(t)  # seeded: reproducible


def test_management_shock_leaves_the_economic_hazard_alone(synth_book, fitted):
    """Exclusion: the economic hazard reads economic signals only, so a management shock
    leaves it identical, draw by draw; the economic forecast moves only through the loans
    the extra management onsets take out of the at-risk set (competing risks)."""
    as_of = fitted.as_of
    pop = population(fitted.book, as_of, 6)
    hz = fitted.hazards
    static = loan_controls(pop.loans, hz.types, hz.score_mean, hz.score_sd)
    sched = schedule_controls(pop.months_left, pop.months_on_book, pop.months_since_overdue)
    coefs = [fh.coef for fh in hz.families]
    h = {}
    for name, sc in (("base", load_scenario("baseline")),
                     ("shock", scenario_from_dict(MANAGEMENT_SHOCK))):
        paths = signal_paths(fitted.book, pop, sc, as_of, 6, hz.signal_mean, hz.signal_sd)
        z = paths.draw(np.random.default_rng(1))
        h[name] = family_hazards(hz, coefs, z, static, sched, paths.signals)
    np.testing.assert_array_equal(h["base"][..., 0], h["shock"][..., 0])
    np.testing.assert_array_equal(h["base"][..., 2], h["shock"][..., 2])
    assert (h["shock"][..., 1] > h["base"][..., 1]).all()  # volatility raises management risk
    base = _run(synth_book, fitted, "baseline").totals().set_index("family")
    shock = _run(synth_book, fitted, MANAGEMENT_SHOCK).totals().set_index("family")
    assert shock.loc["management", "expected_episodes"] > 1.2 * base.loc["management", "expected_episodes"]
    extra = shock.loc["management", "expected_episodes"] - base.loc["management", "expected_episodes"]
    for f in ("economic", "personal"):
        # fewer loans left at risk: never more onsets, and at most a tenth of the extra
        # management onsets' loans would have gone overdue for f within the horizon
        drop = base.loc[f, "expected_episodes"] - shock.loc[f, "expected_episodes"]
        assert 0 <= drop <= 0.1 * extra, (f, drop, extra)


def test_demand_shock_raises_economic_onsets_in_its_months(synth_book, fitted):
    base = _run(synth_book, fitted, "baseline").table
    shock = _run(synth_book, fitted, "regional_demand_shock").table
    econ = (shock["family"] == "economic")
    ratio = (shock.loc[econ, "expected_episodes"].to_numpy()
             / base.loc[econ, "expected_episodes"].to_numpy())
    assert (ratio[:3] > 1.05).all()  # months 1-3 shocked
    # months 4-6: the level again, less the shocked loans already overdue (competing risks)
    assert ((ratio[3:6] <= 1) & (ratio[3:6] > 0.85)).all()


def test_set_values_apply_to_their_month_and_segment(synth_book, fitted):
    spec = {"name": "cost_spike", "values": [
        {"month": 2, "signal": "input_cost_change", "value": 40.0, "industry": "manufacturing"}]}
    base = _run(synth_book, fitted, "baseline").table
    res = _run(synth_book, fitted, spec).table
    econ = res["family"] == "economic"
    diff = res.loc[econ, "expected_episodes"].to_numpy() - base.loc[econ, "expected_episodes"].to_numpy()
    assert diff[1] == diff[:6].max() and diff[1] > 0
    assert np.abs(diff[0]) < 1e-9  # month 1 untouched


def test_relief_policies_are_consistent(synth_book, fitted):
    res = _run(synth_book, fitted, "baseline", policy="learned")
    pt = res.policy_totals().set_index(["policy", "quantity"])["value"]
    assert set(res.relief["policy"]) == {"none", "current", "learned"}
    assert pt[("none", "relief_granted")] == 0 and pt[("none", "relief_cost_cny")] == 0
    onsets = res.totals()["new_episodes"].sum()
    assert 0 < pt[("current", "relief_granted")] < onsets
    # the learned rule picks, per episode, the arm with the largest loss saved net of cost:
    # its losses plus costs never exceed no relief's losses
    assert pt[("learned", "loss_cny")] + pt[("learned", "relief_cost_cny")] <= pt[("none", "loss_cny")] + 1e-6
    assert res.summary().equals(res.totals())
    assert "Scenario forecast" in res._repr_html_()


def test_bad_arguments(synth_book, fitted):
    with pytest.raises(ParameterError, match="policy"):
        _run(synth_book, fitted, "baseline", policy="amnesty")
    with pytest.raises(ParameterError, match="after the book's last month"):
        forecast(synth_book, "2031-01", "baseline")


def test_outcome_models_uncertainty_widens_the_relief_intervals(synth_book, fitted):
    """Draws 1.. use half-sample refits of the outcome models: the onsets stay the same
    draw for draw, the learned rule's relief intervals widen (its choices and rates now
    vary with the models), and the halves' mean cure rates scatter around the full fit's
    by a sampling error's size."""
    from dataclasses import replace

    from analysis.scenarios.outcomes import OUTCOME_HALVES, episode_frame, policy_rates

    assert len(fitted.outcomes.halves) == OUTCOME_HALVES
    bare = replace(fitted, outcomes=replace(fitted.outcomes, halves=()))
    with_h = _run(synth_book, fitted, "baseline", policy="learned")
    without = _run(synth_book, bare, "baseline", policy="learned")
    assert with_h.table.equals(without.table)
    key = ["month", "family", "policy", "quantity"]
    width = [(r.relief.set_index(key)["ci_high"] - r.relief.set_index(key)["ci_low"])
             .loc[("", "all", "learned", "cures")] for r in (with_h, without)]
    assert width[0] > 1.2 * width[1], width
    pop = population(fitted.book, fitted.as_of, 6)
    frame = episode_frame(pop.loans.iloc[:2000], pop.balance[:2000, 0],
                          pop.months_on_book[:2000, 0], fitted.outcomes.dpd_at_start)
    full = policy_rates(fitted.outcomes, frame, ("none", "current"))
    for pol in ("none", "current"):
        halves = np.array([policy_rates(fitted.outcomes.half(b), frame, (pol,))[pol].cure.mean()
                           for b in range(OUTCOME_HALVES)])
        assert 0.002 < halves.std(ddof=1) < 0.08, (pol, halves)
        assert abs(halves.mean() - full[pol].cure.mean()) < 3 * halves.std(ddof=1)
