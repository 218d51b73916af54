"""Loading and validating a data directory: a tiny valid book built inline, one case per
class of bad input (report row, message and exit status 2), several problems at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli.main import main
from analysis.data import BookValidationError, load_book, schema, validate_book
from analysis.data import checks as data_checks
from analysis.errors import InputError

LOANS = """\
loan_id,borrower_id,borrower_type,industry,region,origination_date,term_months,principal,annual_rate,credit_score,purpose
L1,B1,micro_enterprise,retail,zhejiang,2023-01-15,12,10000,0.12,650,shop
L2,B2,individual,household,beijing,2023-02-03,24,5000,0.08,,car
L3,B2,sole_proprietor,catering,shanghai,2023-01-20,12,8000,0.15,700,
"""
# L2 listed before L1 on purpose: the loaded table is sorted by loan, then month.
PERFORMANCE = """\
loan_id,month,balance,days_past_due,write_off,is_reconstructed
L2,2023-02,5000,0,,false
L2,2023-03,4900,35,,false
L2,2023-04,4800,0,,true
L1,2023-01-31,10000,0,0,false
L1,2023-02-28,9000,15,0,false
L1,2023-03-31,8000,0,0,false
L3,2023-01,8000,0,,false
L3,2023-02,8000,95,,false
L3,2023-03,0,120,8000,false
"""
RELIEF = """\
loan_id,granted_date,measure,deferral_months,rate_cut_bp
L2,2023-03-20,deferral,3,
L3,2023-02-25,rate_reduction,,150
"""
SIGNALS = """\
loan_id,month,demand_change,revenue_volatility,medical_claim
L1,2023-01,0.1,0.2,0
L1,2023-02,-0.3,0.4,1
L2,2023-02,0.0,0.1,0
"""
REASONS = """\
loan_id,reported_date,reason_code
L2,2023-03-15,income_curtailment
L3,2023-02-10,medical
"""
CAUSE_MAP = """\
source,name,family
signal,demand_change,economic
signal,revenue_volatility,management
signal,medical_claim,personal
reason,income_curtailment,economic
reason,medical,personal
reason,excessive_obligations,management
"""
BOOK = dict(loans=LOANS, performance=PERFORMANCE, relief=RELIEF, signals=SIGNALS,
            reasons=REASONS, cause_map=CAUSE_MAP)


def write_book(root: Path, **tables: str | bytes | None) -> Path:
    """Write the tiny book as CSV, with some tables replaced (None = leave the file out)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in {**BOOK, **tables}.items():
        if text is None:
            continue
        path = root / f"{name}.csv"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return root


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- the valid book ---------------------------------------------------------------------


def test_valid_book_loads_with_types_defaults_and_order(tmp_path):
    book = load_book(write_book(tmp_path))
    lo, pf, rl = book.loans, book.performance, book.relief
    assert lo["loan_id"].tolist() == ["L1", "L2", "L3"]
    assert lo["origination_date"].dtype == "datetime64[ns]"
    assert lo["term_months"].dtype == "int64" and lo["principal"].dtype == "float64"
    assert lo["credit_score"].isna().tolist() == [False, True, False]
    assert lo["purpose"].tolist()[:2] == ["shop", "car"]  # a covariate, kept
    # sorted by loan (order of loans), then month; months as month-ends
    assert pf["loan_id"].tolist() == ["L1"] * 3 + ["L2"] * 3 + ["L3"] * 3
    assert pf["month"].dtype == "datetime64[ns]" and pf["month"].dt.is_month_end.all()
    assert pf["month"].iloc[3] == pd.Timestamp("2023-02-28")
    assert pf["days_past_due"].dtype == "int64"
    # defaults: write_off given in part (missing -> 0), recovery absent (-> 0)
    assert pf["write_off"].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, 8000]
    assert (pf["recovery"] == 0).all()
    assert "amount_due" not in pf.columns  # optional without default stays absent
    assert pf["is_reconstructed"].tolist()[3:6] == [False, False, True]  # extra column kept
    assert rl["deferral_months"].dtype == "Int64" and rl["deferral_months"].tolist()[0] == 3
    assert rl["instalments"].isna().all() and "counselling_sessions" in rl.columns
    assert rl["rate_cut_bp"].tolist()[1] == 150.0
    assert book.measure_codes == list(schema.MEASURES)
    assert book.measures.set_index("code")["is_concession"].to_dict() == {
        "deferral": True, "instalment": True, "rate_reduction": True, "counselling": False}
    assert book.signal_columns == ["demand_change", "revenue_volatility", "medical_claim"]
    assert book.signals["medical_claim"].dtype == "float64"
    assert book.reasons["reported_date"].dtype == "datetime64[ns]"
    assert set(book.cause_map["family"]) == set(schema.FAMILIES)
    assert book.source == tmp_path


