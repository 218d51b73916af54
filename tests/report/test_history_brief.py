"""The history of estimates, re-published months, and the brief's series built from them:
by hand on tiny histories, in every language."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from analysis.report import brief
from analysis.report.history import (
    ESTIMATE_COLUMNS,
    HISTORY_FILE,
    headline_estimates,
    latest_estimates,
    latest_metrics,
    record_run,
    republished_months,
    runs,
)
from analysis.report.i18n.catalogue import LANGUAGES, translator
from analysis.report.text import brief as tb
from analysis.report.text.targeting import policy_name


def _kpis(overdue: float, cure: float, loans: int = 900) -> pd.DataFrame:
    return pd.DataFrame({
        "metric": ["n_loans_active", "overdue_rate_balance", "cure_rate", "loss_rate"],
        "segment_type": "all", "segment": "all",
        "value": [float(loans), overdue, cure, 0.2], "n": [loans, loans, 300, 300]})


def _estimates(cure_deferral: float) -> pd.DataFrame:
    return pd.DataFrame({"outcome": ["cure", "cure", "loss_rate"],
                         "measure": ["deferral", "counselling", "deferral"],
                         "segment_type": ["all", "all", "cause_family"],
                         "segment": ["all", "all", "economic"],
                         "estimate": [cure_deferral, 0.02, -0.1],
                         "ci_low": [cure_deferral - 0.05, -0.08, np.nan],
                         "ci_high": [cure_deferral + 0.05, 0.12, np.nan], "n": [40, 30, 12]})


def _record(out, run_id, as_of, started, kpis, estimates=None, status="ok") -> None:
    record_run(out, run_id=run_id, as_of=as_of, status=status, started_at=started,
               ended_at=started, duration_s=1.0, fingerprint="f", parameters={"segment": ""},
               version="0", metrics=kpis, estimates=estimates)


@pytest.fixture
def history(tmp_path):
    _record(tmp_path, "a", "2024-04", "2024-05-01T00:00", _kpis(0.05, 0.40), _estimates(0.10))
    _record(tmp_path, "b", "2024-05", "2024-06-01T00:00", _kpis(0.06, 0.45), _estimates(0.15))
    # 2024-05 refreshed after late data: overdue changed, cure did not
    _record(tmp_path, "c", "2024-05", "2024-06-03T00:00", _kpis(0.062, 0.45), _estimates(0.16))
    _record(tmp_path, "d", "2024-05", "2024-06-04T00:00", None, None, status="failed")
    return tmp_path


def test_estimates_are_kept_per_run_and_read_from_the_latest(history) -> None:
    est = latest_estimates(history)
    assert sorted(est["run_id"].unique()) == ["a", "c"]  # failed run d never counts
    got = est[(est["as_of"] == "2024-05") & (est["measure"] == "deferral")
              & (est["outcome"] == "cure")]["estimate"]
    assert got.tolist() == [pytest.approx(0.16)]
    nan_row = est[(est["outcome"] == "loss_rate") & (est["as_of"] == "2024-04")].iloc[0]
    assert pd.isna(nan_row["ci_low"]) and nan_row["n"] == 12  # NULL stays NULL


def test_an_old_history_gains_the_estimates_table(tmp_path) -> None:
    con = sqlite3.connect(tmp_path / HISTORY_FILE)
    con.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, as_of TEXT NOT NULL, status TEXT NOT NULL,
            started_at TEXT NOT NULL, ended_at TEXT NOT NULL, duration_s REAL NOT NULL,
            fingerprint TEXT, parameters TEXT NOT NULL, segment TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT 'en', version TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '');
        CREATE TABLE metrics (run_id TEXT NOT NULL, as_of TEXT NOT NULL, metric TEXT NOT NULL,
            segment_type TEXT NOT NULL, segment TEXT NOT NULL, value REAL, n INTEGER);
        INSERT INTO runs VALUES ('old', '2024-03', 'ok', '2024-04-01', '2024-04-01', 1, 'f',
            '{}', '', 'en', '0', '');
        INSERT INTO metrics VALUES ('old', '2024-03', 'cure_rate', 'all', 'all', 0.3, 100);
    """)
    con.close()
    assert latest_estimates(tmp_path).empty  # readable before any new run
    _record(tmp_path, "new", "2024-04", "2024-05-01", _kpis(0.05, 0.4), _estimates(0.1))
    assert set(latest_estimates(tmp_path)["as_of"]) == {"2024-04"}
    assert set(latest_metrics(tmp_path)["as_of"]) == {"2024-03", "2024-04"}
    with sqlite3.connect(tmp_path / HISTORY_FILE) as con, pytest.raises(sqlite3.DatabaseError):
        con.execute("DELETE FROM estimates")  # append-only like the rest
    # the old run gains an empty provenance; a new run keeps its versions
    record_run(tmp_path, run_id="prov", as_of="2024-04", status="ok", started_at="2024-05-02",
               ended_at="2024-05-02", duration_s=1.0, fingerprint="f", parameters={},
               version="0", provenance={"git_commit": "abc", "pandas": "2.3.3"})
    got = runs(tmp_path).set_index("run_id")["provenance"]
    assert got["old"] == "{}" and json.loads(got["prov"]) == {"git_commit": "abc",
                                                               "pandas": "2.3.3"}


