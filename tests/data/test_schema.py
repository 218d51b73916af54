"""The declared contract is self-consistent, generates working pandera schemas, and
data/README.md section 1 is current."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.cli.main import main
from analysis.data import schema
from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES


def test_every_table_field_is_declared_and_every_field_is_used():
    used = {n for t in schema.TABLES.values() for n in t.fields}
    assert used <= set(schema.FIELDS), used - set(schema.FIELDS)
    assert set(schema.FIELDS) <= used, set(schema.FIELDS) - used


@pytest.mark.parametrize("table", list(schema.TABLES))
def test_table_declaration(table):
    t = schema.TABLES[table]
    assert t.name == table
    assert len(set(t.fields)) == len(t.fields)
    assert t.primary_key and set(t.primary_key) <= set(t.fields)
    for k in t.primary_key:
        f = schema.FIELDS[k]
        assert f.required and not f.nullable, k
    assert t.required in ("always", "optional", "with_signals_or_reasons")
    assert t.description.strip()


@pytest.mark.parametrize("name", list(schema.FIELDS))
def test_field_declaration(name):
    f = schema.FIELDS[name]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    assert f.kind in schema.DTYPES
    assert f.description.strip().endswith(".")
    if f.has_default:  # a default only makes sense for an optional column
        assert not f.required
    if not f.required and f.name not in ("is_concession",):
        assert f.nullable, "optional columns may be missing in part"
    for r in f.rules:
        assert r.name in schema.known_checks()


def test_contract_matches_issue_and_definitions():
    t = schema.TABLES
    assert list(t) == ["loans", "performance", "relief", "signals", "reasons", "cause_map",
                       "measures"]
    assert [n for n in t["loans"].fields if schema.FIELDS[n].required] == [
        "loan_id", "borrower_id", "borrower_type", "industry", "region", "origination_date",
        "term_months", "principal", "annual_rate"]
    assert t["loans"].extra == "covariates" and t["signals"].extra == "numeric_signals"
    assert t["relief"].may_be_empty and t["relief"].required == "always"
    assert t["cause_map"].required == "with_signals_or_reasons"
    assert tuple(schema.STANDARD_MEASURES) == MEASURES
    assert [c for c, (_, conc) in schema.STANDARD_MEASURES.items() if not conc] == ["counselling"]
    bt = schema.FIELDS["borrower_type"].rules[0]
    assert list(bt.failures(pd.Series([*BORROWER_TYPES, "corporate"]))) == [False] * 3 + [True]
    fam = schema.FIELDS["family"].rules[0]
    assert not fam.failures(pd.Series(list(FAMILIES))).any()
    assert schema.FIELDS["write_off"].default == 0 and schema.FIELDS["recovery"].default == 0
    assert schema.FIELDS["month"].kind == "month"


def test_rules_skip_missing_values_and_hand_cases():
    s = pd.Series([0.0, -1.0, np.nan, 0.5, 1.0])
    assert list(schema.ge(0).failures(s)) == [False, True, False, False, False]
    assert list(schema.gt(0).failures(s)) == [True, True, False, False, False]
    assert list(schema.in_interval(0, 1).failures(s)) == [False, True, False, False, True]
    code = schema.FIELDS["code"]
    codes = pd.Series(["settlement", "Bad Code", "none", None])
    assert [list(r.failures(codes)) for r in code.rules] == [
        [False, True, False, False], [False, False, True, False]]


def _good(table: str) -> pd.DataFrame:
    rows = {
        "loans": dict(loan_id=["L1"], borrower_id=["B1"], borrower_type=["individual"],
                      industry=["retail"], region=["x"],
                      origination_date=pd.to_datetime(["2023-01-05"]), term_months=[12],
                      principal=[100.0], annual_rate=[0.1]),
        "performance": dict(loan_id=["L1"], month=pd.to_datetime(["2023-01-31"]),
                            balance=[10.0], days_past_due=[0]),
        "relief": dict(loan_id=["L1"], granted_date=pd.to_datetime(["2023-01-05"]),
                       measure=["deferral"]),
        "signals": dict(loan_id=["L1"], month=pd.to_datetime(["2023-01-31"]), x=[1.0]),
        "reasons": dict(loan_id=["L1"], reported_date=pd.to_datetime(["2023-01-05"]),
                        reason_code=["ill"]),
        "cause_map": dict(source=["signal"], name=["x"], family=["economic"]),
        "measures": dict(code=["settlement"], description=["debt settlement"],
                         is_concession=[True]),
    }
    return pd.DataFrame(rows[table])


@pytest.mark.parametrize("table", list(schema.TABLES))
def test_generated_pandera_schema_accepts_good_rows(table):
    schema.pandera_schema(table).validate(_good(table))


def test_generated_pandera_schema_rejects_bad_rows_lazily():
    import pandera.pandas as pa

    bad = pd.concat([_good("performance")] * 2, ignore_index=True)
    bad.loc[1, "balance"] = -5.0
    with pytest.raises(pa.errors.SchemaErrors) as e:
        schema.pandera_schema("performance").validate(bad, lazy=True)
    checks = set(e.value.failure_cases["check"])
    assert ">= 0" in checks and "multiple_fields_uniqueness" in checks
    with pytest.raises(pa.errors.SchemaErrors) as e:
        schema.pandera_schema("relief", measure_codes=MEASURES).validate(
            _good("relief").assign(measure="settlement"), lazy=True)
    assert "in declared measures" in set(e.value.failure_cases["check"])
    schema.pandera_schema("relief", measure_codes=[*MEASURES, "settlement"]).validate(
        _good("relief").assign(measure="settlement"))


def test_markdown_documents_every_table_field_and_check():
    md = schema.render_markdown()
    for t in schema.TABLES.values():
        assert f"### `{t.name}`" in md
        for f in t.fields:
            assert f"| `{f}` |" in md
    for c in {**schema.FILE_CHECKS, **schema.CROSS_CHECKS}:
        assert f"`{c}`" in md


def test_data_readme_is_current():
    path, old, new = schema.readme_with_schema()
    assert old == new, "data/README.md section 1 is stale: run `python -m analysis schema-doc`"
    assert old.count(schema.BEGIN_MARK) == 1 and old.count(schema.END_MARK) == 1
    sec1 = old[old.index("## 1."): old.index("## 2.")]
    assert schema.BEGIN_MARK in sec1 and schema.END_MARK in sec1


def test_schema_doc_cli_inserts_markers_then_is_idempotent(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# Data\n\n## 1. The data contract\nintro\n\n## 2. Definitions\nkeep me\n")
    assert main(["schema-doc", "--readme", str(readme), "--check"]) == 1
    assert main(["schema-doc", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.index("intro") < text.index(schema.BEGIN_MARK) < text.index("## 2. Definitions")
    assert text.endswith("## 2. Definitions\nkeep me\n")
    assert main(["schema-doc", "--readme", str(readme), "--check"]) == 0
    assert main(["schema-doc", "--readme", str(readme)]) == 0
    assert readme.read_text() == text
    assert "already current" in capsys.readouterr().out


def test_schema_doc_without_section_is_an_input_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# nothing here\n")
    assert main(["schema-doc", "--readme", str(readme)]) == 2
    assert "no '## 1. The data contract' section" in capsys.readouterr().err
