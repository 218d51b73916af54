"""Fits on cells equal fits on rows; the bootstrap of several weights equals one per weight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import analysis.causes.model as onset_model
from analysis.causes import at_risk_months, fit_onset
from analysis.causes.glm import collapse_rows, logit_fit, mnlogit_fit
from analysis.causes.shares import bootstrap_share_tables, bootstrap_shares, segment_codes
from analysis.episodes import build_episodes
from tests.causes.test_causes import SIGNALS, simulate


def _rows(table: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (constant, x) and y from (x, events, non-events) counts."""
    x, y = [], []
    for xv, ev, non in table:
        x += [xv] * (ev + non)
        y += [1] * ev + [0] * non
    return np.column_stack([np.ones(len(x)), x]).astype(float), np.asarray(y, dtype=float)


def test_binary_logit_on_two_cells_is_the_two_by_two_table_by_hand() -> None:
    """x = 0: 10 onsets in 50 rows; x = 1: 30 in 60. The logit's intercept is the log-odds
    at x = 0, log(10/40); its slope the log odds ratio log((30/30) / (10/40)) = log 4, with
    standard error sqrt(1/10 + 1/40 + 1/30 + 1/30)."""
    x, y = _rows([(0, 10, 40), (1, 30, 30)])
    cells = collapse_rows(x, y)
    assert len(cells.x) == 2
    np.testing.assert_array_equal(cells.counts, [[40, 10], [30, 30]])
    on_cells = logit_fit(cells.x, cells.counts[:, 1], cells.trials)
    on_rows = logit_fit(x, y)
    hand = [np.log(10 / 40), np.log(4.0)]
    se_slope = np.sqrt(1 / 10 + 1 / 40 + 1 / 30 + 1 / 30)
    for fit in (on_cells, on_rows):
        np.testing.assert_allclose(fit.params, hand, rtol=1e-10)
        assert np.sqrt(fit.cov[1, 1]) == pytest.approx(se_slope, rel=1e-10)
        assert np.sqrt(fit.cov[0, 0]) == pytest.approx(np.sqrt(1 / 10 + 1 / 40), rel=1e-10)


def test_onset_logit_on_flags_equals_statsmodels_on_rows() -> None:
    """A small book whose signals are three flags: the onset design has at most 8 distinct
    rows, so the fit runs on cells; it equals statsmodels' Logit on every loan-month row."""
    book, _ = simulate(n_loans=400, n_months=18, seed=5)
    sig = book.signals.assign(
        demand_change=(book.signals["demand_change"] < -0.5).astype(float),
        revenue_volatility=(book.signals["revenue_volatility"] > 0.5).astype(float),
    )
    book = dataclasses.replace(book, signals=sig)
    risk = at_risk_months(book, build_episodes(book))
    model, frame = fit_onset(risk, book, SIGNALS, controls=False)
    X = np.column_stack([np.ones(len(frame)), model.design.matrix(frame)])
    assert len(collapse_rows(X, frame["is_onset"].to_numpy()).x) <= 8 < len(X) // 100
    ref = sm.Logit(frame["is_onset"].to_numpy(float), X).fit(disp=0, method="newton")
    np.testing.assert_allclose(model.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(model.cov, ref.cov_params(), rtol=1e-8)


def test_multinomial_logit_on_cells_equals_statsmodels_on_rows() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.integers(0, 4, n)]).astype(float)
    eta = np.column_stack([np.zeros(n), X @ [-0.5, 0.8, 0.2], X @ [0.3, -0.4, -0.3]])
    prob = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)[:, :2]).sum(axis=1)
    cells = collapse_rows(X, y, 3)
    assert len(cells.x) == 8
    fit = mnlogit_fit(cells.x, cells.counts, np.zeros(6), np.zeros(6))
    ref = sm.MNLogit(y, X).fit(disp=0, method="newton")
    np.testing.assert_allclose(fit.params, np.asarray(ref.params).ravel(order="F"), rtol=1e-8)
    np.testing.assert_allclose(fit.cov, ref.cov_params(), rtol=1e-8, atol=1e-14)


def test_collapse_keeps_continuous_rows_and_maps_every_row_back() -> None:
    rng = np.random.default_rng(0)
    cont = rng.normal(size=(5000, 3))
    cells = collapse_rows(cont, rng.integers(0, 2, 5000))
    assert len(cells.x) == 5000 and cells.counts.sum() == 5000  # nothing to group
    disc = rng.integers(0, 3, (5000, 2)).astype(float)
    y = rng.integers(0, 3, 5000)
    cells = collapse_rows(disc, y, 3)
    assert len(cells.x) == 9
    np.testing.assert_array_equal(cells.x[cells.inverse], disc)
    np.testing.assert_array_equal(cells.counts.sum(axis=0), np.bincount(y, minlength=3))


def test_onset_logit_singular_solve_falls_back_to_ridge(monkeypatch) -> None:
    book, _ = simulate(n_loans=300, n_months=18, seed=2)
    risk = at_risk_months(book, build_episodes(book))
    plain, _ = fit_onset(risk, book, SIGNALS, controls=False)
    assert plain.note == ""

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(onset_model, "logit_fit", singular)
    model, _ = fit_onset(risk, book, SIGNALS, controls=False)
    assert "LinAlgError" in model.note
    np.testing.assert_allclose(model.signal_beta(), plain.signal_beta(), atol=0.1)


def test_two_weights_in_one_pass_equal_one_call_per_weight() -> None:
    """One draw of p per replicate serves both weights; each weight keeps its own Poisson
    stream, so the tables are those of separate calls (segments with NaN replicates too)."""
    rng = np.random.default_rng(7)
    n = 60
    p = rng.dirichlet(np.ones(3), n)
    frame = pd.DataFrame({"start_month": pd.Timestamp("2024-01-31")
                          + pd.to_timedelta(rng.integers(0, 4, n) * 31, "D"),
                          "region": rng.choice(["a", "b", "c"], n)})
    segs = segment_codes(frame)
    loans = rng.integers(0, 25, n)
    ead = rng.uniform(1, 5, n)
    draws = rng.dirichlet(np.ones(3), (9, n))
    kw = dict(n_boot=9, level=0.9, min_cell=1, method="m")
    both, trends = bootstrap_share_tables(
        p, {"count": np.ones(n), "balance": ead}, loans, segs, draw_p=lambda b: draws[b],
        rngs={"count": np.random.default_rng(1), "balance": np.random.default_rng(2)}, **kw)
    single = [bootstrap_shares(p, v, loans, segs, draw_p=lambda b: draws[b],
                               rng=np.random.default_rng(s), weight=w, **kw)
              for w, v, s in (("count", np.ones(n), 1), ("balance", ead, 2))]
    pd.testing.assert_frame_equal(both, pd.concat([t for t, _ in single], ignore_index=True))
    pd.testing.assert_frame_equal(trends, pd.concat([t for _, t in single], ignore_index=True))
    whole = both[both["segment_type"] == "all"].set_index(["weight", "family"])["share"]
    np.testing.assert_allclose(whole.loc["count"], p.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(whole.loc["balance"], ead @ p / ead.sum(), rtol=1e-12)
    region_a = frame["region"].to_numpy() == "a"
    got = both.query("segment_type == 'region' and segment == 'a' and weight == 'count'")
    np.testing.assert_allclose(got["share"], p[region_a].mean(axis=0), rtol=1e-12)
