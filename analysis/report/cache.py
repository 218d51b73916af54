"""The run cache: what one report run computes once and its notebooks read back.

The runner names a cache folder in ``$OVERDUE_RELIEF_CACHE_DIR`` and the input's
fingerprint (:func:`data_fingerprint`) in ``$OVERDUE_RELIEF_CACHE_DIR_FINGERPRINT`` for the
notebook kernels. In that folder:

* ``book-<fingerprint>.pkl``: the validated book (:func:`store_book`, read by
  :func:`load_run_book`), so no notebook validates the input again;
* ``episodes-<key>.parquet``: the episode table of one (input, month, segment,
  definitions) (:func:`cached_episodes`; the key from :func:`run_key_parts` and
  :func:`analysis.dask.report_pass.run_key`);
* ``attribution-<key>-m<min_cell>-s<seed>-b<n_boot>.pkl``: the cause attribution
  (:func:`cached_attribution`), computed by the first notebook that asks (02 shows it)
  and reused by 03 and 04 (:func:`episodes_with_cause`), which wait for it when 02 is
  computing it at the same time (:func:`entry_lock`). The per-episode families do not
  depend on the number of bootstrap replicates (the bootstrap only adds intervals; checked
  in the tests), so 03 and 04 reuse 02's result whatever its ``n_boot``;
* ``dask-<key>/``: a Dask pass (:mod:`analysis.dask.report_pass`).

Outside a run (no cache folder) the notebook computes everything itself; the Dask engine
then uses a temporary folder of its own (:func:`cache_dir_or_temp`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.causes import AttributionUnavailable, attribute, with_cause
from analysis.data import load_book
from analysis.data.book import Book
from analysis.definitions import Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import FIT_ERRORS

CACHE_ENV = "OVERDUE_RELIEF_CACHE_DIR"
#: The input fingerprint of the run (set with :data:`CACHE_ENV`).
FINGERPRINT_ENV = CACHE_ENV + "_FINGERPRINT"
_LOCAL_CACHE: dict[str, str] = {}


# ----------------------------------------------------------------------------- input
def data_fingerprint(data_dir: str | os.PathLike) -> str:
    """SHA-256 over the relative paths and contents of every file in ``data_dir``.

    ``truth/`` is included (it is part of a synthetic book). Hidden files are skipped.
    """
    root = Path(data_dir)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        h.update(str(rel.as_posix()).encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def run_fingerprint(data_dir: str) -> str:
    """The fingerprint the runner set; inside a run without one, computed here; outside
    a run, ``""`` (nothing is cached)."""
    fp = os.environ.get(FINGERPRINT_ENV) or ""
    if os.environ.get(CACHE_ENV) and not fp:
        fp = data_fingerprint(data_dir)
    return fp


def run_key_parts(data_dir: str, fp: str, month: pd.Timestamp, segment: str) -> dict[str, Any]:
    """What, besides the definitions, identifies a run's episodes in the cache."""
    return {"data": str(Path(data_dir).resolve()), "fp": fp, "as_of": str(month.date()),
            "segment": segment}


def episodes_key(key_parts: dict[str, Any], definitions: Definitions) -> str:
    """The cache key of one episode table: :func:`run_key_parts` and the definitions
    (:func:`analysis.dask.report_pass.run_key`, the key a Dask pass is stored under too)."""
    # analysis.dask imported here: dask and distributed are heavy optional dependencies
    from analysis.dask.report_pass import run_key

    return run_key(key_parts, definitions)


