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


#: The cuts of the misaligned test books: parts that split loans across part boundaries.
MISALIGNED_CUTS: dict[str, list[float]] = {
    "performance": [0.07, 0.61, 0.02, 0.30],
    "signals": [0.5, 0.5],
    "relief": [0.2, 0.8],
}


def misaligned_book(path: Path, tables: tuple[str, ...] = ("performance", "signals", "relief"),
                    loans: int = 600, seed: int = 11) -> Path:
    """A synthetic book at ``path`` whose ``tables`` are Parquet parts cut across loans
    (:data:`MISALIGNED_CUTS`), so the Dask engine cannot read it part by part."""
    from analysis.synthetic import generate_book

    generate_book(loans, seed, path, chunk_loans=200)
    for table in tables:
        resplit(path, table, MISALIGNED_CUTS[table])
    return path
