"""Simulated episode frames with confounded relief and known effects (effects tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ARMS = ("none", "counselling", "deferral", "rate_reduction")


LIFT = {"none": 0.0, "counselling": 0.3, "deferral": 0.8, "rate_reduction": -0.4}


def simulate_episodes(n: int = 4000, seed: int = 0, lift: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes with confounded relief; returns (episodes, truth per arm: p_cure, loss)."""
    lift = lift or LIFT
    rng = np.random.default_rng(seed)
    severity = rng.normal(size=n)
    score = rng.normal(650, 60, n)
    btype = rng.choice(["individual", "micro_enterprise", "sole_proprietor"], n, p=[0.5, 0.3, 0.2])
    fam = rng.choice(["economic", "management", "personal"], n)
    ead = np.exp(rng.normal(11, 0.6, n))
    # assignment: sicker and micro-enterprise episodes get relief more often
    eta = np.column_stack([
        np.zeros(n),
        -2.0 + 0.6 * severity,
        -1.5 + 0.9 * severity + 0.5 * (btype == "micro_enterprise"),
        -2.2 + 0.5 * severity - 0.004 * (score - 650),
    ])
    p = np.exp(eta - eta.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    a = (p.cumsum(1) > rng.random(n)[:, None]).argmax(1)
    base = 0.2 - 1.0 * severity + 0.006 * (score - 650) + 0.3 * (fam == "personal")
    pc = np.column_stack([1 / (1 + np.exp(-(base + lift[m]))) for m in ARMS])
    cured = rng.random(n) < pc[np.arange(n), a]
    # loss rate: 0 when cured, else a fraction depending on severity
    lgd = 1 / (1 + np.exp(-(-0.5 + 0.5 * severity)))
    loss_pot = (1 - pc) * lgd[:, None]
    loss_rate = np.where(cured, 0.0, lgd * rng.uniform(0.5, 1.5, n).clip(0, 1 / lgd.clip(1e-9)))
    loss_rate = np.clip(loss_rate, 0, 1)
    eps = pd.DataFrame({
        "loan_id": np.arange(n), "measure": np.array(ARMS)[a],
        "borrower_type": btype, "reported_family": fam, "severity": severity,
        "credit_score": score, "ead": ead, "is_cured": pd.array(cured, dtype="boolean"),
        "loss_rate": loss_rate, "prev_dpd": 10 + 5 * severity + rng.normal(0, 3, n),
    })
    truth = pd.DataFrame({"arm": np.repeat(ARMS, n), "row": np.tile(np.arange(n), len(ARMS)),
                          "p_cure": pc.T.ravel(), "exp_loss_rate": loss_pot.T.ravel()})
    return eps, truth
