"""The causes join (analysis/causes/join.py): attributed and scored episodes together."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from analysis.causes import join


def test_scored_episodes_deduplicate_across_loan_id_dtypes(monkeypatch) -> None:
    """The attribution's episodes (categorical loan ids, integer categories, as a loan
    sample may carry them) and the scored ones (string loan ids) share episode (2, m):
    it is one episode, keeping the attribution's family, not two rows that would both
    join to it."""
    m = pd.Timestamp("2024-01-31")
    per_episode = pd.DataFrame({"loan_id": pd.Categorical([1, 2]), "start_month": [m, m],
                                "primary_family": ["income", "liquidity"]})
    scored = pd.DataFrame({"loan_id": ["2", "3"], "start_month": [m, m],
                           "primary_family": ["health", "income"]})
    monkeypatch.setattr(join, "attribute_episodes", lambda scorer, inputs: scored)
    att = SimpleNamespace(per_episode=per_episode, scorer=object())
    episodes = pd.DataFrame({"loan_id": ["1", "2", "3"], "start_month": [m, m, m],
                             "measure": ["none", "deferral", "none"]})
    out, note = join.with_cause(None, episodes, attribution=att, inputs=scored)
    assert note == "" and len(out) == 3
    assert list(out["primary_family"]) == ["income", "liquidity", "income"]
