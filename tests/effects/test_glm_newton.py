"""The Newton fits of the effects GLMs against statsmodels and against their optimality
conditions (analysis/effects/glm.py).

The binary and fractional logits and the multinomial logit are fitted here instead of by
statsmodels (issue #15, speed); these tests pin them to statsmodels' ``GLM`` and
``MNLogit`` estimates on the same data, on both the small-sample path and the large-data
path (subsample start, chord steps: ``MAX_HESSIAN_ROWS`` lowered so it runs on a few
thousand rows), and check that the penalised fits reach a smaller gradient than
statsmodels' BFGS ``fit_regularized``.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.effects import glm


def _data(n: int, p: int = 6, seed: int = 0, fractional: bool = False):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    beta = rng.normal(0, 0.5, p)
    mu = 1 / (1 + np.exp(-(x @ beta)))
    y = rng.beta(2 * mu + 0.1, 2 * (1 - mu) + 0.1) * (rng.random(n) < 0.8) if fractional else (rng.random(n) < mu) * 1.0
    return x, y


@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("big", [False, True])
def test_logit_mle_equals_statsmodels_glm(fractional, big, monkeypatch):
    import statsmodels.api as sm

    if big:  # subsample start + chord steps on all rows
        monkeypatch.setattr(glm, "MAX_HESSIAN_ROWS", 500)
    x, y = _data(3000, seed=1, fractional=fractional)
    params, ok, _ = glm.logit_mle(x, y)
    ref = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-12).params
    assert ok
    np.testing.assert_allclose(params, ref, atol=1e-8)


def test_penalised_logit_is_the_optimum_statsmodels_approaches():
    import statsmodels.api as sm

    x, y = _data(400, seed=2)
    pen = np.r_[0.0, np.full(5, 0.3)]
    r = glm.logit_newton(x, y, pen)
    old = np.asarray(sm.GLM(y, x, family=sm.families.Binomial()).fit_regularized(alpha=pen, L1_wt=0.0).params)
    grad_old = np.abs(glm._logit_parts(x, y, old, pen, False)[1]).max()
    assert r.converged and r.max_grad < 1e-9 < grad_old  # BFGS stops at a gradient of ~1e-5
    np.testing.assert_allclose(r.params, old, atol=1e-3)
    # the penalty shrinks the slopes towards 0, leaves the intercept free
    plain = glm.logit_newton(x, y)
    assert np.abs(r.params[1:]).sum() < np.abs(plain.params[1:]).sum()


@pytest.mark.parametrize("big", [False, True])
def test_mn_mle_equals_statsmodels_mnlogit(big, monkeypatch):
    from statsmodels.discrete.discrete_model import MNLogit

    if big:
        monkeypatch.setattr(glm, "MAX_HESSIAN_ROWS", 800)
    rng = np.random.default_rng(3)
    n, p = 4000, 5
    x = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    gamma = rng.normal(0, 0.5, (p, 3))
    e = glm.mn_probs(x, gamma)
    a = (e.cumsum(1) > rng.random(n)[:, None]).argmax(1)
    r = glm.mn_mle(x, a, 4)
    ref = MNLogit(a, x).fit(method="newton", disp=False, tol=1e-12, maxiter=100).params
    assert r.converged and r.max_grad < 1e-9
    np.testing.assert_allclose(r.params, np.asarray(ref).reshape(p, 3), atol=1e-8)


def test_separated_arm_is_refitted_with_a_penalty_and_says_so():
    rng = np.random.default_rng(4)
    n = 600
    z = rng.normal(size=n)
    x = np.column_stack([np.ones(n), z, rng.normal(size=n)])
    y = (z > 0) * 1.0  # perfectly separated by the first covariate
    m = glm.fit_arm_model("deferral", x, y, "binary")
    assert "separated or did not converge" in m.note and m.penalty == 1e-3
    assert np.isfinite(m.params).all() and np.abs(m.params).max() < 100


def test_singular_plain_fits_fall_back_to_penalised(monkeypatch):
    def _singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix (injected)")

    x, y = _data(3000, seed=5)
    plain = glm.fit_arm_model("none", x, y, "binary")
    monkeypatch.setattr(glm, "logit_mle", _singular)
    m = glm.fit_arm_model("none", x, y, "binary")
    assert "GLM failed (LinAlgError)" in m.note and "L2 penalty 0.001" in m.note
    np.testing.assert_allclose(m.params, plain.params, atol=0.01)
    a = (np.random.default_rng(5).random(3000) * 3).astype(int)
    monkeypatch.setattr(glm, "mn_mle", _singular)
    gamma, note, pen = glm.fit_propensity_penalised(x, a, 3)
    assert "MNLogit failed (LinAlgError)" in note and pen == 1e-3 and np.isfinite(gamma).all()
    monkeypatch.setattr(glm, "logit_newton", _singular)
    with pytest.raises(glm.EstimationError, match="could not be fitted even with an L2 penalty"):
        glm.fit_arm_model("none", x, y, "binary")


def test_column_helpers():
    x, _ = _data(200_000 // 3, seed=6)  # more than one block of rows
    np.testing.assert_allclose(glm.column_sd(x), x.std(axis=0), rtol=1e-12, atol=1e-15)
    assert glm.columns_of(x, np.arange(x.shape[1])) is x
    np.testing.assert_array_equal(glm.columns_of(x, np.array([0, 2])), x[:, [0, 2]])
