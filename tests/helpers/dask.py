"""Rewrite a book table as Parquet parts that cut loans across parts (Dask tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def resplit(path: Path, table: str, fractions: list[float]) -> None:
    """Rewrite ``table`` as a folder of parts with the given row fractions (cuts loans)."""
    src = path / table if (path / table).is_dir() else path / f"{table}.parquet"
    df = pq.read_table(src).to_pandas()
    if src.is_dir():
        shutil.rmtree(src)
    else:
        src.unlink()
    (path / table).mkdir()
    cuts = np.r_[0, np.round(np.cumsum(fractions) * len(df)).astype(int)]
    cuts[-1] = len(df)
    for i in range(len(fractions)):
        df.iloc[cuts[i]: cuts[i + 1]].to_parquet(path / table / f"part-{i:05d}.parquet",
                                                 index=False)
