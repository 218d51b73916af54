"""Rebuild the excerpts in this folder from the public samples (run once; needs the files).

    python data/samples/make_excerpts.py /work/shared/data

LendingClub: every loan with a hardship plan or a debt settlement in either sample, plus
150 other loans drawn at random from each sample, in the column layout of sample B
(sample A has no member_id column: left empty). UCI Taiwan: 300 accounts drawn at random.
Values are copied as text, unchanged. Seeded: the same inputs give the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261128


def main(base: Path) -> None:
    rng = np.random.default_rng(SEED)
    lc = base / "lendingclub"
    a = pd.read_csv(lc / "sample_a_1000.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(lc / "sample_b_2000.csv", dtype=str, keep_default_na=False)
    a.insert(1, "member_id", "")
    assert list(a.columns) == list(b.columns)
    parts = []
    for d in (a, b):
        special = (d["hardship_type"] != "") | (d["debt_settlement_flag"] == "Y")
        pick = rng.choice(d.index[~special], size=150, replace=False)
        parts.append(d.loc[special.to_numpy() | d.index.isin(pick)])
    pd.concat(parts, ignore_index=True).to_csv(HERE / "lendingclub_excerpt.csv", index=False)
    u = pd.read_csv(base / "uci_taiwan" / "credit_card_clients_first_10000.csv", dtype=str,
                    keep_default_na=False)
    pick = np.sort(rng.choice(len(u), size=300, replace=False))
    u.iloc[pick].to_csv(HERE / "uci_taiwan_excerpt.csv", index=False, quoting=1)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
