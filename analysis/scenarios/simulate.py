"""The forward simulation: onsets by family and month, EAD and relief outcomes, per draw.

Each draw takes one coefficient vector per family (model uncertainty: the hazards'
sandwich covariance; draw 0 is the point estimate) and one signal path of the scenario
(:meth:`analysis.scenarios.paths.SignalPaths.draw`). For every loan ``i`` and future month
``k`` the family hazards ``h_f`` give the onset probability ``min(H, cap)``, ``H = sum_f
h_f``, while the loan is at risk and has had no onset earlier in the horizon; its
expected onsets of family ``f`` are that probability times ``h_f / H`` times the survival
so far. The expected count ``E_fk`` of a draw is the sum over loans; the count itself is
drawn as Poisson(``E_fk``) (Monte Carlo of which loans go overdue: the Poisson limit of
the sum of independent rare Bernoulli onsets, a little wider than it), and the EAD and the
relief outcomes of the draw are scaled with it. Vectorised over loans and months; the
Python loop runs over draws only.

Relief outcomes use per-loan, per-family rates of each policy (draw by draw from the
outcome models fitted on all episodes or on a half of them: their uncertainty)
(:mod:`analysis.scenarios.outcomes`) on a random sample of at most ``max_outcome_loans``
loans: each month's and family's relief share, cure rate (per onset) and cost and loss
rates (per CNY of EAD) are the sample's onset-weighted means, applied to the draw's totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.scenarios.hazards import HazardModel, loan_controls, schedule_controls
from analysis.scenarios.outcomes import PolicyRates
from analysis.scenarios.paths import Population, SignalPaths

HAZARD_CAP = 0.999  # a month's onset probability never reaches 1
QUANTITIES: tuple[str, ...] = ("relief_granted", "relief_cost_cny", "cures", "loss_cny")


@dataclass(frozen=True)
class Draws:
    """Per draw ``(B, 3, h)``: ``expected`` onsets, simulated ``onsets``, their ``ead``
    (CNY); ``policies``: name -> ``(B, 4, 3, h)`` of :data:`QUANTITIES`."""

    expected: np.ndarray
    onsets: np.ndarray
    ead: np.ndarray
    policies: dict


def family_hazards(model: HazardModel, coefs: list[np.ndarray], z: np.ndarray,
                   static: np.ndarray, sched: np.ndarray, signals: tuple[str, ...]) -> np.ndarray:
    """``(n, h, 3)`` monthly hazards of one draw; ``coefs`` one vector per family. The
    signal coefficients sit in an ``(S, 3)`` matrix with zeros where a signal is not the
    family's own (the exclusion restriction, exactly)."""
    ns = static.shape[1]
    w_sig = np.zeros((len(signals), 3))
    w_static = np.empty((ns, 3))
    w_sched = np.empty((sched.shape[-1], 3))
    alpha = np.empty(3)
    for j, (fh, c) in enumerate(zip(model.families, coefs, strict=True)):
        k = len(fh.signals)
        w_sig[[signals.index(x) for x in fh.signals], j] = c[1:1 + k]
        alpha[j] = c[0]
        w_static[:, j] = c[1 + k:1 + k + ns]
        w_sched[:, j] = c[1 + k + ns:]
    eta = z @ w_sig + (static @ w_static + alpha)[:, None, :] + sched @ w_sched
    return np.exp(np.minimum(eta, 5.0))


def onset_probabilities(h: np.ndarray, at_risk: np.ndarray) -> np.ndarray:
    """``(n, h, 3)`` probability that loan i's first onset in the horizon is in month k and
    of family f, from the hazards ``h`` and the at-risk mask ``(n, h)``."""
    total = h.sum(axis=-1)
    p = np.where(at_risk, np.minimum(total, HAZARD_CAP), 0.0)
    surv = np.cumprod(np.c_[np.ones(len(p)), 1.0 - p[:, :-1]], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[..., None] > 0, h / total[..., None], 0.0)
    return (surv * p)[..., None] * share


