"""Expected loss under each arm, the cost of each measure to the lender, net benefit.

Method
------
*Expected loss.* From the doubly robust scores of ``loss_rate`` (see
:mod:`analysis.effects.cells`): E[EAD * loss_rate(a)] per episode in CNY is the mean of
EAD_i * phi_a,i (EAD is a start-of-episode covariate, so this is a valid score), and
E[loss_rate(a)] the mean of phi_a,i.

*Cost of a measure* (CNY per episode, :class:`CostParameters`; amounts undiscounted
beyond the funding cost stated):

* ``rate_reduction``: interest forgone = EAD x rate_cut_bp / 10,000 x T / 12, T =
  min(``rate_cut_months``, remaining term) months (remaining term = term_months -
  months_on_book, when those columns exist).
* ``deferral``: d = deferral_months instalments (annuity on EAD at ``annual_rate`` over
  the remaining term) are paid d months late with no extra interest; the lender funds
  them at ``funding_cost``: cost = d x instalment x funding_cost x d / 12.
* ``instalment``: the arrears (instalment x dpd_at_start / 30) are repaid in n equal
  parts over n = ``instalments`` months instead of now: average delay (n + 1) / 2
  months, cost = arrears x funding_cost x (n + 1) / 24.
* ``counselling``: ``cost_per_session_cny`` x counselling_sessions.
* any other code: ``extra_cost_cny[code]`` per episode (0 with a warning if absent).

Terms (bp, months, sessions, instalments) are the episode's own when it received the
measure; otherwise (counterfactual) the median among episodes that received it, or the
``typical_*`` parameter when none did.

*Net benefit* = loss avoided - cost, per episode, in CNY and per 10,000 CNY of EAD.
ATE: mean over the segment of EAD_i (phi_none,i - phi_a,i) - cost_a,i; ATT: the ATT
score of EAD x loss_rate (control outcome model, odds weights) minus the treated
episodes' own cost. Costs are treated as known, so intervals come from the AIPW
influence function of the loss part; the per-EAD ratio uses the delta method.
Known drawbacks: no discounting of the loss itself, no operational cost of a
measure beyond the counselling session, and the cost formulas are first-order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.checks import shown_count
from analysis.definitions import NO_RELIEF
from analysis.effects.design import DEFAULT_FOLLOWUP, Followup, segment_column
from analysis.effects.nuisance import Nuisance, fit_nuisance
from analysis.errors import InputError, ParameterError

NET_BENEFIT_COLUMNS: tuple[str, ...] = (
    "measure", "estimand", "segment_type", "segment", "loss_avoided_cny", "cost_cny",
    "net_benefit_cny", "std_error", "ci_low", "ci_high", "net_benefit_per_10k_ead",
    "ci_low_per_10k_ead", "ci_high_per_10k_ead", "total_net_benefit_cny", "n_treated",
    "n_control",
)
TERM_COLUMNS = {"rate_reduction": "rate_cut_bp", "deferral": "deferral_months",
                "instalment": "instalments", "counselling": "counselling_sessions"}


@dataclass(frozen=True)
class CostParameters:
    """Cost assumptions (all documented in the module docstring).

    funding_cost: lender's annual cost of funds (fraction, 0.04 = 4 %).
    rate_cut_months: months a rate cut lasts (capped at the remaining term).
    cost_per_session_cny: cost of one counselling session (CNY).
    typical_*: terms used when no episode received the measure.
    extra_cost_cny: per-episode cost of measure codes beyond the four standard ones.
    """

    funding_cost: float = 0.04
    rate_cut_months: int = 12
    cost_per_session_cny: float = 300.0
    typical_rate_cut_bp: float = 200.0
    typical_deferral_months: float = 3.0
    typical_instalments: float = 6.0
    typical_counselling_sessions: float = 2.0
    extra_cost_cny: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [k for k, ok in {
            "funding_cost": 0 <= self.funding_cost < 1, "rate_cut_months": self.rate_cut_months >= 0,
            "cost_per_session_cny": self.cost_per_session_cny >= 0,
        }.items() if not ok]
        if bad:
            raise ParameterError(f"invalid cost parameter(s): {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")


def _num(episodes: pd.DataFrame, col: str, default: float) -> np.ndarray:
    if col not in episodes:
        return np.full(len(episodes), default, float)
    return pd.to_numeric(episodes[col], errors="coerce").astype(float).fillna(default).to_numpy()


def _instalment(episodes: pd.DataFrame) -> np.ndarray:
    """Monthly annuity payment on EAD at annual_rate over the remaining term (CNY)."""
    ead = _num(episodes, "ead", np.nan)
    rate = _num(episodes, "annual_rate", 0.0) / 12
    rem = np.maximum(_num(episodes, "term_months", 12) - _num(episodes, "months_on_book", 0), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ann = np.where(rate > 0, ead * rate / (1 - (1 + rate) ** -rem), ead / rem)
    return ann


def typical_terms(episodes: pd.DataFrame, costs: CostParameters) -> dict[str, float]:
    """Median term of each measure among episodes that received it (else the parameter)."""
    defaults = {"rate_reduction": costs.typical_rate_cut_bp, "deferral": costs.typical_deferral_months,
                "instalment": costs.typical_instalments, "counselling": costs.typical_counselling_sessions}
    out = {}
    for m, col in TERM_COLUMNS.items():
        v = pd.Series(dtype=float)
        if col in episodes and "measure" in episodes:
            v = pd.to_numeric(episodes.loc[episodes["measure"] == m, col], errors="coerce").dropna()
        out[m] = float(v.median()) if len(v) else defaults[m]
    return out


def episode_costs(episodes: pd.DataFrame, measure: str, costs: CostParameters = CostParameters(),
                  terms: dict[str, float] | None = None) -> pd.Series:
    """Cost to the lender (CNY) of giving ``measure`` to each episode (see docstring)."""
    if "ead" not in episodes:
        raise InputError("episodes: column 'ead' (exposure at the start, CNY) is needed for costs")
    terms = terms or typical_terms(episodes, costs)
    own = episodes["measure"].eq(measure).to_numpy() if "measure" in episodes else np.zeros(len(episodes), bool)
    ead = _num(episodes, "ead", 0.0)
    if measure == NO_RELIEF:
        c = np.zeros(len(episodes))
    elif measure in TERM_COLUMNS:
        col = TERM_COLUMNS[measure]
        t = _num(episodes, col, np.nan)
        t = np.where(own & np.isfinite(t), t, terms[measure])
        if measure == "rate_reduction":
            rem = np.maximum(_num(episodes, "term_months", costs.rate_cut_months)
                             - _num(episodes, "months_on_book", 0), 0)
            c = ead * t / 1e4 * np.minimum(costs.rate_cut_months, rem) / 12
        elif measure == "deferral":
            c = t * _instalment(episodes) * costs.funding_cost * t / 12
        elif measure == "instalment":
            arrears = _instalment(episodes) * np.maximum(_num(episodes, "dpd_at_start", 30), 0) / 30
            c = arrears * costs.funding_cost * (t + 1) / 24
        else:
            c = costs.cost_per_session_cny * t
    else:
        c = np.full(len(episodes), float(costs.extra_cost_cny.get(measure, 0.0)))
    return pd.Series(c, index=episodes.index, name=measure)


def cost_matrix(episodes: pd.DataFrame, arms: Sequence[str],
                costs: CostParameters = CostParameters()) -> pd.DataFrame:
    """Cost (CNY) of every arm for every episode (columns = arms); for targeting."""
    terms = typical_terms(episodes, costs)
    return pd.concat([episode_costs(episodes, a, costs, terms) for a in arms], axis=1)


@dataclass(frozen=True, eq=False)
class NetBenefitResult:
    """Net benefit per measure and segment (``table``, :data:`NET_BENEFIT_COLUMNS`, CNY
    per episode) and expected loss per arm (``expected_loss``)."""

    table: pd.DataFrame
    expected_loss: pd.DataFrame
    costs: CostParameters
    warnings: tuple[str, ...]
    level: float = 0.95

    def summary(self) -> pd.DataFrame:
        t = self.table[self.table["segment_type"] == "all"]
        return t[["measure", "estimand", "loss_avoided_cny", "cost_cny", "net_benefit_cny",
                  "ci_low", "ci_high", "net_benefit_per_10k_ead", "n_treated"]].reset_index(drop=True)

    def _repr_html_(self) -> str:
        w = "".join(f"<li>{x}</li>" for x in self.warnings)
        return ("<h4>Net benefit of relief (CNY per episode)</h4>"
                + self.summary().to_html(index=False, float_format="{:,.1f}".format)
                + (f"<ul>{w}</ul>" if w else ""))


def net_benefit(episodes: pd.DataFrame, costs: CostParameters = CostParameters(),
                by: Iterable[str] | str | None = None, nuisance: Nuisance | None = None,
                covariates: Sequence[str] | None = None, crossfit_folds: int = 0,
                clip: float = 0.01, level: float = 0.95, min_cell: int = 10,
                followup: Followup | None = None) -> NetBenefitResult:
    """Expected loss by arm and net benefit (loss avoided - cost) of each measure vs none.

    ``nuisance``: a fitted :class:`analysis.effects.nuisance.Nuisance` for ``loss_rate`` (e.g.
    ``estimate_effects(..., outcome="loss_rate").nuisance``); fitted here if None, with
    the follow-up rule ``followup`` (default :data:`analysis.effects.design.DEFAULT_FOLLOWUP`).
    """
    by_list = [by] if isinstance(by, str) else list(by or [])
    seg_cols = {b: segment_column(episodes, b) for b in by_list}
    if nuisance is None:
        nuisance = fit_nuisance(episodes, "loss_rate", covariates, crossfit_folds, clip, min_cell,
                                extra_covariates=list(seg_cols.values()),
                                followup=DEFAULT_FOLLOWUP if followup is None else followup)
    nu = nuisance
    if nu.outcome != "loss_rate":
        raise ParameterError(f"net_benefit needs a loss_rate nuisance, got {nu.outcome!r}")
    rows = episodes.loc[nu.index]
    warns = []
    unknown = [a for a in nu.arms if a != NO_RELIEF and a not in TERM_COLUMNS and a not in costs.extra_cost_cny]
    if unknown:
        warns.append(f"costs: no cost given for measure(s) {unknown}; counted as 0 (set extra_cost_cny)")
    ead = rows["ead"].astype(float).to_numpy()
    cm = cost_matrix(rows, nu.arms, costs).to_numpy()
    phi = nu.aipw_scores().to_numpy()
    n = len(ead)
    z = stats.norm.ppf(0.5 + level / 2)
    segments = [("all", "all", np.ones(n, bool))]
    for b, col in seg_cols.items():
        vals = rows[col].astype("string").fillna("<NA>").to_numpy()
        segments += [(b, v, vals == v) for v in sorted(set(vals))]
    out, el = [], []
    for st, sv, seg in segments:
        ns = seg.sum()
        for k, arm in enumerate(nu.arms):
            lc = ead * phi[:, k]
            el.append({"arm": arm, "segment_type": st, "segment": sv,
                       "expected_loss_rate": phi[seg, k].mean(),
                       "expected_loss_cny": lc[seg].mean(),
                       "std_error_cny": lc[seg].std(ddof=1) / np.sqrt(ns) if ns > 1 else np.nan,
                       "n_episodes": int(ns)})
        for k, arm in enumerate(nu.arms[1:], start=1):
            da = (nu.a == k) & seg
            n_t, n_c = int(da.sum()), int(((nu.a == 0) & seg).sum())
            for est in ("ATE", "ATT"):
                rec = {"measure": arm, "estimand": est, "segment_type": st, "segment": sv,
                       "n_treated": n_t, "n_control": n_c}
                if n_t < min_cell or n_c < min_cell:
                    warns.append(f"net benefit: {arm} in {st}={sv}: {shown_count(n_t, min_cell)} "
                                 f"treated / {shown_count(n_c, min_cell)} control "
                                 f"(< min_cell={min_cell}); no estimate")
                    out.append(rec)
                    continue
                if est == "ATE":
                    la = ead * (phi[:, 0] - phi[:, k])
                    nb = la - cm[:, k]
                    w, denom_n = seg.astype(float), ns
                    base_ead = ead[seg].mean()
                    total_n = ns
                else:
                    s = nu.att_scores(arm).to_numpy()
                    la_i = -ead * s  # loss avoided numerator per episode
                    nb = la_i - da * cm[:, k]
                    la = la_i
                    w, denom_n = da.astype(float), n_t
                    base_ead = ead[da].mean()
                    total_n = n_t
                # estimates: sum over segment / denominator count
                la_hat = (la * seg).sum() / denom_n
                cost_hat = (cm[:, k] * w).sum() / denom_n
                nb_hat = (nb * seg).sum() / denom_n
                infl = (n / denom_n) * (nb * seg - w * nb_hat)
                se = np.sqrt((infl ** 2).sum()) / n
                r = nb_hat / base_ead
                infl_r = (n / denom_n) * (nb * seg - w * r * ead) / base_ead
                se_r = np.sqrt((infl_r ** 2).sum()) / n
                rec.update({"loss_avoided_cny": la_hat, "cost_cny": cost_hat, "net_benefit_cny": nb_hat,
                            "std_error": se, "ci_low": nb_hat - z * se, "ci_high": nb_hat + z * se,
                            "net_benefit_per_10k_ead": 1e4 * r, "ci_low_per_10k_ead": 1e4 * (r - z * se_r),
                            "ci_high_per_10k_ead": 1e4 * (r + z * se_r),
                            "total_net_benefit_cny": nb_hat * total_n})
                out.append(rec)
    table = pd.DataFrame(out, columns=list(NET_BENEFIT_COLUMNS))
    return NetBenefitResult(table, pd.DataFrame(el), costs, tuple(dict.fromkeys([*nu.notes, *warns])), level)
