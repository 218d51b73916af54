"""Report runs on the Dask engine: one pass over the loan partitions fills the run cache.

A report notebook on the pandas engine holds the whole book (``ctx.book``) and computes
its portfolio tables from the loan-months. On the Dask engine the loan-month tables never
come to the client; instead :func:`report_pass` makes ONE pass over the co-partitioned
book (:meth:`analysis.dask.frames.DaskBook.loan_partitions`) and, per loan partition,

1. keeps what was known at the reporting month and the optional segment
   (:func:`analysis.data.restrict_to`, :func:`analysis.data.filter_segment`:
   row- and loan-wise rules, so applying them per loan partition is exact);
2. builds the episodes (:func:`analysis.episodes.episodes_from_definitions`, censored at
   the book-wide last month);
3. computes the pieces of the portfolio tables the notebooks publish: overdue rates
   (overall, by borrower type, industry, region), the five-category classification
   (overall, by borrower type), the 12-month roll-rate window ending at the reporting
   month and the 30+ vintage curves, added up with the combiners of
   :mod:`analysis.dask.kpis` (counts and sums added, ratios recomputed);
4. keeps the loans of a **loan-month sample**: every loan whose hashed ID falls below
   ``fraction`` (:func:`sample_fraction`), with all its rows in every table (only for
   what needs loan-months; the episode models get every episode, see below).

The client receives the episode table (one row per episode), the small KPI pieces and
the sample. :func:`write_run_cache` stores them for the notebooks
(:func:`analysis.report.context.open_context` reads them: ``ctx.kpis`` the book-wide
tables, the episode models' table from :meth:`CachedPass.model_episodes`, ``ctx.book``
the loan-month sample).

Every episode for the models (issue #15)
----------------------------------------
The models that read only the episode table (relief effects, time to cure, net benefit,
targeting) get **every episode** of the book: :meth:`CachedPass.model_episodes` is the
whole table (``episodes_full.parquet``), built on the cluster and collected once. It is
small beside the loan-months: about 0.16 episodes per loan and ~50 columns, so ~1.6M rows
and a few hundred MB at 10M loans, which the reporting machine holds (the issue's target).
A sample is kept only for what needs the loan-months themselves: the model book
``ctx.book`` (cause attribution fits an onset hazard on loan-months; the loan-month views
of the notebooks), with its own episodes in ``episodes_sample.parquet`` so that book and
episodes agree.

Which table was used is recorded in the run cache's ``manifest.json`` under ``design``
(:func:`sample_design`; ``ctx.sampling`` in the notebooks): ``model_episodes`` is
``"all"`` (``n_model_episodes`` = ``n_episodes``, ``se_inflation_models`` = 1) and the
loan-month sample is described by ``sampled``, ``fraction``, ``n_sample_loans``,
``n_sample_episodes`` and ``se_inflation`` (the precision the loan-month models lose).

Cause families for every episode (issue #15)
--------------------------------------------
Cause attribution fits its onset model on loan-months, so on a sampled book it is fitted
on the sample. Its fitted models then attribute every other episode: an episode's family
probabilities need only its loan's signals and attributes in its start month and its
reported reason, which the pass collects for every episode, partition by partition
(:func:`episode_inputs`, ``episode_inputs.parquet`` in the run cache, ``ctx.episode_inputs``
in the notebooks, handed to ``analysis.causes.with_cause`` as ``inputs``), so effects by
cause family use every episode. The table is about one row of ~30 columns per episode
(a few hundred MB at 10M loans), read only by the notebooks that ask for families.

Loan-month sample (what is assumed)
-----------------------------------
Models that need loan-months run in pandas on ``ctx.book``. Up to :data:`MODEL_MAX_LOANS`
loans that is the whole book (the tables are then the pandas engine's, row order aside).
Above it, an **equal-probability sample of loans** (Bernoulli by a hash of the loan ID,
inclusion probability ``f = MODEL_MAX_LOANS / n_loans``, so every sampled loan carries the
same weight ``1 / f``): a self-weighting design, so the models' unweighted fits estimate
the same population quantities as on the whole book and no model needs a weight argument;
each loan keeps all its episodes and rows, so within-loan dependence is as in the full
book. The price is precision: standard errors of estimates on the sample grow by about
``sqrt(N_episodes / n_episodes)`` (``se_inflation``). The portfolio tables (``ctx.kpis``),
the episode outcome tables and the episode models always cover the whole book.

Known drawbacks: a segment with few loans may be thin or absent in the sample (the
portfolio tables still cover it); the hash sample is deterministic for a loan ID, so
re-running gives the same sample.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import kpis
from analysis.causes import reported_families
from analysis.causes.model import attach_covariates
from analysis.dask.aligned import row_group_stats
from analysis.dask.frames import (
    DaskBook,
    client,
    concat_episodes,
    load_book_dask,
    map_loan_partitions,
)
from analysis.dask.kpis import (
    combine_classification,
    combine_overdue_rates,
    combine_roll_rates,
    combine_vintages,
    with_sentinel,
)
from analysis.data.book import Book
from analysis.data.files import LOAN_TABLES, parquet_files, table_path, table_size
from analysis.data.subset import filter_segment, restrict_to
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import InputError, ParameterError
from analysis.months import month_index

#: Loans in the loan-month sample (``ctx.book``: cause attribution's onset model and the
#: loan-month views; about 2-3 GiB and a few minutes for the notebooks). The episode
#: models are not sampled: they get every episode (module docstring).
MODEL_MAX_LOANS = 200_000
#: The run-cache table every episode model reads (the whole book's episodes).
MODEL_EPISODES_TABLE = "episodes_full"
#: The run-cache table of every episode's cause-attribution inputs (sampled passes only).
INPUTS_TABLE = "episode_inputs"
#: Overdue-rate cuts (``report_tables.portfolio_mix`` and ``overdue_trend`` read them).
OVERDUE_SEGMENTS: tuple[str | None, ...] = (None, "borrower_type", "industry", "region")
#: Classification cuts (headline NPL ratio overall and by borrower type).
CLASS_SEGMENTS: tuple[str | None, ...] = (None, "borrower_type")
ROLL_WINDOW_MONTHS = 12
VINTAGE_DPD = 30
_HASH_KEY = "overdue-relief-1"  # 16 characters, as pandas' hash_array wants
KPI_TABLES: tuple[str, ...] = ("overdue_rates", "classification", "roll_rates", "vintages")


@dataclass(frozen=True)
class ReportPass:
    """What one pass gives a report run (pandas objects on the client).

    ``episodes``: the whole book's episode table, which the episode models use
    (:attr:`model_episodes`); ``kpis``: name -> book-wide table (:data:`KPI_TABLES`);
    ``sample``: the loan-month sample book (all loans when not sampled); ``design``:
    what the models use and what the sample costs (see :func:`sample_design`);
    ``inputs``: when sampled, the cause attribution's inputs of every episode, in the
    order of ``episodes`` (:func:`episode_inputs`), else None.
    """

    episodes: pd.DataFrame
    kpis: dict[str, pd.DataFrame]
    sample: Book
    design: dict[str, Any]
    months: tuple[str, str] = ("", "")
    inputs: pd.DataFrame | None = None

    @property
    def model_episodes(self) -> pd.DataFrame:
        """The episode table the episode models fit on: every episode of the book."""
        return self.episodes

    def sample_episodes(self) -> pd.DataFrame:
        """The episodes of the loan-month sample's loans (for models that also read
        ``sample``'s loan-months, so that book and episodes agree)."""
        if not self.design["sampled"]:
            return self.episodes
        keep = self.episodes["loan_id"].isin(self.sample.loans["loan_id"])
        return self.episodes[keep].reset_index(drop=True)


