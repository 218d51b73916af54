"""Why loans go overdue: economic, management or personal, per episode and per portfolio.

Public API: :func:`attribute` returns an :class:`~analysis.causes.result.Attribution`
(:mod:`analysis.causes.result`). The parts live in :mod:`analysis.causes.inputs` (checks),
:mod:`analysis.causes.model` (at-risk months, onset logit, Shapley split),
:mod:`analysis.causes.labels` (reported reasons, label model, calibration),
:mod:`analysis.causes.shares` (bootstrap shares, trends) and :mod:`analysis.causes.tables`
(drivers, truth comparison); :func:`analysis.causes.join.with_cause` joins the attributed
family to the episodes.

Method
------
Every overdue episode (from :func:`analysis.episodes.build_episodes`) gets probabilities
``p_economic``, ``p_management``, ``p_personal`` (summing to 1) and a ``primary_family``
(the largest), from one of three sources, named in the ``source`` column:

``reported``
    The borrower reported a reason code from one month before to two months after the
    start; ``cause_map`` maps it to a family (probability 1 on that family).
``model``
    The overdue-onset model: a logit of "an episode starts in month t" over the
    loan-months at risk, on the signals of month t with loan attributes as controls.
    The episode's log-odds at its start, relative to a reference borrower (the at-risk
    portfolio mean), are split into the exact Shapley contributions of the three
    families (each the group of its signals in ``cause_map``); the positive
    contributions, normalised, are the probabilities. Details:
    :mod:`analysis.causes.model`.
``combined``
    With signals and reported reasons: the posterior of the latent competing-causes model
    (:mod:`analysis.causes.latent`). Each family has its own onset hazard, log-linear in
    its own signals; the probability that an episode started because of a family is that
    family's share of the total hazard, and the episode's report (or its absence) updates
    it through the estimated report rate ``r_f`` of each true family and the reliability
    matrix ``C[f, g]`` (probability that a true ``f`` is reported as ``g``). Reports are
    evidence, not truth: this is how "reported labels where they exist" is honoured when
    reports can be wrong, and the estimated ``r`` and ``C`` are in
    :attr:`Attribution.reporting`. Labelled episodes keep the source ``reported`` (their
    probabilities use their report), the others get ``combined``.
    Without signals (or with fewer than ``min_labelled`` reports) who reports cannot be
    estimated: the combined attribution then takes the reported family where there is one
    and, elsewhere, the better-calibrated of the label model (a multinomial logit of the
    reported family on signals and attributes, assuming reasons missing at random) and the
    Shapley split, by held-out Brier score (:mod:`analysis.causes.labels`).

The headline is ``combined`` when some episodes are labelled, else ``model``.

Shares of episodes and of overdue balance (EAD-weighted) per family, for the portfolio and
by month, borrower type, industry and region, are means of the per-episode probabilities,
with loan-bootstrap intervals that also draw the models' coefficients
(:mod:`analysis.causes.shares`). Segments with fewer than ``min_cell`` episodes are
suppressed (NaN).

Cost
----
Everything after the at-risk set scales with episodes, not loan-months: the onset logit is
fitted on a case-control sample of at most ``max(max_rows, 6 x episodes)`` rows (on their
distinct design rows, :mod:`analysis.causes.glm`), the label and latent models on the
episodes, and the bootstrap redraws per-episode probabilities and loan weights (one
draw per replicate serves the shares of episodes and of balance). The loan-month work is
one pass to build the at-risk set and one look-up of the signals of the sampled months
and of the episodes' start months together. BLAS runs single-threaded inside
:func:`attribute`: the products are many thin ``n x k`` ones, where multithreaded OpenBLAS
was 5-20 times slower on the shared 2-core machine (thread contention), and the report
runs notebooks side by side. Timings: ``benchmarks/README.md`` (issue #17).

Assumptions and known drawbacks
-------------------------------
* Each signal speaks for exactly one family (``cause_map``); causes not measured by any
  signal are invisible to the model and their episodes are spread over the measured
  families.
* The Shapley split explains the model's prediction against an average borrower; it is an
  attribution, not a causal effect. Its probabilities are a heuristic mapping (positive
  parts normalised), not calibrated posteriors: positive noise in the other families'
  signals dilutes them towards equal shares, so the model's portfolio shares are pulled
  towards 1/3 each. The calibration check against reported reasons measures this.
* The combined attribution assumes that whether a reason is reported, and which family it
  names, depend on the true family only (not on the signals given the family), that the
  families compete with log-linear hazards in their own signals, and that loan attributes
  act on the three hazards alike (:mod:`analysis.causes.latent`). The label model, used
  only without signals, assumes reasons missing at random and truthful. The shares of the
  ``reported`` method describe only the borrowers who report, as they report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from analysis.causes.inputs import AttributionUnavailable, check_inputs
from analysis.causes.labels import (
    LabelModel,
    cohen_kappa,
    confusion,
    crossfit_predict,
    fit_label_model,
    reliability,
    reported_families,
    scores,
)
from analysis.causes.latent import LatentAttribution, latent_attribution, latent_notes
from analysis.causes.model import (
    Design,
    ModelFitError,
    OnsetModel,
    at_risk_months,
    attach_covariates,
    contributions_to_probabilities,
    fit_onset,
    group_contributions,
    subsample,
)
from analysis.causes.result import TABLE_COLUMNS, Attribution
from analysis.causes.scorer import EpisodeScorer
from analysis.causes.shares import bootstrap_share_tables, segment_codes
from analysis.causes.tables import drivers_table
from analysis.data.book import Book
from analysis.definitions import FAMILIES, Definitions
from analysis.errors import InputError

P_COLUMNS = [f"p_{f}" for f in FAMILIES]


# ----------------------------------------------------------------------------- attribute
def attribute(
    book: Book,
    episodes: pd.DataFrame,
    *,
    definitions: Definitions | None = None,
    n_boot: int = 200,
    level: float = 0.95,
    min_cell: int = 10,
    seed: int = 0,
    max_rows: int = 150_000,
    folds: int = 5,
    min_labelled: int = 50,
) -> Attribution:
    """Attribute every overdue episode to economic, management or personal causes.

    Parameters
    ----------
    book: the validated book (signals, reasons, cause_map as available).
    episodes: :func:`analysis.episodes.build_episodes` output for ``book``.
    definitions: the episode definitions (``overdue_dpd``, ``probation_months`` fix the
        at-risk months of the onset model); default :class:`Definitions()`.
    n_boot: bootstrap replicates (0: no intervals). level: interval level.
    min_cell: segments with fewer episodes are suppressed.
    seed: seeds the sub-sampling, the folds and the bootstrap (deterministic result).
    max_rows: at-risk loan-months above this are sub-sampled (non-events only).
    folds: folds (by loan) of the label model's cross-fitted calibration.
    min_labelled: fewer labelled episodes than this: the label model is intercept-only.

    Raises :class:`AttributionUnavailable` (no signals and no reasons, or no episodes) and
    :class:`CauseMapError`.
    """
    if not 0 < level < 1:
        raise InputError(f"level={level!r}: must be in (0, 1)")
    with threadpool_limits(limits=1, user_api="blas"):  # see the module docstring, Cost
        return _attribute(book, episodes, definitions or Definitions(), n_boot=n_boot,
                          level=level, min_cell=min_cell, seed=seed, max_rows=max_rows,
                          folds=folds, min_labelled=min_labelled)


def _attribute(book: Book, episodes: pd.DataFrame, d: Definitions, *, n_boot: int, level: float,
               min_cell: int, seed: int, max_rows: int, folds: int,
               min_labelled: int) -> Attribution:
    """:func:`attribute` after its argument checks, with BLAS limited to one thread."""
    signals, has_reasons = check_inputs(book)
    if len(episodes) == 0:
        raise AttributionUnavailable("there are no overdue episodes to attribute")
    for col in ("loan_id", "start_month"):
        if col not in episodes.columns:
            raise InputError(f"episode table: column '{col}' is missing")
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    info: dict = {"n_episodes": len(episodes), "seed": seed, "n_boot": n_boot}

    keys = pd.DataFrame(
        {"loan_id": episodes["loan_id"].to_numpy(),
         "month": pd.to_datetime(episodes["start_month"]).to_numpy()}
    )
    sample, n_at_risk, q = None, 0, 1.0
    if signals:  # the at-risk loan-months, sub-sampled; their covariates with the episodes'
        risk = at_risk_months(book, episodes, overdue_dpd=d.overdue_dpd,
                              probation_months=d.probation_months)
        sample, q = subsample(risk, max_rows, rng)
        n_at_risk = len(risk)
        del risk
        both = attach_covariates(
            pd.concat([keys, sample[["loan_id", "month"]]], ignore_index=True), book)
        ep_frame = both.iloc[: len(keys)].reset_index(drop=True)
        sample = both.iloc[len(keys):].reset_index(drop=True).assign(
            is_onset=sample["is_onset"].to_numpy())
        del both
    else:
        ep_frame = attach_covariates(keys, book)
    labelled, y = _reported_labels(book, episodes, len(ep_frame))
    info["n_labelled"] = int(labelled.sum())
    sig = _signal_model(book, sample, (n_at_risk, q), ep_frame, signals, notes, info)
    lab = _label_models(episodes, sig, labelled, y, signals, folds, min_labelled, level, rng,
                        notes)
    methods = _episode_methods(sig.p_model, labelled, y, lab)
    headline = "combined" if "combined" in methods else "model"
    per = _per_episode_table(episodes, methods[headline])

    seg_frame = _segment_frame(ep_frame, keys, episodes)
    reps = _Replicates(sig, lab, labelled, min_labelled, n_boot, rng)
    all_shares, trends = _bootstrap_all(methods, reps, seg_frame, episodes, labelled, lab,
                                        n_boot=n_boot, level=level, min_cell=min_cell, seed=seed)
    table = _report_table(all_shares, headline)
    notes.extend(_closing_notes(n_boot, lab.latent is not None))

    drivers = drivers_table(sig.onset, sig.z_sig if signals else None, level)
    onset_tab = sig.onset.coef_table(level) if sig.onset is not None else pd.DataFrame()
    return Attribution(
        per_episode=per,
        table=table.reset_index(drop=True),
        drivers=drivers,
        agreement=lab.agreement,
        confusion=lab.conf.reset_index(drop=True),
        calibration=lab.calib.reset_index(drop=True),
        selection=lab.selection,
        trends=trends,
        onset=onset_tab,
        method=headline,
        level=level,
        info=info,
        notes=tuple(notes),
        all_shares=all_shares,
        reporting=lab.latent.reporting if lab.latent is not None else pd.DataFrame(),
        scorer=_scorer(sig, lab, headline, min_labelled),
    )


def _scorer(sig: _SignalFit, lab: _LabelFit, headline: str, min_labelled: int) -> EpisodeScorer:
    """The fitted models of this attribution, to score episodes it was not fitted on."""
    return EpisodeScorer(
        design=sig.design, n_signals=len(sig.design.signals),
        signal_beta=sig.onset.signal_beta() if sig.onset is not None else None,
        groups=sig.groups, base=sig.base, label_model=lab.label_model,
        label_on_covariates=lab.n_lab >= min_labelled,
        latent=lab.latent.fit if lab.latent is not None else None,
        fill=lab.chosen, method=headline)


# ----------------------------------------------------------------------------- steps
def _reported_labels(book: Book, episodes: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Which episodes carry a reported family (bool mask) and its code in :data:`FAMILIES`
    order (-1 where unlabelled)."""
    rep = reported_families(book, episodes)
    labelled = pd.Series(rep).isin(FAMILIES).to_numpy()
    y = np.full(n, -1)
    y[labelled] = pd.Series(rep[labelled]).map({f: i for i, f in enumerate(FAMILIES)}).to_numpy()
    return labelled, y


