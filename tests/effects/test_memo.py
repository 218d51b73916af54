"""Memoised nuisance fits (issue #17): a repeated fit inside ``shared_fits`` returns the
model fitted first, which equals a fresh fit; outside the scope nothing is kept."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.effects import cache_info, fit_nuisance, shared_fits
from analysis.effects.memo import digest, memoised
from tests.helpers.effects import simulate_episodes

COVS = ["severity", "credit_score", "borrower_type"]


@pytest.fixture(scope="module")
def episodes():
    return simulate_episodes(1500, seed=4)[0]


def test_memoised_keys_on_array_contents() -> None:
    calls = []

    def fit(x, k):
        calls.append(k)
        return float(x.sum()) * k

    x = np.arange(6.0).reshape(3, 2)
    assert memoised(fit, x, 2) == 30.0 and memoised(fit, x, 2) == 30.0
    assert calls == [2, 2]  # no scope: every call fits
    with shared_fits():
        assert memoised(fit, x, 2) == 30.0
        assert memoised(fit, x.copy(), 2) == 30.0  # equal contents: reused
        assert memoised(fit, x, 3) == 45.0  # another scalar: refitted
        y = x.copy()
        y[0, 0] = 1.0
        assert memoised(fit, y, 2) == 32.0  # other contents: refitted
        with shared_fits():  # nested scopes share the cache
            assert memoised(fit, x, 2) == 30.0
        assert cache_info()["entries"] == 3
    assert calls == [2, 2, 2, 3, 2]
    assert cache_info()["entries"] == 0  # the outermost scope empties it
    assert digest(x) != digest(x.astype(np.float32)) and digest(x) != digest(x.T)


def test_shared_propensity_equals_a_fresh_fit(episodes) -> None:
    """cure and loss_rate on the same episodes share the propensity fits (same rows,
    same folds): the memoised nuisance is identical to one fitted on its own."""
    fresh = fit_nuisance(episodes, "loss_rate", COVS, crossfit_folds=2, followup=None)
    with shared_fits():
        before = cache_info()["hits"]
        cure = fit_nuisance(episodes, "cure", COVS, crossfit_folds=2, followup=None)
        loss = fit_nuisance(episodes, "loss_rate", COVS, crossfit_folds=2, followup=None)
        hits = cache_info()["hits"] - before
    assert cure.index.equals(loss.index)
    assert hits == 3  # two fold propensities and the full-sample one
    assert loss.propensity is cure.propensity
    for name in ("mu", "mu_cf", "e_raw", "e_cf_raw"):
        np.testing.assert_array_equal(getattr(loss, name), getattr(fresh, name))
