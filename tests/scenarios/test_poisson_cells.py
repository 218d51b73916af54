"""The Poisson hazard fit on collapsed cells equals the row-level fit (issue #17 shortcut)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.scenarios import hazards
from analysis.scenarios.hazards import poisson_cells, poisson_fit


def _categorical_design(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intercept, a 3-level factor (2 dummies) and a flag: 6 distinct rows, fractional
    outcomes and sampling weights as in the hazards (events weight 1, others 1/q)."""
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 3, n)
    flag = rng.random(n) < 0.3
    x = np.column_stack([np.ones(n), level == 1, level == 2, flag]).astype(float)
    rate = np.exp(x @ np.array([-2.0, 0.5, -0.3, 0.8]))
    y = np.minimum(rng.poisson(rate), 1) * rng.choice([1.0, 0.5, 1 / 3], n)
    w = np.where(y > 0, 1.0, rng.choice([1.0, 4.0], n))
    return x, y, w


def test_cells_by_hand() -> None:
    x = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    y = np.array([1.0, 0.0, 0.0, 0.5])
    w = np.array([1.0, 2.0, 3.0, 1.0])
    c = poisson_cells(x, y, w)
    np.testing.assert_array_equal(c.x, [[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(c.w, [5.0, 2.0])
    np.testing.assert_allclose(c.y, [(1.0 + 0.5) / 5.0, 0.0])  # weighted mean outcome
    np.testing.assert_allclose(c.w2, [1 + 9 + 1, 4.0])
    np.testing.assert_allclose(c.w2y, [1.0 + 0.5, 0.0])
    np.testing.assert_allclose(c.w2yy, [1.0 + 0.25, 0.0])
    assert poisson_cells(x, y, w, share_max=0.4) is None  # 2 cells of 4 rows > 40 %


@pytest.mark.parametrize("ridge", [0.0, 1.0])
def test_cell_fit_equals_row_fit(ridge: float, monkeypatch) -> None:
    x, y, w = _categorical_design(20_000, 1)
    coef, cov = poisson_fit(x, y, w, ridge)
    monkeypatch.setattr(hazards, "CELL_SHARE_MAX", 0.0)  # force the row-level path
    coef_rows, cov_rows = poisson_fit(x, y, w, ridge)
    np.testing.assert_allclose(coef, coef_rows, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cov, cov_rows, rtol=1e-9, atol=1e-14)
    # the unpenalised factor model is saturated per level: the fitted rates add up to
    # the weighted events of every level (the Poisson score equations)
    if ridge == 0.0:
        for j in (1, 2):
            m = x[:, j] == 1
            assert (w[m] * np.exp(x[m] @ coef)).sum() == pytest.approx((w[m] * y[m]).sum(), rel=1e-8)


def test_continuous_design_stays_row_level() -> None:
    """A design without repeated rows is not collapsed (nothing to gain)."""
    rng = np.random.default_rng(2)
    x = np.column_stack([np.ones(500), rng.normal(size=500)])
    assert poisson_cells(x, np.zeros(500), np.ones(500), hazards.CELL_SHARE_MAX) is None