@dataclass(frozen=True)
class _SignalFit:
    """The onset model and its Shapley split (``onset``, ``p_model``, ``z_sig``,
    ``groups`` and ``base`` are None without signals); ``z_ep``: the episodes'
    standardised design (``design``); ``base``: the shares of episodes with no positive
    family contribution."""

    onset: OnsetModel | None
    p_model: np.ndarray | None
    z_ep: np.ndarray
    z_sig: np.ndarray | None
    groups: dict[str, np.ndarray] | None
    design: Design
    base: np.ndarray | None = None


def _signal_model(book: Book, sample: pd.DataFrame | None, size: tuple[int, float],
                  ep_frame: pd.DataFrame, signals: dict, notes: list[str],
                  info: dict) -> _SignalFit:
    """Fit the onset logit on the sub-sampled at-risk loan-months ``sample`` (with their
    covariates; ``size``: loan-months at risk and the sampling fraction) and split each
    episode's log-odds into family contributions (see :mod:`analysis.causes.model`);
    without signals, only the design of loan attributes the label model uses."""
    n = len(ep_frame)
    if not signals:
        design = Design.fit(ep_frame, {}, np.ones(n))
        notes.append("No signals: unlabelled episodes are attributed by the label model on "
                     "loan attributes only.")
        return _SignalFit(None, None, design.matrix(ep_frame), None, None, design)
    n_at_risk, q = size
    try:
        onset, _ = fit_onset(sample, book, signals, sample_fraction=q, n_at_risk=n_at_risk,
                             frame=sample)
    except ModelFitError as exc:
        raise AttributionUnavailable(f"cause attribution unavailable: {exc}") from exc
    design = onset.design
    z_ep = design.matrix(ep_frame)
    z_sig = z_ep[:, : len(signals)]
    groups = design.groups()
    contrib = group_contributions(z_sig, onset.signal_beta(), groups)
    p_model, fell_back = contributions_to_probabilities(contrib)
    base = p_model[~fell_back].mean(axis=0) if (~fell_back).any() else np.full(3, 1.0 / 3.0)
    info.update(
        n_at_risk=onset.n_at_risk, n_onsets=onset.n_events, n_fit_rows=onset.n_fit_rows,
        sample_fraction=q, n_no_positive=int(fell_back.sum()),
    )
    notes.append(
        f"Onset logit over {onset.n_at_risk:,} loan-months at risk with "
        f"{onset.n_events:,} episode starts"
        + (f" (non-events sub-sampled at {q:.3f}, intercept corrected)" if q < 1 else "")
        + f"; {len(signals)} signals, {len(design.columns) - len(signals)} control terms."
    )
    notes.extend([onset.note] if onset.note else [])
    if fell_back.any():
        notes.append(
            f"{int(fell_back.sum()):,} episodes had no positive family contribution and "
            "got the model's base shares."
        )
    return _SignalFit(onset, p_model, z_ep, z_sig, groups, design, base)