def test_republished_months_say_what_changed(history) -> None:
    rep = republished_months(history).set_index("as_of")
    assert list(rep.index) == ["2024-05"]
    assert rep.loc["2024-05", "n_runs"] == 2 and rep.loc["2024-05", "changed"]
    assert rep.loc["2024-05", "metrics"] == "overdue_rate_balance"


def test_headline_estimates_keep_the_dr_average_effects_only() -> None:
    rows = []
    for method in ("naive", "aipw"):
        for estimand in ("ATE", "ATT"):
            for outcome, st in (("cure", "all"), ("loss_rate", "cause_family"),
                                ("redefault", "all"), ("cure", "borrower_type")):
                rows.append({"outcome": outcome, "measure": "deferral", "estimand": estimand,
                             "segment_type": st, "segment": "x", "method": method,
                             "estimate": 0.1, "std_error": 0.01, "ci_low": 0.0, "ci_high": 0.2,
                             "n_treated": 20, "n_control": 50})
    got = headline_estimates(pd.DataFrame(rows))
    assert list(got.columns) == list(ESTIMATE_COLUMNS)
    assert sorted(zip(got["outcome"], got["segment_type"], strict=True)) == [
        ("cure", "all"), ("loss_rate", "cause_family")]
    assert headline_estimates(None).empty


def test_brief_series_from_history_and_this_run(history) -> None:
    now = _kpis(0.07, 0.5, loans=950)
    trend = brief.metric_trend(now, "2024-06", history)
    overdue = trend[trend["metric"] == "overdue_rate_balance"].set_index("as_of")["value"]
    assert overdue.to_dict() == pytest.approx({"2024-04": 0.05, "2024-05": 0.062, "2024-06": 0.07})
    assert trend.loc[trend["as_of"] == "2024-06", "is_current"].all()
    ch = brief.kpi_changes(now, "2024-06", history).set_index("metric")
    assert ch.loc["overdue_rate_balance", "change"] == pytest.approx(0.008)
    assert ch.loc["n_loans_active", "change"] == pytest.approx(50)
    assert (ch["previous_month"] == "2024-05").all()
    # re-running 2024-05 itself: the history's own 2024-05 is replaced, not shown twice
    again = brief.metric_trend(_kpis(0.063, 0.45), "2024-05", history)
    assert sorted(again["as_of"].unique()) == ["2024-04", "2024-05"]
    assert again.loc[again["metric"] == "overdue_rate_balance", "value"].tolist() == [0.05, 0.063]
    rep = brief.republished(_kpis(0.063, 0.45), "2024-05", history)
    assert rep["as_of"].tolist() == ["2024-05"] and rep["metrics"].iloc[0] == "overdue_rate_balance"
    est = brief.estimate_trend(None, "2024-06", history)
    assert sorted(est["as_of"].unique()) == ["2024-04", "2024-05"]


