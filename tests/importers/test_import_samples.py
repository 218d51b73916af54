"""The two public worked examples end to end, on the excerpts in data/samples/:
spec -> validated book -> episodes, with no source identifier left in the output."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from analysis.data import load_book
from analysis.episodes import build_episodes
from analysis.importers.tape import QuarantineThresholdError, run_import

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "data" / "specs"
SAMPLES = ROOT / "data" / "samples"
KEY = b"test-key-0123456789abcdef"
LC_IDENTIFIERS = ("id", "member_id", "url", "emp_title", "desc", "title", "zip_code")


@pytest.fixture(scope="module")
def lc_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lc") / "book"
    res = run_import(SPECS / "lendingclub.yml", out, key=KEY)
    assert res.published and res.n_quarantined == 0
    return out


@pytest.fixture(scope="module")
def lc_book(lc_dir: Path):
    return load_book(lc_dir)


@pytest.fixture(scope="module")
def uci_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uci") / "book"
    res = run_import(SPECS / "uci_taiwan.yml", out, key=KEY)
    assert res.published and res.n_quarantined == 0
    return out


def _raw_lc() -> pd.DataFrame:
    return pd.read_csv(SAMPLES / "lendingclub_excerpt.csv", dtype=str, keep_default_na=False,
                       na_values=[""])


def test_excerpt_holds_every_hardship_plan_and_settlement():
    raw = _raw_lc()
    assert 300 <= len(raw) <= 500
    assert raw["hardship_type"].notna().sum() == 9        # 4 in sample A, 5 in sample B
    assert (raw["debt_settlement_flag"] == "Y").sum() == 54  # 30 + 24


def test_lendingclub_book(lc_book):
    raw = _raw_lc()
    b = lc_book
    assert len(b.loans) == len(raw)
    assert set(b.loans["borrower_type"]) == {"individual"}
    assert b.loans["annual_rate"].between(0.05, 0.31).all()
    assert set(b.loans["term_months"]) == {36, 60}
    assert b.loans["credit_score"].between(600, 850).all()
    assert b.loans["is_small_business"].sum() == (raw["purpose"] == "small_business").sum()
    assert b.loans["annual_income"].dropna().mod(1000).eq(0).all()  # rounded to thousands
    # relief: every hardship plan a deferral of deferral_term months, every settlement declared
    counts = b.relief["measure"].value_counts()
    assert counts["deferral"] == 9 and counts["settlement"] == 54
    assert (b.relief.loc[b.relief["measure"] == "deferral", "deferral_months"] == 3).all()
    m = b.measures.set_index("code")
    assert bool(m.loc["settlement", "is_concession"]) and "settlement" in b.measure_codes
    # reasons: every hardship reason, mapped to a family
    assert len(b.reasons) == 9
    fam = b.cause_map.set_index("name")["family"]
    assert set(b.reasons["reason_code"]) <= set(fam.index)
    assert fam["medical"] == "personal" and fam["excessive_obligations"] == "management"
    # performance: reconstructed rows are flagged, a few observed ones are not
    perf = b.performance
    # observed: the payoff month of fully-paid loans, the snapshot month of active loans, the
    # month before a hardship plan (when it is not one of the former)
    status = raw["loan_status"]
    n_obs = (status.str.contains("Fully Paid") | ~status.str.contains("Fully Paid|Charged Off")).sum()
    assert n_obs <= (~perf["is_reconstructed"]).sum() <= n_obs + 9
    assert perf["is_reconstructed"].mean() > 0.9
    charged = (raw["loan_status"].str.contains("Charged Off")).sum()
    assert (perf["write_off"] > 0).sum() == charged


def test_lendingclub_episodes(lc_book):
    ep = build_episodes(lc_book)
    assert len(ep) > 50
    measures = set(ep["measure"])
    assert {"deferral", "settlement", "none"} <= measures
    assert ep["is_defaulted"].notna().any() and ep["reported_family"].notna().any()


def test_no_source_identifier_survives(lc_dir: Path):
    raw = _raw_lc()
    out = {p.stem: pd.read_parquet(p) for p in lc_dir.glob("*.parquet")}
    for name, df in out.items():
        assert not set(LC_IDENTIFIERS) & set(df.columns), name
    values = set()
    for c in ("id", "member_id", "url", "zip_code"):
        values |= set(raw[c].dropna().astype(str).str.strip())
    for c in ("emp_title", "desc", "title"):  # free text; short values are ordinary words
        text = raw[c].dropna().astype(str).str.strip()
        values |= set(text[text.str.len() >= 12])
    values -= {""}
    for name, df in out.items():
        for c in df.columns:
            cells = set(df[c].dropna().astype(str))
            assert not cells & values, (name, c, sorted(cells & values)[:3])
    blob = b"".join(p.read_bytes() for p in lc_dir.iterdir())
    for loan_id in raw["id"]:
        assert loan_id.encode() not in blob
    assert b"lendingclub.com" not in blob and KEY not in blob


def test_uci_book_and_episodes(uci_dir: Path):
    b = load_book(uci_dir)
    raw = pd.read_csv(SAMPLES / "uci_taiwan_excerpt.csv")
    assert len(b.loans) == len(raw) and len(b.performance) == 6 * len(raw)
    assert b.relief.empty and b.reasons is None and b.cause_map is None
    # DPD = 30 x months delayed, -2/-1/0 -> 0: check September (PAY_0) by hand
    sep = b.performance[b.performance["month"] == "2005-09-30"]
    expected = (raw["PAY_0"].clip(lower=0) * 30).sort_values().to_numpy()
    assert (sep["days_past_due"].sort_values().to_numpy() == expected).all()
    assert b.performance["balance"].ge(0).all()
    ep = build_episodes(b)
    assert len(ep) > 0 and set(ep["measure"]) == {"none"}


def test_damaged_copy_quarantine_counts(tmp_path: Path):
    """A damaged copy of the LendingClub excerpt: each kind of damage counted, the rest kept."""
    src = SAMPLES / "lendingclub_excerpt.csv"
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    col = {c: i for i, c in enumerate(head)}
    rows[1][col["issue_d"]] = "13-2016"                 # not a month
    rows[2][col["issue_d"]] = ""                        # missing
    rows[3][col["loan_status"]] = "Gone Fishing"        # unknown status
    rows[4][col["int_rate"]] = "abc%"                   # not a rate
    rows[5][col["funded_amnt"]] = "-100"                # negative amount
    hard = next(i for i, r in enumerate(rows) if i and r[col["hardship_reason"]])
    rows[hard][col["hardship_reason"]] = "ALIENS"       # reason not in the map
    plain = next(i for i, r in enumerate(rows) if i > 5 and i != hard and not r[col["hardship_type"]]
                 and r[col["debt_settlement_flag"]] == "N")
    rows.append(list(rows[plain]))                      # duplicate loan
    damaged = tmp_path / "damaged.csv"
    with damaged.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "book"
    res = run_import(SPECS / "lendingclub.yml", out, key=KEY, sources={"lendingclub": str(damaged)})
    counts = res.quarantine_counts.set_index("reason")["n_records"].to_dict()
    assert counts == {
        "loans.origination_date: cannot parse issue_d as date (%b-%Y)": 1,
        "loans.origination_date: missing value in issue_d": 1,
        "performance: loan_status not in the status map": 1,
        "loans.annual_rate: cannot parse int_rate as percent": 1,
        "loans.principal: funded_amnt out of range (must be > 0)": 1,
        "reasons.reason_code: value of hardship_reason not in the spec's map": 1,
        "loans: duplicate loan_id (first record kept)": 1,
    }
    assert res.n_quarantined == 7 and res.n_records == len(rows) - 1
    q = pd.read_csv(res.quarantine_path)
    assert sorted(q["line"]) == sorted([2, 3, 4, 5, 6, hard + 1, len(rows)])
    assert "ALIENS" in q.loc[q["line"] == hard + 1, "raw"].iloc[0]
    b = load_book(out)
    assert len(b.loans) == len(rows) - 1 - 7


def test_threshold_failure_keeps_earlier_lendingclub_import(tmp_path: Path, lc_dir: Path):
    import shutil

    import yaml

    out = tmp_path / "book"
    shutil.copytree(lc_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    raw = yaml.safe_load((SPECS / "lendingclub.yml").read_text())
    raw["quarantine"]["max_share"] = 0.001
    raw["sources"]["lendingclub"]["path"] = str(SAMPLES / "lendingclub_excerpt.csv")
    strict = tmp_path / "strict.yml"
    strict.write_text(yaml.safe_dump(raw))
    damaged = tmp_path / "damaged.csv"
    text = (SAMPLES / "lendingclub_excerpt.csv").read_text(encoding="utf-8").splitlines(True)
    damaged.write_text(text[0] + text[1].replace(" 36 months", " many months")
                       .replace(" 60 months", " many months") + "".join(text[2:]),
                       encoding="utf-8")
    with pytest.raises(QuarantineThresholdError):
        run_import(strict, out, key=KEY, sources={"lendingclub": str(damaged)})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