@dataclass(frozen=True)
class _LabelFit:
    """The models of the reported families: the label model (``p_label`` its
    predictions), the agreement, confusion and reliability tables against the reports,
    the selection check, the latent model (None unless fitted), which source fills the
    unlabelled episodes of ``combined`` without it (``chosen``), and the count labelled."""

    label_model: LabelModel | None
    p_label: np.ndarray | None
    agreement: pd.DataFrame
    conf: pd.DataFrame
    calib: pd.DataFrame
    selection: pd.DataFrame
    chosen: str
    n_lab: int
    latent: LatentAttribution | None


def _label_models(episodes: pd.DataFrame, sig: _SignalFit, labelled: np.ndarray, y: np.ndarray,
                  signals: dict, folds: int, min_labelled: int, level: float,
                  rng: np.random.Generator, notes: list[str]) -> _LabelFit:
    """Label model, held-out calibration, agreement with the reports and, with signals
    and enough reports, the latent competing-causes model."""
    n = len(y)
    n_lab = int(labelled.sum())
    chosen = "model" if signals else "combined"
    if not n_lab:
        if signals:
            notes.append("No episode has a reported reason: who reports and how reliably cannot "
                         "be estimated, so the attribution is the Shapley split of the onset "
                         "model (signals only).")
        return _LabelFit(None, None, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(),
                         pd.DataFrame(), chosen, 0, None)
    z_lab_all = sig.z_ep if n_lab >= min_labelled else np.zeros((n, 0))
    label_model = fit_label_model(z_lab_all[labelled], y[labelled])
    p_label = label_model.predict(z_lab_all)
    rows, conf, calib = _held_out_agreement(episodes, z_lab_all, labelled, y, sig.p_model,
                                            folds, rng)
    selection = _selection_check(sig.p_model, labelled, y, notes)
    latent: LatentAttribution | None = None
    if signals and n_lab >= min_labelled:
        latent = latent_attribution(sig.z_sig, sig.groups, y, episodes["loan_id"].to_numpy(), rng,
                                    level=level)
        yl = y[labelled]
        pr = latent.pred_report
        rows.append({"model": "latent", **scores(pr, yl),
                     "kappa": cohen_kappa(yl, pr.argmax(axis=1))})
        conf = pd.concat([conf, confusion(yl, pr.argmax(axis=1), "latent")])
        calib = pd.concat([calib, reliability(pr, yl, "latent")])
        notes.extend(latent_notes(latent, n_lab, n))
    agreement = pd.DataFrame(rows)
    if len(agreement):
        agreement.insert(1, "n_labelled", n_lab)
        if latent is not None:
            best = "latent"
        else:
            best = agreement.loc[agreement["brier"].idxmin(), "model"]
            chosen = "model" if best == "shapley" else "combined"
        agreement["selected"] = agreement["model"] == best
    if latent is None:
        notes.append(
            f"{n_lab:,} of {n:,} episodes have a reported reason; elsewhere the "
            + ("Shapley split of the onset model" if chosen == "model" else "label model")
            + " is used (lower held-out Brier score). Reasons are assumed missing at "
            "random given signals and attributes"
            + (" (without signals, who reports and how reliably cannot be estimated)."
               if not signals else ".")
        )
    if n_lab < min_labelled:
        notes.append(f"Fewer than {min_labelled} labelled episodes: the label model is "
                     "intercept-only (the reported shares).")
    return _LabelFit(label_model, p_label, agreement, conf, calib, selection, chosen, n_lab,
                     latent)


