"""Reported reasons: episode labels, the label model, calibration and agreement.

Part of :mod:`analysis.causes.attribution` (read its docstring first).

Method
------
*Labels.* A reason code reported from one month before to two months after an episode's
start labels the episode with the family ``cause_map`` gives the code (the earliest such
report when there are several). The episode table of :mod:`analysis.episodes` carries this
as ``reported_family``; it is recomputed here only when that column is absent.

*Label model.* A multinomial logit (``statsmodels``' ``MNLogit`` likelihood, fitted by
:func:`analysis.causes.glm.mnlogit_fit`) of the reported family on
the standardised signals and the loan attributes at the episode's start, fitted on the
labelled episodes.

*Calibration.* The label model's probabilities are *cross-fitted*: labelled episodes are
split into ``k`` folds by loan (all episodes of a loan in one fold) and each fold is
predicted by the model fitted on the others, so every labelled episode is held out once.
The Shapley probabilities use no label, so they are compared on the same episodes. Scores:
the multi-class Brier score ``mean sum_f (p_f - y_f)^2`` (the selection criterion: it is
finite when a model gives a probability of 0, as the Shapley split does), the log-loss
(probabilities clipped at 1e-6), the per-family Brier score, and a reliability table
(mean predicted vs observed frequency in 5 bins per family).

*Agreement.* Confusion of the reported family with each model's primary family, share of
episodes with the same primary family, Cohen's kappa.

Since the latent competing-causes model (:mod:`analysis.causes.latent`) became the
combined attribution for books with signals and reports, the label model serves as the
calibration check the issue asks for (held-out agreement with the reports) and as the
combined attribution only when there are no signals (or fewer than ``min_labelled``
reports), where who reports cannot be estimated.

Assumptions and known drawbacks
-------------------------------
* **Who reports is selected.** The label model and the calibration check assume reasons
  are *missing at random given the covariates*: among borrowers with the same signals and
  attributes, whether a reason was reported does not depend on the true cause. If, say,
  borrowers hit by a personal event report more often than those with a weak business,
  the label model over-predicts personal causes for the unlabelled, and the shares of the
  reported episodes alone are biased towards the families that report.
* Reported reasons are self-reports: some are wrong or strategic (a borrower may name the
  economy to obtain relief). The label model learns the reported family, noise included,
  and calibration is measured against the reports, not the truth.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.causes.glm import collapse_rows, mnlogit_fit
from analysis.data.book import Book
from analysis.definitions import FAMILIES
from analysis.months import month_index


def reported_families(book: Book, episodes: pd.DataFrame) -> np.ndarray:
    """Reported family per episode (object array; None where unlabelled)."""
    if "reported_family" in episodes.columns:
        fam = episodes["reported_family"].astype("object")
        return np.asarray(fam.where(fam.isin(FAMILIES), None), dtype=object)
    out = np.full(len(episodes), None, dtype=object)
    if book.reasons is None or book.reasons.empty or book.cause_map is None or not len(episodes):
        return out
    cmap = book.cause_map[book.cause_map["source"] == "reason"]
    fam_of = dict(zip(cmap["name"].astype(str), cmap["family"], strict=False))
    start = month_index(episodes["start_month"])
    cand = pd.DataFrame(
        {"loan_id": episodes["loan_id"].to_numpy(), "_ep": np.arange(len(episodes)), "_s": start}
    ).merge(book.reasons[["loan_id", "reported_date", "reason_code"]], on="loan_id")
    r = month_index(cand["reported_date"])
    cand = cand[(r >= cand["_s"] - 1) & (r <= cand["_s"] + 2)]
    first = cand.sort_values(["_ep", "reported_date"], kind="stable").drop_duplicates("_ep")
    out[first["_ep"].to_numpy()] = first["reason_code"].astype(str).map(fam_of).to_numpy()
    out[~pd.Series(out).isin(FAMILIES).to_numpy()] = None
    return out


# ----------------------------------------------------------------------------- label model
@dataclass(frozen=True)
class LabelModel:
    """Multinomial logit of the reported family. ``params``: ``(k+1, J-1)`` incl. constant.

    ``classes``: positions in :data:`FAMILIES` of the families seen in the labels (the
    first is the base). With one class or a failed fit, ``params`` is empty and the model
    predicts the labelled base shares ``base``.
    """

    classes: tuple[int, ...]
    params: np.ndarray
    cov: np.ndarray
    base: np.ndarray
    n_labelled: int
    converged: bool

    def predict(self, z: np.ndarray, params: np.ndarray | None = None) -> np.ndarray:
        """``(n, 3)`` probabilities in :data:`FAMILIES` order (0 for unseen families).

        ``params`` may be ``(B, k+1, J-1)`` draws: returns ``(B, n, 3)``.
        """
        p_par = self.params if params is None else params
        if p_par.size == 0:
            shape = (len(z), 3) if params is None or params.ndim == 2 else (len(params), len(z), 3)
            return np.broadcast_to(self.base, shape).copy()
        X = np.column_stack([np.ones(len(z)), z])
        eta = np.einsum("nk,...kj->...nj", X, p_par)
        eta = np.concatenate([np.zeros(eta.shape[:-1] + (1,)), eta], axis=-1)
        eta -= eta.max(axis=-1, keepdims=True)
        e = np.exp(eta)
        pj = e / e.sum(axis=-1, keepdims=True)
        out = np.zeros(pj.shape[:-1] + (3,))
        out[..., list(self.classes)] = pj
        return out

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray | None:
        """``size`` parameter arrays from the asymptotic normal, or None (no model)."""
        if self.params.size == 0:
            return None
        flat = self.params.ravel(order="F")
        d = rng.multivariate_normal(flat, self.cov, size=size, method="cholesky")
        return d.reshape(size, self.params.shape[1], self.params.shape[0]).transpose(0, 2, 1)


def fit_label_model(z: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> LabelModel:
    """Fit the multinomial logit of family codes ``y`` (0..2) on design ``z`` (no constant).

    The likelihood, score and Hessian are ``statsmodels``' ``MNLogit``'s, in closed form on
    the distinct design rows with their class counts (:func:`analysis.causes.glm.mnlogit_fit`,
    exact); the fit is a Newton-Raphson maximisation of the log-likelihood minus
    ``ridge / 2`` times the squared coefficients (not the intercepts). The weak penalty
    keeps the fit finite under separation (a flag seen only among one family's reports),
    which the plain maximum likelihood fit cannot handle; the covariance is the inverse
    penalised information.
    Falls back to the base shares (intercept only) when there is a single family or the
    fit fails.
    """
    y = np.asarray(y, dtype=int)
    counts = np.bincount(y, minlength=3).astype(float)
    base = counts / max(counts.sum(), 1.0)
    classes = tuple(int(c) for c in np.flatnonzero(counts))
    empty = LabelModel(classes, np.empty((0, 0)), np.empty((0, 0)), base, len(y), False)
    if len(classes) < 2:
        return empty
    remap = np.full(3, -1)
    remap[list(classes)] = np.arange(len(classes))
    yy = remap[y]
    X = np.column_stack([np.ones(len(z)), z])
    shape = (X.shape[1], len(classes) - 1)
    pen = np.zeros(shape)
    pen[1:] = ridge
    pen = pen.ravel(order="F")
    # start at the base-share intercepts
    par = np.zeros(shape)
    par[0] = np.log(counts[list(classes)][1:] / counts[list(classes)][0])
    par = par.ravel(order="F")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cells = collapse_rows(X, yy, len(classes))
            fit = mnlogit_fit(cells.x, cells.counts, par, pen, tol=1e-8)
        except (np.linalg.LinAlgError, ValueError, OverflowError, FloatingPointError):
            return empty
    par, cov, ok = fit.params, fit.cov, fit.converged
    if not (ok and np.all(np.isfinite(par)) and np.all(np.isfinite(cov))):
        return empty
    return LabelModel(classes, par.reshape(shape, order="F"), cov, base, len(y), ok)


def crossfit_predict(
    z: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Out-of-fold label-model probabilities ``(n, 3)``, folds by ``groups`` (loan codes)."""
    uniq, inv = np.unique(groups, return_inverse=True)
    fold_of_group = rng.permutation(len(uniq)) % k
    fold = fold_of_group[inv]
    out = np.zeros((len(y), 3))
    for f in range(k):  # a handful of folds
        test = fold == f
        if not test.any():
            continue
        m = fit_label_model(z[~test], y[~test])
        out[test] = m.predict(z[test])
    return out


# ----------------------------------------------------------------------------- scores
def scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Multi-class Brier, log-loss, per-family Brier and accuracy of ``p`` against ``y``."""
    onehot = np.eye(3)[y]
    out = {
        "brier": float(np.mean(((p - onehot) ** 2).sum(axis=1))),
        "log_loss": float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-6, 1.0)))),
        "pct_same_primary": float(np.mean(p.argmax(axis=1) == y)),
    }
    for j, f in enumerate(FAMILIES):
        out[f"brier_{f}"] = float(np.mean((p[:, j] - onehot[:, j]) ** 2))
    return out


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two family-code vectors (0..2)."""
    if len(a) == 0:
        return float("nan")
    cm = np.zeros((3, 3))
    np.add.at(cm, (a, b), 1.0)
    cm /= cm.sum()
    po = np.trace(cm)
    pe = float(cm.sum(axis=1) @ cm.sum(axis=0))
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def reliability(p: np.ndarray, y: np.ndarray, model: str, bins: int = 5) -> pd.DataFrame:
    """Mean predicted vs observed frequency per family in ``bins`` equal-width bins."""
    rows = []
    edges = np.linspace(0, 1, bins + 1)
    for j, f in enumerate(FAMILIES):
        b = np.clip(np.digitize(p[:, j], edges[1:-1]), 0, bins - 1)
        n = np.bincount(b, minlength=bins)
        pred = np.bincount(b, weights=p[:, j], minlength=bins)
        obs = np.bincount(b, weights=(y == j).astype(float), minlength=bins)
        for i in range(bins):
            if n[i]:
                rows.append(
                    {
                        "model": model,
                        "family": f,
                        "bin": f"{edges[i]:.1f}-{edges[i + 1]:.1f}",
                        "mean_predicted": pred[i] / n[i],
                        "observed": obs[i] / n[i],
                        "n_episodes": int(n[i]),
                    }
                )
    return pd.DataFrame(rows)


def confusion(reported: np.ndarray, predicted: np.ndarray, model: str) -> pd.DataFrame:
    """Long confusion table: model, reported_family, model_family, n_episodes."""
    cm = np.zeros((3, 3), dtype=int)
    np.add.at(cm, (reported, predicted), 1)
    rows = [
        {"model": model, "reported_family": FAMILIES[i], "model_family": FAMILIES[j],
         "n_episodes": int(cm[i, j])}
        for i in range(3)
        for j in range(3)
    ]
    return pd.DataFrame(rows)