def test_minimal_book_without_optional_tables(tmp_path):
    d = write_book(tmp_path, signals=None, reasons=None, cause_map=None,
                   relief="loan_id,granted_date,measure\n")
    book = load_book(d)
    assert book.signals is None and book.reasons is None and book.cause_map is None
    assert book.relief.empty and list(book.relief.columns[:3]) == ["loan_id", "granted_date",
                                                                    "measure"]


def test_validate_cli_success_message(tmp_path, capsys):
    d = write_book(tmp_path)
    assert main(["validate", "--data", str(d)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 3 loans, 9 loan-months, months 2023-01 to 2023-04")
    assert "2 relief grants" in out and "3 signal columns" in out and "2 reasons" in out


def test_parquet_and_folder_of_parts_load_like_csv(tmp_path):
    csv_dir = write_book(tmp_path / "csv")
    ref = load_book(csv_dir)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    ref.loans.to_parquet(pq_dir / "loans.parquet")
    (pq_dir / "performance").mkdir()
    perf = ref.performance.assign(month=ref.performance["month"].dt.to_period("M"))
    perf.iloc[:4].to_parquet(pq_dir / "performance" / "part-0.parquet")
    perf.iloc[4:].to_parquet(pq_dir / "performance" / "part-1.parquet")
    ref.relief.to_parquet(pq_dir / "relief.parquet")
    for name in ("signals", "reasons", "cause_map"):
        getattr(ref, name).to_parquet(pq_dir / f"{name}.parquet")
    got = load_book(pq_dir)
    for name in ("loans", "performance", "relief", "signals", "reasons", "cause_map"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(ref, name), check_dtype=True)


def test_parquet_problems_name_the_part_and_row(tmp_path):
    ref = load_book(write_book(tmp_path / "csv"))
    d = write_book(tmp_path / "pq", performance=None)
    (d / "performance").mkdir()
    ref.performance.iloc[:4].to_parquet(d / "performance" / "part-0.parquet")
    bad = ref.performance.iloc[4:].copy()
    bad.loc[bad.index[1], "balance"] = -1.0
    bad.to_parquet(d / "performance" / "part-1.parquet")
    rep = validate_book(d).table
    row = rep[rep["check"] == ">= 0"].iloc[0]
    assert row["file"] == "performance/" and row["examples"].startswith("part-1.parquet row 2:")


# --- declared measures ------------------------------------------------------------------

SETTLEMENT = sub(RELIEF, "L3,2023-02-25,rate_reduction,,150", "L3,2023-02-25,settlement,,")


def test_declared_measure_code_is_accepted(tmp_path):
    d = write_book(tmp_path, relief=SETTLEMENT)
    (d / "measures.csv").write_text(
        "code,description,is_concession\nsettlement,debt settlement agreed,true\n")
    book = load_book(d)
    m = book.measures.set_index("code")
    assert list(m.index) == [*schema.MEASURES, "settlement"]
    assert bool(m.at["settlement", "is_concession"]) and not m.at["settlement", "is_standard"]
    assert book.relief["measure"].tolist() == ["deferral", "settlement"]


def test_undeclared_measure_code_is_an_error(tmp_path):
    rep = validate_book(write_book(tmp_path, relief=SETTLEMENT)).table
    row = rep.set_index("check").loc["in declared measures"]
    assert row["column"] == "measure" and "measure='settlement'" in row["examples"]
    assert "declare others in a measures table" in row["examples"]


# --- one case per class of bad input ----------------------------------------------------

PERF_BAD_ROW = PERFORMANCE + "L3,2023-04,-5,130,,false\n"

CASES: dict[str, tuple[dict, tuple[str, str, str], str]] = {
    # id: (table overrides, (table, column, check), text in examples)
    "missing_file": ({"performance": None}, ("performance", "", "file_present"),
                     "no performance.parquet, performance.csv or performance/"),
    "empty_file": ({"relief": b""}, ("relief", "", "not_empty"), "empty (0 bytes)"),
    "header_only": ({"loans": LOANS.splitlines()[0] + "\n"}, ("loans", "", "not_empty"),
                    "header but no rows"),
    "semicolon": ({"loans": LOANS.replace(",", ";")}, ("loans", "", "delimiter"),
                  "semicolon-separated"),
    "tab": ({"performance": PERFORMANCE.replace(",", "\t")}, ("performance", "", "delimiter"),
            "tab-separated"),
    "decimal_comma": ({"loans": LOANS.replace(",", ";").replace("0.12", "0,12")},
                      ("loans", "", "delimiter"), "semicolon-separated"),
    "non_utf8": ({"reasons": REASONS.encode() + "L1,2023-02-01,收入下降\n".encode("gbk")},
                 ("reasons", "", "encoding"), "at byte offset 103 (line 4) is not UTF-8: 'L1,2023-02-01,"),
    "ragged_row": ({"relief": RELIEF + "L1,2023-03-01,deferral,3,,extra,fields\n"},
                   ("relief", "", "readable"), "Expected 5 fields in line 4, saw 7"),
    "unparseable_date": ({"loans": sub(LOANS, "2023-02-03", "03/02/2023")},
                         ("loans", "origination_date", "type:date"),
                         "line 3: loan_id='L2', origination_date='03/02/2023'"),
    "unparseable_month": ({"performance": sub(PERFORMANCE, "L2,2023-03,", "L2,Mar 2023,")},
                          ("performance", "month", "type:month"), "month='Mar 2023'"),
    "not_month_end": ({"performance": sub(PERFORMANCE, "L1,2023-02-28", "L1,2023-02-15")},
                      ("performance", "month", "month_end"), "write YYYY-MM or the month-end"),
    "text_in_number": ({"loans": sub(LOANS, "10000,0.12", "ten thousand,0.12")},
                       ("loans", "principal", "type:float"), "principal='ten thousand'"),
    "text_in_integer": ({"performance": sub(PERFORMANCE, "4900,35", "4900,35d")},
                        ("performance", "days_past_due", "type:int"), "days_past_due='35d'"),
    "fraction_in_integer": ({"loans": sub(LOANS, ",24,5000", ",24.5,5000")},
                            ("loans", "term_months", "integer"), "term_months='24.5'"),
    "text_in_bool": ({"measures": "code,description,is_concession\nsettlement,x,maybe\n"},
                     ("measures", "is_concession", "type:bool"), "is_concession='maybe'"),
    "negative_balance": ({"performance": PERF_BAD_ROW}, ("performance", "balance", ">= 0"),
                         "line 11: loan_id='L3', month=2023-04-30, balance=-5.0"),
    "zero_term": ({"loans": sub(LOANS, ",12,10000", ",0,10000")},
                  ("loans", "term_months", "> 0"), "term_months=0"),
    "rate_in_percent": ({"loans": sub(LOANS, "0.15", "15")},
                        ("loans", "annual_rate", "in [0, 1)"), "annual_rate=15.0"),
    "missing_value": ({"loans": sub(LOANS, "household,beijing", "household,")},
                      ("loans", "region", "not_null"), "region=<missing>"),
    "missing_column": ({"loans": LOANS.replace("borrower_type", "BorrowerType", 1)},
                       ("loans", "borrower_type", "required_column"),
                       "did you mean 'BorrowerType'?"),
    "duplicate_column": ({"relief": RELIEF.replace("rate_cut_bp", "measure", 1)},
                         ("relief", "measure", "unique_column_names"),
                         "'measure' appears more than once"),
    "two_files": ({}, ("loans", "", "single_file"), "loans.parquet and loans.csv"),
    "duplicate_loan": ({"loans": LOANS + "L3,B9,individual,x,y,2023-01-01,6,10,0.1,,\n"},
                       ("loans", "loan_id", "unique_key"), "line 5: loan_id='L3'"),
    "duplicate_month": ({"performance": PERFORMANCE + "L1,2023-03,8000,0,0,false\n"},
                        ("performance", "loan_id, month", "unique_key"),
                        "line 11: loan_id='L1', month=2023-03-31 (repeats"),
    "unknown_borrower_type": ({"loans": sub(LOANS, "individual", "corporate")},
                              ("loans", "borrower_type",
                               "in {micro_enterprise, sole_proprietor, individual}"),
                              "borrower_type='corporate'"),
    "unknown_measure": ({"relief": SETTLEMENT}, ("relief", "measure", "in declared measures"),
                        "measure='settlement'"),
    "bad_measure_code": ({"measures": "code,is_concession\nDebt Settlement,true\n"},
                         ("measures", "code", "code format [a-z][a-z0-9_]*"),
                         "code='Debt Settlement'"),
    "reserved_measure_code": ({"measures": "code,is_concession\nnone,false\n"},
                              ("measures", "code", "not reserved 'none'"), "code='none'"),
    "standard_measure_redefined": ({"measures": "code,is_concession\ncounselling,true\n"},
                                   ("measures", "is_concession", "standard_measure"),
                                   "standard measure has is_concession=False"),
    "unknown_loan": ({"relief": RELIEF + "L9,2023-03-01,deferral,2,\n"},
                     ("relief", "loan_id", "known_loan_id"), "loan_id='L9' (not in loans)"),
    "gap_in_months": ({"performance": sub(PERFORMANCE, "L1,2023-02-28,9000,15,0,false\n", "")},
                      ("performance", "month", "contiguous_months"),
                      "month=2023-03-31 (previous month of the loan is 2023-01-31)"),
    "before_origination": ({"performance": "loan_id,month,balance,days_past_due\n"
                                           "L2,2023-01,5000,0\nL2,2023-02,5000,0\n"},
                           ("performance", "month", "not_before_origination"),
                           "month=2023-01-31 (loan originated 2023-02-03)"),
    "non_numeric_signal": ({"signals": sub(SIGNALS, "0.1,0.2,0", "0.1,high,0")},
                           ("signals", "revenue_volatility", "numeric"),
                           "revenue_volatility='high'"),
    "unmapped_signal": ({"signals": "loan_id,month,demand_change,revenue_volatility,"
                                    "medical_claim,noise\nL1,2023-01,0.1,0.2,0,7\n"},
                        ("signals", "noise", "signal_mapped"), "'noise' has no cause_map row"),
    "mapped_signal_missing": ({"cause_map": CAUSE_MAP + "signal,ghost,economic\n"},
                              ("cause_map", "name", "mapped_signal_exists"), "name='ghost'"),
    "family_without_signal": ({"cause_map": sub(CAUSE_MAP, "medical_claim,personal",
                                                "medical_claim,economic")},
                              ("cause_map", "family", "family_has_signal"),
                              "family 'personal' has no signal column"),
    "unknown_family": ({"cause_map": sub(CAUSE_MAP, "medical,personal", "medical,social")},
                       ("cause_map", "family", "in {economic, management, personal}"),
                       "family='social'"),
    "unknown_source": ({"cause_map": CAUSE_MAP + "model,score,economic\n"},
                       ("cause_map", "source", "in {signal, reason}"), "source='model'"),
    "unmapped_reason": ({"reasons": REASONS + "L1,2023-02-01,divorce\n"},
                        ("reasons", "reason_code", "reason_mapped"), "reason_code='divorce'"),
    "cause_map_missing": ({"cause_map": None}, ("cause_map", "", "file_present"),
                          "required because signals.csv exists"),
    "no_signal_columns": ({"signals": "loan_id,month\nL1,2023-01\n"},
                          ("signals", "", "required_column"), "no signal column"),
}


def _make(tmp_path: Path, case: str) -> Path:
    overrides = CASES[case][0]
    d = write_book(tmp_path / case, **{k: v for k, v in overrides.items() if k != "measures"})
    if "measures" in overrides:
        (d / "measures.csv").write_text(overrides["measures"])
    if case == "two_files":
        load_book(d).loans.to_parquet(d / "loans.parquet")
    return d


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_reported_with_file_table_column_check_and_example(tmp_path, case, capsys):
    _, (table, column, check), text = CASES[case]
    d = _make(tmp_path, case)
    report = validate_book(d)
    assert not report.ok
    rep = report.table
    assert list(rep.columns) == ["file", "table", "column", "check", "n_failures", "examples"]
    hit = rep[(rep["table"] == table) & (rep["column"] == column) & (rep["check"] == check)]
    assert len(hit) >= 1, report.format()
    assert any(text in e for e in hit["examples"]), report.format()
    assert (hit["n_failures"] >= 1).all()
    assert all(f.startswith(table) or table in f for f in hit["file"])
    # the same through the command line: exit 2, the report on stderr, no traceback
    assert main(["validate", "--data", str(d)]) == 2
    err = capsys.readouterr().err
    assert text in err and f"check '{check}'" in err and "Traceback" not in err


def test_load_book_raises_an_input_error_carrying_the_report(tmp_path):
    d = write_book(tmp_path, performance=PERF_BAD_ROW)
    report = validate_book(d)
    with pytest.raises(BookValidationError) as exc:
        load_book(d)
    assert isinstance(exc.value, InputError) and exc.value.exit_code == 2
    pd.testing.assert_frame_equal(exc.value.report, report.table)
    pd.testing.assert_frame_equal(exc.value.validation.table, report.table)
    assert "check '>= 0' failed for 1 row(s)" in str(exc.value)


def test_every_declared_check_has_a_bad_input_case():
    covered = {c[1][2] for c in CASES.values()} | {"directory_exists"}
    assert schema.known_checks() - covered == set()


def test_missing_directory(tmp_path, capsys):
    assert main(["validate", "--data", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
    assert validate_book(tmp_path / "nope").table["check"].tolist() == ["directory_exists"]


def test_broken_parquet_and_empty_folder(tmp_path):
    d = write_book(tmp_path, loans=None, performance=None)
    (d / "loans.parquet").write_bytes(b"PAR1 not really parquet")
    (d / "performance").mkdir()
    (d / "performance" / "part-0.csv").write_text("x\n")
    rep = validate_book(d).table.set_index("table")
    assert rep.at["loans", "check"] == "readable" and "cannot read as Parquet" in rep.at[
        "loans", "examples"]
    assert rep.at["performance", "check"] == "not_empty"
    assert "no Parquet parts" in rep.at["performance", "examples"]


def test_report_collects_many_problems_at_once(tmp_path):
    d = write_book(
        tmp_path,
        loans=sub(sub(LOANS, "2023-02-03", "2023-13-03"), "0.15", "-0.15"),
        performance=sub(PERF_BAD_ROW, "L2,2023-03,4900,35", "L2,2023-03,4900,-35"),
        relief=SETTLEMENT,
        reasons=REASONS + "L1,2023-02-01,divorce\n",
    )
    rep = validate_book(d)
    checks = set(zip(rep.table["table"], rep.table["check"], strict=True))
    assert {("loans", "type:date"), ("loans", "in [0, 1)"), ("performance", ">= 0"),
            ("relief", "in declared measures"), ("reasons", "reason_mapped")} <= checks
    both = rep.table[(rep.table["check"] == ">= 0") & (rep.table["table"] == "performance")]
    assert set(both["column"]) == {"balance", "days_past_due"}
    text = rep.format()
    assert text.count("\n- ") == len(rep.table)
    assert "INVALID" in text and "2023-13-03" in text and "measure='settlement'" in text


def test_pandera_and_vectorised_checks_give_the_same_report(tmp_path, monkeypatch):
    d = write_book(
        tmp_path,
        loans=sub(sub(LOANS, "individual", "corporate"), "0.15", "1.5"),
        performance=sub(PERF_BAD_ROW, "L2,2023-03,4900,35", "L2,2023-03,4900,-35"),
        relief=SETTLEMENT,
    )
    with_pandera = validate_book(d).table
    monkeypatch.setattr(data_checks, "PANDERA_MAX_ROWS", 0)
    vectorised = validate_book(d).table
    assert len(with_pandera) >= 5
    pd.testing.assert_frame_equal(with_pandera, vectorised)


def test_examples_are_capped_at_five_rows(tmp_path):
    rows = "".join(f"L1,2023-{m:02d},-1,0,0,false\n" for m in range(4, 13))
    rep = validate_book(write_book(tmp_path, performance=PERFORMANCE + rows)).table
    row = rep[rep["check"] == ">= 0"].iloc[0]
    assert row["n_failures"] == 9 and len(row["examples"].split(" | ")) == 5


def test_validate_as_a_subprocess(tmp_path):
    d = write_book(tmp_path, loans=LOANS.replace(",", ";"))
    out = subprocess.run([sys.executable, "-m", "analysis", "validate", "--data", str(d)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "loans.csv (table loans): check 'delimiter' failed" in out.stderr
    assert "Traceback" not in out.stderr


def test_validate_writes_report_csv(tmp_path):
    d = write_book(tmp_path / "b", performance=PERF_BAD_ROW)
    assert main(["validate", "--data", str(d), "--report", str(tmp_path / "r.csv")]) == 2
    back = pd.read_csv(tmp_path / "r.csv")
    assert back[["table", "column", "check"]].values.tolist() == [
        ["performance", "balance", ">= 0"]]


# --- no input, however broken, ends in a traceback --------------------------------------

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FUZZ = settings(max_examples=15, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(content=st.binary(max_size=300))
@example(content=b"\x00\r\x00")  # once broke the header parser
@example(content=b"\xef\xbb\xbf")  # a UTF-8 byte-order mark and nothing else
def test_arbitrary_bytes_give_a_report_not_a_traceback(tmp_path_factory, content):
    d = write_book(tmp_path_factory.mktemp("fuzz"), loans=content)
    assert not validate_book(d).ok


@_FUZZ
@given(row=st.integers(0, 8), col=st.integers(0, 5),
       value=st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                            blacklist_characters=',"\r\n'), max_size=12))
def test_any_cell_value_gives_a_report_or_a_book(tmp_path_factory, row, col, value):
    lines = PERFORMANCE.splitlines()
    cells = lines[row + 1].split(",")
    cells[col] = value
    lines[row + 1] = ",".join(cells)
    d = write_book(tmp_path_factory.mktemp("fuzz"), performance="\n".join(lines) + "\n")
    report = validate_book(d)
    if report.ok:
        assert len(load_book(d).performance) >= 8
    else:
        assert set(report.table["check"]) <= schema.known_checks()