def _held_out_agreement(episodes: pd.DataFrame, z_lab_all: np.ndarray, labelled: np.ndarray,
                        y: np.ndarray, p_model: np.ndarray | None, folds: int,
                        rng: np.random.Generator) -> tuple[list[dict], pd.DataFrame, pd.DataFrame]:
    """Scores (rows of the agreement table), confusion and reliability tables of the label
    model (cross-fitted by loan) and of the Shapley split against the reported families."""
    conf = pd.DataFrame()
    calib = pd.DataFrame()
    loan_codes_lab = pd.factorize(episodes["loan_id"].to_numpy()[labelled])[0]
    k = int(min(folds, len(np.unique(loan_codes_lab))))
    rows = []
    yl = y[labelled]
    if k >= 2:
        p_oof = crossfit_predict(z_lab_all[labelled], yl, loan_codes_lab, k, rng)
        rows.append({"model": "label_model", **scores(p_oof, yl),
                     "kappa": cohen_kappa(yl, p_oof.argmax(axis=1))})
        conf = confusion(yl, p_oof.argmax(axis=1), "label_model")
        calib = reliability(p_oof, yl, "label_model")
    if p_model is not None:
        pm = p_model[labelled]
        rows.append({"model": "shapley", **scores(pm, yl),
                     "kappa": cohen_kappa(yl, pm.argmax(axis=1))})
        conf = pd.concat([conf, confusion(yl, pm.argmax(axis=1), "shapley")])
        calib = pd.concat([calib, reliability(pm, yl, "shapley")])
    return rows, conf, calib


