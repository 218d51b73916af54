"""Nuisance learners of the relief effects: the propensity and the per-arm outcome models.

Method
------
The learners are parameters, as in DoubleML: :func:`analysis.effects.nuisance.fit_nuisance`
owns the folds and the scores, a learner only fits and predicts. Each is registered in
:data:`LEARNERS` under its name:

* ``glm`` -- the multinomial-logit propensity and one GLM per arm
  (:mod:`analysis.effects.glm`): binomial-logit for binary and fractional outcomes,
  Gaussian identity otherwise, with small-sample penalties. Its coefficients feed the
  influence functions of the ``regression`` and ``ipw`` methods.
* ``boosting`` -- scikit-learn ``HistGradientBoostingClassifier`` for the propensity
  (multiclass, log-loss) and one ``HistGradientBoosting{Classifier,Regressor}`` per arm
  for the outcome (a classifier for binary outcomes, a squared-error regressor for
  fractions and continuous outcomes, predictions clipped to [0, 1] for fractions).
  Modest hyper-parameters (:data:`BOOSTING_PARAMS`: at most 150 trees of 31 leaves,
  learning rate 0.1, early stopping on 10 % of the training rows, 255 bins; from
  :data:`LARGE_FIT_ROWS` training rows at most 100 trees at learning rate 0.2) keep a
  million episodes within minutes on two cores. The propensity is **calibrated**: a
  fifth of the training rows (:data:`CALIBRATION_SHARE`) is held out, and each class's
  predicted probability is mapped by isotonic regression fitted on the held-out rows
  (one-vs-rest, then renormalised, as ``CalibratedClassifierCV`` does). A
  per-arm outcome model with one outcome value only predicts that constant. On big
  books each model is trained on a seeded random subset of its fold's training rows
  (:data:`MAX_PROPENSITY_ROWS`; :data:`MAX_OUTCOME_ROWS` per arm) while the scores use
  every episode; a note says so.
* ``boosting_pooled`` -- the same propensity, and one outcome model for all arms with
  the arm as a categorical feature (arms share what they have in common; compared with
  ``boosting`` in benchmarks/README.md).

:func:`choose_learner` resolves ``auto``: GLM below :data:`AUTO_BOOSTING_MIN_EPISODES`
analysed episodes, boosting above (why: see the constant).

Known drawbacks: boosting has no coefficients, so only the ``naive`` and ``aipw``
estimators (whose standard errors need no model derivative) are available with it;
boosted outcome models of small arms shrink toward the arm mean (leaf size 20 or more).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from analysis.effects.glm import ArmModel, fit_arm_model, fit_propensity_penalised, mn_probs
from analysis.errors import ParameterError
from analysis.models import random_rows

#: ``learner="auto"`` fits GLMs below this many analysed episodes and boosting from it
#: on. Why (benchmarks/README.md, effects): below it the GLM path is cheap and its
#: coverage is measured (50 books of 20,000 loans, about 5,000 episodes, some arms of a
#: few hundred: boosting's 20-row leaves and 10 % early-stopping split leave small arms
#: with near-constant outcome models); from tens of thousands of episodes the SEs shrink
#: to where a main-effects GLM's misspecification shows (issue #15: deferral cure ATE
#: z -2.8 on 1M loans), and boosting's thresholds and interactions pay for its cost
#: (300,000-loan book: every boosted AIPW estimate within 2.4 SE of the truth).
AUTO_BOOSTING_MIN_EPISODES = 20_000
#: Hyper-parameters of every boosted model (scikit-learn names); on large training sets
#: :data:`LARGE_FIT_PARAMS` replace two of them (:func:`boosting_params`).
BOOSTING_PARAMS: dict[str, object] = {
    "max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
    "max_bins": 255, "l2_regularization": 1.0, "early_stopping": True,
    "validation_fraction": 0.1, "n_iter_no_change": 10, "random_state": 0,
}
#: From this many training rows a boosted model takes larger steps and fewer of them
#: (:data:`LARGE_FIT_PARAMS`). Measured on the 1M-episode benchmark frame (benchmarks/
#: README.md, relief effects): early stopping then ends the fits after about half the
#: trees and the 5-fold boosted AIPW meets its 180 s CPU target, with estimates as
#: close to the truth; a 200,000-row multiclass propensity fit fell from 21 to 12 s of
#: CPU (109 to 54 rounds). Smaller fits keep the slower, measured settings (small arms'
#: propensities would otherwise get more extreme and move ATE rows to the overlap set).
LARGE_FIT_ROWS = 50_000
LARGE_FIT_PARAMS: dict[str, object] = {"learning_rate": 0.2, "max_iter": 100}


def boosting_params(n_rows: int, seed: int) -> dict[str, object]:
    """scikit-learn parameters of a boosted model trained on ``n_rows`` rows."""
    big = LARGE_FIT_PARAMS if n_rows >= LARGE_FIT_ROWS else {}
    return {**BOOSTING_PARAMS, **big, "random_state": seed}


#: Share of each training fold held out to calibrate the boosted propensity.
CALIBRATION_SHARE = 0.2
#: At most this many rows of a training fold fit the boosted propensity (a seeded random
#: subset; the AIPW scores still use every episode). Measured on 2 cores: the multiclass
#: fit costs about 5 trees per round and grows faster than linearly with the rows
#: (40 rounds: 3.9 s on 200,000 rows, 38 s on 800,000), while 200,000 rows estimate
#: five arm shares given 30 covariates closely enough for the weights.
MAX_PROPENSITY_ROWS = 200_000
#: At most this many rows of one arm's training fold fit its boosted outcome model (a
#: seeded random subset; the AIPW scores still use every episode, so the intervals keep
#: the whole book's precision). Why: on the 10M-loan book (1.97M episodes) the fits on
#: every row took page 03 past its 600 s cell timeout; a 950,000-row arm fit costs 17 CPU s
#: against 2.8 s on 200,000 rows (benchmarks/README.md, relief effects at 10M). The cost:
#: the nuisance error stops shrinking beyond the cap, and AIPW's bias is the product of
#: the outcome and propensity errors (second order), measured against the truth there.
MAX_OUTCOME_ROWS = 200_000
#: Below this many training rows the boosted propensity is not calibrated (too few
#: held-out rows for an isotonic fit per class); the note says so.
CALIBRATION_MIN_ROWS = 2_000


#: OpenMP threads of the boosted fits. Measured on this shared 2-core machine under the
#: load of other jobs: a 4-class fit on 16,000 rows took 0.54 s on one thread and 9.0 s
#: on two (OpenMP threads spin while waiting for a busy core), so the fits run on one.
BOOSTING_THREADS = 1


def openmp_limit() -> threadpool_limits:
    """Run OpenMP (scikit-learn's gradient boosting) on :data:`BOOSTING_THREADS` threads;
    use as a context manager. threadpoolctl limits only the libraries loaded when the
    context opens, so scikit-learn (and its OpenMP runtime) is imported first."""
    import sklearn.ensemble  # noqa: F401 - heavy: loads the OpenMP runtime to be limited

    return threadpool_limits(limits=BOOSTING_THREADS, user_api="openmp")


@dataclass(frozen=True)
class GlmPropensity:
    """A fitted multinomial logit (``gamma`` p x (K-1), reference arm 0)."""

    gamma: np.ndarray
    penalty: float = 0.0
    note: str = ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(arm | x), n x K."""
        return mn_probs(x, self.gamma)


@dataclass(frozen=True)
class BoostedOutcome:
    """A boosted outcome model of one arm (or a constant when the arm's outcome is)."""

    arm: str
    model: object | None
    kind: str
    constant: float = 0.0
    note: str = ""
    penalty: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Expected outcome of the arm given design rows ``x`` (intercept column ignored)."""
        if self.model is None:
            return np.full(len(x), self.constant)
        z = x[:, 1:]
        with openmp_limit():
            p = self.model.predict_proba(z)[:, 1] if self.kind == "binary" else self.model.predict(z)
        return np.clip(p, 0.0, 1.0) if self.kind == "fraction" else p


@dataclass(frozen=True)
class BoostedPropensity:
    """A boosted multiclass propensity with per-class isotonic calibrators (or none)."""

    model: object
    n_arms: int
    calibrators: tuple = field(default=(), repr=False)
    note: str = ""
    penalty: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(arm | x), n x K, rows summing to 1."""
        raw = np.zeros((len(x), self.n_arms))
        with openmp_limit():
            raw[:, self.model.classes_] = self.model.predict_proba(x[:, 1:])
        if not self.calibrators:
            return raw
        cal = np.column_stack([c.predict(raw[:, k]) for k, c in enumerate(self.calibrators)])
        cal = np.maximum(cal, 1e-6)
        return cal / cal.sum(axis=1, keepdims=True)


def _fit_glm_propensity(x: np.ndarray, a: np.ndarray, n_arms: int, seed: int) -> GlmPropensity:
    gamma, note, pen = fit_propensity_penalised(x, a, n_arms)
    return GlmPropensity(gamma, pen, note)


def _fit_glm_outcome(arm: str, x: np.ndarray, y: np.ndarray, kind: str, seed: int) -> ArmModel:
    return fit_arm_model(arm, x, y, kind)


def _fit_boosted_propensity(x: np.ndarray, a: np.ndarray, n_arms: int, seed: int) -> BoostedPropensity:
    """Boosted multiclass propensity, calibrated on a held-out share of the rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # heavy: first use only
    from sklearn.isotonic import IsotonicRegression

    n = len(a)
    if n < CALIBRATION_MIN_ROWS:
        with openmp_limit():
            m = HistGradientBoostingClassifier(**boosting_params(n, seed)).fit(x[:, 1:], a)
        return BoostedPropensity(m, n_arms, (), f"propensity: {n} training rows "
                                 f"(< {CALIBRATION_MIN_ROWS}); boosted propensity not calibrated")
    order = np.random.default_rng(seed).permutation(n)
    n_fit = min(int(round((1 - CALIBRATION_SHARE) * n)), MAX_PROPENSITY_ROWS)
    n_cal = min(n - n_fit, int(MAX_PROPENSITY_ROWS * CALIBRATION_SHARE / (1 - CALIBRATION_SHARE)))
    fit, hold = np.sort(order[:n_fit]), np.sort(order[n_fit:n_fit + n_cal])
    with openmp_limit():
        m = HistGradientBoostingClassifier(**boosting_params(len(fit), seed)).fit(x[fit, 1:], a[fit])
        raw = np.zeros((len(hold), n_arms))
        raw[:, m.classes_] = m.predict_proba(x[hold, 1:])
    cals = tuple(IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                 .fit(raw[:, k], (a[hold] == k).astype(float)) for k in range(n_arms))
    note = (f"propensity: {cap_note(n_fit, MAX_PROPENSITY_ROWS)}"
            if n_fit < int(round((1 - CALIBRATION_SHARE) * n)) else "")
    return BoostedPropensity(m, n_arms, cals, note)


def _fit_boosted_outcome(arm: str, x: np.ndarray, y: np.ndarray, kind: str, seed: int) -> BoostedOutcome:
    """Boosted outcome model of one arm: classifier (binary) or regressor."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if len(y) == 0 or np.ptp(y) == 0:
        c = float(y[0]) if len(y) else 0.0
        return BoostedOutcome(arm, None, kind, c, f"arm {arm!r}: outcome constant ({c:g}); "
                              "boosted model predicts it")
    keep, note = capped_rows(len(y), MAX_OUTCOME_ROWS, seed)
    if keep is not None:
        x, y = x[keep], y[keep]
        note = f"arm {arm!r}: outcome model {note}"
    params = boosting_params(len(y), seed)
    if len(y) < 200:  # the 10 % validation split would be a handful of rows
        params["early_stopping"] = False
        params["max_iter"] = 50
    with openmp_limit():
        if kind == "binary":
            model = HistGradientBoostingClassifier(**params).fit(x[:, 1:], y.astype(int))
        else:
            model = HistGradientBoostingRegressor(**params).fit(x[:, 1:], y)
    return BoostedOutcome(arm, model, kind, note=note)


def capped_rows(n: int, cap: int, seed: int) -> tuple[np.ndarray | None, str]:
    """:func:`analysis.models.random_rows` of ``n`` training rows and the note that says
    so, or ``(None, "")`` when ``n <= cap``."""
    keep = random_rows(n, cap, seed)
    return (None, "") if keep is None else (keep, cap_note(cap, cap))


def cap_note(n_fit: int, cap: int) -> str:
    """The note of a boosted model trained on ``n_fit`` random rows of its fold (``cap``)."""
    return (f"boosted on a random {n_fit:,} of each fold's training rows "
            f"(cap {cap:,}; the scores use every episode)")


@dataclass(frozen=True)
class PooledOutcome:
    """Arm ``k``'s view of one boosted outcome model fitted on every arm with the arm as
    a categorical feature (the ``boosting_pooled`` learner)."""

    arm: str
    k: int
    model: object
    kind: str
    note: str = ""
    penalty: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Expected outcome had every row of ``x`` received arm ``k``."""
        z = np.column_stack([x[:, 1:], np.full(len(x), float(self.k))])
        with openmp_limit():
            p = self.model.predict_proba(z)[:, 1] if self.kind == "binary" else self.model.predict(z)
        return np.clip(p, 0.0, 1.0) if self.kind == "fraction" else p


def _fit_pooled_outcomes(arms: tuple[str, ...], x: np.ndarray, a: np.ndarray, y: np.ndarray,
                         kind: str, seed: int) -> list[PooledOutcome]:
    """One boosted outcome model on all arms (arm code as a categorical feature)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    keep, note = capped_rows(len(y), MAX_OUTCOME_ROWS * len(arms), seed)
    if keep is not None:
        x, a, y = x[keep], a[keep], y[keep]
        note = f"pooled outcome model {note}"
    z = np.column_stack([x[:, 1:], a.astype(float)])
    cat = np.zeros(z.shape[1], bool)
    cat[-1] = True
    params = {**boosting_params(len(y), seed), "categorical_features": cat}
    with openmp_limit():
        if kind == "binary":
            model = HistGradientBoostingClassifier(**params).fit(z, y.astype(int))
        else:
            model = HistGradientBoostingRegressor(**params).fit(z, y)
    return [PooledOutcome(arm, k, model, kind, note) for k, arm in enumerate(arms)]


@dataclass(frozen=True)
class FoldAverage:
    """The average prediction of the K fold models of one nuisance (the boosting
    learner's model for new episodes: it is never fitted on all rows)."""

    members: tuple
    note: str = ""
    penalty: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Mean of the members' predictions (n, or n x K for propensities)."""
        return np.mean([m.predict(x) for m in self.members], axis=0)


@dataclass(frozen=True)
class Learner:
    """A named pair of nuisance fitters.

    ``fit_propensity(x, a, n_arms, seed)`` returns an object with ``predict(x) -> n x K``
    probabilities and a ``note``; ``fit_outcome(arm, x, y, kind, seed)`` one with
    ``predict(x) -> n`` expected outcomes and a ``note``; a pooled learner gives
    ``fit_outcomes(arms, x, a, y, kind, seed)`` instead, returning one such object per
    arm. ``x`` is the standardised
    design with the intercept first. ``has_coefficients``: the ``regression`` and
    ``ipw`` influence functions can use the fitted coefficients.
    """

    name: str
    fit_propensity: Callable
    fit_outcome: Callable | None
    has_coefficients: bool
    fit_outcomes: Callable | None = None  # all arms at once: (arms, x, a, y, kind, seed)


LEARNERS: dict[str, Learner] = {
    "glm": Learner("glm", _fit_glm_propensity, _fit_glm_outcome, True),
    "boosting": Learner("boosting", _fit_boosted_propensity, _fit_boosted_outcome, False),
    "boosting_pooled": Learner("boosting_pooled", _fit_boosted_propensity, None, False,
                               _fit_pooled_outcomes),
}
#: Learner names accepted by the estimators (``auto`` chooses by size).
LEARNER_CHOICES: tuple[str, ...] = ("auto", *LEARNERS)


def choose_learner(learner: str, n_episodes: int) -> Learner:
    """The :class:`Learner` for ``learner`` (``auto``: GLM below
    :data:`AUTO_BOOSTING_MIN_EPISODES` analysed episodes, boosting from it on)."""
    if learner == "auto":
        learner = "boosting" if n_episodes >= AUTO_BOOSTING_MIN_EPISODES else "glm"
    if learner not in LEARNERS:
        raise ParameterError(f"learner must be one of {LEARNER_CHOICES}, got {learner!r}")
    return LEARNERS[learner]
