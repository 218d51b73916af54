"""Loan partitions: which rows of the loan tables go together on the Dask engine.

Each row of ``loans``, ``performance``, ``relief``, ``signals`` and ``reasons`` gets a
bucket ``hash(loan_id) mod P`` (pandas' ``hash_array`` of the ID string, so the same loan
lands in the same bucket in every table) and every table is repartitioned with
``set_index(bucket, divisions=0..P-1)``: partition *k* of every table holds exactly the
loans of bucket *k*, each loan whole. That is the engine's one shuffle
(:mod:`analysis.dask.aligned` skips it for loan-aligned parts).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Loans per partition of the co-partitioned book (about 2.4M loan-months at 24 months;
#: about 1.5 GiB of working memory for the episode builder, see docs/dask.md).
LOANS_PER_PARTITION = 100_000
#: Column holding the bucket while a table is repartitioned.
BUCKET = "_loan_bucket"


def loan_bucket(loan_ids: pd.Series | np.ndarray, n: int) -> np.ndarray:
    """Bucket ``0..n-1`` of each loan ID: ``hash_array(str(id)) mod n`` (int64)."""
    ids = np.asarray(loan_ids, dtype=object)
    if ids.size and not isinstance(ids[0], str):
        ids = ids.astype(str).astype(object)
    h = pd.util.hash_array(ids, categorize=False)
    return (h % np.uint64(n)).astype(np.int64)


def _with_bucket(df: pd.DataFrame, n: int) -> pd.DataFrame:
    return df.assign(**{BUCKET: loan_bucket(df["loan_id"], n)})


def copartition(ddf: Any, n: int) -> list[Any]:
    """``n`` delayed pandas pieces of ``ddf``: piece *k* holds every row whose loan is in
    bucket *k* (see :func:`loan_bucket`)."""
    meta = ddf._meta.assign(**{BUCKET: np.int64(0)})
    with_b = ddf.map_partitions(_with_bucket, n, meta=meta)
    if n == 1:
        with_b = with_b.repartition(npartitions=1)
    else:
        with_b = with_b.set_index(BUCKET, divisions=[*range(n), n - 1])
    pieces = with_b.to_delayed()
    if len(pieces) != n:  # pragma: no cover - dask keeps explicit divisions
        raise RuntimeError(f"expected {n} loan partitions, dask made {len(pieces)}")
    return pieces


def n_partitions_for(n_loans: int, loans_per_partition: int = LOANS_PER_PARTITION) -> int:
    """Loan partitions for ``n_loans`` loans: one per ``loans_per_partition``, at least one."""
    return max(1, math.ceil(n_loans / max(1, loans_per_partition)))


__all__ = ["BUCKET", "LOANS_PER_PARTITION", "copartition", "loan_bucket", "n_partitions_for"]
