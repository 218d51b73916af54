"""Latent competing-causes model: the probability that each episode started because of a family.

Part of :mod:`analysis.causes.attribution` (read its docstring first). This is the model behind the
``combined`` attribution when the book has both signals and reported reasons.

Model
-----
*Competing causes.* In a loan-month at risk each family ``f`` has its own onset hazard

    ``h_f(x) = exp(alpha_f + beta_f . signals_f(x)) * exp(gamma . attributes(x))``,

``signals_f`` the standardised signals ``cause_map`` gives to ``f`` (the exclusion
restriction: a family's hazard does not depend on other families' signals) and the
attributes the loan controls. An episode starts at the first of the three latent onsets,
so the probability that it started because of ``f`` (the probability of causation under
competing causes) is

    ``q_f(x) = h_f / sum_g h_g = softmax_f(alpha_f + beta_f . signals_f(x))``.

This needs no rare-event approximation: with hazards constant within the month it is
exact whatever their size (and so is it when the month's onset probability is taken as
``min(H, cap)`` instead of ``1 - exp(-H)``); the level of the total hazard is not used.

The attributes are controls with a common effect on the three hazards: they raise or
lower the risk of an onset, not the mix of its causes given the signals, and they
cancel in ``q_f``. (Family-specific attribute effects, two per attribute column, are
not estimable with useful precision from a few hundred latent labels: on the default
synthetic book they moved the portfolio shares by up to 7 points; see data/README.md
section 5.)

*Reports are evidence, not truth.* An episode whose true family is ``f`` gets a reported
reason with probability ``r_f``: reasons may be missing *not* at random, as long as
whether a borrower reports depends on the true family only. The reported family is ``g``
with probability ``C[f, g]`` (reliability; rows sum to one). The posterior of an episode
with signals ``x`` and observation ``o`` is

    ``p_f = q_f(x) pi_f(o) / sum_g q_g(x) pi_g(o)``,
    ``pi_f(o) = r_f C[f, g]`` when ``g`` was reported, ``1 - r_f`` when nothing was.

An unreported episode is evidence too: families that report often are less likely among
the silent episodes.

Fit
---
Maximum a posteriori by EM over the episodes (the likelihood of the cause given an
onset: the partial likelihood of the competing-risks model). E-step: each episode's
responsibilities ``w_f`` (the posterior above). M-step: a multinomial logit of the
fractional families ``w_f`` on each family's own signals (Newton steps, statsmodels-free
closed-form score and Hessian; a ridge ``ridge / 2 * ||beta||^2`` on the signal
coefficients keeps rare flags finite; a singular Newton system, possible only without
it, takes the minimum-norm least-squares step), and ``r`` and ``C`` from weighted counts with weak
priors (pseudo-counts ``rate_a`` on reported and on unreported for each ``r_f``;
Dirichlet pseudo-counts ``prior_diag`` on the diagonal of ``C`` and ``prior_off`` off it,
so ``C`` stays near-diagonal when the data say little and in the interior for the
covariance). EM starts from the reported families (unreported episodes uniform) and
stops when the log-posterior changes by less than ``tol`` (relative).

Why not the at-risk loan-months? Fitting the three hazards to all loan-months at risk
also uses how often onsets happen, but it then separates the families through the shape
of the *total* hazard ``sum_f exp(...)``: identification by functional form. On the
default synthetic book that fit put the economic share 12 points too low (log-linear
hazards; still 5-12 points off with splines in the signals). Conditioning on the onset
lets the reports decide the split where the signals are silent.

*Identification.* Where one family's signals dominate (``q_f`` near 1), the report
rate and the reported families reveal ``r_f`` and the row ``C[f, .]``; the reports of
the other episodes, so corrected, reveal ``alpha`` and ``beta``. This needs a family
that each signal group makes near-certain; without reported reasons nothing here is
estimable (:mod:`analysis.causes.attribution` then uses the Shapley split).

*Uncertainty.* A loan-clustered sandwich covariance ``A^-1 B A^-1`` of the free
parameters (:meth:`LatentFit.pack`): ``A`` the negative Hessian of the log-posterior
(central differences of the analytic gradient, Fisher's identity), ``B`` the sum over
loans of the outer products of each loan's score. It is the large-sample equivalent of
refitting the model on loan-bootstrap samples at the cost of one fit, and stays valid
when the model is misspecified or a loan's episodes are dependent.

Assumptions
-----------
* Causes compete (the first onset starts the episode); each hazard is log-linear in its
  own family's signals; attributes act on the three hazards alike.
* Exclusion restriction: each signal belongs to one family (``cause_map``).
* Whether a reason is reported, and which family it names, depend on the true family
  only (not on the signals or attributes given the family).
* Causes that no signal measures are absorbed in the intercepts ``alpha_f``, which the
  reports identify.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.definitions import FAMILIES

_OFF = ~np.eye(3, dtype=bool)


def report_likelihood(obs: np.ndarray, rate: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """``pi_f(o)``: ``(n, 3)``; ``obs`` is -1 (nothing reported) or the reported family 0..2.

    ``rate`` ``(3,)`` or ``(B, 3)`` and ``conf`` ``(3, 3)`` or ``(B, 3, 3)``: returns
    ``(n, 3)`` or ``(B, n, 3)``.
    """
    obs = np.asarray(obs)
    rate = np.asarray(rate)
    conf = np.asarray(conf)
    rows = np.swapaxes(conf, -1, -2)[..., np.maximum(obs, 0), :]  # (..., n, 3): C[f, obs]
    rep = rate[..., None, :] * rows
    return np.where((obs >= 0)[:, None], rep, (1.0 - rate)[..., None, :])


def _softmax(eta: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (the 3 families), with the max and the sum taken
    column by column: the same numbers as ``max(axis=-1)`` and ``sum(axis=-1)`` (summed
    left to right), without numpy's slow reduction over a length-3 axis (EM hot path)."""
    top = np.maximum(np.maximum(eta[..., 0], eta[..., 1]), eta[..., 2])
    e = np.exp(eta - top[..., None])
    return e / _sum3(e)[..., None]


