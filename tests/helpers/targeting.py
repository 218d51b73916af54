"""A policy-search frame with known per-episode scores (targeting tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ARMS = ("none", "a", "b")


def frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"cause": rng.choice(["eco", "man", "per"], n),
                      "btype": rng.choice(["ind", "sme"], n),
                      "x": rng.normal(size=n)})
    s = rng.normal(size=(n, 3))
    s[:, 0] = 0.0
    return f, s
