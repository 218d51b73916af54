"""The synthetic book run forward past its data window: the truth a scenario forecast meets.

The generator already draws its calendar processes (demand and input-cost stress) and
every loan's latent states ``extra_months`` past the data end (at least 22, for the episode
scripts). Running it with the data window ``horizon_months`` longer and ``extra_months``
as much shorter keeps the extended calendar, and every random draw of the first
``n_months`` months, unchanged: the first ``n_months`` months of the longer book *are* the
book of :func:`history_params` (the default parameters with ``extra_months`` raised to
leave room for the horizon), and the months after them are the generator's own
continuation by its own rules (hazards, families, relief, outcomes). A scenario's shock enters as an extra scheduled demand shock
(``SynthParams.scheduled_shocks``: region, first month, months, size in stress units),
which moves only the months from its start on.

:func:`forward_truth` counts the continuation's new overdue episodes by true family and
month, with the generator's Monte Carlo interval of each count: the exact Poisson
(Garwood) interval at ``level`` around the realised count, i.e. the range of expected
counts the generator's randomness of which loans go overdue is consistent with.

``future="path"`` continues one path of the generator's future, its random regional
shocks and cycle included, which no scenario foresees; ``future="level"`` holds the
calendar processes at their last months (:attr:`SynthParams.hold_macro_from`), the
economy of a ``level`` baseline, so that a forecast can be held to the generator's own
expected onsets (:func:`forward_onset_probabilities`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.definitions import FAMILIES
from analysis.errors import ParameterError
from analysis.months import month_index, month_number
from analysis.synthetic.chunk import simulate_chunk
from analysis.synthetic.generate import generate_book
from analysis.synthetic.macro import make_macro
from analysis.synthetic.params import SynthParams

MIN_EXTRA_MONTHS = 22  # the generator's calendar must run this far past the data end


def history_params(horizon_months: int, params: SynthParams | None = None) -> SynthParams:
    """``params`` (default :class:`SynthParams`) with room in the calendar for a forward
    run of ``horizon_months``: the book whose continuation :func:`simulate_forward` writes."""
    p = params or SynthParams()
    if horizon_months < 1:
        raise ParameterError(f"horizon_months={horizon_months}: must be >= 1")
    return replace(p, extra_months=max(p.extra_months, MIN_EXTRA_MONTHS + horizon_months))


FUTURES = ("path", "level")


def forward_params(horizon_months: int, shocks: tuple = (), params: SynthParams | None = None,
                   future: str = "path") -> SynthParams:
    """Parameters of the :func:`history_params` book extended by ``horizon_months`` (same
    calendar and draws), with ``shocks`` ((region, "YYYY-MM", months, size) tuples) added
    to the scheduled ones.

    ``future``: ``"path"`` continues the calendar processes with their own randomness (new
    regional shocks, the cycle); ``"level"`` holds them at the last three months' values
    (cycled, :attr:`SynthParams.hold_macro_from`): the economy a baseline scenario assumes,
    so that the randomness left is the borrowers' own (spells, life events, which loans go
    overdue)."""
    if future not in FUTURES:
        raise ParameterError(f"future={future!r}: one of {FUTURES}")
    p = history_params(horizon_months, params)
    first = (pd.Period(p.data_start, "M") + p.n_months).strftime("%Y-%m")
    return replace(p, n_months=p.n_months + horizon_months,
                   extra_months=p.extra_months - horizon_months,
                   scheduled_shocks=tuple(p.scheduled_shocks) + tuple(shocks),
                   hold_macro_from=first if future == "level" else p.hold_macro_from,
                   future_from=first)


def simulate_forward(n_loans: int, seed: int, out_dir: str | Path, horizon_months: int = 6,
                     shocks: tuple = (), params: SynthParams | None = None,
                     chunk_loans: int = 200_000, future: str = "path") -> Path:
    """Write the extended book (data window + ``horizon_months``) and its truth to
    ``out_dir``; its first months equal :func:`generate_book` with
    :func:`history_params` of ``params``."""
    return generate_book(n_loans, seed, out_dir, chunk_loans=chunk_loans,
                         params=forward_params(horizon_months, shocks, params, future))


def forward_onset_probabilities(n_loans: int, seed: int, horizon_months: int = 6,
                                shocks: tuple = (), params: SynthParams | None = None,
                                chunk_loans: int = 200_000, future: str = "path",
                                replay: int | None = None) -> pd.DataFrame:
    """The generator's own expected onsets in the continuation written by
    :func:`simulate_forward` with the same arguments: per loan and future month, the
    probability of an onset of each family given the path so far
    (:func:`analysis.synthetic.chunk.simulate_chunk` with ``record_from``; the chunks are
    re-run, about a second per 20,000 loans). Columns ``loan_id``, ``month``
    (``YYYY-MM``), then one per family (probabilities); only loan-months with a positive
    probability. Summed, the compensator of the continuation's onset counts.

    ``replay``: the same history with another future (every random draw from the first
    forecast month on from replay stream ``replay``; ``simulate_chunk``)."""
    p = forward_params(horizon_months, shocks, params, future)
    macro = make_macro(p, seed)
    t0 = p.n_months - horizon_months
    months = [(pd.Period(p.data_start, "M") + t0 + k).strftime("%Y-%m")
              for k in range(horizon_months)]
    parts = []
    for chunk, offset in enumerate(range(0, n_loans, chunk_loans)):
        n = min(chunk_loans, n_loans - offset)
        rec = simulate_chunk(p, macro, seed, chunk, n, record_from=t0,
                             replay=replay).extra["onset_prob"]
        loan, k = np.nonzero(rec.sum(axis=2) > 0)
        ids = np.char.add("L", np.char.zfill((offset + loan + 1).astype(str), 7))  # as run.py
        parts.append(pd.DataFrame({"loan_id": ids.astype(object),
                                   "month": np.asarray(months, dtype=object)[k],
                                   **{f: rec[loan, k, j] for j, f in enumerate(FAMILIES)}}))
    return pd.concat(parts, ignore_index=True)


def forward_onset_interval(n_loans: int, seed: int, horizon_months: int = 6,
                           shocks: tuple = (), params: SynthParams | None = None,
                           future: str = "level", replays: int = 20,
                           level: float = 0.90) -> pd.DataFrame:
    """The generator's own forecast of the onsets over the horizon, given the history:
    ``family``, ``expected`` (the mean over ``replays`` futures of the compensator:
    :func:`forward_onset_probabilities` with ``replay`` 0..replays-1), ``ci_low``,
    ``ci_high`` (the ``level`` interval of the count: quantiles of the mixture over the
    replays of Poisson(compensator), so the future's spells and events and which loans go
    overdue are both in it), ``sd_between`` (the compensator's SD over replays).

    What a forecast from the history can be held to: a compensator of one future also
    knows that future's latent spells, which no forecaster sees."""
    tot = np.array([forward_onset_probabilities(n_loans, seed, horizon_months, shocks, params,
                                                future=future, replay=r)[list(FAMILIES)].sum()
                    for r in range(replays)])  # (replays, 3)
    a = (1 - level) / 2
    rows = []
    for j, f in enumerate(FAMILIES):
        grid = np.arange(int(stats.poisson.ppf(0.9999, tot[:, j].max())) + 2)
        cdf = stats.poisson.cdf(grid[:, None], tot[None, :, j]).mean(axis=1)
        rows.append({"family": f, "expected": float(tot[:, j].mean()),
                     "ci_low": float(grid[np.argmax(cdf >= a)]),
                     "ci_high": float(grid[np.argmax(cdf >= 1 - a)]),
                     "sd_between": float(tot[:, j].std(ddof=1)) if replays > 1 else 0.0})
    return pd.DataFrame(rows)


def last_data_month(params: SynthParams | None = None) -> pd.Timestamp:
    """Month-end of the original book's last month (the forecast's ``as_of``)."""
    p = params or SynthParams()
    return (pd.Period(p.data_start, "M") + p.n_months - 1).to_timestamp(how="end").normalize()


def forward_truth(book_dir: str | Path, as_of: pd.Timestamp, horizon_months: int = 6,
                  level: float = 0.90) -> pd.DataFrame:
    """New episodes by true family over the ``horizon_months`` after ``as_of`` in an
    extended book's truth: ``family``, ``month`` (``YYYY-MM``; empty for the horizon
    total), ``episodes``, ``ci_low``, ``ci_high`` (Garwood interval at ``level``)."""
    tr = pd.read_parquet(Path(book_dir) / "truth" / "episodes.parquet",
                         columns=["start_month", "family"])
    k = month_index(pd.to_datetime(tr["start_month"])) - month_number(as_of)
    keep = (k >= 1) & (k <= horizon_months)
    fam = pd.Categorical(tr.loc[keep, "family"], categories=list(FAMILIES))
    counts = np.zeros((3, horizon_months), dtype=int)
    np.add.at(counts, (fam.codes, k[keep] - 1), 1)
    months = [(pd.Period(as_of, "M") + i).strftime("%Y-%m") for i in range(1, horizon_months + 1)]
    a = (1 - level) / 2
    rows = []
    for j, f in enumerate(FAMILIES):
        for m, c in [*zip(months, counts[j], strict=True), ("", counts[j].sum())]:
            lo = stats.chi2.ppf(a, 2 * c) / 2 if c > 0 else 0.0
            hi = stats.chi2.ppf(1 - a, 2 * (c + 1)) / 2
            rows.append({"family": f, "month": m, "episodes": int(c), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


__all__ = ["FUTURES", "MIN_EXTRA_MONTHS", "forward_onset_interval", "forward_onset_probabilities", "forward_params", "history_params",
           "forward_truth", "last_data_month", "simulate_forward"]
