"""The engine side of a notebook's context: the Dask context and run-scoped model caches.

* :func:`open_dask_context` is :func:`analysis.report.context.open_context` on the Dask
  engine: the episodes, the book-wide portfolio tables and the model sample come from
  one Dask pass (:mod:`analysis.dask.report_pass`), computed by the report runner
  before the notebooks and read from the run cache (``OVERDUE_RELIEF_CACHE_DIR``), or
  computed here on a cache miss (a notebook run on its own).
* :func:`cached_attribution` / :func:`episodes_with_cause`: the cause attribution is
  computed once per run and shared by the notebooks (02 shows it, 03 and 04 use each
  episode's primary family). The per-episode families do not depend on the number of
  bootstrap replicates (the bootstrap only adds intervals; checked in the tests), so 03
  and 04 reuse 02's result whatever its ``n_boot``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.definitions import Definitions

ENGINE_ENV = "OVERDUE_RELIEF_ENGINE"
_LOCAL_CACHE: dict[str, str] = {}


def resolve_engine(data_dir: str, engine: str = "") -> str:
    """``pandas`` or ``dask``: ``engine``, else ``$OVERDUE_RELIEF_ENGINE``, else pandas
    (``auto`` decided by :func:`analysis.dask.frames.choose_engine`)."""
    from analysis.dask.frames import choose_engine

    return choose_engine(data_dir, engine or os.environ.get(ENGINE_ENV) or "pandas")


def _cache_dir() -> str:
    from analysis.report.context import CACHE_ENV

    got = os.environ.get(CACHE_ENV, "")
    if got:
        return got
    if "dir" not in _LOCAL_CACHE:  # a notebook run on its own: a cache for this process
        _LOCAL_CACHE["dir"] = tempfile.mkdtemp(prefix="overdue-relief-dask-")
    return _LOCAL_CACHE["dir"]


def _last_month(data_dir: str) -> pd.Timestamp:
    from analysis.dask.frames import client, load_book_dask
    from analysis.dask.kpis import month_range

    with client():
        _, hi = month_range(load_book_dask(data_dir))
    return hi + pd.offsets.MonthEnd(0)


def open_dask_context(data_dir: str, as_of: str, segment: str, min_cell: int,
                      tables_dir: str, language: str, defs: Definitions):
    """:class:`analysis.report.context.ReportContext` on the Dask engine (parameters checked
    by the caller). ``ctx.book`` and ``ctx.episodes`` are the model sample (the whole
    book up to :data:`analysis.dask.report_pass.MODEL_MAX_LOANS` loans), ``ctx.kpis``
    the book-wide portfolio tables, ``ctx.sampling`` the sample's design."""
    from analysis.dask.report_pass import ensure_pass, run_key
    from analysis.errors import ParameterError
    from analysis.report.context import (
        CACHE_ENV,
        ReportContext,
        data_fingerprint,
        parse_month,
        parse_segment,
        read_truth,
        run_key_parts,
    )
    from analysis.report.kpis import TableKpis

    fp = os.environ.get(CACHE_ENV + "_FINGERPRINT") or data_fingerprint(data_dir)
    month = _last_month(data_dir) if as_of == "" else parse_month(as_of)
    parts = run_key_parts(data_dir, fp, month, segment)
    key = run_key(parts, defs)
    cached = ensure_pass(data_dir, _cache_dir(), key, month, defs, parse_segment(segment))
    man = cached.manifest
    first, last = (pd.Timestamp(man[k]) + pd.offsets.MonthEnd(0)
                   for k in ("first_month", "last_month"))
    if not first <= month <= last:
        raise ParameterError(f"parameter as_of={as_of!r} is outside the data "
                             f"({first:%Y-%m} to {last:%Y-%m})")

    def read(name: str) -> pd.DataFrame:
        return cached.table(name)

    return ReportContext(
        book=cached.book(), episodes=cached.table("episodes_sample"), definitions=defs,
        as_of=month, min_cell=min_cell, segment=segment, language=language,
        tables_dir=Path(tables_dir), data_dir=Path(data_dir), truth=read_truth(data_dir),
        fingerprint=fp, kpis=TableKpis(read, month, man["loan_columns"]), engine="dask",
        sampling=cached.design, cache_key=key,
    )


# ----------------------------------------------------------------------------- attribution


def _attribution_path(ctx, n_boot: int, seed: int) -> Path | None:
    from analysis.report.context import CACHE_ENV

    cache = os.environ.get(CACHE_ENV, "")
    if not cache or not ctx.cache_key:
        return None
    return Path(cache) / f"attribution-{ctx.cache_key}-m{ctx.min_cell}-s{seed}-b{n_boot}.pkl"


def _store(path: Path | None, value: Any) -> None:
    if path is None:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _load(path: Path) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)  # written by this run (_store)


def _unwrap(value: Any) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


def cached_attribution(ctx, n_boot: int = 200, seed: int = 0) -> Any:
    """The run's attribution with ``n_boot`` replicates (computed on a miss)."""
    from analysis.causes.attribute import AttributionUnavailable, attribute

    key = f"attribution-{n_boot}-{seed}"
    if key in ctx.memo:
        return _unwrap(ctx.memo[key])
    path = _attribution_path(ctx, n_boot, seed)
    if path is not None and path.exists():
        ctx.memo[key] = _load(path)
        return _unwrap(ctx.memo[key])
    try:
        value: Any = attribute(ctx.book, ctx.episodes, definitions=ctx.definitions,
                               n_boot=n_boot, min_cell=ctx.min_cell, seed=seed)
    except AttributionUnavailable as exc:
        value = exc
    ctx.memo[key] = value
    _store(path, value)
    return _unwrap(value)


def episodes_with_cause(ctx, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """``ctx.episodes`` with ``primary_family`` (see
    :func:`analysis.targeting.recommend.with_cause`), from any attribution of this run
    with the same seed, else one without bootstrap."""
    from analysis.causes.attribute import AttributionUnavailable
    from analysis.targeting.recommend import with_cause

    if "primary_family" in ctx.episodes:
        return ctx.episodes, ""
    done = _attribution_path(ctx, 0, seed)
    found = sorted(done.parent.glob(done.name.replace("-b0.pkl", "-b*.pkl"))) if done else []
    n_boot = int(found[0].stem.rsplit("-b", 1)[1]) if found else 0
    try:
        att = cached_attribution(ctx, n_boot=n_boot, seed=seed)
    except AttributionUnavailable as exc:
        return ctx.episodes, f"cause attribution unavailable ({exc}); the reported family is used"
    return with_cause(ctx.book, ctx.episodes, ctx.definitions, seed=seed, attribution=att)


__all__ = ["ENGINE_ENV", "cached_attribution", "episodes_with_cause", "open_dask_context",
           "resolve_engine"]