def _sum3(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=-1)`` for a last axis of 3 (the families), left to right: the same
    numbers, without numpy's slow reduction over a length-3 axis."""
    return a[..., 0] + a[..., 1] + a[..., 2]


@dataclass(frozen=True)
class Prior:
    """Weak priors and penalty of the MAP fit (see the module docstring)."""

    ridge: float = 1.0
    rate_a: float = 0.5
    prior_diag: float = 4.0
    prior_off: float = 0.5

    def conf_counts(self) -> np.ndarray:
        return np.where(_OFF, self.prior_off, self.prior_diag)


@dataclass(frozen=True)
class LatentData:
    """Episodes for the EM. ``x``: per family its design with a constant first
    (``(n, 1 + k_f)``); ``obs``: reported family (-1 none); ``loan``: loan code 0..L-1."""

    x: tuple[np.ndarray, np.ndarray, np.ndarray]
    obs: np.ndarray
    loan: np.ndarray

    @classmethod
    def build(
        cls, z: np.ndarray, obs: np.ndarray, cols: list[np.ndarray], loan: np.ndarray
    ) -> LatentData:
        """``z``: standardised signals ``(n, k)``; ``cols``: per family its columns of ``z``."""
        ones = np.ones((len(z), 1))
        x = tuple(np.hstack([ones, z[:, c]]) for c in cols)
        codes = np.unique(np.asarray(loan), return_inverse=True)[1]
        return cls(x, np.asarray(obs, dtype=int), codes)


