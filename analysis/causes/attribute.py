"""Why loans go overdue: economic, management or personal, per episode and per portfolio.

Public API: :func:`attribute` returns an :class:`Attribution`. The parts live in
:mod:`analysis.causes.inputs` (checks), :mod:`analysis.causes.model` (at-risk months, onset
logit, Shapley split), :mod:`analysis.causes.labels` (reported reasons, label model,
calibration), :mod:`analysis.causes.shares` (bootstrap shares, trends) and
:mod:`analysis.causes.tables` (drivers, truth comparison).

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

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from analysis.causes.inputs import AttributionUnavailable, CauseMapError, check_inputs
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
from analysis.causes.shares import SEGMENT_TYPES, bootstrap_shares, segment_codes
from analysis.causes.tables import drivers_table, truth_comparison
from analysis.data.book import Book
from analysis.definitions import FAMILIES, Definitions
from analysis.errors import InputError

TABLE_COLUMNS: tuple[str, ...] = (
    "segment_type", "segment", "family", "share", "ci_low", "ci_high", "n_episodes", "method",
)
PER_EPISODE_COLUMNS: tuple[str, ...] = (
    "loan_id", "start_month", "p_economic", "p_management", "p_personal", "primary_family",
    "source",
)
P_COLUMNS = [f"p_{f}" for f in FAMILIES]
SegmentType = Literal["month", "borrower_type", "industry", "region"]


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class Attribution:
    """Cause attribution of overdue episodes (see :mod:`analysis.causes.attribute`).

    Attributes
    ----------
    per_episode: one row per episode: ``loan_id``, ``start_month``, ``p_economic``,
        ``p_management``, ``p_personal``, ``primary_family``, ``source``.
    table: the report table (``attribution.csv``): ``segment_type``, ``segment``,
        ``family``, ``share``, ``ci_low``, ``ci_high``, ``n_episodes``, ``method``.
        ``method`` is ``model``, ``reported`` or ``combined`` for shares of episodes,
        with suffix ``_balance`` for the headline method's shares of overdue balance.
    drivers: which signals drive each family: onset-logit coefficient per standard
        deviation (log-odds) with interval, odds ratio, p-value, and the mean
        contribution to the episodes' log-odds.
    agreement: each model against the reported families on labelled episodes: share with
        the same primary family, Cohen's kappa, Brier score, log-loss, and which model
        was selected for the combined attribution. ``shapley`` and ``label_model`` (held
        out) predict the reported family directly; ``latent`` is the latent model's
        probability of each reported family given that a reason is reported (in-sample:
        it is fitted on these reports).
    confusion, calibration: the confusion tables and reliability tables behind it.
    selection: a check of who reports: the reported shares, and the Shapley model's
        shares among labelled and among unlabelled episodes. Under reasons missing at
        random the two model columns differ only through the covariates; a reported
        share far from the model's share among the same episodes points to report
        noise or to a model blind to that family.
    trends: slope of each family's monthly share (per 12 months) with interval.
    onset: coefficients of the onset logit (signals and controls).
    method: the headline method; level: interval level; info: counts and settings;
    notes: what was done and assumed, in sentences.
    reporting: the latent model's reporting estimates per true family (empty when it was
        not used): ``report_rate`` (``r_f``) with ``ci_low``/``ci_high``,
        ``reported_as_<family>`` (the row ``C[f, .]``) and ``n_episodes_est`` (expected
        number of episodes of the family).
    """

    per_episode: pd.DataFrame
    table: pd.DataFrame
    drivers: pd.DataFrame
    agreement: pd.DataFrame
    confusion: pd.DataFrame
    calibration: pd.DataFrame
    selection: pd.DataFrame
    trends: pd.DataFrame
    onset: pd.DataFrame
    method: str
    level: float
    info: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    all_shares: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    reporting: pd.DataFrame = field(default_factory=pd.DataFrame)

    def shares(
        self,
        by: SegmentType | None = None,
        weight: Literal["count", "balance"] = "count",
        method: str | None = None,
    ) -> pd.DataFrame:
        """Family shares with intervals for the portfolio (``by=None``) or by segment.

        ``weight="count"``: share of overdue episodes; ``"balance"``: share of overdue
        balance (EAD at the start, CNY). ``method``: ``model``, ``reported`` or
        ``combined`` (default: the headline method).
        """
        st = "all" if by is None else by
        if st not in SEGMENT_TYPES:
            raise InputError(f"shares(by={by!r}): use None or one of {list(SEGMENT_TYPES[1:])}")
        if weight not in ("count", "balance"):
            raise InputError(f"shares(weight={weight!r}): use 'count' or 'balance'")
        m = method or self.method
        avail = sorted(self.all_shares["method"].unique()) if len(self.all_shares) else []
        if m not in avail:
            raise InputError(f"shares(method={m!r}): available methods are {avail}")
        t = self.all_shares
        out = t[(t["segment_type"] == st) & (t["weight"] == weight) & (t["method"] == m)]
        return out.drop(columns=["weight"]).reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Portfolio shares of the headline method: episodes and balance, with trend."""
        cnt = self.shares(weight="count").set_index("family")
        bal = self.shares(weight="balance").set_index("family")
        out = pd.DataFrame(
            {
                "share_episodes": cnt["share"],
                "ci_low": cnt["ci_low"],
                "ci_high": cnt["ci_high"],
                "share_balance": bal["share"],
                "ci_low_balance": bal["ci_low"],
                "ci_high_balance": bal["ci_high"],
                "n_episodes": cnt["n_episodes"],
            }
        )
        tr = self.trends
        tr = tr[(tr["method"] == self.method) & (tr["weight"] == "count")] if len(tr) else tr
        if len(tr):
            out["trend_per_year"] = tr.set_index("family")["slope_per_year"]
        out.attrs["method"] = self.method
        out.attrs["level"] = self.level
        return out.reset_index()

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Overdue cause attribution</b> ({self.method}; "
            f"{self.info.get('n_episodes', 0):,} episodes, "
            f"{self.info.get('n_labelled', 0):,} with a reported reason; "
            f"{int(self.level * 100)}% intervals)</p>"
        )
        body = self.summary().to_html(index=False, float_format=lambda v: f"{v:.3f}")
        if len(self.reporting):
            agree_rep = "<p>Estimated reporting by true family (latent model)</p>" + \
                self.reporting.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        else:
            agree_rep = ""
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        agree = ""
        if len(self.agreement):
            agree = "<p>Agreement with reported reasons</p>" + self.agreement.to_html(
                index=False, float_format=lambda v: f"{v:.3f}"
            )
        return head + body + agree + agree_rep + f"<ul>{notes}</ul>"


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
    d = definitions or Definitions()
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
    ep_frame = attach_covariates(keys, book)
    n = len(ep_frame)

    # ---- reported labels
    rep = reported_families(book, episodes)
    labelled = pd.Series(rep).isin(FAMILIES).to_numpy()
    y = np.full(n, -1)
    y[labelled] = pd.Series(rep[labelled]).map({f: i for i, f in enumerate(FAMILIES)}).to_numpy()
    info["n_labelled"] = int(labelled.sum())

    # ---- onset model and Shapley split
    onset: OnsetModel | None = None
    p_model = contrib = None
    design: Design | None = None
    if signals:
        risk = at_risk_months(
            book, episodes, overdue_dpd=d.overdue_dpd, probation_months=d.probation_months
        )
        sample, q = subsample(risk, max_rows, rng)
        try:
            onset, _ = fit_onset(sample, book, signals, sample_fraction=q, n_at_risk=len(risk))
        except ModelFitError as exc:
            raise AttributionUnavailable(f"cause attribution unavailable: {exc}") from exc
        design = onset.design
        z_ep = design.matrix(ep_frame)
        z_sig = z_ep[:, : len(signals)]
        groups = design.groups()
        contrib = group_contributions(z_sig, onset.signal_beta(), groups)
        p_model, fell_back = contributions_to_probabilities(contrib)
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
        if fell_back.any():
            notes.append(
                f"{int(fell_back.sum()):,} episodes had no positive family contribution and "
                "got the model's base shares."
            )
    else:
        design = Design.fit(ep_frame, {}, np.ones(n))
        z_ep = design.matrix(ep_frame)
        notes.append("No signals: unlabelled episodes are attributed by the label model on "
                     "loan attributes only.")

    # ---- label model, calibration, agreement
    label_model: LabelModel | None = None
    p_label = None
    agreement = pd.DataFrame()
    conf = pd.DataFrame()
    calib = pd.DataFrame()
    selection = pd.DataFrame()
    chosen = "model" if signals else "combined"
    n_lab = int(labelled.sum())
    latent: LatentAttribution | None = None
    if n_lab:
        z_lab_all = z_ep if n_lab >= min_labelled else np.zeros((n, 0))
        label_model = fit_label_model(z_lab_all[labelled], y[labelled])
        p_label = label_model.predict(z_lab_all)
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
        agreement = pd.DataFrame(rows)
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
        if signals and n_lab >= min_labelled:
            latent = latent_attribution(z_sig, groups, y, episodes["loan_id"].to_numpy(), rng,
                                        level=level)
            pr = latent.pred_report
            rows.append({"model": "latent", **scores(pr, yl),
                         "kappa": cohen_kappa(yl, pr.argmax(axis=1))})
            conf = pd.concat([conf, confusion(yl, pr.argmax(axis=1), "latent")])
            calib = pd.concat([calib, reliability(pr, yl, "latent")])
            agreement = pd.DataFrame(rows)
            notes.extend(latent_notes(latent, n_lab, n))
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

    if signals and not n_lab:
        notes.append("No episode has a reported reason: who reports and how reliably cannot be "
                     "estimated, so the attribution is the Shapley split of the onset model "
                     "(signals only).")

    # ---- per-episode table
    methods: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # P, mask, source
    if p_model is not None:
        methods["model"] = (p_model, np.ones(n, bool), np.full(n, "model", dtype=object))
    if n_lab:
        onehot = np.zeros((n, 3))
        onehot[labelled, y[labelled]] = 1.0
        methods["reported"] = (onehot, labelled, np.full(n, "reported", dtype=object))
        if latent is not None:
            p_comb = latent.p
            src = np.where(labelled, "reported", "combined").astype(object)
        else:
            fill = p_model if chosen == "model" else p_label
            p_comb = np.where(labelled[:, None], onehot, fill)
            src = np.where(labelled, "reported", chosen).astype(object)
        methods["combined"] = (p_comb, np.ones(n, bool), src)
    headline = "combined" if "combined" in methods else "model"
    p_head, _, src_head = methods[headline]
    per = pd.DataFrame(
        {"loan_id": episodes["loan_id"].to_numpy(),
         "start_month": pd.to_datetime(episodes["start_month"]).to_numpy()}
    )
    for j, c in enumerate(P_COLUMNS):
        per[c] = p_head[:, j]
    per["primary_family"] = np.asarray(FAMILIES, dtype=object)[p_head.argmax(axis=1)]
    per["source"] = src_head

    # ---- shares with bootstrap
    seg_frame = ep_frame.assign(start_month=keys["month"].to_numpy())
    for c in ("borrower_type", "industry", "region"):
        if c not in seg_frame.columns and c in episodes.columns:
            seg_frame[c] = episodes[c].to_numpy()
    loan_codes = pd.factorize(episodes["loan_id"].to_numpy())[0]
    ead = (
        pd.to_numeric(episodes["ead"], errors="coerce").fillna(0).to_numpy(dtype=float)
        if "ead" in episodes.columns else np.ones(n)
    )
    beta_draws = onset.draw(rng, n_boot) if (onset is not None and n_boot) else None
    label_draws = label_model.draw(rng, n_boot) if (label_model is not None and n_boot) else None

    def model_draw(b: int) -> np.ndarray:
        c = group_contributions(z_sig, onset.signal_beta(beta_draws[b]), groups)
        return contributions_to_probabilities(c)[0]

    def label_draw(b: int) -> np.ndarray:
        if label_draws is None:
            return p_label
        zl = z_ep if n_lab >= min_labelled else np.zeros((n, 0))
        return label_model.predict(zl, label_draws[b])

    all_segs = segment_codes(seg_frame)
    share_tables, trend_tables = [], []
    for m, (pm, mask, _src) in methods.items():
        if m == "model":
            draw = model_draw if beta_draws is not None else None
        elif m == "combined" and latent is not None:
            draw = latent.draw_fn(np.random.default_rng([seed, 99]), n_boot) if n_boot else None
        elif m == "combined":
            fill_draw = model_draw if chosen == "model" else label_draw
            if (chosen == "model" and beta_draws is None) or (chosen != "model" and not n_boot):
                draw = None
            else:
                def draw(b: int, _f=fill_draw, _p=pm) -> np.ndarray:
                    return np.where(labelled[:, None], _p, _f(b))
        else:
            draw = None
        sub_segs = {st: (c[mask], lbl) for st, (c, lbl) in all_segs.items()}
        sub_loans = pd.factorize(loan_codes[mask])[0]
        weights = [("count", np.ones(int(mask.sum())))]
        weights.append(("balance", ead[mask]))
        for wname, v in weights:
            def sub_draw(b: int, _d=draw, _mask=mask) -> np.ndarray:
                return _d(b)[_mask]
            tab, tr = bootstrap_shares(
                pm[mask], v, sub_loans, sub_segs,
                draw_p=sub_draw if draw is not None else None,
                n_boot=n_boot, level=level, rng=np.random.default_rng([seed, len(share_tables)]),
                min_cell=min_cell, method=m, weight=wname,
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
    t_count = all_shares[all_shares["weight"] == "count"]
    t_bal = all_shares[(all_shares["weight"] == "balance") & (all_shares["method"] == headline)]
    t_bal = t_bal.assign(method=f"{headline}_balance")
    table = pd.concat([t_count, t_bal], ignore_index=True)[list(TABLE_COLUMNS)]
    m_order = {m: i for i, m in enumerate([headline, f"{headline}_balance", "model", "reported"])}
    s_order = {s: i for i, s in enumerate(["all", "borrower_type", "industry", "region", "month"])}
    table = table.assign(_m=table["method"].map(m_order), _s=table["segment_type"].map(s_order))
    table = table.sort_values(["_m", "_s"], kind="stable").drop(columns=["_m", "_s"])
    if n_boot:
        notes.append(
            f"Intervals: {n_boot} loan-bootstrap replicates (Poisson weights per loan) with "
            "model coefficients drawn from their asymptotic distribution"
            + ("; for the combined shares the latent model's parameters are drawn from its "
               "loan-clustered sandwich covariance and each episode's family is drawn from "
               "its posterior, so the interval covers the realised share of this book's "
               "episodes, report noise included. They do not cover the choice of model."
               if latent is not None else "; they do not cover the choice of model or label "
               "noise.")
        )
    notes.append(
        "The Shapley shares are pulled towards 1/3 each by noise in the other families' "
        "signals; reported reasons describe only the borrowers who report."
    )

    drivers = drivers_table(onset, z_sig if signals else None, level)
    onset_tab = onset.coef_table(level) if onset is not None else pd.DataFrame()
    return Attribution(
        per_episode=per,
        table=table.reset_index(drop=True),
        drivers=drivers,
        agreement=agreement,
        confusion=conf.reset_index(drop=True),
        calibration=calib.reset_index(drop=True),
        selection=selection,
        trends=trends,
        onset=onset_tab,
        method=headline,
        level=level,
        info=info,
        notes=tuple(notes),
        all_shares=all_shares,
        reporting=latent.reporting if latent is not None else pd.DataFrame(),
    )


__all__ = [
    "Attribution",
    "AttributionUnavailable",
    "CauseMapError",
    "ModelFitError",
    "PER_EPISODE_COLUMNS",
    "TABLE_COLUMNS",
    "attribute",
    "check_inputs",
    "truth_comparison",
]
