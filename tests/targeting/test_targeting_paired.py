"""Paired differences between policies: the standard error by hand, narrower than the
unpaired one where scores are correlated, and honest about policies it cannot separate."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError, ParameterError
from analysis.targeting import (
    DIFFERENCE_COLUMNS,
    TargetingWarning,
    compare_policies,
    paired_difference,
    policy_differences,
    unpaired_std_error,
)


def test_paired_difference_by_hand() -> None:
    a = np.array([10.0, 20.0, 30.0, 40.0])
    b = np.array([8.0, 21.0, 25.0, 40.0])
    # d = [2, -1, 5, 0]: mean 1.5; deviations [0.5, -2.5, 3.5, -1.5];
    # squares sum 0.25 + 6.25 + 12.25 + 2.25 = 21; var = 21 / 3 = 7; se = sqrt(7 / 4)
    est, se, lo, hi = paired_difference(a, b, level=0.95)
    assert est == pytest.approx(1.5)
    assert se == pytest.approx(math.sqrt(7 / 4))
    assert lo == pytest.approx(1.5 - 1.959964 * math.sqrt(7 / 4), rel=1e-6)
    assert hi == pytest.approx(1.5 + 1.959964 * math.sqrt(7 / 4), rel=1e-6)
    # unpaired: var(a) = 500 / 3, var(b) = 521 / 3 (ddof 1; b's mean 23.5), n = 4 each
    assert unpaired_std_error(a, b) == pytest.approx(math.sqrt((500 / 3 + 521 / 3) / 4))


def test_identical_policies_differ_by_zero_and_are_not_separable() -> None:
    s = pd.DataFrame({"learned": [1.0, 5.0, -3.0], "other": [1.0, 5.0, -3.0]})
    d = policy_differences(s, vs="learned").set_index("policy")
    assert list(d.reset_index().columns) == list(DIFFERENCE_COLUMNS)
    assert d.loc["other", "difference_cny"] == 0 and d.loc["other", "std_error_cny"] == 0
    assert not d.loc["other", "is_separable"] and not d.loc["learned", "is_separable"]


def test_paired_interval_is_narrower_where_scores_are_correlated() -> None:
    """Scores sharing every episode's large outcome residual (as DR scores of two policies
    do on the same episodes) and differing on a fifth of them by a real gain of 50 CNY:
    the unpaired interval cannot tell the policies apart, the paired one can."""
    rng = np.random.default_rng(3)
    n = 5000
    residual = rng.normal(0, 20_000, n)  # the shared, noisy part
    differs = rng.random(n) < 0.2
    learned = 1_000 + residual
    other = learned - np.where(differs, 250 + rng.normal(0, 100, n), 0.0)
    d = policy_differences(pd.DataFrame({"learned": learned, "other": other})).set_index("policy")
    row = d.loc["other"]
    paired_width = row["ci_high"] - row["ci_low"]
    unpaired_width = row["unpaired_ci_high"] - row["unpaired_ci_low"]
    assert paired_width < unpaired_width / 50
    assert row["ci_high"] < 0 and row["is_separable"]  # the other policy is worse, and we can say so
    assert row["unpaired_ci_low"] < 0 < row["unpaired_ci_high"]  # separately: overlapping
    assert row["difference_cny"] == pytest.approx(-0.2 * 250, abs=10)


def test_inputs_are_checked() -> None:
    with pytest.raises(InputError, match="at least 2"):
        paired_difference(np.array([1.0]), np.array([2.0]))
    with pytest.raises(InputError, match="one length"):
        paired_difference(np.zeros(3), np.zeros(4))
    with pytest.raises(ParameterError, match="unknown policy"):
        policy_differences(pd.DataFrame({"a": [1.0, 2.0]}), vs="learned")


@pytest.mark.slow
def test_paired_differences_on_a_book(synth_episodes) -> None:
    """On the 4,000-loan synthetic book, every policy's paired interval against the
    learned rule is narrower than the unpaired one, and ``gain`` agrees with it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TargetingWarning)
        res = compare_policies(synth_episodes, seed=1, budget_points=2)
    d = res.differences("learned").set_index("policy").drop(index="learned")
    paired = d["ci_high"] - d["ci_low"]
    unpaired = d["unpaired_ci_high"] - d["unpaired_ci_low"]
    # "no relief" scores 0 on every episode: nothing to pair with, the two intervals agree
    assert paired["no_relief"] == pytest.approx(unpaired["no_relief"])
    others = d.index.drop("no_relief")
    assert (paired[others] < unpaired[others]).all(), pd.concat([paired, unpaired], axis=1)
    assert (paired[others] / unpaired[others]).min() < 0.5  # much narrower for some policies
    g = res.gain("learned").set_index("policy")
    assert np.allclose(g.loc[d.index, "gain_per_episode_cny"], d["difference_cny"])
    assert np.allclose(g.loc[d.index, "ci_low"], d["ci_low"])
