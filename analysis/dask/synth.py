"""The synthetic book generated chunk by chunk in parallel on a Dask cluster.

:func:`synth_dask` runs the chunks of :mod:`analysis.synthetic.run` (the same seeded
chunk streams, so the same loans, rows and truth as :func:`analysis.synthetic.generate.generate_book`
with the same ``seed`` and ``chunk_loans``) as tasks on the cluster. Each task simulates
one chunk and writes it straight to Parquet parts, ``<table>/part-<chunk>.parquet`` for
every loan table (``loans``, ``performance``, ``relief``, ``signals``, ``reasons``), so a
worker holds one chunk at a time: memory per worker is bounded by ``chunk_loans``
(about 1.5 GiB for the default 200,000 loans), whatever ``n_loans``. Only the per-episode
truth arrays (a few hundred bytes per episode) come back to the client, which writes
``truth/`` and ``cause_map.parquet`` as the sequential generator does. Parts are written
with the generator's Parquet options (``analysis.synthetic.WRITE_OPTIONS``: dictionary-encoded
IDs, read back as plain strings).

Known drawbacks: the layout differs from the sequential generator's (there the small
tables are single files); the contract reads both. Relies on the chunk functions of
:mod:`analysis.synthetic.run` (``chunk_tables``, ``truth_tables``, ``clear_book``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from analysis.data.files import LOAN_TABLES
from analysis.errors import ParameterError
from analysis.synthetic import (
    WRITE_OPTIONS,
    SynthParams,
    chunk_tables,
    clear_book,
    make_macro,
    simulate_chunk,
    truth_tables,
    write_truth,
)


def _chunk_to_parts(p, macro, seed: int, chunk: int, offset: int, n: int, out: str) -> dict:
    options = WRITE_OPTIONS
    c = simulate_chunk(p, macro, seed, chunk, n)
    tabs = chunk_tables(c, p, macro, chunk, offset, seed)
    del c
    for name in LOAN_TABLES:
        pq.write_table(tabs[name], Path(out) / name / f"part-{chunk:05d}.parquet", **options)
    return tabs["episodes"]


def synth_dask(
    n_loans: int,
    seed: int,
    out_dir: str | Path,
    chunk_loans: int = 200_000,
    params=None,
) -> Path:
    """Write a synthetic book of ``n_loans`` loans into ``out_dir`` (folders of Parquet
    parts, one part per chunk of ``chunk_loans`` loans) using the current Dask client;
    returns ``out_dir``. Open the cluster with :func:`analysis.dask.frames.client`."""
    import dask
    from dask import delayed

    if int(n_loans) < 1 or int(chunk_loans) < 1:
        raise ParameterError(f"n_loans and chunk_loans must be >= 1 (got {n_loans}, {chunk_loans})")
    p = params or SynthParams()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_book(out)
    for name in LOAN_TABLES:
        (out / name).mkdir()
    macro = make_macro(p, seed)
    n_chunks = -(-int(n_loans) // int(chunk_loans))
    tasks = []
    for chunk in range(n_chunks):
        offset = chunk * chunk_loans
        n = min(chunk_loans, n_loans - offset)
        tasks.append(delayed(_chunk_to_parts, pure=False)(
            p, macro, seed, chunk, offset, n, str(out), dask_key_name=f"synth-chunk-{chunk}"))
    episodes = [e for e in dask.compute(*tasks) if e]
    write_truth(out, truth_tables(episodes, p, macro, seed, n_loans), p, seed, n_loans, chunk_loans)
    return out
