"""Latent competing-causes model (analysis.causes.latent): by hand, gradient, truth recovery."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.causes.latent import (
    LatentData,
    LatentFit,
    Prior,
    _gradient,
    fit_latent,
    latent_attribution,
    log_posterior,
    report_likelihood,
)

RATE = np.array([0.6, 0.25, 0.45])  # reports missing not at random by family
CONF = np.array([[0.85, 0.10, 0.05],
                 [0.20, 0.75, 0.05],
                 [0.05, 0.05, 0.90]])
ALPHA = np.array([0.0, 0.3, -0.8])
BETA = np.array([2.0, 2.0, 2.5])  # strong enough that each family has near-certain episodes


def simulate_episodes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Episodes drawn from the model itself: one signal per family, family ~ softmax,
    report with probability RATE[f], reported family ~ CONF[f]. Two episodes per loan."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    z[:, 2] = (rng.random(n) < 0.15) * 2.0 - 0.3  # the personal signal is a flag
    eta = ALPHA + BETA * z
    q = np.exp(eta - eta.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    fam = (rng.random(n)[:, None] > np.cumsum(q, axis=1)[:, :2]).sum(axis=1)
    reported = rng.random(n) < RATE[fam]
    rep_fam = (rng.random(n)[:, None] > np.cumsum(CONF[fam], axis=1)[:, :2]).sum(axis=1)
    obs = np.where(reported, rep_fam, -1)
    loan = np.arange(n) // 2
    return z, obs, fam, loan


def _data(z, obs, loan) -> LatentData:
    return LatentData.build(z, obs, [np.array([0]), np.array([1]), np.array([2])], loan)


# ----------------------------------------------------------------------------- by hand
def test_report_likelihood_by_hand() -> None:
    rate = np.array([0.5, 0.2, 0.4])
    conf = np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]])
    pi = report_likelihood(np.array([-1, 0, 1, 2]), rate, conf)
    np.testing.assert_allclose(pi, [[0.5, 0.8, 0.6],
                                    [0.45, 0.06, 0.0],
                                    [0.05, 0.14, 0.0],
                                    [0.0, 0.0, 0.4]])


def test_posterior_by_hand() -> None:
    # q = (0.5, 0.3, 0.2) from intercepts only; an economic report and a silent episode
    eta = np.log([0.5, 0.3, 0.2])
    fit = LatentFit((np.array([0.0]), np.array([eta[1] - eta[0]]), np.array([eta[2] - eta[0]])),
                    np.array([0.5, 0.2, 0.4]),
                    np.array([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]]),
                    0.0, 0, True)
    x = tuple(np.ones((2, 1)) for _ in range(3))
    p = fit.posterior(x, np.array([0, -1]))
    a = np.array([0.5 * 0.45, 0.3 * 0.06, 0.0])
    b = np.array([0.5 * 0.5, 0.3 * 0.8, 0.2 * 0.6])
    np.testing.assert_allclose(p, [a / a.sum(), b / b.sum()])
    # P(report names g | reported) = sum_f q_f r_f C[f, g] / sum_f q_f r_f
    num = np.array([0.5, 0.3, 0.2]) * fit.rate @ fit.conf
    np.testing.assert_allclose(fit.predicted_report(x)[0], num / num.sum())


def test_pack_unpack_roundtrip() -> None:
    fit = LatentFit((np.array([0.0, 0.4]), np.array([0.2, -1.0]), np.array([-0.5, 2.0, 0.1])),
                    RATE, CONF, 0.0, 0, True)
    coef, rate, conf = fit.unpack(fit.pack())
    for a, b in zip(coef, fit.coef, strict=True):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(rate, RATE)
    np.testing.assert_allclose(conf, CONF)


def test_gradient_matches_finite_differences() -> None:
    z, obs, _, loan = simulate_episodes(300, seed=4)
    data = _data(z, obs, loan)
    fit = LatentFit((np.array([0.0, 0.5]), np.array([0.1, 0.8]), np.array([-0.4, 1.5])),
                    np.array([0.4, 0.3, 0.5]), CONF, 0.0, 0, True)
    prior = Prior()
    theta = fit.pack()
    g = _gradient(fit, theta, data, prior)

    def lp(t: np.ndarray) -> float:
        coef, rate, conf = fit.unpack(t)
        return log_posterior(LatentFit(tuple(coef), rate, conf, 0.0, 0, True), data, prior)

    num = np.array([(lp(theta + e) - lp(theta - e)) / 2e-6 for e in np.eye(len(theta)) * 1e-6])
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def recovered():
    z, obs, fam, loan = simulate_episodes(6000, seed=11)
    data = _data(z, obs, loan)
    return fit_latent(data), data, fam


def test_em_converges_to_a_stationary_point(recovered) -> None:
    fit, data, _ = recovered
    assert fit.converged
    g = _gradient(fit, fit.pack(), data, Prior())
    assert np.max(np.abs(g)) < 0.05


def test_em_recovers_known_reporting_and_hazards(recovered) -> None:
    """Estimates within 3 of their own (sandwich) standard errors of the known values."""
    fit, data, fam = recovered
    draws = fit.draw(np.random.default_rng(0), 400)
    coef, rate, conf = fit.unpack(draws)
    se_rate = rate.std(axis=0)
    assert np.all(np.abs(fit.rate - RATE) < 3 * se_rate)
    assert np.all(se_rate < 0.03)
    diag = np.diagonal(conf, axis1=1, axis2=2)
    assert np.all(np.abs(np.diag(fit.conf) - np.diag(CONF)) < 3 * diag.std(axis=0))
    slopes = np.array([c[1] for c in fit.coef])
    se_slopes = np.array([c[:, 1].std() for c in coef])
    assert np.all(np.abs(slopes - BETA) < 3 * se_slopes)
    # shares: the posterior mean against the realised families; accuracy near the oracle's
    p = fit.posterior(data.x, data.obs)
    true_share = np.bincount(fam, minlength=3) / len(fam)
    se_share = np.sqrt(fit.posterior(data.x, data.obs, draws).mean(axis=1).var(axis=0)
                       + (p * (1 - p)).sum(axis=0) / len(p) ** 2)
    assert np.all(np.abs(p.mean(axis=0) - true_share) < 3 * se_share)
    assert np.all(se_share < 0.02)
    assert np.mean(p.argmax(axis=1) == fam) > 0.8


def test_reports_only_would_be_biased_but_posterior_is_not(recovered) -> None:
    """The reported shares alone are off (selection and confusion); the model corrects."""
    fit, data, fam = recovered
    rep = data.obs >= 0
    reported_share = np.bincount(data.obs[rep], minlength=3) / rep.sum()
    true_share = np.bincount(fam, minlength=3) / len(fam)
    p = fit.posterior(data.x, data.obs)
    assert np.max(np.abs(reported_share - true_share)) > 0.05
    assert np.max(np.abs(p.mean(axis=0) - true_share)) < 0.03


def test_sandwich_interval_covers_and_is_not_degenerate(recovered) -> None:
    fit, data, fam = recovered
    assert fit.cov is not None
    sd = np.sqrt(np.diag(fit.cov))
    assert np.all(sd > 0) and np.all(sd < 1.0)
    # the report-rate intervals cover the known rates
    la = latent_attribution(np.column_stack([x[:, 1] for x in data.x]),
                            {"economic": np.array([0]), "management": np.array([1]),
                             "personal": np.array([2])},
                            data.obs, data.loan, np.random.default_rng(0))
    rep = la.reporting.set_index("family")
    assert ((rep["ci_low"].to_numpy() <= RATE) & (RATE <= rep["ci_high"].to_numpy())).all()
    draw = la.draw_fn(np.random.default_rng(1), 3)
    onehot = draw(0)
    assert onehot.shape == (len(data.obs), 3) and np.all(onehot.sum(axis=1) == 1)
