"""Portfolio KPIs on tiny hand-made books whose answers were worked out by hand."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.book import Book
from analysis.definitions import DPD_BUCKETS, LOAN_CATEGORIES
from analysis.errors import InputError, ParameterError
from analysis.kpis import metrics as M
from tests.helpers.books import tiny_book


def make_book(spec: dict[str, dict], relief: list[tuple[str, str, str]] | None = None) -> Book:
    """:func:`_books.tiny_book` with a balance of 100 and a 12-month term by default.
    ``relief``: (loan_id, granted_date, measure)."""
    spec = {lid: {"balance": 100.0, "term_months": 12, **s} for lid, s in spec.items()}
    rows = [{"loan_id": lid, "granted_date": g, "measure": m} for lid, g, m in relief or []]
    return tiny_book(spec, relief=rows)


# ----------------------------------------------------------------------------- overdue

OVERDUE_SPEC = {
    "A": {"first": "2024-01", "dpd": [0, 0], "balance": 100},
    "B": {"first": "2024-01", "dpd": [5, 0], "balance": 300},
    "C": {"first": "2024-01", "dpd": [45, 75], "balance": 200, "borrower_type": "individual"},
    "D": {"first": "2024-01", "dpd": [120, 150], "balance": 400, "borrower_type": "individual"},
    # written off (excluded from the active book) and repaid (balance 0: excluded)
    "E": {"first": "2024-01", "dpd": [200, 230], "balance": 50, "write_off": {0: 50.0}},
    "F": {"first": "2024-01", "dpd": [0, 0], "balance": 0},
}


def test_overdue_rates_count_and_balance_weighted():
    od = M.overdue_rates(make_book(OVERDUE_SPEC))
    jan = od[od["month"] == pd.Timestamp("2024-01-31")].iloc[0]
    assert (jan["segment_type"], jan["segment"]) == ("all", "all")
    assert jan["n_loans"] == 4 and jan["n_overdue"] == 3
    assert jan["overdue_rate_count"] == pytest.approx(0.75)
    assert jan["balance"] == 1000 and jan["overdue_balance"] == 900
    assert jan["overdue_rate_balance"] == pytest.approx(0.9)
    assert jan["rate_30plus_count"] == pytest.approx(0.5)
    assert jan["rate_30plus_balance"] == pytest.approx(0.6)
    assert jan["rate_90plus_count"] == pytest.approx(0.25)
    assert jan["rate_90plus_balance"] == pytest.approx(0.4)
    feb = od[od["month"] == pd.Timestamp("2024-02-29")].iloc[0]
    assert feb["n_overdue"] == 2 and feb["overdue_rate_balance"] == pytest.approx(0.6)


def test_overdue_rates_threshold_and_segments():
    book = make_book(OVERDUE_SPEC)
    od30 = M.overdue_rates(book, overdue_dpd=30)
    assert od30["n_overdue"].iloc[0] == 2
    seg = M.overdue_rates(book, by="borrower_type").set_index(["month", "segment"])
    micro = seg.loc[(pd.Timestamp("2024-01-31"), "micro_enterprise")]
    assert micro["n_loans"] == 2 and micro["overdue_rate_count"] == pytest.approx(0.5)
    assert micro["overdue_rate_balance"] == pytest.approx(0.75)
    ind = seg.loc[(pd.Timestamp("2024-01-31"), "individual")]
    assert ind["overdue_rate_count"] == 1.0
    assert ind["rate_90plus_balance"] == pytest.approx(400 / 600)
    assert set(seg["segment_type"]) == {"borrower_type"}
    with pytest.raises(ParameterError, match="by='colour'"):
        M.overdue_rates(book, by="colour")


# ----------------------------------------------------------------------------- roll rates

ROLL_SPEC = {
    "A": {"first": "2024-01", "dpd": [0, 0, 0], "balance": 100},
    "B": {"first": "2024-01", "dpd": [0, 15, 45], "balance": 200},
    # 90+ -> written off (partial write-off in Feb); stays written off although DPD -> 0
    "C": {"first": "2024-01", "dpd": [95, 125, 0], "balance": 300, "write_off": {1: 100.0}},
    "D": {"first": "2024-01", "dpd": [0, 0], "balance": [400, 0]},  # repaid in Feb
    "E": {"first": "2024-01", "dpd": [0], "balance": 500},  # rows stop with a balance
    # written off in Jan with nothing left; no later rows: still written off in Feb
    "G": {"first": "2024-01", "dpd": [180], "balance": 0, "write_off": {0: 80.0}},
}


def _share(rr: pd.DataFrame, f: str, t: str) -> float:
    row = rr[(rr["from_bucket"] == f) & (rr["to_bucket"] == t)]
    assert len(row) == 1
    return float(row["share"].iloc[0])


def test_roll_rates_count_pooled():
    rr = M.roll_rates(make_book(ROLL_SPEC))
    assert len(rr) == len(DPD_BUCKETS) * (len(DPD_BUCKETS) + 1)
    assert rr["period_start"].iloc[0] == pd.Timestamp("2024-02-29")
    assert rr["period_end"].iloc[0] == pd.Timestamp("2024-03-31")
    # from current: A twice -> current, B -> 1-29, D -> closed (E not counted)
    assert _share(rr, "current", "current") == pytest.approx(0.5)
    assert _share(rr, "current", "1-29") == pytest.approx(0.25)
    assert _share(rr, "current", "closed") == pytest.approx(0.25)
    assert rr.loc[rr["from_bucket"] == "current", "n"].sum() == 4
    assert _share(rr, "1-29", "30-59") == 1.0
    assert _share(rr, "90+", "written_off") == 1.0
    # absorbing: C (Feb -> Mar, DPD back to 0) and G (no row in Feb)
    wo = rr[rr["from_bucket"] == "written_off"].set_index("to_bucket")
    assert wo.loc["written_off", "n"] == 2 and wo.loc["written_off", "share"] == 1.0
    assert wo.drop(index="written_off")["share"].eq(0).all()
    assert rr.loc[rr["from_bucket"] == "30-59", "share"].isna().all()  # no transition
    assert rr["weight"].eq("count").all()


def test_roll_rates_balance_weighted_and_matrix():
    rr = M.roll_rates(make_book(ROLL_SPEC), weight="balance")
    # from current: A 100 + 100 -> current, B 200 -> 1-29, D 400 -> closed
    assert _share(rr, "current", "current") == pytest.approx(200 / 800)
    assert _share(rr, "current", "1-29") == pytest.approx(200 / 800)
    assert _share(rr, "current", "closed") == pytest.approx(400 / 800)
    mat = M.roll_matrix(rr)
    assert list(mat.index) == list(DPD_BUCKETS)
    assert list(mat.columns) == [*DPD_BUCKETS, "closed"]
    assert mat.loc["written_off", "written_off"] == 1.0  # G has balance 0: by definition
    assert mat.loc["90+", "written_off"] == 1.0
    assert mat.loc["current", "closed"] == pytest.approx(0.5)
    assert mat.loc["60-89"].isna().all()
    sums = mat.sum(axis=1, min_count=1).dropna()
    np.testing.assert_allclose(sums, 1.0)
    counts = M.roll_matrix(rr, values="n")
    assert counts.loc["current"].sum() == 4


def test_roll_rates_per_month_and_window():
    book = make_book(ROLL_SPEC)
    pm = M.roll_rates(book, per_month=True)
    feb = pm[pm["period_end"] == pd.Timestamp("2024-02-29")]
    assert _share(feb, "current", "closed") == pytest.approx(1 / 3)
    mar = pm[pm["period_end"] == pd.Timestamp("2024-03-31")]
    assert _share(mar, "current", "current") == 1.0
    last = M.roll_rates(book, months=1)
    assert last["period_start"].iloc[0] == pd.Timestamp("2024-03-31")
    assert last.loc[last["from_bucket"] == "current", "n"].sum() == 1
    with pytest.raises(ParameterError):
        M.roll_matrix(pm)
    with pytest.raises(ParameterError, match="weight"):
        M.roll_rates(book, weight="loans")


# ----------------------------------------------------------------------------- vintages

VINTAGE_SPEC = {
    "L1": {"first": "2024-01", "dpd": [0, 35, 0, 0, 0, 0], "origination": "2024-01-15"},
    # never 30+ DPD, but written off in June: bad from then on
    "L2": {"first": "2024-01", "dpd": [0] * 6, "origination": "2024-01-20",
           "write_off": {5: 50.0}},
    "L3": {"first": "2024-03", "dpd": [0, 0, 95, 0], "origination": "2024-03-02"},
    "L4": {"first": "2024-04", "dpd": [0, 40, 100], "origination": "2024-04-10"},
    "L5": {"first": "2024-04", "dpd": [0, 0], "balance": [100, 0], "origination": "2024-04-30"},
}


def _curve(vc: pd.DataFrame, cohort: str) -> pd.DataFrame:
    return vc[vc["cohort"] == cohort].set_index("months_on_book")


def test_vintage_curves_two_cohorts_30plus():
    vc = M.vintage_curves(make_book(VINTAGE_SPEC), dpd_threshold=30)
    q1, q2 = _curve(vc, "2024Q1"), _curve(vc, "2024Q2")
    assert q1["n_loans"].eq(3).all() and q2["n_loans"].eq(2).all()
    assert list(q1["n_observed"]) == [3, 3, 3, 3, 2, 2]  # L3 is observed to month 3 only
    assert list(q1["n_ever"]) == [0, 1, 2, 2, 1, 2]
    np.testing.assert_allclose(q1["share_ever"], [0, 1 / 3, 2 / 3, 2 / 3, 0.5, 1.0])
    assert list(q2.index) == [0, 1, 2]
    np.testing.assert_allclose(q2["share_ever"], [0, 0.5, 0.5])  # L5 repaid: stays in
    assert vc["dpd_threshold"].eq(30).all()


def test_vintage_curves_90plus_and_segments():
    book = make_book(VINTAGE_SPEC)
    vc = M.vintage_curves(book, dpd_threshold=90)
    np.testing.assert_allclose(_curve(vc, "2024Q1")["share_ever"], [0, 0, 1 / 3, 1 / 3, 0, 0.5])
    np.testing.assert_allclose(_curve(vc, "2024Q2")["share_ever"], [0, 0, 0.5])
    monthly = M.vintage_curves(book, cohort_freq="M")
    assert set(monthly["cohort"]) == {"2024-01", "2024-03", "2024-04"}
    seg = M.vintage_curves(book, by="region")
    assert set(seg["segment_type"]) == {"region"} and set(seg["segment"]) == {"zhejiang"}
    pd.testing.assert_series_equal(
        seg["share_ever"].reset_index(drop=True),
        M.vintage_curves(book)["share_ever"].reset_index(drop=True),
    )


# ----------------------------------------------------------------------------- classification

BOUNDARY_DPD = {"n0": 0, "s1": 1, "s90": 90, "b91": 91, "b270": 270, "d271": 271,
                "d360": 360, "l361": 361}
EXPECTED = {"n0": "normal", "s1": "special_mention", "s90": "special_mention",
            "b91": "substandard", "b270": "substandard", "d271": "doubtful",
            "d360": "doubtful", "l361": "loss", "W": "loss"}


def _boundary_book() -> Book:
    spec = {k: {"first": "2024-06", "dpd": [d], "balance": 500 if k == "n0" else 100}
            for k, d in BOUNDARY_DPD.items()}
    spec["W"] = {"first": "2024-06", "dpd": [10], "balance": 100, "write_off": {0: 20.0}}
    spec["Z"] = {"first": "2024-06", "dpd": [400], "balance": 0, "write_off": {0: 90.0}}
    return make_book(spec)


def test_classification_backstops_at_boundaries():
    cat = M.loan_month_categories(_boundary_book()).set_index("loan_id")["category"]
    for lid, expected in EXPECTED.items():
        assert cat[lid] == expected, lid
    assert cat["Z"] == "loss"
    assert list(cat.cat.categories) == list(LOAN_CATEGORIES)
    grace = M.loan_month_categories(_boundary_book(), technical_grace_days=7)
    assert grace.set_index("loan_id").loc["s1", "category"] == "normal"


def test_classification_shares():
    cl = M.loan_classification(_boundary_book()).set_index("category")
    assert len(cl) == 5 and cl.loc["normal", "category_zh"] == "正常"
    # Z has no balance left (off the balance sheet); W keeps 100 in loss
    assert cl["n_loans"].tolist() == [1, 2, 2, 2, 2]
    np.testing.assert_allclose(cl["share_count"], [1 / 9, 2 / 9, 2 / 9, 2 / 9, 2 / 9])
    np.testing.assert_allclose(cl["share_balance"], [500 / 1300] + [200 / 1300] * 4)
    assert cl.loc["loss", "category_zh"] == "损失"


RELIEF_SPEC = {
    "R1": {"first": "2024-01", "dpd": [30, 0, 0, 0, 0]},  # deferral
    "R2": {"first": "2024-01", "dpd": [0, 0, 0, 0, 0]},  # counselling: no concession
    "R3": {"first": "2024-01", "dpd": [120, 0, 0, 0, 0]},  # instalment from substandard
}
RELIEF = [("R1", "2024-02-10", "deferral"), ("R2", "2024-02-10", "counselling"),
          ("R3", "2024-02-05", "instalment")]


def _cats(book: Book, **rules) -> dict[str, list[str]]:
    c = M.loan_month_categories(book, **rules)
    return {lid: list(g["category"].astype(str)) for lid, g in c.groupby("loan_id")}


def test_classification_concession_observation_period():
    book = make_book(RELIEF_SPEC, RELIEF)
    sm, n, sub = "special_mention", "normal", "substandard"
    c = _cats(book, observation_months=3)
    assert c["R1"] == [sm, sm, sm, sm, n]
    assert c["R2"] == [n] * 5
    assert c["R3"] == [sub, sub, sub, sub, n]  # cannot be better than before the grant
    c = _cats(book, observation_months=3, restructured_floor=False)
    assert c["R3"] == [sub, sm, sm, sm, n]
    c = _cats(book, observation_months=3, exempt_deferrals=True)
    assert c["R1"] == [sm, n, n, n, n] and c["R3"][1] == sub
    assert _cats(book)["R1"] == [sm] * 5  # default: 12 months
    assert _cats(book, observation_months=0)["R3"] == [sub, n, n, n, n]


# ----------------------------------------------------------------------------- outcomes

NA = pd.NA


def _episodes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": ["a", "b", "c", "d", "e"],
            "start_month": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-02-29",
                                           "2024-05-31", "2024-03-31"]),
            "borrower_type": ["micro_enterprise", "micro_enterprise", "individual",
                              "individual", "individual"],
            "is_cured": pd.array([True, True, False, NA, False], dtype="boolean"),
            "is_defaulted": pd.array([False, False, True, NA, False], dtype="boolean"),
            "is_redefaulted": pd.array([True, False, NA, NA, NA], dtype="boolean"),
            "is_censored": [False, False, False, True, False],
            "loss": [0.0, 0.0, 150.0, 999.0, 10.0],
            "ead": [100.0, 200.0, 300.0, 1000.0, 400.0],
        }
    )


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_outcome_rates_exclude_censored():
    r = M.episode_outcome_rates(_episodes()).set_index("metric")
    assert list(r.index) == ["cure_rate", "default_rate", "redefault_rate", "loss_rate", "lgd"]
    assert r.loc["cure_rate", "value"] == 0.5 and r.loc["cure_rate", "n"] == 4
    assert r.loc["default_rate", "value"] == 0.25 and r.loc["default_rate", "numerator"] == 1
    assert r.loc["redefault_rate", "value"] == 0.5 and r.loc["redefault_rate", "n"] == 2
    lo, hi = _wilson(2, 4)
    assert r.loc["cure_rate", "ci_low"] == pytest.approx(lo)
    assert r.loc["cure_rate", "ci_high"] == pytest.approx(hi)
    # loss rate: (0 + 0 + 150 + 10) / (100 + 200 + 300 + 400), the censored d left out
    assert r.loc["loss_rate", "value"] == pytest.approx(0.16) and r.loc["loss_rate", "n"] == 4
    resid = np.array([0 - 16, 0 - 32, 150 - 48, 10 - 64])
    se = math.sqrt((resid**2).sum() * 4 / 3) / 1000
    assert r.loc["loss_rate", "ci_high"] == pytest.approx(0.16 + 1.959963984540054 * se)
    assert r.loc["lgd", "value"] == 0.5 and r.loc["lgd", "n"] == 1
    assert np.isnan(r.loc["lgd", "ci_low"])  # one defaulted episode: no interval
    assert set(r["method"]) == {"wilson", "ratio_delta"}


def test_outcome_rates_by_segment():
    r = M.episode_outcome_rates(_episodes(), by="borrower_type")
    r = r.set_index(["segment", "metric"])
    assert r.loc[("micro_enterprise", "cure_rate"), "value"] == 1.0
    assert r.loc[("micro_enterprise", "loss_rate"), "value"] == 0.0
    assert r.loc[("individual", "default_rate"), "value"] == 0.5
    assert r.loc[("individual", "redefault_rate"), "n"] == 0
    assert np.isnan(r.loc[("individual", "redefault_rate"), "value"])
    assert r.loc[("individual", "loss_rate"), "value"] == pytest.approx(160 / 700)
    assert r.loc[("micro_enterprise", "lgd"), "n"] == 0
    with pytest.raises(InputError, match="is_cured"):
        M.episode_outcome_rates(_episodes().drop(columns="is_cured"))


def test_outcome_rate_intervals_cover_truth():
    """Ground truth: 400 replicate portfolios of 250 episodes; the 95 % intervals of the
    cure rate (Wilson) and of the loss rate (delta method) cover the truth ~95 % of the
    time (binomial sd of the coverage 0.011)."""
    rng = np.random.default_rng(20240601)
    reps, n = 400, 250
    ead = rng.lognormal(mean=8, sigma=0.8, size=reps * n)
    defaulted = rng.random(reps * n) < 0.2
    lgd = rng.beta(2, 3, size=reps * n)  # mean 0.4, independent of ead
    ep = pd.DataFrame(
        {
            "rep": np.repeat(np.arange(reps), n),
            "is_cured": pd.array(rng.random(reps * n) < 0.3, dtype="boolean"),
            "is_defaulted": pd.array(defaulted, dtype="boolean"),
            "loss": np.where(defaulted, lgd * ead, 0.0),
            "ead": ead,
        }
    )
    r = M.episode_outcome_rates(ep, by="rep")
    truth = {"cure_rate": 0.3, "loss_rate": 0.2 * 0.4, "lgd": 0.4}
    for metric, true in truth.items():
        sub = r[r["metric"] == metric]
        assert len(sub) == reps
        coverage = ((sub["ci_low"] <= true) & (true <= sub["ci_high"])).mean()
        assert 0.92 <= coverage <= 0.975, (metric, coverage)
        assert abs(sub["value"].mean() - true) < 0.01, metric


# ----------------------------------------------------------------------------- stacking, headline


def _segment_book() -> Book:
    rng = np.random.default_rng(3)
    spec = {}
    for i in range(30):
        dpd = np.minimum(np.cumsum(rng.integers(0, 40, size=6) * (rng.random(6) < 0.4)), 400)
        spec[f"L{i}"] = {
            "first": "2024-01",
            "dpd": list(dpd),
            "balance": list(rng.integers(1, 10, size=6) * 100),
            "borrower_type": ["micro_enterprise", "sole_proprietor", "individual"][i % 3],
            "industry": ["retail", "catering"][i % 2],
            "region": ["zhejiang", "hubei", "sichuan", "guangdong"][i % 4],
            "write_off": {5: 10.0} if i % 7 == 0 else {},
        }
    return make_book(spec, [("L1", "2024-02-15", "deferral"), ("L2", "2024-03-01", "instalment")])


@pytest.mark.parametrize(
    "func, sum_cols, keys",
    [
        (M.overdue_rates, ["n_loans", "n_overdue", "balance", "overdue_balance"], ["month"]),
        (M.loan_classification, ["n_loans", "balance"], ["month", "category"]),
        (M.roll_rates, ["n", "balance"], ["from_bucket", "to_bucket"]),
    ],
)
def test_segments_stack(func, sum_cols, keys):
    stacked = M.by_segments(func, _segment_book())
    assert set(stacked["segment_type"]) == {"all", "borrower_type", "industry", "region"}
    assert stacked.loc[stacked["segment_type"] == "all", "segment"].eq("all").all()
    total = stacked[stacked["segment_type"] == "all"].groupby(keys, observed=True)[sum_cols].sum()
    for seg_type in ("borrower_type", "industry", "region"):
        parts = stacked[stacked["segment_type"] == seg_type]
        assert parts["segment"].nunique() > 1
        summed = parts.groupby(keys, observed=True)[sum_cols].sum()
        pd.testing.assert_frame_equal(summed, total, check_dtype=False)


def test_headline_kpis():
    book = make_book(OVERDUE_SPEC)
    eps = _episodes()
    h = M.headline_kpis(book, eps, as_of="2024-01")
    assert list(h.columns) == ["metric", "segment_type", "segment", "value", "n"]
    allseg = h[h["segment_type"] == "all"].set_index("metric")
    assert allseg.loc["n_loans_active", "value"] == 4
    assert allseg.loc["balance_active", "value"] == 1000
    assert allseg.loc["overdue_rate_count", "value"] == 0.75
    assert allseg.loc["overdue_rate_count", "n"] == 4
    assert allseg.loc["rate_90plus_balance", "value"] == pytest.approx(0.4)
    # npl: D (120 days, 400) and E (written off, 50 left): 450 / 1050
    assert allseg.loc["npl_ratio_balance", "value"] == pytest.approx(450 / 1050)
    assert allseg.loc["n_episodes", "value"] == 1  # only episode a started by January
    assert allseg.loc["cure_rate", "value"] == 1.0
    latest = M.headline_kpis(book, eps).set_index(["segment", "metric"])
    assert latest.loc[("all", "cure_rate"), "n"] == 3  # a, b, c started by February
    assert latest.loc[("individual", "n_loans_active"), "value"] == 2
    assert set(h["segment_type"]) == {"all", "borrower_type"}
    recent = M.headline_kpis(book, eps, episode_window_months=1).set_index(["segment", "metric"])
    assert recent.loc[("all", "n_episodes"), "value"] == 2  # b and c started in February
    no_eps = M.headline_kpis(book, None)
    assert "cure_rate" not in set(no_eps["metric"])
    with pytest.raises(ParameterError, match="2023-12"):
        M.headline_kpis(book, eps, as_of="2023-12")
    assert M.resolve_as_of(book, "") == pd.Timestamp("2024-02-29")


def test_kpis_cli_table_and_parser():
    from analysis.cli.kpis import format_kpis, register

    text = format_kpis(M.headline_kpis(make_book(OVERDUE_SPEC), _episodes(), as_of="2024-01"),
                       pd.Timestamp("2024-01-31"))
    assert text.startswith("Headline KPIs as of 2024-01")
    assert "75.0% (n=4)" in text and "1,000" in text
    assert "individual" in text.splitlines()[1]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kpis", "--data", "x", "--as-of", "2024-01"])
    assert args.as_of == "2024-01" and callable(args.func)


def test_kpis_cli_end_to_end(tmp_path, capsys):
    pytest.importorskip("analysis.data.validate", reason="analysis.data.validate (load_book) not written yet")
    pytest.importorskip("analysis.episodes", reason="analysis.episodes not written yet")
    pytest.importorskip("analysis.cli.data", reason="analysis.cli.data not written yet")
    from analysis.cli.main import main

    book = make_book(OVERDUE_SPEC)
    book.loans.to_csv(tmp_path / "loans.csv", index=False)
    book.performance.to_csv(tmp_path / "performance.csv", index=False)
    book.relief.to_csv(tmp_path / "relief.csv", index=False)
    out = tmp_path / "out" / "kpis.csv"
    assert main(["kpis", "--data", str(tmp_path), "--as-of", "2024-01", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Headline KPIs as of 2024-01" in text and "75.0% (n=4)" in text
    table = pd.read_csv(out)
    assert {"metric", "segment_type", "segment", "value", "n", "as_of"} <= set(table.columns)
    assert main(["kpis", "--data", str(tmp_path), "--as-of", "2023-01"]) == 2
    assert "as_of" in capsys.readouterr().err


# ----------------------------------------------------------------------------- properties

_dpd_path = st.lists(st.integers(0, 420), min_size=1, max_size=8)


@st.composite
def random_books(draw):
    n = draw(st.integers(1, 6))
    spec = {}
    for i in range(n):
        dpd = draw(_dpd_path)
        bal = draw(st.lists(st.sampled_from([0.0, 50.0, 300.0]), min_size=len(dpd),
                            max_size=len(dpd)))
        wo_at = draw(st.one_of(st.none(), st.integers(0, len(dpd) - 1)))
        spec[f"L{i}"] = {
            "first": f"2024-0{draw(st.integers(1, 4))}",
            "dpd": dpd,
            "balance": bal,
            "write_off": {} if wo_at is None else {wo_at: 10.0},
            "borrower_type": draw(st.sampled_from(["micro_enterprise", "individual"])),
        }
    return make_book(spec)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=random_books())
def test_kpi_invariants(book):
    od = M.overdue_rates(book)
    for col in ("overdue_rate_count", "overdue_rate_balance", "rate_90plus_count"):
        assert od[col].between(0, 1).all()
    assert (od["rate_90plus_count"] <= od["rate_30plus_count"]).all()
    assert (od["rate_30plus_count"] <= od["overdue_rate_count"]).all()
    for weight in ("count", "balance"):
        rr = M.roll_rates(book, weight=weight, by="borrower_type")
        sums = rr.groupby(["segment", "from_bucket"], observed=True)["share"].sum(min_count=1)
        np.testing.assert_allclose(sums.dropna(), 1.0)
        wo = rr[(rr["from_bucket"] == "written_off") & (rr["to_bucket"] != "written_off")]
        assert wo["n"].eq(0).all()  # absorbing
    cat = M.loan_month_categories(book)
    assert (cat.loc[cat["written_off"], "category"] == "loss").all()
    assert (cat.loc[cat["days_past_due"] > 360, "category"] == "loss").all()
    assert (cat.loc[(cat["days_past_due"] == 0) & ~cat["written_off"], "category"]
            == "normal").all()  # no relief in these books
    cl = M.loan_classification(book)
    if len(cl):
        np.testing.assert_allclose(cl.groupby("month")["share_balance"].sum(), 1.0)
    vc = M.vintage_curves(book)
    assert (vc["n_ever"] <= vc["n_observed"]).all() and (vc["n_observed"] <= vc["n_loans"]).all()
    # the count of loans bad by k only grows while every loan is still observed
    full = vc[vc["n_observed"] == vc["n_loans"]]
    for _, g in full.groupby("cohort"):
        assert g["n_ever"].is_monotonic_increasing


# ------------------------------------------------------- integer-key paths = text group-bys
# The KPI functions group on integer codes (loan codes, segment codes) for speed; these
# reference versions are the earlier text group-by implementations, kept here to prove the
# results are identical (exact, bit for bit) on random books with awkward rows.


def _ref_loan_months(book: Book, by: str | None) -> pd.DataFrame:
    perf = book.performance
    lm = perf[["loan_id", "month", "balance", "days_past_due"]].copy()
    lm["write_off"] = perf["write_off"].fillna(0.0).astype(float)
    lm["mi"] = lm["month"].to_numpy().astype("datetime64[M]").astype(np.int64)
    first = lm["mi"].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
    lm["month"] = pd.DatetimeIndex(first) + pd.offsets.MonthEnd(0)
    codes, _ = pd.factorize(lm["loan_id"], sort=True)
    lm = lm.iloc[np.lexsort((lm["mi"].to_numpy(), codes))].reset_index(drop=True)
    lm["written_off"] = lm.groupby("loan_id", sort=False)["write_off"].cumsum() > 0
    lm[["segment_type", "segment"]] = M._segment_of(book.loans, lm["loan_id"], by)[
        ["segment_type", "segment"]]
    return lm


def _ref_roll_rates(book: Book, weight: str, by: str | None, end=None, months=None,
                    per_month: bool = False) -> pd.DataFrame:
    keys = ["segment_type", "segment"]
    lm = _ref_loan_months(book, by)
    mi = lm["mi"].to_numpy()
    data_end = int(mi.max())
    last = data_end if end is None else M._as_month(end, "end")
    first = mi.min() + 1 if months is None else last - int(months) + 1
    bal, wo = lm["balance"].to_numpy(dtype=float), lm["written_off"].to_numpy()
    state = M._bucket_codes(lm["days_past_due"].to_numpy(), wo)
    loan = lm["loan_id"].to_numpy()
    same_next = np.zeros(len(lm), dtype=bool)
    same_next[:-1] = (loan[1:] == loan[:-1]) & (mi[1:] == mi[:-1] + 1)
    nxt = np.minimum(np.arange(len(lm)) + 1, len(lm) - 1)
    next_state = np.where(bal[nxt] > 0, state[nxt], len(DPD_BUCKETS))
    next_state = np.where(wo[nxt], M._WO, next_state)
    to = np.where(wo, M._WO, np.where(same_next, next_state, -1))
    keep = (wo | (bal > 0)) & (to >= 0) & (mi + 1 >= first) & (mi + 1 <= last) & (mi < data_end)
    tr = lm.loc[keep, keys].copy()
    tr["to_mi"] = mi[keep] + 1
    tr["from_code"], tr["to_code"] = state[keep], to[keep]
    tr["n"], tr["balance"] = 1, bal[keep]
    if per_month:
        tr["period_start"] = tr["period_end"] = tr["to_mi"]
    else:
        tr["period_start"], tr["period_end"] = first, last
    gkeys = ["period_start", "period_end", *keys]
    agg = tr.groupby([*gkeys, "from_code", "to_code"], sort=True)[["n", "balance"]].sum()
    grid = tr[gkeys].drop_duplicates().merge(
        pd.DataFrame({"from_code": range(len(DPD_BUCKETS))}), how="cross"
    ).merge(pd.DataFrame({"to_code": range(len(M.ROLL_TO_BUCKETS))}), how="cross")
    out = grid.merge(agg.reset_index(), on=[*gkeys, "from_code", "to_code"], how="left")
    out[["n", "balance"]] = out[["n", "balance"]].fillna(0)
    out["n"] = out["n"].astype(np.int64)
    w = out["n"].astype(float) if weight == "count" else out["balance"]
    total = w.groupby([out[k] for k in [*gkeys, "from_code"]]).transform("sum")
    out["share"] = (w / total).where(total > 0)
    absorbing = (out["from_code"] == M._WO) & (
        out.groupby([*gkeys, "from_code"])["n"].transform("sum") > 0)
    out.loc[absorbing, "share"] = (out.loc[absorbing, "to_code"] == M._WO).astype(float)
    out["from_bucket"] = pd.Categorical.from_codes(out["from_code"], list(DPD_BUCKETS),
                                                   ordered=True)
    out["to_bucket"] = pd.Categorical.from_codes(out["to_code"], list(M.ROLL_TO_BUCKETS),
                                                 ordered=True)
    for col in ("period_start", "period_end"):
        out[col] = M._month_end(out[col].to_numpy(dtype=np.int64))
    out["weight"] = weight
    cols = [*gkeys, "weight", "from_bucket", "to_bucket", "n", "balance", "share"]
    return out[cols].reset_index(drop=True)


def _ref_categories(book: Book, observation_months: int = 12,
                    restructured_floor: bool = True) -> pd.DataFrame:
    lm = _ref_loan_months(book, None)
    code = np.digitize(lm["days_past_due"].to_numpy(), [1, 91, 271, 361])
    code = np.where(lm["written_off"].to_numpy(), 4, code)
    concession = book.measures.set_index("code")["is_concession"].astype(bool)
    rel = book.relief[book.relief["measure"].map(concession).to_numpy()]
    floor_rows = np.zeros(len(lm), dtype=np.int64)
    if len(rel) and observation_months:
        grant = rel["granted_date"].to_numpy().astype("datetime64[M]").astype(np.int64)
        floor = np.ones(len(rel), dtype=np.int64)
        keys = pd.MultiIndex.from_arrays([lm["loan_id"].to_numpy(), lm["mi"].to_numpy()])
        if restructured_floor:
            pos = keys.get_indexer(pd.MultiIndex.from_arrays([rel["loan_id"].to_numpy(),
                                                              grant - 1]))
            floor = np.maximum(floor, np.where(pos >= 0, code[np.maximum(pos, 0)], 0))
        reps = np.repeat(np.arange(len(rel)), observation_months)
        offs = np.tile(np.arange(observation_months), len(rel))
        span = pd.DataFrame({"loan_id": rel["loan_id"].to_numpy()[reps],
                             "mi": grant[reps] + offs, "floor": floor[reps]})
        span = span.groupby(["loan_id", "mi"], sort=False)["floor"].max()
        pos = keys.get_indexer(span.index)
        np.maximum.at(floor_rows, pos[pos >= 0], span.to_numpy()[pos >= 0])
    out = lm[["loan_id", "month", "mi", "balance", "days_past_due", "written_off"]].copy()
    out["category"] = pd.Categorical.from_codes(np.maximum(code, floor_rows),
                                                list(LOAN_CATEGORIES), ordered=True)
    return out


def _awkward_book(seed: int) -> Book:
    """Random book: rows shuffled or grouped, gaps, odd balances (for exact sums), write-offs,
    missing segment values, a performance loan absent from ``loans``, relief grants before,
    inside and after the data, several per loan, and counselling (no concession)."""
    rng = np.random.default_rng(seed)
    n = 80
    ids = np.array([f"L{i:03d}" for i in rng.permutation(n)], dtype=object)
    rows = []
    for lid in ids:
        start, length = rng.integers(0, 10), rng.integers(1, 14)
        months = [m for m in range(start, start + length) if rng.random() > 0.1] or [start]
        wo_at = rng.integers(0, len(months)) if rng.random() < 0.2 else -1
        for k, m in enumerate(months):
            rows.append({
                "loan_id": lid,
                "month": pd.Period("2023-01", "M") + int(m),
                "balance": 0.0 if rng.random() < 0.1 else round(float(rng.random() * 1e4), 2),
                "days_past_due": int(rng.choice([0, 0, 0, 5, 29, 30, 60, 89, 90, 91, 200, 271,
                                                 361, 400])),
                "write_off": round(float(rng.random() * 100), 2) if k == wo_at else 0.0,
            })
    perf = pd.DataFrame(rows)
    perf["month"] = perf["month"].dt.to_timestamp(how="end").dt.normalize()
    if seed == 3:  # a write-off reversed the next month (cumulative write-off back to 0)
        wo = perf.index[(perf["write_off"] > 0).to_numpy()][:3]
        perf.loc[wo + 1, "write_off"] = -perf.loc[wo, "write_off"].to_numpy()
    if seed % 2:  # shuffled rows (not grouped by loan)
        perf = perf.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    loans = pd.DataFrame({
        "loan_id": ids[1:],  # ids[0] has rows but no loan record: segment "missing"
        "borrower_type": rng.choice(["individual", "micro_enterprise"], n - 1),
        "industry": rng.choice(np.array(["retail", "farming", None], dtype=object), n - 1),
        "origination_date": pd.Timestamp("2022-12-15"),
    })
    rel_ids = rng.choice(ids, 30)
    relief = pd.DataFrame({
        "loan_id": rel_ids,
        "granted_date": pd.Timestamp("2022-10-10")
        + pd.to_timedelta(rng.integers(0, 700, 30), unit="D"),
        "measure": rng.choice(["deferral", "instalment", "rate_reduction", "counselling"], 30),
    })
    return Book(loans=loans, performance=perf, relief=relief,
                measures=make_book({"A": {"first": "2024-01", "dpd": [0]}}).measures)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_integer_key_paths_equal_text_groupbys(seed):
    book = _awkward_book(seed)
    for by in (None, "borrower_type", "industry"):
        pd.testing.assert_frame_equal(
            M.overdue_rates(book, by=by), M._overdue_table(_ref_loan_months(book, by), 1),
            check_exact=True)
        for weight, kw in (("count", {}), ("balance", {"end": "2023-09", "months": 4}),
                           ("count", {"per_month": True}), ("balance", {"per_month": True})):
            pd.testing.assert_frame_equal(M.roll_rates(book, weight=weight, by=by, **kw),
                                          _ref_roll_rates(book, weight, by, **kw),
                                          check_exact=True)
    for rules in ({}, {"observation_months": 3, "restructured_floor": False}):
        cat = M.loan_month_categories(book, **rules)
        pd.testing.assert_frame_equal(cat, _ref_categories(book, **rules), check_exact=True)
        for by in (None, "borrower_type", "industry"):
            pd.testing.assert_frame_equal(M._classification_table(cat, book.loans, by),
                                          M._classification_groupby(cat, book.loans, by),
                                          check_exact=True)
    # a category column that is plain text takes the text group-by
    text_cat = cat.assign(category=cat["category"].astype(str))
    pd.testing.assert_frame_equal(M._classification_table(text_cat, book.loans, None),
                                  M._classification_groupby(text_cat, book.loans, None))


def test_codes_of_and_month_end_match_pandas():
    for values in (["b", "b", "a", "c", "c"], ["b", "a", "b"], ["a"], [], ["a", None, "a"],
                   ["x", "x", None, None]):
        arr = np.array(values, dtype=object)
        codes, uniques = M._codes_of(arr)
        want_codes, want_uniques = pd.factorize(arr, sort=True)
        np.testing.assert_array_equal(codes, want_codes)
        np.testing.assert_array_equal(uniques, np.asarray(want_uniques, dtype=object))
    idx = np.append(np.arange(-30, 1200, 7), np.iinfo(np.int64).min)  # the last: NaT
    want = pd.DatetimeIndex(idx.astype("datetime64[M]").astype("datetime64[ns]")) + \
        pd.offsets.MonthEnd(0)
    pd.testing.assert_index_equal(M._month_end(idx), want)


def test_duplicate_loan_months_still_rejected_by_relief_lookup():
    book = _awkward_book(0)
    perf = pd.concat([book.performance, book.performance.iloc[:1]], ignore_index=True)
    dup = Book(loans=book.loans, performance=perf, relief=book.relief, measures=book.measures)
    with pytest.raises(pd.errors.InvalidIndexError):
        M.loan_month_categories(dup)
    with pytest.raises(pd.errors.InvalidIndexError):
        _ref_categories(dup)