def cache_dir_or_temp() -> str:
    """The run's cache folder; for a notebook run on its own, a temporary folder kept for
    the life of this process."""
    got = os.environ.get(CACHE_ENV, "")
    if got:
        return got
    if "dir" not in _LOCAL_CACHE:
        _LOCAL_CACHE["dir"] = tempfile.mkdtemp(prefix="overdue-relief-dask-")
    return _LOCAL_CACHE["dir"]


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` while one cache entry is looked up and,
    on a miss, computed: notebooks of a run executing at once then compute each entry once,
    the others wait and read it. POSIX ``flock``, as the run lock
    (:func:`analysis.report.publish.report_lock`): Linux and macOS are supported."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
        yield


# ----------------------------------------------------------------------------- book, episodes
def book_cache_path(cache_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Where a run keeps the validated book (pickle) for its notebooks."""
    return Path(cache_dir) / f"book-{fingerprint[:24]}.pkl"


def store_book(book: Book, cache_dir: str | os.PathLike, fingerprint: str) -> Path:
    """Keep a validated book for the notebooks of this run (written atomically)."""
    path = book_cache_path(cache_dir, fingerprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(book, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def load_run_book(data_dir: str) -> Book:
    """The validated book: from the run's cache when the runner left it there, else
    :func:`analysis.load_book`."""
    cache_dir = os.environ.get(CACHE_ENV, "")
    fp = os.environ.get(FINGERPRINT_ENV, "")
    if cache_dir and fp:
        path = book_cache_path(cache_dir, fp)
        if path.exists():
            with open(path, "rb") as fh:
                book = pickle.load(fh)  # written by this run's runner (store_book)
            if book.source is None or Path(book.source).resolve() == Path(data_dir).resolve():
                return book
    return load_book(data_dir)


def cached_episodes(book: Book, definitions: Definitions, key_parts: dict[str, Any]
                    ) -> pd.DataFrame:
    """The episode table of ``book``: built once per run and key, then read back."""
    cache_dir = os.environ.get(CACHE_ENV, "")
    if not cache_dir:
        return episodes_from_definitions(book, definitions)
    path = Path(cache_dir) / f"episodes-{episodes_key(key_parts, definitions)}.parquet"
    with entry_lock(path):
        if path.exists():
            return pd.read_parquet(path)
        episodes = episodes_from_definitions(book, definitions)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        episodes.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    return episodes


# ----------------------------------------------------------------------------- attribution
def _attribution_path(ctx: Any, n_boot: int, seed: int) -> Path | None:
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


def cached_attribution(ctx: Any, n_boot: int = 200, seed: int = 0) -> Any:
    """The run's attribution of ``ctx`` (a :class:`analysis.report.context.ReportContext`)
    with ``n_boot`` replicates, computed on a miss; an ``AttributionUnavailable`` or a
    failed fit (:data:`analysis.errors.FIT_ERRORS`) is cached and raised again like a result."""
    key = f"attribution-{n_boot}-{seed}"
    if key in ctx.memo:
        return _unwrap(ctx.memo[key])
    path = _attribution_path(ctx, n_boot, seed)
    with entry_lock(path) if path is not None else contextlib.nullcontext():
        if path is not None and path.exists():
            ctx.memo[key] = _load(path)
            return _unwrap(ctx.memo[key])
        try:
            # the onset model reads loan-months: on Dask, the sample's loans and their episodes
            episodes = ctx.episodes if ctx.sample_episodes is None else ctx.sample_episodes
            value: Any = attribute(ctx.book, episodes, definitions=ctx.definitions,
                                   n_boot=n_boot, min_cell=ctx.min_cell, seed=seed)
        except (AttributionUnavailable, *FIT_ERRORS) as exc:
            value = exc
        ctx.memo[key] = value
        _store(path, value)
    return _unwrap(value)


def episodes_with_cause(ctx: Any, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """``ctx.episodes`` with ``primary_family`` (see :func:`analysis.causes.with_cause`),
    from any attribution of this run with the same seed, else one without bootstrap; on a
    sampled Dask book every episode is attributed by the models fitted on the sample
    (``ctx.episode_inputs``)."""
    if "primary_family" in ctx.episodes:
        return ctx.episodes, ""
    done = _attribution_path(ctx, 0, seed)
    # an attribution stored, or being computed (its lock file) by a notebook running now
    found = done.parent.glob(done.name.replace("-b0.pkl", "-b*.pkl*")) if done else []
    n_boot = max((int(p.name.split(".pkl")[0].rsplit("-b", 1)[1]) for p in found), default=0)
    try:
        att = cached_attribution(ctx, n_boot=n_boot, seed=seed)
    except (AttributionUnavailable, *FIT_ERRORS) as exc:
        return ctx.episodes, f"cause attribution unavailable ({exc}); the reported family is used"
    # a sampled Dask book: the attribution's models also attribute the other episodes
    return with_cause(ctx.book, ctx.episodes, ctx.definitions, seed=seed, attribution=att,
                      inputs=getattr(ctx, "episode_inputs", None))


__all__ = [
    "CACHE_ENV", "FINGERPRINT_ENV", "book_cache_path", "cache_dir_or_temp", "cached_attribution",
    "cached_episodes", "data_fingerprint", "entry_lock", "episodes_key", "episodes_with_cause", "load_run_book", "run_fingerprint",
    "run_key_parts", "store_book",
]