def test_no_history_means_this_month_only(tmp_path) -> None:
    now = _kpis(0.07, 0.5)
    assert brief.reports_dir(tmp_path / "tables") is None
    trend = brief.metric_trend(now, "2024-06", None)
    assert brief.months_shown(trend) == 1
    ch = brief.kpi_changes(now, "2024-06", None)
    assert ch["change"].isna().all() and (ch["previous_month"] == "").all()


def test_reports_dir_of_a_report_run(history, monkeypatch) -> None:
    monkeypatch.delenv(brief.REPORTS_ENV, raising=False)
    assert brief.reports_dir(history / ".staging-run1" / "tables") == history.resolve()
    monkeypatch.setenv(brief.REPORTS_ENV, "/somewhere")
    assert str(brief.reports_dir(history / "x" / "tables")) == "/somewhere"


@pytest.mark.parametrize("language", LANGUAGES)
def test_brief_words_in_every_language(history, language) -> None:
    t = translator(language).with_min_cell(10)
    now = _kpis(0.07, 0.5, loans=950)
    ch = brief.kpi_changes(now, "2024-06", history)
    table = tb.kpi_brief_table(ch, t)
    assert list(table.columns) == ["indicator", "value", "change"]
    row = table.set_index("indicator").loc[t("kpi.overdue_rate_balance")]
    assert row["value"] == t.pct(0.07) and row["change"] == t.points(0.008)
    assert table.set_index("indicator").loc[t("kpi.n_loans_active"), "change"] == "+50"
    gain = pd.DataFrame({"policy": ["learned"], "gain_per_episode_cny": [1200.0],
                         "ci_low": [300.0], "ci_high": [2100.0], "gain_total_cny": [400800.0]})
    targeting = pd.DataFrame({"policy": ["learned"], "cost": [193.4]})
    s = tb.policy_sentence(gain, targeting, t)
    assert t.money(1200) in s and t.money(193.4) in s and t.money(300) in s
    unclear = tb.policy_sentence(gain.assign(ci_low=-100.0), targeting, t)
    assert unclear != s and t.money(-100) in unclear
    meaning = tb.meaning_sentences(ch, _estimates(0.16), gain, t)
    assert len(meaning) == 3
    assert t.pct(0.07) in meaning[0] and t.money(400800) in meaning[2]
    assert tb.meaning_sentences(ch, _estimates(0.0), None, t)[1] == t("brief.meaning_no_effect")
    note = tb.republished_note(brief.republished(now, "2024-06", history), t)
    assert t.month(pd.Timestamp("2024-05-01")) in note and t("kpi.overdue_rate_balance") in note


@pytest.mark.parametrize("language", LANGUAGES)
def test_difference_sentences_say_when_policies_cannot_be_separated(language) -> None:
    t = translator(language)
    d = pd.DataFrame({"policy": ["learned", "all_deferral", "no_relief"], "vs": "learned",
                      "difference_cny": [0.0, 464.0, -2319.0], "ci_low": [0.0, -200.0, -3000.0],
                      "ci_high": [0.0, 1128.0, -1600.0]})
    s = tb.difference_sentences(d, t)
    assert len(s) == 2
    name = policy_name("all_deferral", t)
    assert s[0] == t("paired.not_separable", policy=name[:1].upper() + name[1:],
                     diff=t.money(464), low=t.money(-200), high=t.money(1128))
    assert t.money(2319) in s[1]  # "worth 2,319 less", not "-2,319 less"
    assert s[0] != s[1]
