"""Calendar-level processes of the synthetic book, shared by every chunk.

The data window's month-ends and day counts, the region x industry demand stress (a
common AR(1) cycle, random regional shocks and the scheduled shocks of
:class:`~analysis.synthetic.params.SynthParams`, scaled by industry sensitivity) and the
industry input-cost stress. Drawn once per seed from their own stream, so every chunk of
a book sees the same calendar (see :mod:`analysis.synthetic.generate` for the model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.synthetic.params import INDUSTRIES, REGIONS, SynthParams

__all__ = ["Macro", "make_macro"]


@dataclass
class Macro:
    """Calendar-level processes shared by every chunk."""

    month_ends: np.ndarray  # (TX,) datetime64[ns]
    days_in_month: np.ndarray  # (TX,)
    demand: np.ndarray  # (R, I, TX) demand stress >= 0
    cost: np.ndarray  # (I, TX) input-cost stress >= 0


def _months(p: SynthParams) -> tuple[np.ndarray, np.ndarray]:
    """Month-ends (``datetime64[ns]``) and days in each month of the extended calendar."""
    tx = p.n_months + p.extra_months
    first = pd.Period(p.data_start, "M")
    periods = pd.period_range(first, periods=tx, freq="M")
    ends = periods.to_timestamp(how="end").normalize().to_numpy(dtype="datetime64[ns]")
    return ends, periods.days_in_month.to_numpy().astype(np.int64)


def _region_rows(region: str) -> slice | int:
    return slice(None) if region == "all" else REGIONS.index(region)


def make_macro(p: SynthParams, seed: int) -> Macro:
    """The calendar processes of a book with ``seed`` (stream ``[seed, 0]``)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    ends, dim = _months(p)
    tx = len(ends)
    n_r, n_i = len(REGIONS), len(INDUSTRIES)
    cycle = np.zeros(tx)
    for t in range(1, tx):
        cycle[t] = p.common_cycle_ar * cycle[t - 1] + rng.normal(0, p.common_cycle_sd)
    shock = np.zeros((n_r, tx))
    hits = rng.random((n_r, tx)) < p.regional_shock_rate
    size = rng.uniform(*p.regional_shock_size, size=(n_r, tx))
    for t in range(tx):
        carry = shock[:, t - 1] * p.regional_shock_persistence if t else 0.0
        shock[:, t] = carry + np.where(hits[:, t], size[:, t], 0.0)
    first = pd.Period(p.data_start, "M")
    hold = (pd.Period(p.hold_macro_from, "M") - first).n if p.hold_macro_from else tx
    sched = [((pd.Period(month, "M") - first).n, region, months, mag)
             for region, month, months, mag in p.scheduled_shocks]
    for t0, region, months, mag in sched:
        if t0 < hold:  # the held months copy these; later ones are added after the hold
            shock[_region_rows(region), t0 : t0 + months] += mag
    sens = np.array([p.demand_sensitivity[i] for i in INDUSTRIES])
    noise = rng.normal(0, p.demand_noise_sd, size=(n_r, n_i, tx))
    x = np.zeros((n_i, tx))
    for t in range(1, tx):
        x[:, t] = p.cost_ar * x[:, t - 1] + rng.normal(0, p.cost_sd, n_i)
    if hold < tx:  # every draw above is made first, so the months before are unchanged
        src = hold - p.hold_macro_window + (np.arange(hold, tx) - hold) % p.hold_macro_window
        cycle[hold:], shock[:, hold:] = cycle[src], shock[:, src]
        noise[:, :, hold:], x[:, hold:] = noise[:, :, src], x[:, src]
        for t0, region, months, mag in sched:
            if t0 >= hold:
                shock[_region_rows(region), t0 : t0 + months] += mag
    demand = np.maximum(0.0, sens[None, :, None] * (shock[:, None, :] + cycle[None, None, :]) + noise)
    csens = np.array([p.cost_sensitivity[i] for i in INDUSTRIES])
    cost = csens[:, None] * np.maximum(0.0, x - p.cost_threshold)
    return Macro(ends, dim, demand, cost)