def _policy_draw(pol: dict, d: int, qs: np.ndarray, bal_s: np.ndarray,
                 rates: dict[str, PolicyRates], n_fk: np.ndarray, ead_fk: np.ndarray) -> None:
    """Fill draw ``d`` of ``pol`` from the sample's onset probabilities ``qs`` ``(n_s, h,
    3)``: per-onset means (relief share, cures) scale with the counts ``n_fk``, per-CNY means
    (cost, loss) with the EAD ``ead_fk``."""
    qf = qs.transpose(2, 1, 0)  # (3, h, n_s)
    qm = qf * bal_s.T[None]  # EAD-weighted
    cnt, money = qf.sum(axis=-1), qm.sum(axis=-1)
    n_s = qs.shape[0]
    per_cny_bal = np.maximum(bal_s[:, 0], 1e-9)[None, :]
    for name, r in rates.items():
        by_count = [(qf @ getattr(r, a).reshape(3, n_s)[:, :, None])[..., 0]
                    for a in ("relieved", "cure")]
        by_money = [(qm @ x[:, :, None])[..., 0]
                    for x in (r.cost.reshape(3, n_s) / per_cny_bal, r.loss_rate.reshape(3, n_s))]
        with np.errstate(invalid="ignore", divide="ignore"):
            by_count = [np.where(cnt > 0, x / cnt, 0.0) * n_fk for x in by_count]
            by_money = [np.where(money > 0, x / money, 0.0) * ead_fk for x in by_money]
        pol[name][d] = np.stack([by_count[0], by_money[0], by_count[1], by_money[1]])


def simulate(model: HazardModel, pop: Population, paths: SignalPaths,
             rates: list[dict[str, PolicyRates]], sample: np.ndarray, n_draws: int,
             seed: int) -> Draws:
    """Run ``n_draws`` draws (see the module docstring); ``rates`` are per policy for the
    loans ``sample`` (indices into the population) times the three families: the first
    from the outcome models fitted on every episode (draw 0), the others from half-sample
    refits, taken in turn by draws 1, 2, ... (the outcome models' uncertainty,
    :mod:`analysis.scenarios.outcomes`). Coefficients,
    signal paths and Monte Carlo counts have their own streams of ``seed``: two scenarios
    run with one seed share their random numbers (common random numbers), so their
    difference is the scenario's, not noise."""
    rng_coef, rng_paths, rng_mc = (np.random.default_rng(s)
                                   for s in np.random.SeedSequence(seed).spawn(3))
    static = loan_controls(pop.loans, model.types, model.score_mean, model.score_sd)
    sched = schedule_controls(pop.months_left, pop.months_on_book, pop.months_since_overdue)
    coefs = model.draws(rng_coef, n_draws)
    bal_s = pop.balance[sample]
    b, h = max(n_draws, 1), pop.balance.shape[1]
    expected, onsets, ead = (np.zeros((b, 3, h)) for _ in range(3))
    pol = {k: np.zeros((b, len(QUANTITIES), 3, h)) for k in rates[0]}
    for d in range(b):  # draws; everything inside is vectorised over loans and months
        z = paths.draw(rng_paths)
        q = onset_probabilities(
            family_hazards(model, [c[d] for c in coefs], z, static, sched, paths.signals),
            pop.at_risk)
        e_fk = q.sum(axis=0).T  # (3, h)
        ead_fk = (q.transpose(2, 1, 0) * pop.balance.T[None]).sum(axis=-1)
        n_fk = rng_mc.poisson(e_fk)
        scale = np.where(e_fk > 0, n_fk / np.where(e_fk > 0, e_fk, 1.0), 0.0)
        expected[d], onsets[d], ead[d] = e_fk, n_fk, ead_fk * scale
        r = rates[0] if d == 0 or len(rates) == 1 else rates[1 + (d - 1) % (len(rates) - 1)]
        _policy_draw(pol, d, q[sample], bal_s, r, n_fk, ead[d])
    return Draws(expected, onsets, ead, pol)


__all__ = ["Draws", "HAZARD_CAP", "QUANTITIES", "family_hazards", "onset_probabilities",
           "simulate"]
