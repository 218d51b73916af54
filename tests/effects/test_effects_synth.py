"""Relief effects against the synthetic book's true effects (``truth/effects.csv``).

The demo book (20,000 loans, seed 1, as ``make demo`` builds it) is generated once per
session here. The coverage check over 50 seeds of a 20,000-loan book and the ground
truth check on a 1,000,000-loan book with both learners are marked slow
(``make test-slow``); their last results are written in ``benchmarks/README.md``.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_book
from analysis.effects.cells import MAX_RATE_SE, TABLE_COLUMNS
from analysis.effects.design import OUTCOMES
from analysis.effects.estimators import estimate_effects
from analysis.effects.losses import net_benefit
from analysis.effects.survival import analyse_time_to_cure
from analysis.episodes import build_episodes
from analysis.synthetic import generate_book


def _episodes_and_truth(n_loans: int, seed: int, out) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = generate_book(n_loans, seed, out)
    eps = build_episodes(load_book(path))
    return eps, pd.read_csv(path / "truth" / "effects.csv")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return _episodes_and_truth(20_000, 1, tmp_path_factory.mktemp("demo_book"))


def _joined(eps, truth, outcome, methods=("naive", "aipw"), **kw):
    r = estimate_effects(eps, outcome, methods=list(methods), **kw)
    t = r.table[r.table["segment_type"] == "all"]
    tv = truth[(truth["segment_type"] == "all") & (truth["outcome"] == outcome)]
    m = t.merge(tv[["measure", "estimand", "estimate", "n_treated", "n_control"]],
                on=["measure", "estimand"], suffixes=("", "_truth"))
    return m.assign(z=(m["estimate"] - m["estimate_truth"]) / m["std_error"])


@pytest.mark.parametrize("outcome", ["sustained_cure", "cure", "loss_rate"])
def test_aipw_within_two_se_of_truth_and_naive_biased(demo, outcome):
    """AIPW ATE and ATT of every measure vs the truth on the demo book.

    Eight correlated intervals per outcome (they share the ``none`` arm): even an exact
    95 % procedure puts one of 16 beyond 2 SE about half the time, so the test asks for
    at least 7 of 8 within 2 SE and all within 2.5 SE; calibration itself is checked
    by the coverage test over 50 books (slow). Measured on this book (seed 1): cure
    max |z| 1.3; loss_rate 7 of 8 within 2 SE, max |z| 2.17 (deferral ATE).
    """
    eps, truth = demo
    if outcome not in set(truth["outcome"]):
        pytest.skip(f"the synthetic truth has no {outcome!r} contrast yet")
    m = _joined(eps, truth, outcome)
    # the analysed population is the truth's (calendar follow-up rule)
    assert (m["n_treated"] == m["n_treated_truth"]).all() and (m["n_control"] == m["n_control_truth"]).all()
    a = m[m["method"] == "aipw"]
    assert len(a) == 8
    shown = a[["measure", "estimand", "estimate", "estimate_truth", "z"]]
    assert (a["z"].abs() < 2).sum() >= 7, shown
    assert (a["z"].abs() < 2.5).all(), shown
    naive = m[m["method"] == "naive"]
    # selection makes the raw difference overstate every measure's benefit
    assert (naive["z"].abs() > 2.5).sum() >= 4, naive[["measure", "estimand", "z"]]
    assert naive["z"].abs().mean() > 2 * a["z"].abs().mean()


def _truth_outcomes(truth: pd.DataFrame) -> list[str]:
    """The estimated outcomes the truth table carries (sustained_cure once it lands)."""
    return [o for o in OUTCOMES if o in set(truth["outcome"])]


@pytest.mark.slow
def test_aipw_coverage_over_seeds(tmp_path):
    """95% AIPW intervals of ATE and ATT (every outcome, every measure) over 50 seeds of a
    20,000-loan book with the default settings (learner 'auto': GLM at this size,
    5-fold cross-fitting) cover the truth in 92-98% of cases; prints the RMSE against
    the old path (GLM, no cross-fitting). Measured 2026-12-03: coverage 0.948 of 1,184
    intervals, RMSE 0.0364 vs 0.0330 (benchmarks/README.md, effects)."""
    hits, err_new, err_old = [], [], []
    for seed in range(1000, 1050):
        eps, truth = _episodes_and_truth(20_000, seed, tmp_path / f"b{seed}")
        for outcome in _truth_outcomes(truth):
            m = _joined(eps, truth, outcome, methods=("aipw",))
            m = m[np.isfinite(m["estimate"])]
            hits += ((m["ci_low"] <= m["estimate_truth"]) & (m["estimate_truth"] <= m["ci_high"])).tolist()
            err_new += (m["estimate"] - m["estimate_truth"]).tolist()
            old = _joined(eps, truth, outcome, methods=("aipw",), crossfit_folds=0, learner="glm")
            old = old[np.isfinite(old["estimate"])]
            err_old += (old["estimate"] - old["estimate_truth"]).tolist()
        shutil.rmtree(tmp_path / f"b{seed}", ignore_errors=True)
    coverage = float(np.mean(hits))
    print(f"AIPW 95% interval coverage: {coverage:.3f} over {len(hits)} intervals; RMSE "
          f"{np.sqrt(np.mean(np.square(err_new))):.4f} (default) vs "
          f"{np.sqrt(np.mean(np.square(err_old))):.4f} (GLM, no cross-fitting)")
    assert 0.92 <= coverage <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("learner", [
    "boosting",
    pytest.param("glm", marks=pytest.mark.xfail(
        reason="main-effects GLMs miss the generator's thresholds and interactions: measured "
               "deferral cure ATE z +4.7, ATT +4.1 on the 1M-loan book (seed 7); recorded, "
               "not required", strict=False)),
])
def test_big_book_within_three_se_of_truth(big_book, learner):
    """Every AIPW ATE and ATT of every outcome, over all episodes, within 3 SE of the
    truth on the issue's 1,000,000-loan book (seed 7). Computes and prints every z of
    every outcome first, then asserts, so a failing learner's record is complete.
    Measured 2026-12-04 (165,140 episodes; SEs 0.0024-0.0073, median 0.0047; about 3
    minutes for both learners): boosting worst |z| 1.98 / 1.50 / 1.85 (sustained cure /
    cure / loss rate), 24 of 24 within 2 SE; GLM 1.79 / 4.71 (deferral ATE; ATT 4.09) /
    2.25, 22 of 24 within 3 SE."""
    eps, truth = big_book
    print(f"\n{learner}: {len(eps):,} episodes")
    tables = {}
    for outcome in _truth_outcomes(truth):
        m = _joined(eps, truth, outcome, methods=("aipw",), learner=learner)
        ate = m[m["estimand"] == "ATE"]
        n_analysed = int(ate["n_treated"].sum() + ate["n_control"].max()) if len(ate) else 0
        tables[outcome] = m
        print(f"{outcome}: {n_analysed:,} analysed episodes")
        print(m[["outcome", "measure", "estimand", "estimate", "estimate_truth", "std_error",
                 "z"]].to_string(index=False))
    allz = pd.concat(tables.values(), ignore_index=True)
    shown = allz[["outcome", "measure", "estimand", "estimate", "estimate_truth", "std_error", "z"]]
    absz = allz["z"].abs()
    worst = {o: float(m["z"].abs().max()) for o, m in tables.items()}
    print(f"{learner}: worst |z| per outcome {worst}; within 3 SE {(absz < 3).sum()} of "
          f"{len(allz)}, within 2 SE {(absz < 2).sum()}; median SE {allz['std_error'].median():.4f}")
    for m in tables.values():
        assert len(m) == 8 and m["estimate"].notna().all(), m
    assert (absz < 3).all(), shown[absz >= 3]


@pytest.fixture(scope="module")
def big_book(tmp_path_factory):
    return _episodes_and_truth(1_000_000, 7, tmp_path_factory.mktemp("big_book"))


def test_runs_on_the_shared_episode_table(synth_episodes):
    """Every public entry point accepts the episode table of the shared 4,000-loan book."""
    for outcome in OUTCOMES:
        r = estimate_effects(synth_episodes, outcome, by=["cause_family", "borrower_type"],
                             methods=["naive", "aipw"])
        assert tuple(r.table.columns) == TABLE_COLUMNS
        assert set(r.table["segment_type"]) == {"all", "cause_family", "borrower_type"}
        # rows without an estimate are exactly the small and the imprecise cells
        small = (r.table["n_treated"] < 10) | (r.table["n_control"] < 10)
        assert (r.table.loc[small, "status"] == "too_few").all()
        shown = r.table["status"] == "ok"
        assert r.table.loc[shown, "estimate"].notna().all() and r.table.loc[~shown, "estimate"].isna().all()
        assert (r.table.loc[r.table["status"] == "imprecise", "std_error"] > MAX_RATE_SE).all()
    s = analyse_time_to_cure(synth_episodes)
    assert {"unweighted", "ipw"} == set(s.table["weighting"]) and len(s.hazard_ratios) >= 1
    nb = net_benefit(synth_episodes, by="borrower_type")
    assert nb.table.query("segment_type == 'all'")["net_benefit_cny"].notna().all()
