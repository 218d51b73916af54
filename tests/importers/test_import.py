"""The import engine on tiny hand-made tapes: transforms, spec checks, quarantine,
pseudonymisation, keys, atomic publishing, the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.cli.main import main
from analysis.data import load_book
from analysis.episodes import build_episodes
from analysis.importers.keys import pseudonymise, resolve_key
from analysis.importers.spec import ColumnSpec, SpecError, load_spec
from analysis.importers.tape import ImportValidationError, QuarantineThresholdError, run_import
from analysis.importers.transforms import build_column

KEY = b"k" * 32
OTHER_KEY = b"o" * 32

TAPE = textwrap.dedent("""\
    contract_no,client,client_name,start,months,amount,rate,province,status_m1,status_m2,reason
    A1,C1,Wang Wei,15/01/2023,12 months,"10,000",12.5%,GD,0,0,
    A2,C2,Li Na,20/02/2023,24 months,5000,9%,SH,0,2,job
    A3,C1,Wang Wei,03/03/2023,6 months,3000,15%,GD,1,0,ill
    """)


def _spec(tmp: Path, tape: Path, **over) -> Path:
    spec = {
        "name": "tiny",
        "sources": {"tape": {"path": str(tape)}},
        "identifiers": {"drop": ["contract_no", "client", "client_name"]},
        "quarantine": {"max_share": 0.5},
        "tables": {
            "loans": {"source": "tape", "columns": {
                "loan_id": "contract_no",
                "borrower_id": "client",
                "borrower_type": {"const": "micro_enterprise"},
                "industry": {"const": "retail"},
                "region": {"from": "province", "map": {"GD": "guangdong", "SH": "shanghai"}},
                "origination_date": {"from": "start", "parse": "date", "format": "%d/%m/%Y"},
                "term_months": {"from": "months", "parse": "leading_number", "round": 0,
                                "check": {"gt": 0}},
                "principal": {"from": "amount", "parse": "number", "check": {"gt": 0}},
                "annual_rate": {"from": "rate", "parse": "percent", "check": {"ge": 0, "lt": 1}},
            }, "passthrough": ["province"]},
            "performance": {"source": "tape", "stack": [
                {"month": {"const": "2023-03"}, "status": "status_m1"},
                {"month": {"const": "2023-04"}, "status": "status_m2"},
            ], "columns": {
                "loan_id": "contract_no",
                "month": {"from": "month", "parse": "date", "format": "%Y-%m", "month_end": True},
                "days_past_due": {"from": "status", "parse": "integer", "scale": 30},
                "balance": {"from": "amount", "parse": "number"},
            }},
            "relief": {"empty": True},
            "reasons": {"source": "tape", "where": {"notnull": ["reason"]}, "columns": {
                "loan_id": "contract_no",
                "reported_date": {"const": "2023-04-30", "parse": "date", "format": "%Y-%m-%d"},
                "reason_code": {"from": "reason", "map": {"job": "job_loss", "ill": "illness"}},
            }},
            "cause_map": {"rows": [
                {"source": "reason", "name": "job_loss", "family": "economic"},
                {"source": "reason", "name": "illness", "family": "personal"},
            ]},
        },
    }
    for k, v in over.items():
        spec[k] = v
    path = tmp / "spec.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tape(tmp_path: Path) -> Path:
    p = tmp_path / "tape.csv"
    p.write_text(TAPE, encoding="utf-8")
    return p


# ------------------------------------------------------------------ transforms
def _col(**kw) -> ColumnSpec:
    return ColumnSpec(name="x", **kw)


def test_transforms_by_hand():
    f = pd.DataFrame({"a": [" 36 months", "60 months", None, "x"],
                      "r": ["13.56%", "7", None, "abc"],
                      "d": ["Dec-2016", "Jan-2017", None, "2017-13"],
                      "lo": ["700", "650", None, "1"], "hi": ["704", "654", None, None]})
    v, why = build_column(f, _col(sources=("a",), parse="leading_number", round=0), "t")
    assert v.tolist()[:2] == [36, 60] and str(v.dtype) == "Int64"
    assert why.tolist() == ["", "", "t.x: missing value in a", "t.x: cannot parse a as leading_number"]
    v, why = build_column(f, _col(sources=("r",), parse="percent", required=False), "t")
    assert v.iloc[0] == pytest.approx(0.1356) and v.iloc[1] == pytest.approx(0.07)
    assert why.tolist() == ["", "", "", "t.x: cannot parse r as percent"]
    v, why = build_column(f, _col(sources=("d",), parse="date", format="%b-%Y", month_end=True,
                                  required=False), "t")
    assert v.iloc[0] == pd.Timestamp("2016-12-31") and v.iloc[1] == pd.Timestamp("2017-01-31")
    assert why.iloc[3] == "t.x: cannot parse d as date (%b-%Y)"
    v, _ = build_column(f, _col(sources=("lo", "hi"), combine="mean", parse="number",
                                required=False), "t")
    assert v.iloc[0] == 702 and pd.isna(v.iloc[3])  # mean needs both
    v, why = build_column(f, _col(sources=("lo",), parse="number", round=-3, required=False,
                                  check={"ge": 10}), "t")
    assert v.iloc[0] == 1000 and why.iloc[3] == "t.x: lo out of range (must be >= 10)"


def test_map_unmapped_policies():
    f = pd.DataFrame({"s": ["A", "B", None]})
    m = {"A": "alpha"}
    v, why = build_column(f, _col(sources=("s",), mapping=m, required=False), "t")
    assert v.tolist()[0] == "alpha" and why.tolist() == ["", "t.x: value of s not in the spec's map", ""]
    v, why = build_column(f, _col(sources=("s",), mapping=m, unmapped="keep", required=False), "t")
    assert v.tolist()[:2] == ["alpha", "B"] and (why == "").all()
    v, _ = build_column(f, _col(sources=("s",), mapping=m, unmapped="null", parse="str",
                                default="other"), "t")
    assert v.tolist() == ["alpha", "other", "other"]


def test_bool_and_integer_parsers():
    f = pd.DataFrame({"b": ["Y", "n", "maybe"], "i": ["3", "2.5", "4.0"]})
    v, why = build_column(f, _col(sources=("b",), parse="bool"), "t")
    assert v.tolist()[:2] == [True, False] and why.iloc[2].startswith("t.x: cannot parse b as bool")
    v, why = build_column(f, _col(sources=("i",), parse="integer"), "t")
    assert v.iloc[0] == 3 and v.iloc[2] == 4 and why.iloc[1].startswith("t.x: cannot parse i")


# ------------------------------------------------------------------ spec checks
def test_spec_problems_are_listed_together(tmp_path: Path, tape: Path):
    path = _spec(tmp_path, tape)
    raw = yaml.safe_load(path.read_text())
    raw["tables"]["loans"]["columns"]["client_name"] = "client_name"   # an identifier, not hashed
    raw["tables"]["loans"]["columns"]["region"]["parse"] = "roman"
    raw["tables"]["signals"] = {"source": "nowhere", "derive": "no_such_thing"}
    raw["tables"].pop("relief")
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    msg = str(exc.value)
    for part in ("identifier column(s) ['client_name']", "unknown parser 'roman'",
                 "unknown derivation 'no_such_thing'", "names no declared source: 'nowhere'",
                 "requires table 'relief'"):
        assert part in msg


def test_passthrough_of_identifier_is_refused(tmp_path: Path, tape: Path):
    path = _spec(tmp_path, tape)
    raw = yaml.safe_load(path.read_text())
    raw["tables"]["loans"]["passthrough"] = ["client_name"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match="passes through identifier"):
        load_spec(path)


# ------------------------------------------------------------------ end to end, tiny
def test_tiny_import_by_hand(tmp_path: Path, tape: Path):
    out = tmp_path / "book"
    res = run_import(_spec(tmp_path, tape), out, key=KEY)
    assert res.published and res.n_quarantined == 0
    loans = pd.read_parquet(out / "loans.parquet")
    perf = pd.read_parquet(out / "performance.parquet")
    assert loans["principal"].tolist() == [10000.0, 5000.0, 3000.0]
    assert loans["annual_rate"].tolist() == pytest.approx([0.125, 0.09, 0.15])
    assert loans["term_months"].tolist() == [12, 24, 6]
    assert loans["region"].tolist() == ["guangdong", "shanghai", "guangdong"]
    # the same client gets the same pseudonym, different clients different ones
    assert loans["borrower_id"].iloc[0] == loans["borrower_id"].iloc[2] != loans["borrower_id"].iloc[1]
    assert loans["loan_id"].tolist() == pseudonymise(pd.Series(["A1", "A2", "A3"]), KEY, "loan_id").tolist()
    a2 = perf[perf["loan_id"] == loans["loan_id"].iloc[1]].sort_values("month")
    assert a2["days_past_due"].tolist() == [0, 60]
    assert a2["month"].tolist() == [pd.Timestamp("2023-03-31"), pd.Timestamp("2023-04-30")]
    reasons = pd.read_parquet(out / "reasons.parquet")
    assert sorted(reasons["reason_code"]) == ["illness", "job_loss"]
    assert "client_name" not in loans.columns
    assert loans["province"].tolist() == ["GD", "SH", "GD"]  # passed through as a covariate
    assert res.table.set_index("table")["rows"]["performance"] == 6
    assert "published to" in res._repr_html_()
    manifest = json.loads((out / "_import.json").read_text())
    assert manifest["rows"]["loans"] == 3 and manifest["pseudonymised"] is True
    ep = build_episodes(load_book(out))
    assert len(ep) == 2  # A2 overdue in April, A3 in March


def test_pseudonyms_stable_with_key_and_different_with_another(tmp_path: Path, tape: Path):
    spec = _spec(tmp_path, tape)
    ids = {}
    for name, key in (("a", KEY), ("b", KEY), ("c", OTHER_KEY)):
        run_import(spec, tmp_path / name, key=key)
        ids[name] = pd.read_parquet(tmp_path / name / "loans.parquet")[["loan_id", "borrower_id"]]
    pd.testing.assert_frame_equal(ids["a"], ids["b"])
    assert not set(ids["a"]["loan_id"]) & set(ids["c"]["loan_id"])
    assert not set(ids["a"]["borrower_id"]) & set(ids["c"]["borrower_id"])
    for name in ids:
        assert ids[name]["loan_id"].str.fullmatch(r"[0-9a-f]{32}").all()
        blob = b"".join(p.read_bytes() for p in (tmp_path / name).iterdir())
        assert KEY not in blob and OTHER_KEY not in blob and b"Wang" not in blob


def test_no_key_refused_unless_explicit(tmp_path: Path, tape: Path, monkeypatch, capsys):
    monkeypatch.delenv("OVERDUE_RELIEF_KEY", raising=False)
    spec = _spec(tmp_path, tape)
    assert main(["import", "--spec", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "no pseudonymisation key" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["import", "--spec", str(spec), "--out", str(tmp_path / "o"),
                 "--no-pseudonymise"]) == 0
    assert pd.read_parquet(tmp_path / "o" / "loans.parquet")["loan_id"].tolist() == ["A1", "A2", "A3"]
    monkeypatch.setenv("OVERDUE_RELIEF_KEY", "short")
    with pytest.raises(Exception, match="shorter than 16 bytes"):
        resolve_key()


def test_key_file_rules(tmp_path: Path, tape: Path, monkeypatch):
    monkeypatch.delenv("OVERDUE_RELIEF_KEY", raising=False)
    keyfile = tmp_path / "secret.key"
    keyfile.write_text("x" * 40 + "\n")
    assert resolve_key(keyfile) == b"x" * 40
    assert main(["import", "--spec", str(_spec(tmp_path, tape)), "--out", str(tmp_path / "o"),
                 "--key-file", str(keyfile)]) == 0
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "k").write_text("y" * 40)
    with pytest.raises(Exception, match="inside the repository"):
        resolve_key(repo / "k")
    with pytest.raises(Exception, match="inside the output folder"):
        resolve_key(keyfile, out_dir=tmp_path)


def test_quarantine_counts_lines_and_raw_values(tmp_path: Path):
    tape = tmp_path / "tape.csv"
    # a quoted field spanning two lines shifts the physical lines of later records
    tape.write_text(TAPE.replace("Li Na", '"Li\nNa"')
                    + "A4,C4,Zhao,31/02/2023,12 months,100,5%,GD,0,0,\n"      # no 31 February
                    + "A5,C5,Qian,01/01/2023,12 months,100,5%,XX,0,0,\n"      # unknown province
                    + "A6,C6,Sun,01/01/2023,12 months,-5,5%,GD,0,0,\n"        # negative amount
                    + "A1,C1,Wang Wei,15/01/2023,12 months,1,5%,GD,0,0,\n"    # duplicate A1
                    + "A7,C7,Zhou,01/01/2023,12 months,100,5%,GD,x,0,\n",     # bad status
                    encoding="utf-8")
    out = tmp_path / "book"
    res = run_import(_spec(tmp_path, tape, quarantine={"max_share": 0.9}), out, key=KEY)
    assert res.n_records == 8 and res.n_quarantined == 5
    q = pd.read_csv(res.quarantine_path)
    got = dict(zip(q["line"], q["reason"], strict=True))
    assert got == {
        6: "loans.origination_date: cannot parse start as date (%d/%m/%Y)",
        7: "loans.region: value of province not in the spec's map",
        8: "loans.principal: amount out of range (must be > 0)",
        9: "loans: duplicate loan_id (first record kept)",
        10: "performance.days_past_due: cannot parse status as integer",
    }
    assert json.loads(q.loc[q["line"] == 7, "raw"].iloc[0]) == {"province": "XX"}
    assert "Zhao" not in q.to_csv() and "C4" not in q.to_csv()   # identifiers never in raw
    counts = res.quarantine_counts.set_index("reason")["n_records"]
    assert counts.sum() == 5 and (counts == 1).all()
    # a quarantined record leaves every table: A7's loan is gone with its bad month
    loans = pd.read_parquet(out / "loans.parquet")
    assert len(loans) == 3
    perf = pd.read_parquet(out / "performance.parquet")
    assert set(perf["loan_id"]) == set(loans["loan_id"]) and len(perf) == 6


def test_threshold_failure_leaves_earlier_import_untouched(tmp_path: Path, tape: Path, capsys):
    out = tmp_path / "book"
    spec = _spec(tmp_path, tape, quarantine={"max_share": 0.2})
    run_import(spec, out, key=KEY)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.csv"
    bad.write_text(TAPE.replace("12.5%", "twelve"), encoding="utf-8")   # 1 of 3 = 33 % > 20 %
    with pytest.raises(QuarantineThresholdError) as exc:
        run_import(spec, out, key=KEY, sources={"tape": str(bad)})
    assert "33.33%" in str(exc.value) and "annual_rate" in str(exc.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert (tmp_path / "book.quarantine.rejected.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".book.")]
    # same through the command line: exit 2, counts printed
    code = main(["import", "--spec", str(spec), "--out", str(out), "--no-pseudonymise",
                 "--source", f"tape={bad}"])
    assert code == 2
    assert "loans.annual_rate: cannot parse rate as percent" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_invalid_output_is_not_published(tmp_path: Path, tape: Path):
    out = tmp_path / "book"
    spec = _spec(tmp_path, tape)
    run_import(spec, out, key=KEY)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    raw = yaml.safe_load(spec.read_text())
    raw["tables"]["loans"]["columns"]["annual_rate"] = {"from": "rate", "parse": "percent",
                                                        "scale": 100}
    spec.write_text(yaml.safe_dump(raw))        # rates as percent: breaks "in [0, 1)"
    with pytest.raises(ImportValidationError) as exc:
        run_import(spec, out, key=KEY)
    assert "annual_rate" in str(exc.value) and len(exc.value.report)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".book.")]


def test_unreadable_sources_are_input_errors(tmp_path: Path, tape: Path, capsys):
    spec = _spec(tmp_path, tape)
    semi = tmp_path / "semi.csv"
    semi.write_text(TAPE.replace(",", ";"), encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(TAPE.replace("Li Na", "Lé Na").encode("latin-1"))
    for src, text in ((semi, "wrong delimiter"), (latin, "is not valid utf-8 (line 3"),
                      (tmp_path / "gone.csv", "does not exist")):
        assert main(["import", "--spec", str(spec), "--out", str(tmp_path / "o"),
                     "--no-pseudonymise", "--source", f"tape={src}"]) == 2
        assert text in capsys.readouterr().err
    assert main(["import", "--spec", str(spec), "--out", str(tmp_path / "o"),
                 "--no-pseudonymise", "--source", "nope=x.csv"]) == 2
    assert "unknown source(s) ['nope']" in capsys.readouterr().err


def test_parquet_source(tmp_path: Path, tape: Path):
    pq = tmp_path / "tape.parquet"
    pd.read_csv(tape, dtype=str).to_parquet(pq)
    res = run_import(_spec(tmp_path, tape), tmp_path / "book", key=KEY, sources={"tape": str(pq)})
    assert res.table_rows["loans"] == 3 and res.n_quarantined == 0


def test_refuses_to_replace_a_folder_that_is_not_an_import(tmp_path: Path, tape: Path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="is not an earlier import"):
        run_import(_spec(tmp_path, tape), out, key=KEY)
    assert (out / "notes.txt").read_text() == "keep me"


def test_dry_run_publishes_nothing(tmp_path: Path, tape: Path, capsys):
    out = tmp_path / "book"
    code = main(["import", "--spec", str(_spec(tmp_path, tape)), "--out", str(out),
                 "--no-pseudonymise", "--dry-run"])
    assert code == 0 and not out.exists()
    assert "dry run, valid, NOT published" in capsys.readouterr().out
    assert (tmp_path / "book.quarantine.dry-run.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".book.")]