def _selection_check(p_model: np.ndarray | None, labelled: np.ndarray, y: np.ndarray,
                     notes: list[str]) -> pd.DataFrame:
    """Reported shares against the Shapley model's shares among labelled and unlabelled
    episodes (empty without signals or without unlabelled episodes), with a note when
    they disagree by more than 10 points."""
    n_lab = int(labelled.sum())
    selection = pd.DataFrame()
    if p_model is not None and (~labelled).any():
        selection = pd.DataFrame(
            {
                "family": list(FAMILIES),
                "reported_share": np.bincount(y[labelled], minlength=3) / n_lab,
                "model_share_labelled": p_model[labelled].mean(axis=0),
                "model_share_unlabelled": p_model[~labelled].mean(axis=0),
                "n_labelled": n_lab,
                "n_unlabelled": int((~labelled).sum()),
            }
        )
    if len(selection):
        gap = selection["reported_share"] - selection["model_share_labelled"]
        big = selection[np.abs(gap) > 0.10]
        if len(big):
            notes.append(
                "Reported reasons and the signal model disagree on the same episodes ("
                + "; ".join(
                    f"{r.family}: reported {r.reported_share:.0%}, model "
                    f"{r.model_share_labelled:.0%}" for r in big.itertuples()
                )
                + "): reports may be noisy or selective, or the model blind to a family. "
                "Compare the 'model' and 'combined' shares before acting on either."
            )
    return selection


Method = tuple[np.ndarray, np.ndarray, np.ndarray]  # probabilities (n, 3), episode mask, source


