"""The pooled loss model of targeting: its limits (no penalty = per-arm GLMs; infinite
penalty = common slopes), its objective against statsmodels, and cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.targeting import (
    ArmDesign,
    crossfit_pooled_loss,
    fit_pooled_logit,
    fit_pooled_loss,
    pooled_design,
)

ARMS = ("none", "a", "b")


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    a = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    eta = -1 + x[:, 1] - 0.5 * x[:, 2] + np.array([0.0, -0.4, 0.3])[a] + 0.5 * (a == 1) * x[:, 3]
    p = 1 / (1 + np.exp(-eta))
    y = np.where(rng.uniform(size=n) < p, rng.uniform(0.6, 1.0, n), 0.0)  # a loss rate
    return x, y, a


def _penalised(n: int, seed: int, ridge: float):
    """``_data`` with its pooled design (3 arms) and a ridge on the arm interactions only."""
    x, y, a = _data(n, seed)
    z = pooled_design(x, a, 3)
    pen = np.zeros(z.shape[1])
    pen[x.shape[1] + 2:] = ridge
    return x, y, a, z, pen


def test_design_by_hand() -> None:
    x = np.array([[1.0, 2.0], [1.0, 3.0]])
    z = pooled_design(x, np.array([0, 2]), 3)
    np.testing.assert_array_equal(z, [[1, 2, 0, 0, 0, 0], [1, 3, 0, 1, 0, 3]])


def test_no_penalty_equals_per_arm_glms() -> None:
    """Without a penalty the interactions are saturated: each arm's predictions are those
    of a fractional logit fitted to that arm alone (statsmodels)."""
    import statsmodels.api as sm

    x, y, a = _data(3000, 1)
    m = fit_pooled_loss(ARMS, None, x, y, a, penalty=0.0)
    pred = m.predict_x(x)
    for j in range(3):
        res = sm.GLM(y[a == j], x[a == j], family=sm.families.Binomial()).fit()
        np.testing.assert_allclose(pred[:, j], res.predict(x), rtol=1e-5, atol=1e-7)


def test_large_penalty_gives_common_slopes() -> None:
    """With a prohibitive penalty the arms differ only by a constant on the logit scale."""
    x, y, a = _data(3000, 2)
    pred = fit_pooled_loss(ARMS, None, x, y, a, penalty=1e6).predict_x(x)
    logit = np.log(pred / (1 - pred))
    diff = logit[:, 1:] - logit[:, :1]
    assert np.ptp(diff, axis=0).max() < 1e-3


def test_objective_matches_statsmodels_ridge() -> None:
    """Same penalised quasi-likelihood as statsmodels' GLM.fit_regularized (L1_wt=0)."""
    import statsmodels.api as sm

    x, y, a, z, pen = _penalised(1500, 3, 0.05)
    b = fit_pooled_logit(z, y, pen)
    ref = sm.GLM(y, z, family=sm.families.Binomial()).fit_regularized(alpha=pen, L1_wt=0.0).params

    def objective(beta: np.ndarray) -> float:
        mu = 1 / (1 + np.exp(-(z @ beta)))
        ll = (y * np.log(mu) + (1 - y) * np.log(1 - mu)).mean()
        return -ll + 0.5 * (pen * beta ** 2).sum()

    assert objective(b) <= objective(ref) + 1e-7
    np.testing.assert_allclose(b, ref, atol=2e-3)


def test_crossfit_predictions_are_out_of_fold() -> None:
    """Changing the outcomes of fold 0 changes neither fold 0's out-of-fold predictions nor
    the predictions of the model fitted without fold 0."""
    from types import SimpleNamespace

    x, y, a = _data(2000, 4)
    folds = np.arange(2000) % 4
    nu = SimpleNamespace(x=x, y=y, a=a, arms=ARMS, design=None)
    full, oof, without = crossfit_pooled_loss(nu, folds)
    y2 = y.copy()
    y2[folds == 0] = 1.0 - y2[folds == 0]
    _, oof2, without2 = crossfit_pooled_loss(SimpleNamespace(**{**vars(nu), "y": y2}), folds)
    np.testing.assert_allclose(oof2[folds == 0], oof[folds == 0])
    np.testing.assert_allclose(without2[0], without[0])
    assert not np.allclose(oof2[folds == 1], oof[folds == 1])
    assert set(without) == {0, 1, 2, 3} and all(len(v) == 1500 for v in without.values())
    assert full.predict_x(x).shape == (2000, 3)


@pytest.mark.parametrize("bad", ["forest"])
def test_loss_model_parameter_is_checked(bad: str) -> None:
    import pandas as pd

    from analysis.errors import ParameterError
    from analysis.targeting import arm_estimates

    with pytest.raises(ParameterError, match="loss_model"):
        arm_estimates(pd.DataFrame(), loss_model=bad)


def test_arm_design_equals_the_dense_pooled_design() -> None:
    """The per-arm blocks give the pooled design's products (issue #17 shortcut)."""
    x, y, a = _data(400, 5)
    a[:3] = 2  # make sure every arm has rows
    z = pooled_design(x, a, 3)
    d = ArmDesign(x, a, 3)
    b = np.random.default_rng(0).normal(size=z.shape[1])
    v = np.random.default_rng(1).random(len(y))
    np.testing.assert_allclose(d.eta(b), z @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.score(v), z.T @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.gram(v), (z * v[:, None]).T @ z, rtol=1e-12, atol=1e-12)


def test_structured_and_warm_started_fits_equal_the_dense_fit() -> None:
    x, y, a, z, pen = _penalised(2000, 6, 0.01)
    dense = fit_pooled_logit(z, y, pen)
    np.testing.assert_allclose(fit_pooled_logit(ArmDesign(x, a, 3), y, pen), dense, atol=1e-10)
    rows = np.arange(1500)
    cold = fit_pooled_loss(ARMS, None, x, y, a, rows)
    warm = fit_pooled_loss(ARMS, None, x, y, a, rows, start=dense)
    np.testing.assert_allclose(warm.params, cold.params, atol=1e-10)


def test_predict_x_equals_the_dense_pooled_design():
    """Each arm's prediction from the coefficient blocks equals the pooled design's."""
    from analysis.targeting.pooled import PooledLossModel, pooled_design

    rng = np.random.default_rng(3)
    n, p, k = 500, 6, 4
    x = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    params = rng.normal(size=p + (k - 1) * p)
    dense = np.column_stack([pooled_design(x, np.full(n, j), k) @ params for j in range(k)])
    got = PooledLossModel(tuple("abcd"), None, params).predict_x(x)
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-dense)), rtol=1e-12, atol=0)
