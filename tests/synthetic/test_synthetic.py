"""The synthetic book: contract, determinism, and realised outcomes against its own truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.data.book import Book
from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES
from analysis.episodes import build_episodes
from analysis.errors import ParameterError
from analysis.synthetic.generate import generate_book, simulate
from analysis.synthetic.truth import EFFECT_COLUMNS, SHARE_COLUMNS

N_LOANS, SEED = 4000, 7
SIGNAL_COLUMNS = ["demand_index_change", "input_cost_change", "revenue_volatility",
                  "late_filing_flag", "medical_claim_flag", "family_event_flag"]


def _measures() -> pd.DataFrame:
    return pd.DataFrame({"code": list(MEASURES), "description": list(MEASURES),
                         "is_concession": [m != "counselling" for m in MEASURES]})


def _book(b: dict) -> Book:
    return Book(loans=b["loans"], performance=b["performance"], relief=b["relief"],
                measures=_measures(), signals=b["signals"], reasons=b["reasons"],
                cause_map=b["cause_map"])


@pytest.fixture(scope="module")
def sim(synth_dir) -> dict:
    """The shared synthetic book (tests/conftest.py: 4,000 loans, seed 7) as written."""
    assert (N_LOANS, SEED) == (4000, 7)  # the conftest book
    out = {name: pd.read_parquet(synth_dir / f"{name}.parquet") for name in (
        "loans", "performance", "relief", "signals", "reasons", "cause_map")}
    t = synth_dir / "truth"
    out["truth_episodes"] = pd.read_parquet(t / "episodes.parquet")
    out["truth_potential_outcomes"] = pd.read_parquet(t / "potential_outcomes.parquet")
    out["truth_effects"] = pd.read_csv(t / "effects.csv")
    out["truth_shares"] = pd.read_csv(t / "shares.csv", dtype={"segment": str})
    return out


@pytest.fixture(scope="module")
def joined(sim, synth_episodes) -> pd.DataFrame:
    """Built episodes joined one to one with the truth (and the assigned arm's outcomes)."""
    ep = synth_episodes
    tr = sim["truth_episodes"]
    m = ep.merge(tr, on=["loan_id", "start_month"], how="outer", suffixes=("", "_true"),
                 indicator=True, validate="one_to_one")
    po = sim["truth_potential_outcomes"]
    own = po.merge(m[["loan_id", "start_month", "measure_true"]].rename(
        columns={"measure_true": "arm"}), on=["loan_id", "start_month", "arm"])
    return m.merge(own.drop(columns="arm"), on=["loan_id", "start_month"], how="left")


# --- contract ------------------------------------------------------------------------------


def test_tables_and_columns(sim):
    assert list(sim["loans"].columns[:10]) == [
        "loan_id", "borrower_id", "borrower_type", "industry", "region", "origination_date",
        "term_months", "principal", "annual_rate", "credit_score"]
    assert "firm_age_years" in sim["loans"].columns
    assert list(sim["performance"].columns) == [
        "loan_id", "month", "balance", "days_past_due", "amount_due", "amount_paid",
        "write_off", "recovery"]
    assert list(sim["relief"].columns) == [
        "loan_id", "granted_date", "measure", "deferral_months", "instalments", "rate_cut_bp",
        "counselling_sessions"]
    assert list(sim["signals"].columns) == ["loan_id", "month", *SIGNAL_COLUMNS]
    assert list(sim["reasons"].columns) == ["loan_id", "reported_date", "reason_code"]
    loans = sim["loans"]
    assert loans["loan_id"].is_unique and len(loans) == N_LOANS
    assert loans["loan_id"].str.fullmatch(r"L\d{7}").all()
    assert set(loans["borrower_type"]) == set(BORROWER_TYPES)
    assert loans["annual_rate"].between(0, 1, inclusive="left").all()
    assert (loans["principal"] > 0).all() and (loans["term_months"] > 0).all()
    cmap = sim["cause_map"]
    assert set(cmap.loc[cmap.source == "signal", "name"]) == set(SIGNAL_COLUMNS)
    assert set(sim["reasons"]["reason_code"]) <= set(cmap.loc[cmap.source == "reason", "name"])
    assert set(cmap["family"]) == set(FAMILIES)


def test_performance_contiguous_from_origination(sim):
    perf = sim["performance"]
    assert (perf["month"] == perf["month"] + pd.offsets.MonthEnd(0)).all()
    mi = perf["month"].dt.year * 12 + perf["month"].dt.month
    same = perf["loan_id"].eq(perf["loan_id"].shift())
    assert (mi.diff()[same] == 1).all(), "gaps or disorder in a loan's months"
    first = perf[~same].set_index("loan_id")["month"]
    orig = sim["loans"].set_index("loan_id")["origination_date"] + pd.offsets.MonthEnd(0)
    assert (first.sort_index() == orig.sort_index()).all()
    assert (perf[["balance", "amount_due", "amount_paid", "write_off", "recovery"]] >= 0).all().all()
    assert (perf["days_past_due"] >= 0).all()
    for table, col in (("relief", "granted_date"), ("reasons", "reported_date")):
        x = sim[table].merge(sim["loans"][["loan_id", "origination_date"]], on="loan_id")
        assert (x[col] >= x["origination_date"]).all() and (x[col] <= perf["month"].max()).all()
    rows = perf.groupby("loan_id").size()
    assert 20 <= rows.mean() <= 36
    assert perf[["loan_id", "month"]].equals(sim["signals"][["loan_id", "month"]])


def test_relief_parameters_belong_to_their_measure(sim):
    rel = sim["relief"]
    for m, col in {"deferral": "deferral_months", "instalment": "instalments",
                   "rate_reduction": "rate_cut_bp", "counselling": "counselling_sessions"}.items():
        assert rel.loc[rel.measure == m, col].notna().all()
        assert rel.loc[rel.measure != m, col].isna().all()
    assert set(rel["measure"]) == set(MEASURES)


def test_validates_with_load_book(tmp_path):
    from analysis.data import load_book

    out = generate_book(1500, 3, tmp_path / "book")
    book = load_book(out)
    assert len(book.loans) == 1500 and book.signals is not None
    for name in ("episodes.parquet", "potential_outcomes.parquet", "effects.csv", "shares.csv",
                 "params.json"):
        assert (out / "truth" / name).exists()


def test_chunked_parts_equal_in_memory(tmp_path):
    from analysis.data import load_book

    out = generate_book(2500, 5, tmp_path / "parts", chunk_loans=1000)
    assert sorted(p.name for p in (out / "performance").iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(3)]
    mem = simulate(2500, 5, chunk_loans=1000)
    book = load_book(out)
    loaded = book.performance[list(mem["performance"].columns)].reset_index(drop=True)
    # the loader holds IDs as categories (analysis.data.schema.category_columns)
    loaded = loaded.astype({"loan_id": str})
    pd.testing.assert_frame_equal(loaded, mem["performance"], check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "truth" / "episodes.parquet"),
                                  mem["truth_episodes"])