def _episode_methods(p_model: np.ndarray | None, labelled: np.ndarray, y: np.ndarray,
                     lab: _LabelFit) -> dict[str, Method]:
    """Per method (``model``, ``reported``, ``combined`` as available): the per-episode
    probabilities, the episodes it covers and each episode's source."""
    n = len(y)
    methods: dict[str, Method] = {}
    if p_model is not None:
        methods["model"] = (p_model, np.ones(n, bool), np.full(n, "model", dtype=object))
    if lab.n_lab:
        onehot = np.zeros((n, 3))
        onehot[labelled, y[labelled]] = 1.0
        methods["reported"] = (onehot, labelled, np.full(n, "reported", dtype=object))
        if lab.latent is not None:
            p_comb = lab.latent.p
            src = np.where(labelled, "reported", "combined").astype(object)
        else:
            fill = p_model if lab.chosen == "model" else lab.p_label
            p_comb = np.where(labelled[:, None], onehot, fill)
            src = np.where(labelled, "reported", lab.chosen).astype(object)
        methods["combined"] = (p_comb, np.ones(n, bool), src)
    return methods


def _per_episode_table(episodes: pd.DataFrame, method: Method) -> pd.DataFrame:
    """The headline method's per-episode table (:data:`PER_EPISODE_COLUMNS`)."""
    p_head, _, src_head = method
    per = pd.DataFrame(
        {"loan_id": episodes["loan_id"].to_numpy(),
         "start_month": pd.to_datetime(episodes["start_month"]).to_numpy()}
    )
    for j, c in enumerate(P_COLUMNS):
        per[c] = p_head[:, j]
    per["primary_family"] = np.asarray(FAMILIES, dtype=object)[p_head.argmax(axis=1)]
    per["source"] = src_head
    return per


def _segment_frame(ep_frame: pd.DataFrame, keys: pd.DataFrame,
                   episodes: pd.DataFrame) -> pd.DataFrame:
    """The episodes' start month and segment columns (borrower type, industry, region)."""
    seg_frame = ep_frame.assign(start_month=keys["month"].to_numpy())
    for c in ("borrower_type", "industry", "region"):
        if c not in seg_frame.columns and c in episodes.columns:
            seg_frame[c] = episodes[c].to_numpy()
    return seg_frame


class _Replicates:
    """Bootstrap replicate ``b`` of the Shapley split and of the label model's
    probabilities, from coefficients drawn from their asymptotic normals."""

    def __init__(self, sig: _SignalFit, lab: _LabelFit, labelled: np.ndarray, min_labelled: int,
                 n_boot: int, rng: np.random.Generator) -> None:
        self.sig, self.lab = sig, lab
        self.n, self.min_labelled = len(labelled), min_labelled
        onset, label_model = sig.onset, lab.label_model
        self.beta_draws = onset.draw(rng, n_boot) if (onset is not None and n_boot) else None
        self.label_draws = (label_model.draw(rng, n_boot)
                            if (label_model is not None and n_boot) else None)

    def model(self, b: int) -> np.ndarray:
        sig = self.sig
        c = group_contributions(sig.z_sig, sig.onset.signal_beta(self.beta_draws[b]), sig.groups)
        return contributions_to_probabilities(c)[0]

    def label(self, b: int) -> np.ndarray:
        if self.label_draws is None:
            return self.lab.p_label
        zl = self.sig.z_ep if self.lab.n_lab >= self.min_labelled else np.zeros((self.n, 0))
        return self.lab.label_model.predict(zl, self.label_draws[b])


def _method_draw(m: str, pm: np.ndarray, reps: _Replicates, lab: _LabelFit, labelled: np.ndarray,
                 n_boot: int, seed: int) -> Callable[[int], np.ndarray] | None:
    """Replicate ``b`` of method ``m``'s per-episode probabilities (None: kept fixed)."""
    if m == "model":
        return reps.model if reps.beta_draws is not None else None
    if m == "combined" and lab.latent is not None:
        return lab.latent.draw_fn(np.random.default_rng([seed, 99]), n_boot) if n_boot else None
    if m == "combined":
        chosen = lab.chosen
        fill_draw = reps.model if chosen == "model" else reps.label
        if (chosen == "model" and reps.beta_draws is None) or (chosen != "model" and not n_boot):
            return None

        def draw(b: int, _f=fill_draw, _p=pm) -> np.ndarray:
            return np.where(labelled[:, None], _p, _f(b))

        return draw
    return None


