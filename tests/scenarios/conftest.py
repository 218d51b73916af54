"""Fixtures of the scenario tests: models fitted once per module on the session's book."""

from __future__ import annotations

import pytest

AS_OF = "2024-06"


@pytest.fixture(scope="module")
def fitted(synth_book, synth_episodes):
    """:func:`analysis.scenarios.fit_models` on the 4,000-loan session book at 2024-06."""
    from analysis.scenarios import fit_models

    return fit_models(synth_book, AS_OF)
