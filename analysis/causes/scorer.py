"""A fitted attribution applied to episodes it was not fitted on.

Why: on a large Dask book the onset model is fitted on an equal-probability loan sample
(its loan-months must fit in memory), but effects by cause family should use every
episode. An episode's family probabilities need only the covariates of its loan in its
start month (signals and attributes, :func:`analysis.causes.model.attach_covariates`) and
its reported family, so the models fitted on the sample score the other episodes the
same way (issue #15).

:class:`EpisodeScorer` holds what :func:`analysis.causes.attribute` fitted: the design's
standardisation, the onset model's signal coefficients and the Shapley groups, the base
shares for episodes without a positive contribution, the label model and the latent
model. :func:`attribute_episodes` turns inputs into the headline method's per-episode
table (:data:`analysis.causes.result.PER_EPISODE_COLUMNS`); on the episodes the
attribution was fitted on it reproduces ``Attribution.per_episode`` (to rounding).

Assumed: the sample's models hold for the whole book (the sample is an equal-probability
draw of loans, so they estimate the same quantities), and the standardisation learnt on
the sample is applied unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.causes.labels import LabelModel
from analysis.causes.latent import LatentFit
from analysis.causes.model import Design, contributions_to_probabilities, group_contributions
from analysis.causes.result import PER_EPISODE_COLUMNS
from analysis.definitions import FAMILIES
from analysis.errors import InputError


@dataclass(frozen=True)
class EpisodeScorer:
    """The fitted models of one attribution (see the module docstring).

    ``design``: the standardisation of the episodes' covariates; ``n_signals``: its
    leading signal columns; ``signal_beta`` and ``groups``: the onset model's signal
    coefficients and each family's columns (None without signals); ``base``: the shares
    given to episodes with no positive family contribution; ``label_model`` and
    ``label_on_covariates``: the reported-family model and whether it uses the covariates
    (else intercept-only); ``latent``: the latent competing-causes fit (None if not
    used); ``fill``: what fills unlabelled episodes of ``combined`` without it
    (``model`` or ``combined`` = the label model); ``method``: the headline method.
    """

    design: Design
    n_signals: int
    signal_beta: np.ndarray | None
    groups: dict[str, np.ndarray] | None
    base: np.ndarray | None
    label_model: LabelModel | None
    label_on_covariates: bool
    latent: LatentFit | None
    fill: str
    method: str

    def probabilities(self, frame: pd.DataFrame, reported: Sequence[object] | np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities ``(n, 3)`` in :data:`FAMILIES` order, source per row) of the
        headline method for episodes with covariates ``frame`` (one row per episode, the
        columns of ``attach_covariates``) and reported family ``reported`` (a family
        name, or None/NaN where no reason was reported)."""
        n = len(frame)
        rep = pd.Series(np.asarray(reported, dtype=object)).where(
            lambda s: s.isin(FAMILIES), None).to_numpy()
        if len(rep) != n:
            raise InputError(f"reported families: {len(rep)} values for {n} episodes")
        z = self.design.matrix(frame)
        z_sig = z[:, : self.n_signals]
        p_model = None
        if self.signal_beta is not None:
            contrib = group_contributions(z_sig, self.signal_beta, self.groups)
            p_model = contributions_to_probabilities(contrib, self.base)[0]
        if self.method == "model":
            return p_model, np.full(n, "model", dtype=object)
        labelled = pd.Series(rep).notna().to_numpy()
        obs = np.full(n, -1)
        obs[labelled] = pd.Series(rep[labelled]).map({f: i for i, f in enumerate(FAMILIES)})
        if self.latent is not None:
            ones = np.ones((n, 1))
            x = tuple(np.hstack([ones, z_sig[:, self.groups[f]]]) for f in FAMILIES)
            p = self.latent.posterior(x, obs)
            return p, np.where(labelled, "reported", "combined").astype(object)
        onehot = np.zeros((n, 3))
        onehot[labelled, obs[labelled]] = 1.0
        if self.fill == "model":
            fill = p_model
        else:
            fill = self.label_model.predict(z if self.label_on_covariates else np.zeros((n, 0)))
        p = np.where(labelled[:, None], onehot, fill)
        return p, np.where(labelled, "reported", self.fill).astype(object)


def attribute_episodes(scorer: EpisodeScorer, inputs: pd.DataFrame,
                       reported: Sequence[object] | np.ndarray | None = None) -> pd.DataFrame:
    """The per-episode table (:data:`~analysis.causes.result.PER_EPISODE_COLUMNS`) of the
    episodes in ``inputs`` (``loan_id``, ``month`` = the episode's start month, and the
    covariates of that month, as :func:`analysis.dask.report_pass.episode_inputs` builds
    them), scored by ``scorer``. ``reported``: each episode's reported family (default:
    the ``reported_family`` column of ``inputs``)."""
    for col in ("loan_id", "month"):
        if col not in inputs.columns:
            raise InputError(f"episode inputs: column '{col}' is missing")
    if reported is None:
        if "reported_family" not in inputs.columns:
            raise InputError("episode inputs: column 'reported_family' is missing "
                             "(or pass reported=)")
        reported = inputs["reported_family"].to_numpy()
    p, source = scorer.probabilities(inputs, reported)
    out = pd.DataFrame({"loan_id": inputs["loan_id"].to_numpy(),
                        "start_month": pd.to_datetime(inputs["month"]).to_numpy()})
    for j, f in enumerate(FAMILIES):
        out[f"p_{f}"] = p[:, j]
    out["primary_family"] = np.asarray(FAMILIES, dtype=object)[p.argmax(axis=1)]
    out["source"] = source
    return out[list(PER_EPISODE_COLUMNS)]


__all__ = ["EpisodeScorer", "attribute_episodes"]