# ----------------------------------------------------------------------------- sample


def sample_fraction(n_loans: int, max_loans: int = MODEL_MAX_LOANS) -> float:
    """Inclusion probability of a loan in the model sample: 1 up to ``max_loans`` loans."""
    return 1.0 if n_loans <= max_loans else max_loans / float(n_loans)


def in_sample(loan_ids: pd.Series | np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask: loans whose ID hashes to a uniform number below ``fraction``
    (pandas' ``hash_array`` of the ID text with a fixed key: the same loan is in or out
    in every table, partition and run)."""
    if fraction >= 1.0:
        return np.ones(len(loan_ids), dtype=bool)
    ids = np.asarray(pd.Series(loan_ids).astype(str), dtype=object)
    h = pd.util.hash_array(ids, categorize=False, hash_key=_HASH_KEY)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < fraction


def sample_tables(book: Book, fraction: float) -> dict[str, pd.DataFrame]:
    """The loan tables of ``book`` kept for the loan-month sample: every row of the loans
    :func:`in_sample` keeps (all tables as they are when ``fraction`` is 1)."""
    keep_ids = book.loans.loc[in_sample(book.loans["loan_id"], fraction), "loan_id"]
    out = {}
    for name in LOAN_TABLES:
        df = getattr(book, name)
        if df is not None:
            out[name] = df if fraction >= 1.0 else df[df["loan_id"].isin(keep_ids)]
    return out


def sample_book(book: Book, fraction: float) -> Book:
    """The loan-month sample of a pandas ``book`` (:func:`sample_tables`, row order kept):
    what a Dask pass hands the notebooks as ``ctx.book`` for the same loans."""
    tables = {k: v.reset_index(drop=True) for k, v in sample_tables(book, fraction).items()}
    return Book(measures=book.measures, cause_map=book.cause_map, source=book.source, **tables)


def episode_inputs(book: Book, episodes: pd.DataFrame) -> pd.DataFrame:
    """What the cause attribution needs to attribute the episodes of ``book`` with models
    fitted elsewhere (on the loan-month sample, issue #15): per episode ``loan_id``,
    ``episode_no``, ``month`` (its start), the covariates of that month
    (:func:`analysis.causes.model.attach_covariates`: the loan's signals and attributes)
    and ``reported_family`` (:func:`analysis.causes.reported_families`, None where no
    reason was reported). Loan-wise, so computed per loan partition; one row per episode."""
    keys = pd.DataFrame({"loan_id": episodes["loan_id"].to_numpy(),
                         "month": pd.to_datetime(episodes["start_month"]).to_numpy()})
    out = attach_covariates(keys, book)
    out.insert(1, "episode_no", episodes["episode_no"].to_numpy())
    out["reported_family"] = reported_families(book, episodes)
    return out


def sample_design(n_loans: int, n_sample_loans: int, n_episodes: int,
                  n_sample_episodes: int, fraction: float) -> dict[str, Any]:
    """What the models of a run use (the run record's ``design``; ``ctx.sampling``).

    Episode models: ``model_episodes`` = ``"all"`` (every episode: ``n_model_episodes`` =
    ``n_episodes``, ``se_inflation_models`` = 1). Loan-month sample (``ctx.book``):
    ``sampled`` (True when it is a sample), ``fraction`` (inclusion probability per
    loan), ``n_sample_loans``, ``n_sample_episodes`` and ``se_inflation`` = sqrt(N
    episodes / n episodes), the factor by which standard errors of estimates on the
    sample grow (1 when not sampled)."""
    infl = math.sqrt(n_episodes / n_sample_episodes) if n_sample_episodes else float("nan")
    return {"sampled": fraction < 1.0, "fraction": fraction, "n_loans": int(n_loans),
            "n_sample_loans": int(n_sample_loans), "n_episodes": int(n_episodes),
            "n_sample_episodes": int(n_sample_episodes),
            "se_inflation": infl if fraction < 1.0 else 1.0,
            "model_episodes": "all", "n_model_episodes": int(n_episodes),
            "se_inflation_models": 1.0}


# ----------------------------------------------------------------------------- the pass


def _partition(book: Book, month: pd.Timestamp, conditions: Sequence[tuple[str, str]],
               d: Definitions, first: pd.Timestamp, end: pd.Timestamp,
               fraction: float) -> dict[str, Any]:
    """One loan partition: restrict, filter, episodes, KPI pieces, sample (and, when
    sampled, every episode's attribution inputs)."""
    book = filter_segment(restrict_to(book, month), conditions, check=False)
    episodes = episodes_from_definitions(book, d, data_end=end)
    out: dict[str, Any] = {"episodes": episodes, "n_loans": len(book.loans),
                           "sample": sample_tables(book, fraction)}
    if fraction < 1.0:  # the attribution is fitted on the sample: every episode's inputs
        out["inputs"] = episode_inputs(book, episodes)
    if len(book.performance) == 0:
        return out
    cols = book.loans.columns
    out["overdue_rates"] = pd.concat(
        [kpis.overdue_rates(book, by=s) for s in OVERDUE_SEGMENTS if s is None or s in cols],
        ignore_index=True)
    cat = kpis.loan_month_categories(book)
    out["classification"] = pd.concat(
        [kpis.classification_table(cat, book.loans, s)
         for s in CLASS_SEGMENTS if s is None or s in cols], ignore_index=True)
    sbook = with_sentinel(book, first, end)
    out["roll_rates"] = kpis.roll_rates(sbook, weight="count", end=month,
                                           months=ROLL_WINDOW_MONTHS)
    out["vintages"] = kpis.vintage_curves(sbook, dpd_threshold=VINTAGE_DPD)
    return out


def _footer_months(source: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(first, last) ``performance.month`` from the Parquet row-group statistics, or None
    when a part lacks them (or the table is not Parquet)."""
    path = table_path(source, "performance") if source is not None else None
    stats = []
    for f in parquet_files(path) if path is not None else []:
        rgs = row_group_stats(str(f), "month")
        if rgs is None or not all(isinstance(r[0], pd.Timestamp) for r in rgs):
            return None
        stats += rgs
    if not stats:
        return None
    return min(r[0] for r in stats), max(r[1] for r in stats)


def book_months(dbook: DaskBook, month: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp,
                                                                 pd.Timestamp]:
    """(first, last, last up to ``month``) of ``performance.month``: from the Parquet
    footers when they suffice (``month`` at or after the last month), else one column read."""
    import dask

    got = _footer_months(dbook.source)
    if got is not None and got[1] <= month:
        return pd.Timestamp(got[0]), pd.Timestamp(got[1]), pd.Timestamp(got[1])
    m = dbook.performance["month"]
    lo, hi, upto = dask.compute(m.min(), m.max(), m[m <= month].max())
    return pd.Timestamp(lo), pd.Timestamp(hi), pd.Timestamp(upto)


def report_pass(dbook: DaskBook, month: pd.Timestamp, definitions: Definitions,
                conditions: Sequence[tuple[str, str]] = (), *,
                max_loans: int = MODEL_MAX_LOANS) -> ReportPass:
    """The run's episodes, book-wide KPI tables and model sample in one pass (use inside
    ``with analysis.dask.frames.client(...)``); ``month`` is the reporting month-end."""
    first, last, end = book_months(dbook, month)
    if not first + pd.offsets.MonthEnd(0) <= month <= last + pd.offsets.MonthEnd(0):
        raise ParameterError(f"as_of {month:%Y-%m} is outside the data "
                             f"({first:%Y-%m} to {last:%Y-%m})")
    rows, _ = table_size(dbook.source, "loans") if dbook.source else (None, 0)
    n_all = rows if rows is not None else len(dbook.loans)
    fraction = sample_fraction(n_all, max_loans)
    parts = map_loan_partitions(
        dbook, lambda b: _partition(b, month, conditions, definitions, first, end, fraction),
        name="report")
    episodes = concat_episodes([p["episodes"] for p in parts])
    inputs = concat_episodes([p["inputs"] for p in parts]) if fraction < 1.0 else None
    sample = _concat_sample(dbook, [p["sample"] for p in parts])
    in_s = episodes["loan_id"].isin(sample.loans["loan_id"]) if fraction < 1.0 else None
    design = sample_design(sum(p["n_loans"] for p in parts), len(sample.loans), len(episodes),
                           len(episodes) if in_s is None else int(in_s.sum()), fraction)
    return ReportPass(episodes=episodes, kpis=_combine([p for p in parts if "overdue_rates" in p]),
                      sample=sample, design=design, inputs=inputs,
                      months=(str(first.date()), str(last.date())))


def _concat_sample(dbook: DaskBook, pieces: list[dict[str, pd.DataFrame]]) -> Book:
    tables = {}
    for name in LOAN_TABLES:
        got = [p[name] for p in pieces if name in p]
        if not got:
            continue
        df = pd.concat(got, ignore_index=True)
        keys = ["loan_id", "month"] if "month" in df.columns else ["loan_id"]
        tables[name] = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return Book(measures=dbook.measures, cause_map=dbook.cause_map, source=dbook.source,
                **tables)


def _combine(parts: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    if not parts:
        return {}
    return {
        "overdue_rates": combine_overdue_rates([p["overdue_rates"] for p in parts]),
        "classification": combine_classification([p["classification"] for p in parts]),
        "roll_rates": combine_roll_rates([p["roll_rates"] for p in parts], weight="count"),
        "vintages": combine_vintages([p["vintages"] for p in parts]),
    }


# ----------------------------------------------------------------------------- refresh


def _completeness_counts(book: Book) -> pd.DataFrame:
    """Per month-end m of a loan partition: ``n_open_prev`` loans with a positive balance
    at m - 1 and ``n_seen`` of them with a row at m (``report_refresh``'s rule)."""
    perf = book.performance
    codes = pd.factorize(perf["loan_id"])[0].astype(np.int64)
    mi = month_index(perf["month"]).astype(np.int64)
    key = codes * 100_000 + mi
    open_ = perf["balance"].to_numpy(dtype=float) > 0
    counts = pd.DataFrame({"mi": mi[open_] + 1, "n_open_prev": 1,
                           "n_seen": np.isin(key[open_] + 1, key).astype(np.int64)})
    out = counts.groupby("mi").sum()
    months = pd.DataFrame(index=pd.Index(np.unique(mi), name="mi"))
    return months.join(out, how="outer").fillna(0).astype(np.int64)


def latest_complete_month_dask(data_dir: str | os.PathLike, completeness: float = 0.95,
                               scheduler: str | None = None) -> str:
    """:func:`analysis.report.refresh.latest_complete_month` on the cluster: validates the
    book (exit 2 on bad input, as the pandas path) and adds the per-partition counts of
    :func:`_completeness_counts`. Assumes the book's months have no gap (the previous
    month is the calendar month before)."""
    with client(scheduler):
        try:
            dbook = load_book_dask(data_dir, validate=True)
        except InputError as exc:
            raise InputError(f"input validation failed; no notebook was run.\n{exc}") from None
        parts = map_loan_partitions(dbook, _completeness_counts, name="completeness")
    counts = pd.concat(parts).groupby(level=0).sum().sort_index()
    months = counts.index.to_numpy()
    if len(months) == 0:
        raise InputError("table 'performance' is empty: no month to report")
    label = pd.Series(months.astype("datetime64[M]")).dt.to_period("M").astype(str).to_numpy()
    for back in range(min(12, len(months) - 1)):
        row = counts.iloc[-1 - back]
        if row["n_open_prev"] == 0 or row["n_seen"] / row["n_open_prev"] >= completeness:
            return str(label[-1 - back])
    return str(label[0] if len(months) == 1 else label[-1 - min(12, len(months) - 1)])


# ----------------------------------------------------------------------------- the cache


def cache_folder(cache_dir: str | os.PathLike, key: str) -> Path:
    """Folder of one (input, month, segment, definitions) pass in the run cache."""
    return Path(cache_dir) / f"dask-{key}"


def write_run_cache(folder: Path, res: ReportPass, info: dict[str, Any]) -> None:
    """Store a pass: ``episodes_full.parquet`` (every episode: the episode models' table),
    one parquet per KPI table, the loan-month sample book (``book.pkl``), its episodes
    (``episodes_sample.parquet``), when sampled every episode's attribution inputs
    (``episode_inputs.parquet``) and ``manifest.json`` (written last: its presence means
    the folder is complete; ``model_episodes_table`` names the models' table)."""
    folder.mkdir(parents=True, exist_ok=True)
    res.model_episodes.to_parquet(folder / f"{MODEL_EPISODES_TABLE}.parquet", index=False)
    for name, df in res.kpis.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    res.sample_episodes().to_parquet(folder / "episodes_sample.parquet", index=False)
    if res.inputs is not None:
        res.inputs.to_parquet(folder / f"{INPUTS_TABLE}.parquet", index=False)
    with open(folder / "book.pkl", "wb") as fh:
        pickle.dump(res.sample, fh, protocol=pickle.HIGHEST_PROTOCOL)
    manifest = {**info, "design": res.design, "loan_columns": list(res.sample.loans.columns),
                "kpi_tables": sorted(res.kpis), "model_episodes_table": MODEL_EPISODES_TABLE}
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, default=str, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


@dataclass(frozen=True)
class CachedPass:
    """A pass read back from the run cache (tables read when first asked for)."""

    folder: Path
    manifest: dict[str, Any]

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.folder / f"{name}.parquet")

    def book(self) -> Book:
        with open(self.folder / "book.pkl", "rb") as fh:
            return pickle.load(fh)  # written by this run (write_run_cache)

    @property
    def design(self) -> dict[str, Any]:
        return self.manifest["design"]

    def model_episodes(self) -> pd.DataFrame:
        """Every episode of the book: the table the episode models (effects, time to
        cure, net benefit, targeting) fit on."""
        return self.table(self.manifest.get("model_episodes_table", MODEL_EPISODES_TABLE))

    def sample_episodes(self) -> pd.DataFrame:
        """The episodes of the loan-month sample :meth:`book` (models on loan-months)."""
        return self.table("episodes_sample")

    def episode_inputs(self) -> pd.DataFrame | None:
        """Every episode's cause-attribution inputs (:func:`episode_inputs`), or None when
        the pass did not sample (the attribution then sees every episode)."""
        path = self.folder / f"{INPUTS_TABLE}.parquet"
        return pd.read_parquet(path) if path.exists() else None


def read_run_cache(folder: Path) -> CachedPass | None:
    """The pass stored in ``folder``, or None when absent or incomplete."""
    path = folder / "manifest.json"
    if not path.exists():
        return None
    return CachedPass(folder, json.loads(path.read_text(encoding="utf-8")))


def ensure_pass(data_dir: str | os.PathLike, cache_dir: str | os.PathLike, key: str,
                month: pd.Timestamp, definitions: Definitions,
                conditions: Sequence[tuple[str, str]] = (), scheduler: str | None = None,
                max_loans: int | None = None) -> CachedPass:
    """The cached pass for ``key``, computing it on the cluster when it is not there;
    ``max_loans``: the loan-month sample's size (default :data:`MODEL_MAX_LOANS`, read
    when called)."""
    folder = cache_folder(cache_dir, key)
    got = read_run_cache(folder)
    if got is not None:
        return got
    with client(scheduler):
        dbook = load_book_dask(data_dir)
        check_segment(dbook, conditions)
        res = report_pass(dbook, month, definitions, conditions,
                          max_loans=MODEL_MAX_LOANS if max_loans is None else max_loans)
    write_run_cache(folder, res, {"month": str(month.date()), "segment": list(conditions),
                                  "first_month": res.months[0], "last_month": res.months[1]})
    del res
    return read_run_cache(folder)  # type: ignore[return-value]


def check_segment(dbook: DaskBook, conditions: Sequence[tuple[str, str]]) -> None:
    """Raise ParameterError (as :func:`analysis.data.filter_segment` does) when a
    condition names no loan column or matches no loan (one column read per condition)."""
    import dask

    cols = [c for c in dbook.loans.columns if c not in ("loan_id", "borrower_id")]
    for col, val in conditions:
        if col not in cols:
            raise ParameterError(
                f"parameter segment: {col!r} is not a loan attribute; use one of {cols}")
        if not dask.compute((dbook.loans[col].astype(str) == val).any())[0]:
            raise ParameterError(f"parameter segment: no loan has {col}={val!r}")


def run_key(parts: dict[str, Any], definitions: Definitions) -> str:
    """The cache key of a run's episodes (as :mod:`analysis.report.context` computes it)."""
    blob = json.dumps({**parts, **definitions.as_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


__all__ = [
    "CachedPass", "INPUTS_TABLE", "MODEL_EPISODES_TABLE", "MODEL_MAX_LOANS", "ReportPass",
    "cache_folder", "check_segment", "ensure_pass", "episode_inputs", "in_sample", "read_run_cache", "report_pass", "run_key", "sample_book",
    "sample_design", "sample_fraction", "sample_tables", "write_run_cache",
]