@dataclass(frozen=True)
class LatentFit:
    """Fitted model. ``coef``: per family ``(1 + k_f,)``, the first family's constant 0;
    ``rate``: ``r_f``; ``conf``: ``C`` (rows true, columns reported family); ``cov``:
    sandwich covariance of :meth:`pack` (None when singular); ``logpost``: log-posterior."""

    coef: tuple[np.ndarray, np.ndarray, np.ndarray]
    rate: np.ndarray
    conf: np.ndarray
    logpost: float
    n_iter: int
    converged: bool
    cov: np.ndarray | None = None

    # ---- free parameters: coefficients (first constant dropped), logit r, C log-ratios
    def pack(self) -> np.ndarray:
        c = self.conf
        return np.concatenate(
            [self.coef[0][1:], self.coef[1], self.coef[2], np.log(self.rate / (1 - self.rate)),
             (np.log(c) - np.log(np.diag(c))[:, None])[_OFF]]
        )

    def unpack(self, theta: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """``theta`` ``(..., p)`` -> (coefficients per family, rate, conf)."""
        k0 = len(self.coef[0]) - 1
        edges = np.cumsum([0, k0, len(self.coef[1]), len(self.coef[2])])
        lead = theta.shape[:-1]
        coef = [np.concatenate([np.zeros(lead + (1,)), theta[..., : edges[1]]], axis=-1),
                theta[..., edges[1]:edges[2]], theta[..., edges[2]:edges[3]]]
        rate = 1.0 / (1.0 + np.exp(-theta[..., edges[3]:edges[3] + 3]))
        lg = np.zeros(lead + (3, 3))
        lg[..., _OFF] = theta[..., edges[3] + 3:]
        return coef, rate, _softmax(lg)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws of :meth:`pack` from the normal with the sandwich covariance."""
        theta = self.pack()
        if self.cov is None:
            return np.broadcast_to(theta, (size, len(theta))).copy()
        return rng.multivariate_normal(theta, self.cov, size=size, method="eigh")

    # ---- predictions
    def cause_probabilities(self, x, theta: np.ndarray | None = None) -> np.ndarray:
        """``q_f(x)``, the signals-only probability of causation: ``(n, 3)`` or ``(B, n, 3)``."""
        coef = self.coef if theta is None else self.unpack(theta)[0]
        eta = np.stack([np.einsum("nk,...k->...n", x[j], coef[j]) for j in range(3)], axis=-1)
        return _softmax(eta)

    def posterior(self, x, obs: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """``p_f``: probability of each family given the signals and the report ``obs``."""
        if theta is None:
            rate, conf = self.rate, self.conf
        else:
            _, rate, conf = self.unpack(theta)
        a = self.cause_probabilities(x, theta) * report_likelihood(obs, rate, conf)
        return a / _sum3(a)[..., None]

    def predicted_report(self, x) -> np.ndarray:
        """``P(reported family = g | x, a reason is reported)``: ``(n, 3)``."""
        a = (self.cause_probabilities(x) * self.rate) @ self.conf
        return a / a.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- objective
def _objective(fit: LatentFit, theta: np.ndarray, data: LatentData, prior: Prior) -> tuple:
    """(log-posterior, responsibilities, q) at ``theta``."""
    coef, rate, conf = fit.unpack(theta)
    q = fit.cause_probabilities(data.x, theta)
    a = q * report_likelihood(data.obs, rate, conf)
    s = _sum3(a)
    lp = float(np.log(s).sum()) - 0.5 * prior.ridge * sum(float(c[1:] @ c[1:]) for c in coef)
    lp += prior.rate_a * float(np.sum(np.log(rate) + np.log(1 - rate)))
    lp += float(np.sum(prior.conf_counts() * np.log(conf)))
    return lp, a / s[:, None], q


def _row_scores(fit: LatentFit, theta: np.ndarray, data: LatentData) -> np.ndarray:
    """Per-episode score of the observed log-likelihood w.r.t. :meth:`LatentFit.pack`."""
    _, rate, conf = fit.unpack(theta)
    q = fit.cause_probabilities(data.x, theta)
    a = q * report_likelihood(data.obs, rate, conf)
    w = a / _sum3(a)[:, None]
    parts = [data.x[j] * (w[:, j] - q[:, j])[:, None] for j in range(3)]
    parts[0] = parts[0][:, 1:]
    rep = (data.obs >= 0)[:, None]
    parts.append(w * np.where(rep, 1.0 - rate, -rate))
    off = [(f, g) for f in range(3) for g in range(3) if g != f]
    parts.append(np.column_stack(
        [w[:, f] * rep[:, 0] * ((data.obs == g) - conf[f, g]) for f, g in off]
    ))
    return np.hstack(parts)


def _gradient(fit: LatentFit, theta: np.ndarray, data: LatentData, prior: Prior) -> np.ndarray:
    g = _row_scores(fit, theta, data).sum(axis=0)
    coef, rate, conf = fit.unpack(theta)
    pen = [c.copy() for c in coef]
    for c in pen:
        c[0] = 0.0
    pen[0] = pen[0][1:]
    g[: len(g) - 9] -= prior.ridge * np.concatenate(pen)
    g[-9:-6] += prior.rate_a * (1 - 2 * rate)
    w = prior.conf_counts()
    g[-6:] += (w - conf * w.sum(axis=1, keepdims=True))[_OFF]
    return g


# ----------------------------------------------------------------------------- EM
def _mnl_newton(x, w: np.ndarray, coef: list[np.ndarray], ridge: float, steps: int = 3):
    """Newton steps of the fractional multinomial logit (first constant fixed at 0)."""
    sizes = [xi.shape[1] for xi in x]
    edges = np.cumsum([0, *sizes])
    pen = np.full(edges[-1], ridge)
    pen[edges[:-1]] = 0.0
    free = np.ones(edges[-1], dtype=bool)
    free[0] = False
    theta = np.concatenate(coef)
    stacked = np.hstack(x)  # (n, K): every family's design side by side
    fam = np.repeat(np.arange(3), sizes)  # family of each stacked column
    same = fam[:, None] == fam[None, :]
    for _ in range(steps):
        q = _softmax(np.column_stack([x[j] @ theta[edges[j]:edges[j + 1]] for j in range(3)]))
        grad = np.einsum("nk,nk->k", stacked, (w - q)[:, fam]) - pen * theta
        # information: blocks x_a' diag(q_a (1[a=b] - q_b)) x_b, as two products
        m = stacked * q[:, fam]
        hess = np.where(same, m.T @ stacked, 0.0) - m.T @ m
        hess += np.diag(pen)
        step = np.zeros_like(theta)
        h = hess[np.ix_(free, free)]
        try:
            step[free] = np.linalg.solve(h, grad[free])
        except np.linalg.LinAlgError:  # singular (no ridge, a constant signal): least squares
            step[free] = np.linalg.lstsq(h, grad[free], rcond=None)[0]
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return [theta[edges[j]:edges[j + 1]] for j in range(3)]


def _report_update(w: np.ndarray, obs: np.ndarray, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    rep = obs >= 0
    rate = (w[rep].sum(axis=0) + prior.rate_a) / (w.sum(axis=0) + 2 * prior.rate_a)
    counts = np.column_stack([w[obs == g].sum(axis=0) for g in range(3)]) + prior.conf_counts()
    return rate, counts / counts.sum(axis=1, keepdims=True)


def fit_latent(
    data: LatentData,
    *,
    prior: Prior = Prior(),
    max_iter: int = 2000,
    tol: float = 1e-10,
    covariance: bool = True,
) -> LatentFit:
    """Fit the latent competing-causes model by EM (MAP; see the module docstring)."""
    rep = data.obs >= 0
    w = np.full((len(data.obs), 3), 1.0 / 3.0)
    w[rep] = np.eye(3)[data.obs[rep]]
    coef = [np.zeros(xi.shape[1]) for xi in data.x]
    rate, conf = _report_update(w, data.obs, prior)
    fit = LatentFit(tuple(coef), rate, conf, -np.inf, 0, False)
    prev = -np.inf
    for it in range(1, max_iter + 1):  # EM iterations, vectorised over episodes
        coef = _mnl_newton(data.x, w, coef, prior.ridge)
        rate, conf = _report_update(w, data.obs, prior)
        fit = LatentFit(tuple(coef), rate, conf, -np.inf, it, False)
        lp, w, _ = _objective(fit, fit.pack(), data, prior)
        if abs(lp - prev) < tol * (1.0 + abs(lp)):
            fit = replace(fit, logpost=lp, converged=True)
            break
        prev = lp
        fit = replace(fit, logpost=lp)
    if covariance:
        fit = replace(fit, cov=sandwich(fit, data, prior))
    return fit


def log_posterior(fit: LatentFit, data: LatentData, prior: Prior = Prior()) -> float:
    """The EM's objective at ``fit``: observed log-likelihood plus log prior (+ constant)."""
    return _objective(fit, fit.pack(), data, prior)[0]


def sandwich(fit: LatentFit, data: LatentData, prior: Prior = Prior()) -> np.ndarray | None:
    """Loan-clustered sandwich covariance of :meth:`LatentFit.pack` (None if singular)."""
    theta = fit.pack()
    p = len(theta)
    hess = np.empty((p, p))
    for i in range(p):  # 2p gradient evaluations; p is a dozen or two
        e = np.zeros(p)
        e[i] = 1e-5 * max(1.0, abs(theta[i]))
        hess[:, i] = (_gradient(fit, theta + e, data, prior)
                      - _gradient(fit, theta - e, data, prior)) / (2 * e[i])
    a = -(hess + hess.T) / 2
    n = len(data.obs)
    by_loan = sp.csr_matrix((np.ones(n), (data.loan, np.arange(n))),
                            shape=(int(data.loan.max()) + 1, n))
    s = by_loan @ _row_scores(fit, theta, data)
    try:
        a_inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return None
    cov = a_inv @ (s.T @ s) @ a_inv
    cov = (cov + cov.T) / 2
    return cov if np.all(np.isfinite(cov)) else None


# ----------------------------------------------------------------------------- attribution
@dataclass(frozen=True)
class LatentAttribution:
    """What :mod:`analysis.causes.attribution` takes from the model: posteriors, draws, tables.

    ``p``: ``(n, 3)`` posterior per episode; ``pred_report``: ``P(reported family | x,
    reported)`` of the labelled episodes (for the calibration check against reports);
    ``reporting``: estimated ``r_f`` and ``C[f, .]`` with intervals.
    """

    fit: LatentFit
    data: LatentData
    p: np.ndarray
    pred_report: np.ndarray
    reporting: pd.DataFrame

    def draw_fn(self, rng: np.random.Generator, n_boot: int):
        """Replicate ``b`` -> one-hot families imputed from the posterior of a parameter draw.

        Imputing the family (rather than averaging the posterior) makes the interval
        cover the realised share of this book's episodes: it adds the uncertainty of
        each episode's own cause to the parameter uncertainty.
        """
        thetas = self.fit.draw(rng, n_boot)
        u = rng.random((n_boot, len(self.data.obs)))

        def draw(b: int) -> np.ndarray:
            p = self.fit.posterior(self.data.x, self.data.obs, thetas[b])
            first = p[:, 0]  # the family whose cumulative probability u[b] first stays under
            k = (u[b] > first).astype(int) + (u[b] > first + p[:, 1])
            return np.eye(3)[k]

        return draw


def latent_attribution(
    z_signals: np.ndarray,
    groups: dict[str, np.ndarray],
    obs: np.ndarray,
    loan: np.ndarray,
    rng: np.random.Generator,
    *,
    level: float = 0.95,
    prior: Prior = Prior(),
) -> LatentAttribution:
    """Fit the model on the episodes' standardised signals and their reports (``obs``)."""
    data = LatentData.build(z_signals, obs, [groups[f] for f in FAMILIES], loan)
    fit = fit_latent(data, prior=prior)
    p = fit.posterior(data.x, data.obs)
    rep = data.obs >= 0
    pred = fit.predicted_report(tuple(x[rep] for x in data.x))
    draws = fit.unpack(fit.draw(rng, 400))
    alpha = (1 - level) / 2
    rows = []
    for j, f in enumerate(FAMILIES):
        r_lo, r_hi = np.quantile(draws[1][:, j], [alpha, 1 - alpha])
        row = {"family": f, "report_rate": fit.rate[j], "ci_low": r_lo, "ci_high": r_hi}
        for g, fg in enumerate(FAMILIES):
            row[f"reported_as_{fg}"] = fit.conf[j, g]
        rows.append(row)
    reporting = pd.DataFrame(rows)
    reporting["n_episodes_est"] = p.sum(axis=0)
    return LatentAttribution(fit, data, p, pred, reporting)


def latent_notes(latent: LatentAttribution, n_labelled: int, n: int) -> list[str]:
    """Sentences for the report: what the combined attribution did and what it estimated."""
    fit = latent.fit
    rates = ", ".join(
        f"{f} {r.report_rate:.0%} ({r.ci_low:.0%}-{r.ci_high:.0%})"
        for f, r in zip(FAMILIES, latent.reporting.itertuples(), strict=True)
    )
    wrong = ", ".join(f"{f} {1 - fit.conf[j, j]:.0%}" for j, f in enumerate(FAMILIES))
    out = [
        f"{n_labelled:,} of {n:,} episodes have a reported reason. The combined attribution "
        "is the posterior of a latent competing-causes model: each episode's probability of "
        "each family from its signals, updated by its report weighted by the report's "
        "estimated reliability, or by the absence of a report (reasons may be missing not at "
        "random by family).",
        f"Estimated share of episodes that report a reason, by true family: {rates}; share "
        f"of reports naming another family: {wrong}.",
    ]
    if not fit.converged:
        out.append(f"The latent model's EM stopped after {fit.n_iter} iterations without "
                   "meeting its tolerance; treat its shares with care.")
    if fit.cov is None:
        out.append("The latent model's covariance is singular: its intervals omit the "
                   "parameter uncertainty.")
    return out