def _bootstrap_all(methods: dict[str, Method], reps: _Replicates, seg_frame: pd.DataFrame,
                   episodes: pd.DataFrame, labelled: np.ndarray, lab: _LabelFit, *,
                   n_boot: int, level: float, min_cell: int,
                   seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shares of episodes and of balance, with loan-bootstrap intervals, and monthly
    trends, of every method (:func:`analysis.causes.shares.bootstrap_share_tables`; each
    replicate's probabilities are drawn once for both weights)."""
    n = len(labelled)
    loan_codes = pd.factorize(episodes["loan_id"].to_numpy())[0]
    ead = (
        pd.to_numeric(episodes["ead"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if "ead" in episodes.columns else np.ones(n)
    )
    all_segs = segment_codes(seg_frame)
    share_tables, trend_tables = [], []
    for i, (m, (pm, mask, _src)) in enumerate(methods.items()):
        draw = _method_draw(m, pm, reps, lab, labelled, n_boot, seed)
        sub_segs = {st: (c[mask], lbl) for st, (c, lbl) in all_segs.items()}
        sub_loans = pd.factorize(loan_codes[mask])[0]
        values = {"count": np.ones(int(mask.sum())), "balance": ead[mask]}
        # one Poisson stream per (method, weight), numbered as when each was its own call
        rngs = {w: np.random.default_rng([seed, 2 * i + j]) for j, w in enumerate(values)}

        def sub_draw(b: int, _d=draw, _mask=mask) -> np.ndarray:
            p = _d(b)
            return p if _mask.all() else p[_mask]

        tab, tr = bootstrap_share_tables(
            pm[mask], values, sub_loans, sub_segs,
            draw_p=sub_draw if draw is not None else None,
            n_boot=n_boot, level=level, rngs=rngs, min_cell=min_cell, method=m,
        )
        share_tables.append(tab)
        trend_tables.append(tr)
    all_shares = pd.concat(share_tables, ignore_index=True)
    trend_tables = [t for t in trend_tables if len(t)]
    trends = (
        pd.concat(trend_tables, ignore_index=True) if trend_tables
        else pd.DataFrame(columns=["family", "slope_per_year", "ci_low", "ci_high", "n_months",
                                   "method", "weight"])
    )
    return all_shares, trends


def _report_table(all_shares: pd.DataFrame, headline: str) -> pd.DataFrame:
    """The report table (:data:`TABLE_COLUMNS`): shares of episodes of every method and the
    headline method's shares of balance, headline first, by segment type."""
    t_count = all_shares[all_shares["weight"] == "count"]
    t_bal = all_shares[(all_shares["weight"] == "balance") & (all_shares["method"] == headline)]
    t_bal = t_bal.assign(method=f"{headline}_balance")
    table = pd.concat([t_count, t_bal], ignore_index=True)[list(TABLE_COLUMNS)]
    m_order = {m: i for i, m in enumerate([headline, f"{headline}_balance", "model", "reported"])}
    s_order = {s: i for i, s in enumerate(["all", "borrower_type", "industry", "region", "month"])}
    table = table.assign(_m=table["method"].map(m_order), _s=table["segment_type"].map(s_order))
    return table.sort_values(["_m", "_s"], kind="stable").drop(columns=["_m", "_s"])


def _closing_notes(n_boot: int, has_latent: bool) -> list[str]:
    """What the intervals cover, and the known pull of the Shapley shares."""
    notes = []
    if n_boot:
        notes.append(
            f"Intervals: {n_boot} loan-bootstrap replicates (Poisson weights per loan) with "
            "model coefficients drawn from their asymptotic distribution"
            + ("; for the combined shares the latent model's parameters are drawn from its "
               "loan-clustered sandwich covariance and each episode's family is drawn from "
               "its posterior, so the interval covers the realised share of this book's "
               "episodes, report noise included. They do not cover the choice of model."
               if has_latent else "; they do not cover the choice of model or label "
               "noise.")
        )
    notes.append(
        "The Shapley shares are pulled towards 1/3 each by noise in the other families' "
        "signals; reported reasons describe only the borrowers who report."
    )
    return notes


__all__ = ["attribute"]
