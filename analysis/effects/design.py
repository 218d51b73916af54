"""What the relief-effect estimators analyse: outcome frames, follow-up and the design.

Outcomes (:data:`OUTCOMES`)
---------------------------
* ``sustained_cure`` (the primary outcome) -- ``is_sustained_cure``: cured within the
  horizon *and* not re-defaulted in the ``redefault_months`` after the cure (the EBA
  notion of a cure that holds), over every episode whose window is observed. A
  well-defined contrast of potential outcomes, unlike re-default among the cured.
* ``cure`` -- ``is_cured`` within the horizon (binary). Censored episodes (``is_cured``
  is ``<NA>``) are excluded, never counted as failures.
* ``redefault`` -- ``is_redefaulted`` among the cured. Not an effect outcome (not in
  :data:`OUTCOMES`): it conditions on cure, which happens after treatment, so a
  difference between arms mixes the effect on who cures with the effect on the cured
  (principal strata). :func:`redefault_rates` reports it as a descriptive rate only.
* ``loss_rate`` -- loss / EAD (continuous). Modelled by a fractional logit (binomial
  quasi-likelihood, logit link) when every value lies in [0, 1], otherwise by a
  Gaussian identity GLM; the result's warnings say which.

Follow-up (:class:`Followup`): an episode enters the cure and loss analyses only when
the data cover its horizon plus probation in calendar time, and the sustained-cure
analysis only when they cover the horizon, the probation and the ``redefault_months``
after it (start .. start + horizon + probation - 1 + redefault_months), whatever its outcome;
keeping recent episodes because they happened to cure early would select on the
outcome (a cured-early recent episode is "known", a slow one is not). Months are
counted with :func:`analysis.months.month_index`; only their differences matter.

Covariates: default every start-of-episode loan attribute and signal (every column not
a key, treatment detail, outcome, placebo quantity, date or reason code); categoricals
one-hot with the most frequent level as reference, numerics median-imputed with a
missing indicator when needed, all standardised; zero-variance and collinear columns
are dropped (pivoted Cholesky of the correlation-scaled Gram matrix), with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.checks import require
from analysis.effects.glm import row_sample
from analysis.errors import InputError, ParameterError
from analysis.models import independent_columns
from analysis.months import NAT_MONTH, month_index, month_number

#: Outcomes whose effects are estimated; ``sustained_cure`` is the primary one.
OUTCOMES: tuple[str, ...] = ("sustained_cure", "cure", "loss_rate")
#: The primary outcome (the default of the estimators).
PRIMARY_OUTCOME = "sustained_cure"
#: Outcomes defined by :func:`outcome_frame` but only described, never estimated as effects.
DESCRIPTIVE_OUTCOMES: tuple[str, ...] = ("redefault",)
# Columns never used as covariates by default: keys, treatment and its terms, outcomes,
# placebo quantities (measured before the start, kept out so the placebo check can fail),
# dates, free-text-like codes, attribution outputs.
NON_COVARIATES: frozenset[str] = frozenset({
    "loan_id", "borrower_id", "episode_no", "start_month", "end_month",
    "measure", "granted_month", "deferral_months", "instalments", "rate_cut_bp",
    "counselling_sessions", "is_cured", "is_defaulted", "is_censored", "cure_month",
    "months_to_cure", "is_cure_observed", "default_month", "months_to_default",
    "exit_type", "months_to_exit", "loss", "loss_rate", "is_redefaulted", "is_sustained_cure",
    "prev_dpd", "prev_balance", "reason_code", "primary_family", "primary_cause",
    "cause_family", "origination_date", "maturity_date",
})
MAX_LEVELS = 50


# --------------------------------------------------------------------------- outcome


@dataclass(frozen=True)
class Followup:
    """Administrative follow-up rule for horizon outcomes.

    An episode enters the cure and loss_rate analyses only when the data (up to
    ``data_end``, default the latest ``end_month`` in the episodes) cover
    ``horizon_months + probation_months - 1`` months after its start; it enters the
    sustained-cure analysis only when they cover ``horizon_months + probation_months - 1
    + redefault_months`` months after its start; a cured episode enters the descriptive
    re-default rate only when they cover ``redefault_months`` after its cure month. The rule looks at calendar time only: keeping recent
    episodes whose outcome happens to be known early (an early cure) would select on
    the outcome.
    """

    horizon_months: int = 6
    probation_months: int = 3
    redefault_months: int = 12
    data_end: pd.Timestamp | str | None = None


#: The default follow-up rule (6-month horizon, 3 months' probation, 12 months for
#: re-default); one frozen instance shared by every default argument.
DEFAULT_FOLLOWUP = Followup()


def _covered(episodes: pd.DataFrame, followup: Followup | None, outcome: str) -> np.ndarray:
    """Boolean mask of episodes whose follow-up window the data cover (all True if None)."""
    if followup is None or "start_month" not in episodes:
        return np.ones(len(episodes), bool)
    if followup.data_end is not None:
        end = pd.Timestamp(followup.data_end)
    elif "end_month" in episodes:
        end = pd.to_datetime(episodes["end_month"]).max()
    else:
        return np.ones(len(episodes), bool)
    if outcome == "redefault":
        if "cure_month" not in episodes:
            return np.ones(len(episodes), bool)
        cm = month_index(pd.to_datetime(episodes["cure_month"].fillna(pd.Timestamp("2262-01-31"))))
        return (month_number(end) - cm) >= followup.redefault_months
    need = followup.horizon_months + followup.probation_months - 1
    if outcome == "sustained_cure":
        need += followup.redefault_months
    start = month_index(pd.to_datetime(episodes["start_month"]))
    return (start != NAT_MONTH) & ((month_number(end) - start) >= need)


def rows_where(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame.loc[mask]``, or ``frame`` itself when ``mask`` keeps every row (no copy of
    the whole frame; its index then stays as it was, e.g. a ``RangeIndex``)."""
    return frame if bool(np.asarray(mask).all()) else frame.loc[mask]


