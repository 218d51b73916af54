"""The result of a cause attribution: per-episode probabilities and the report tables.

:class:`Attribution` is what :func:`analysis.causes.attribute` returns; it lives
here so that the modules deriving tables from it (:mod:`analysis.causes.tables`) need not
import the fitting code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from analysis.causes.shares import SEGMENT_TYPES
from analysis.errors import InputError

TABLE_COLUMNS: tuple[str, ...] = (
    "segment_type", "segment", "family", "share", "ci_low", "ci_high", "n_episodes", "method",
)
PER_EPISODE_COLUMNS: tuple[str, ...] = (
    "loan_id", "start_month", "p_economic", "p_management", "p_personal", "primary_family",
    "source",
)
SegmentType = Literal["month", "borrower_type", "industry", "region"]


@dataclass(frozen=True)
class Attribution:
    """Cause attribution of overdue episodes (see :mod:`analysis.causes.attribution`).

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
    scorer: the fitted models, to attribute episodes this attribution did not see
        (:func:`analysis.causes.scorer.attribute_episodes`; the Dask report's other
        episodes when the models are fitted on a loan sample).
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
    # an analysis.causes.scorer.EpisodeScorer (Any: that module imports this one)
    scorer: Any = field(default=None, repr=False, compare=False)

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


__all__ = ["PER_EPISODE_COLUMNS", "TABLE_COLUMNS", "Attribution", "SegmentType"]