def test_deterministic_and_seed_dependent():
    a, b, c = simulate(1200, 11), simulate(1200, 11), simulate(1200, 12)
    for name in ("loans", "performance", "relief", "signals", "reasons", "truth_episodes",
                 "truth_potential_outcomes", "truth_effects"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["performance"]["days_past_due"].equals(c["performance"]["days_past_due"])
    assert not a["loans"]["principal"].equals(c["loans"]["principal"])


def test_bad_sizes_raise():
    with pytest.raises(ParameterError):
        simulate(0, 1)


def test_cli_synth(tmp_path, capsys):
    from analysis.cli.main import main

    assert main(["synth", "--loans", "300", "--seed", "2", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "loans.parquet").exists()
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--loans", "0", "--out", str(tmp_path / "t")])
    assert exc.value.code == 2
    (tmp_path / "file").write_text("x")
    assert main(["synth", "--loans", "10", "--out", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err


# --- realised outcomes against the truth ----------------------------------------------------


def test_episodes_match_truth_one_to_one(joined):
    assert (joined["_merge"] == "both").all()
    assert (joined["measure"] == joined["measure_true"]).all()
    assert (joined["borrower_type"] == joined["borrower_type_true"]).all()
    assert (joined["is_censored"] == joined["is_censored_true"]).all()  # same calendar rule
    obs = joined[~joined["is_censored_true"]]
    drawn = obs["drawn_outcome"]
    assert (obs["is_cured"].astype(bool) == (drawn == "cure")).all()
    assert (obs["is_defaulted"].astype(bool) == (drawn == "default")).all()
    known = obs["is_redefaulted"].notna()
    assert (obs.loc[known, "is_redefaulted"].astype(bool) == obs.loc[known, "drawn_redefault"]).all()


def test_paths_show_the_documented_patterns(sim, joined):
    perf = sim["performance"]
    wo = perf[perf.write_off > 0]
    assert len(wo) > 0 and (wo["days_past_due"] >= 150).all()
    assert (perf.loc[perf.write_off > 0, "balance"] == 0).all()
    rec_loans = set(perf.loc[perf.recovery > 0, "loan_id"])
    assert rec_loans and rec_loans <= set(wo["loan_id"])
    # false cures: a clean month inside an episode that ends later
    d = perf["days_past_due"].to_numpy()
    same = perf["loan_id"].eq(perf["loan_id"].shift()).to_numpy()
    relapse = same[1:-1] & same[2:] & (d[:-2] > 0) & (d[1:-1] == 0) & (d[2:] > 0)
    assert relapse.sum() > 10
    assert (joined["months_to_cure"][joined["is_cure_observed"]] > 6).any()  # late cures
    assert joined["is_redefaulted"].fillna(False).astype(bool).sum() > 10
    assert (joined["dpd_at_start"].between(1, 29)).all()
    # some relief outside the window: more grants than treated episodes
    assert len(sim["relief"]) > (joined["measure"] != "none").sum()


def _se(p: pd.Series) -> float:
    return float(np.sqrt((p * (1 - p)).sum()) / len(p))


@pytest.mark.parametrize("arm", ["none", *MEASURES])
def test_realised_rates_match_potential_outcomes(joined, arm):
    g = joined[~joined["is_censored_true"] & (joined["measure_true"] == arm)]
    assert len(g) >= 20
    cure = g["is_cured"].astype(float)
    assert abs(cure.mean() - g["p_cure"].mean()) <= 4 * _se(g["p_cure"])
    dflt = g["is_defaulted"].astype(float)
    assert abs(dflt.mean() - g["p_default"].mean()) <= 4 * _se(g["p_default"])
    loss = g["loss_rate"]
    assert abs(loss.mean() - g["exp_loss_rate"].mean()) <= 4 * loss.std() / np.sqrt(len(g))


def test_naive_comparison_is_biased(sim, joined):
    """Relief goes to borrowers who cure anyway: any relief vs none, naive vs true ATE."""
    obs = joined[~joined["is_censored_true"]]
    eff = sim["truth_effects"].query("outcome == 'cure' and estimand == 'ATE' "
                                     "and segment_type == 'all'").set_index("measure")
    treated = obs["measure_true"] != "none"
    t = obs.loc[treated, "is_cured"].astype(float)
    c = obs.loc[~treated, "is_cured"].astype(float)
    naive = t.mean() - c.mean()
    se = np.sqrt(t.var() / len(t) + c.var() / len(c))
    w = eff["n_treated"]
    true = float((eff["estimate"] * w).sum() / w.sum())
    assert (naive - true) / se > 3, (naive, true, se)


# --- truth tables -----------------------------------------------------------------------------


def test_effects_table_recomputes(sim):
    eff, tr, po = sim["truth_effects"], sim["truth_episodes"], sim["truth_potential_outcomes"]
    assert list(eff.columns) == EFFECT_COLUMNS
    assert set(eff["outcome"]) == {"cure", "redefault", "loss_rate", "sustained_cure"}
    assert set(eff["segment_type"]) == {"all", "cause_family", "borrower_type"}
    assert (eff["method"] == "truth").all() and eff["std_error"].isna().all()
    wide = po.pivot_table(index=["loan_id", "start_month"], columns="arm",
                          values=["p_cure", "p_redefault"])
    wide.columns = list(wide.columns)  # tuples (value, arm)
    e = tr.set_index(["loan_id", "start_month"]).join(wide)
    e = e[~e["is_censored"]]
    for m in ("deferral", "counselling"):
        diff = e[("p_cure", m)] - e[("p_cure", "none")]
        row = eff.query("outcome == 'cure' and measure == @m and segment_type == 'all'")
        assert row.set_index("estimand")["estimate"]["ATE"] == pytest.approx(diff.mean())
        assert row.set_index("estimand")["estimate"]["ATT"] == pytest.approx(
            diff[e["measure"] == m].mean())
        assert row["n_treated"].iloc[0] == (e["measure"] == m).sum()
        assert row["n_control"].iloc[0] == (e["measure"] == "none").sum()
        sub = e[e["family"] == "management"]

        def rate(a, s=sub):
            return (s[("p_cure", a)] * s[("p_redefault", a)]).sum() / s[("p_cure", a)].sum()

        red = eff.query("outcome == 'redefault' and measure == @m and estimand == 'ATE' "
                        "and segment == 'management'")["estimate"].item()
        assert red == pytest.approx(rate(m) - rate("none"))


def test_sustained_cure_truth_recomputes_over_its_own_population(sim):
    """sustained_cure: mean of p_cure (1 - p_redefault) contrasts over the episodes whose
    start + 6 + 3 - 1 + 12 = start + 20 months the data cover (a smaller population)."""
    eff, tr, po = sim["truth_effects"], sim["truth_episodes"], sim["truth_potential_outcomes"]
    start = tr["start_month"].dt.to_period("M")
    end = pd.Period("2024-12", "M")  # the book's last month-end
    months_left = np.array([(end - s).n for s in start])
    assert (tr["is_sustained_censored"].to_numpy() == (months_left < 20)).all()
    assert (tr["is_sustained_censored"] >= tr["is_censored"]).all()
    held = po.assign(held=po["p_cure"] * (1 - po["p_redefault"])).pivot_table(
        index=["loan_id", "start_month"], columns="arm", values="held")
    e = tr.set_index(["loan_id", "start_month"]).join(held)
    e = e[~e["is_sustained_censored"]]
    for m in MEASURES:
        diff = e[m] - e["none"]
        row = eff.query("outcome == 'sustained_cure' and measure == @m and segment_type == 'all'")
        est = row.set_index("estimand")["estimate"]
        assert est["ATE"] == pytest.approx(diff.mean())
        assert est["ATT"] == pytest.approx(diff[e["measure"] == m].mean())
        assert row["n_treated"].iloc[0] == (e["measure"] == m).sum()
        by_type = eff.query("outcome == 'sustained_cure' and measure == @m and estimand == 'ATE' "
                            "and segment == 'individual'")["estimate"].item()
        assert by_type == pytest.approx(diff[e["borrower_type"] == "individual"].mean())


def test_measured_sustained_cure_is_the_drawn_one(joined):
    """Same calendar rule as the truth; where known, is_sustained_cure is exactly a drawn
    cure without a drawn re-default (so the truth's probability is its expectation)."""
    assert (joined["is_sustained_cure"].isna() == joined["is_sustained_censored"]).all()
    obs = joined[~joined["is_sustained_censored"]]
    assert len(obs) > 300
    drawn = (obs["drawn_outcome"] == "cure") & ~obs["drawn_redefault"]
    assert (obs["is_sustained_cure"].astype(bool) == drawn).all()
    held = obs["p_cure"] * (1 - obs["p_redefault"])
    assert abs(drawn.mean() - held.mean()) <= 4 * _se(held)


def test_effects_differ_by_cause_as_documented(sim):
    eff = sim["truth_effects"].query("outcome == 'cure' and estimand == 'ATE' "
                                     "and segment_type == 'cause_family'")
    best = eff.loc[eff.groupby("segment")["estimate"].idxmax()].set_index("segment")["measure"]
    assert best["economic"] == "deferral"
    assert best["management"] == "counselling"
    assert best["personal"] in ("instalment", "rate_reduction")


def test_shares_and_true_family_probabilities(sim):
    sh, tr = sim["truth_shares"], sim["truth_episodes"]
    assert list(sh.columns) == SHARE_COLUMNS
    assert np.allclose(sh.groupby(["segment_type", "segment"])["share"].sum(), 1.0)
    overall = sh[sh.segment_type == "all"].set_index("family")["share"]
    assert overall.to_dict() == pytest.approx(tr["family"].value_counts(normalize=True).to_dict())
    p = tr[[f"p_true_{f}" for f in FAMILIES]].to_numpy()
    assert np.allclose(p.sum(axis=1), 1.0)
    assert 0.8 <= p.max(axis=1).mean() <= 0.97  # the best any method can do
    assert overall.min() > 0.12


def test_signals_carry_noisy_information_about_the_family(joined):
    import statsmodels.api as sm

    X = sm.add_constant(joined[SIGNAL_COLUMNS].astype(float))
    y = joined["family"].map({f: i for i, f in enumerate(FAMILIES)})
    fit = sm.MNLogit(y, X).fit(disp=0)
    acc = (fit.predict(X).to_numpy().argmax(axis=1) == y.to_numpy()).mean()
    assert 0.75 <= acc <= 0.95


def test_every_arm_in_every_cell(joined):
    for col in ("borrower_type", "family"):
        cells = pd.crosstab(joined[col], joined["measure"])
        assert (cells > 0).all().all() and cells.shape == (3, 5)
    ps = joined[[c for c in joined.columns if c.startswith("propensity_")]]
    assert np.allclose(ps.sum(axis=1), 1.0) and (ps.to_numpy() > 0).all()


def test_redefault_draws_match_their_probabilities(joined):
    cured = joined[~joined["is_censored_true"] & (joined["drawn_outcome"] == "cure")]
    drawn = cured["drawn_redefault"].astype(float)
    assert abs(drawn.mean() - cured["p_redefault"].mean()) <= 4 * _se(cured["p_redefault"])


# --- DPD scripts (property test) --------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), t0=st.integers(0, 47))
def test_scripts_realise_their_branch(seed, t0):
    from analysis.synthetic.macro import make_macro
    from analysis.synthetic.params import SynthParams
    from analysis.synthetic.paths import (
        CLEAN,
        CLEAN_FALSE,
        CURE,
        DEFAULT,
        NEITHER,
        WRITE_OFF,
        build_scripts,
    )

    p = SynthParams()
    dim = make_macro(p, 0).days_in_month
    rng = np.random.default_rng(seed)
    e = 300
    branch = rng.integers(0, 3, e)
    due = rng.integers(5, 28, e)
    sc = build_scripts(branch, t0, due, dim, rng, p)
    k = np.arange(sc.kind.shape[1])[None, :]
    inside = k < sc.length[:, None]
    dpd = np.where(inside, sc.dpd, 0)
    assert (dpd[:, 0] >= 1).all() and (dpd[:, 0] <= 26).all()
    first90 = np.where((dpd >= 90).any(axis=1), (dpd >= 90).argmax(axis=1), 99)
    wo = np.where((sc.kind == WRITE_OFF).any(axis=1), (sc.kind == WRITE_OFF).argmax(axis=1), 99)
    ret = sc.return_offset
    # cure within the horizon: never 90+, three clean month-ends from the return month
    c = branch == CURE
    assert (first90[c] == 99).all() and ((ret[c] >= 1) & (ret[c] <= 6)).all()
    for j in range(3):
        assert (sc.kind[c, ret[c] + j] == CLEAN).all()
    assert (sc.length[c] == ret[c] + 3).all()
    # default within the horizon: 90+ at 3..6, write-off 3 months later, then recoveries
    d = branch == DEFAULT
    assert ((first90[d] >= 3) & (first90[d] <= 6)).all() and (wo[d] == first90[d] + 3).all()
    assert sc.closes[d].all()
    # neither: no 90+ and no write-off within the horizon; late cure or late default
    n = branch == NEITHER
    assert (first90[n] > 6).all() and (wo[n] > 6).all()
    late_cure = n & (ret > 0)
    assert ((ret[late_cure] >= 7) & (first90[late_cure] == 99)).all()
    assert ((first90[n & ~late_cure] >= 7) & (first90[n & ~late_cure] <= 9)).all()
    # before the final return, every clean month is followed by a relapse (false cure)
    clean_early = (sc.kind == CLEAN_FALSE) & (k < ret[:, None])
    rows, cols = np.nonzero(clean_early)
    assert (sc.dpd[rows, cols + 1] > 0).all()


@pytest.mark.slow
def test_realised_outcomes_match_truth_by_arm_and_family_on_a_large_book():
    """40,000 loans: every arm x true family cell within 4 SE (cure, default, loss), and
    every arm's sustained-cure rate against its truth."""
    b = simulate(40_000, 3)
    ep = build_episodes(_book(b))
    tr = b["truth_episodes"]
    po = b["truth_potential_outcomes"]
    m = ep.merge(tr, on=["loan_id", "start_month"], suffixes=("", "_true"))
    m = m.merge(po.rename(columns={"arm": "measure"}), on=["loan_id", "start_month", "measure"])
    m = m[~m["is_censored_true"]]
    for (_, _), g in m.groupby(["measure", "family"]):
        if len(g) < 40:
            continue
        assert abs(g["is_cured"].astype(float).mean() - g["p_cure"].mean()) <= 4 * _se(g["p_cure"])
        assert abs(g["is_defaulted"].astype(float).mean() - g["p_default"].mean()) <= 4 * _se(
            g["p_default"])
        se = g["loss_rate"].std() / np.sqrt(len(g))
        assert abs(g["loss_rate"].mean() - g["exp_loss_rate"].mean()) <= 4 * se
    held = m[~m["is_sustained_censored"]].assign(held=lambda d: d["p_cure"] * (1 - d["p_redefault"]))
    for arm, g in held.groupby("measure"):
        got = g["is_sustained_cure"].astype(float).mean()
        assert abs(got - g["held"].mean()) <= 4 * _se(g["held"]), (arm, got)