def outcome_frame(episodes: pd.DataFrame, outcome: str,
                  followup: Followup | None = DEFAULT_FOLLOWUP) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Rows of ``episodes`` with an observed ``outcome`` and the outcome as floats.

    Returns (rows, y, kind) where kind is ``binary``, ``fraction`` or ``continuous``.
    Any numeric column name is accepted too (used for placebo outcomes).
    ``followup`` applies the calendar follow-up rule to sustained_cure, cure, redefault
    and loss_rate
    (None: keep every episode whose outcome is not missing). ``rows`` is ``episodes``
    itself, not a copy, when every episode is kept.
    """
    if outcome in ("sustained_cure", "cure", "redefault", "loss_rate"):
        episodes = rows_where(episodes, _covered(episodes, followup, outcome))
    if outcome == "sustained_cure":
        require("is_sustained_cure" in episodes,
                "episodes: outcome 'sustained_cure' needs column 'is_sustained_cure' "
                "(build the episodes with this version of analysis.episodes)")
        rows = rows_where(episodes, episodes["is_sustained_cure"].notna())
        return rows, rows["is_sustained_cure"].astype(float).to_numpy(), "binary"
    if outcome == "cure":
        require("is_cured" in episodes, "episodes: outcome 'cure' needs column 'is_cured'")
        keep = episodes["is_cured"].notna()
        if "is_censored" in episodes:
            keep &= ~episodes["is_censored"].fillna(True).astype(bool)
        rows = rows_where(episodes, keep)
        return rows, rows["is_cured"].astype(float).to_numpy(), "binary"
    if outcome == "redefault":
        for c in ("is_cured", "is_redefaulted"):
            require(c in episodes, f"episodes: outcome 'redefault' needs column {c!r}")
        keep = episodes["is_cured"].eq(True).fillna(False) & episodes["is_redefaulted"].notna()
        rows = rows_where(episodes, keep.astype(bool))
        return rows, rows["is_redefaulted"].astype(float).to_numpy(), "binary"
    require(outcome in episodes, f"episodes: outcome column {outcome!r} is missing",
            InputError if outcome == "loss_rate" else ParameterError)
    col = episodes[outcome]
    require(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col),
            f"episodes: outcome column {outcome!r} is not numeric (dtype {col.dtype})")
    keep = col.notna()
    if outcome == "loss_rate" and "is_censored" in episodes:
        keep &= ~episodes["is_censored"].fillna(True).astype(bool)
    rows = rows_where(episodes, keep)
    y = rows[outcome].astype(float).to_numpy()
    bad = ~np.isfinite(y)
    if bad.any():
        raise InputError(f"episodes: outcome {outcome!r} has {int(bad.sum())} infinite values, "
                         f"e.g. rows {list(rows.index[bad][:3])}")
    if np.isin(y, (0.0, 1.0)).all():
        kind = "binary"
    elif outcome == "loss_rate" and (y >= 0).all() and (y <= 1).all():
        kind = "fraction"
    else:
        kind = "continuous"
    return rows, y, kind


# --------------------------------------------------------------------------- design


def default_covariates(episodes: pd.DataFrame) -> list[str]:
    """Every start-of-episode attribute and signal: columns not in :data:`NON_COVARIATES`,
    not dates, and numeric, boolean or categorical."""
    out = []
    for c in episodes.columns:
        if c in NON_COVARIATES or c.startswith(("truth_", "p_", "cause_")):
            continue
        s = episodes[c]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            continue
        out.append(c)
    return out


@dataclass(frozen=True)
class Design:
    """How covariates become a standardised design matrix (intercept first).

    ``transform(df)`` applies the same encoding to new episodes (e.g. open ones).
    """

    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]  # column -> non-reference levels kept
    reference: dict[str, str]
    medians: dict[str, float]
    missing_flags: tuple[str, ...]
    columns: tuple[str, ...]  # names of the columns after the intercept
    center: np.ndarray
    scale: np.ndarray
    dropped: tuple[tuple[str, str], ...] = ()  # (column, reason)

    def raw(self, df: pd.DataFrame) -> pd.DataFrame:
        """Unstandardised encoded covariates (numeric imputed, dummies), all candidates."""
        parts: dict[str, np.ndarray] = {}
        for c in self.numeric:
            v = pd.to_numeric(df[c], errors="coerce").astype(float).to_numpy()
            if c in self.missing_flags:
                parts[f"{c}__missing"] = np.isnan(v).astype(float)
            parts[c] = np.where(np.isnan(v), self.medians[c], v)
        for c, levels in self.categorical.items():
            s = df[c].astype("string").fillna("<NA>").to_numpy()
            for lev in levels:
                parts[f"{c}={lev}"] = (s == lev).astype(float)
        return pd.DataFrame(parts, index=df.index)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in (*self.numeric, *self.categorical) if c not in df]
        require(not missing, f"episodes: covariate column(s) missing: {missing}")
        raw = self.raw(df)
        x = raw[list(self.columns)].to_numpy(dtype=float)
        z = (x - self.center) / self.scale
        return np.column_stack([np.ones(len(df)), z])


def build_design(df: pd.DataFrame, covariates: Sequence[str]) -> Design:
    """Fit the encoding on ``df``: levels, medians, scales, dropped columns."""
    return _fit_design(df, covariates)[0]


def design_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> tuple[Design, np.ndarray]:
    """:func:`build_design` and the design matrix of ``df`` itself from the standardised
    covariates computed on the way: bit for bit ``design.transform(df)``, without
    encoding ``df`` a second time."""
    design, z, keep = _fit_design(df, covariates)
    return design, np.column_stack([np.ones(len(df)), z[:, keep]])


def _fit_design(df: pd.DataFrame, covariates: Sequence[str]) -> tuple[Design, np.ndarray, np.ndarray]:
    """:func:`build_design`, with the standardised candidate columns ``z`` of ``df`` and
    the mask ``keep`` of those the design kept."""
    numeric, categorical, reference, medians, flags = [], {}, {}, {}, []
    dropped: list[tuple[str, str]] = []
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)):
            v = pd.to_numeric(s, errors="coerce").astype(float)
            if v.notna().sum() == 0:
                dropped.append((c, "all missing"))
                continue
            numeric.append(c)
            medians[c] = float(v.median())
            if v.isna().any():
                flags.append(c)
        else:
            counts = s.astype("string").fillna("<NA>").value_counts()
            if len(counts) > MAX_LEVELS:
                dropped.append((c, f"{len(counts)} levels > {MAX_LEVELS}"))
                continue
            reference[c] = str(counts.index[0])
            categorical[c] = tuple(str(x) for x in counts.index[1:])
    proto = Design(tuple(numeric), categorical, reference, medians, tuple(flags), (),
                   np.zeros(0), np.ones(0))
    raw = proto.raw(df)
    sd = raw.std(ddof=0).to_numpy()
    const = sd <= 1e-12
    dropped += [(c, "zero variance") for c in raw.columns[const]]
    raw = raw.loc[:, ~const]
    center, scale = raw.mean().to_numpy(), sd[~const]
    z = (raw.to_numpy(dtype=float) - center) / scale
    # collinearity: pivoted Cholesky on (a subsample of) [1, Z]
    keep = np.ones(z.shape[1], bool)
    if z.shape[1]:
        zs = z[row_sample(len(z))]
        good = independent_columns(np.column_stack([np.ones(len(zs)), zs]))
        keep = np.isin(np.arange(1, z.shape[1] + 1), good)
        dropped += [(c, "collinear") for c in raw.columns[~keep]]
    cols = tuple(raw.columns[keep])
    design = Design(tuple(numeric), categorical, reference, medians, tuple(flags), cols,
                    center[keep], scale[keep], tuple(dropped))
    return design, z, keep


# --------------------------------------------------------------------------- checks


def check_frame(episodes: object) -> None:
    """Raise :class:`InputError` unless ``episodes`` is a DataFrame with a complete
    ``measure`` column (the treatment)."""
    require(isinstance(episodes, pd.DataFrame),
            f"episodes must be a pandas DataFrame, got {type(episodes).__name__}")
    require("measure" in episodes, "episodes: column 'measure' (the treatment) is missing")
    na = episodes["measure"].isna()
    if na.any():
        raise InputError(f"episodes: column 'measure' has {int(na.sum())} missing values "
                         f"(use 'none' for no relief), e.g. rows {list(episodes.index[na][:3])}")


def segment_column(episodes: pd.DataFrame, by: str) -> str:
    """The column behind a segment type: ``cause_family`` -> ``primary_family`` if
    present else ``reported_family``; anything else is a column name."""
    if by == "cause_family":
        for c in ("primary_family", "reported_family"):
            if c in episodes:
                return c
        raise InputError("episodes: segment 'cause_family' needs 'primary_family' or 'reported_family'")
    require(by in episodes, f"episodes: segment column {by!r} not found")
    return by


