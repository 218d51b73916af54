"""The data contract: one declared registry of tables and fields.

Every field is declared once (:data:`FIELDS`: kind, whether required, nullable,
value rules, default, unit, description) and every table once (:data:`TABLES`:
its fields, primary key, whether the file is required, what happens to further
columns). Everything else is generated from this registry:

- the pandera schemas (:func:`pandera_schema`), applied lazily by
  :mod:`analysis.data.validate` so that one run reports every problem;
- the vectorised checks :mod:`analysis.data.validate` runs itself on tables too large for
  pandera's failure-case machinery (same rules, same report rows);
- the data dictionary in ``data/README.md`` section 1 (:func:`render_markdown`,
  rewritten by ``python -m analysis schema-doc``; a test keeps it current).

Check names that can appear in a validation report are declared here too
(:data:`FILE_CHECKS`, :data:`CROSS_CHECKS`, the field rules), so the report and
the documentation speak the same language.

Units: amounts are in the book's currency (CNY for our lenders); rates are
fractions (0.05 = 5 %); ``rate_cut_bp`` is in basis points; months are calendar
months; days past due are days.

Known drawbacks: value rules are per column; rules that relate several columns
of one row (e.g. ``amount_paid <= amount_due``) are not declared, because real
tapes break them for legitimate reasons (prepayments, fees).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES, NO_RELIEF
from analysis.errors import InputError

Kind = Literal["str", "int", "float", "date", "month", "bool"]

#: pandas dtype of each kind after loading (nullable variant in the second slot).
DTYPES: dict[str, tuple[str, str]] = {
    "str": ("object", "object"),
    "int": ("int64", "Int64"),
    "float": ("float64", "float64"),
    "date": ("datetime64[ns]", "datetime64[ns]"),
    "month": ("datetime64[ns]", "datetime64[ns]"),
    "bool": ("bool", "boolean"),
}

KIND_TEXT: dict[str, str] = {
    "str": "text",
    "int": "integer",
    "float": "number",
    "date": "date (YYYY-MM-DD)",
    "month": "month (YYYY-MM or month-end date)",
    "bool": "boolean (true/false)",
}

#: Strings read as missing in CSV files.
NA_STRINGS: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")

#: Standard relief measures, always known; a ``measures`` table may add more.
STANDARD_MEASURES: dict[str, tuple[str, bool]] = {
    "deferral": ("payments deferred for deferral_months (interest may accrue)", True),
    "instalment": ("arrears and balance re-spread over a number of instalments", True),
    "rate_reduction": ("interest rate cut by rate_cut_bp basis points", True),
    "counselling": ("financial or business counselling sessions, no change to terms", False),
}
assert tuple(STANDARD_MEASURES) == MEASURES


@dataclass(frozen=True)
class Rule:
    """A vectorised value rule: ``fn(series)`` is True where a non-null value passes.

    ``name`` is the check name in validation reports and in the data dictionary.
    """

    name: str
    fn: Callable[[pd.Series], pd.Series | np.ndarray]
    hint: str = ""

    def failures(self, values: pd.Series) -> np.ndarray:
        """Boolean mask of non-null values that break the rule."""
        notna = values.notna().to_numpy()
        ok = np.asarray(self.fn(values), dtype=bool)
        return notna & ~ok


def ge(x: float) -> Rule:
    return Rule(f">= {x:g}", lambda s: (s >= x).fillna(True).to_numpy())


def gt(x: float) -> Rule:
    return Rule(f"> {x:g}", lambda s: (s > x).fillna(True).to_numpy())


def in_interval(lo: float, hi: float) -> Rule:
    """Half-open interval [lo, hi)."""
    return Rule(f"in [{lo:g}, {hi:g})", lambda s: ((s >= lo) & (s < hi)).fillna(True).to_numpy())


def isin(values: tuple[str, ...]) -> Rule:
    return Rule(f"in {{{', '.join(values)}}}", lambda s: s.isin(values).to_numpy())


def matches(pattern: str, text: str) -> Rule:
    rx = re.compile(pattern)
    return Rule(text, lambda s: s.astype(str).str.fullmatch(rx).fillna(False).to_numpy())


def not_in(values: tuple[str, ...], text: str) -> Rule:
    return Rule(text, lambda s: (~s.isin(values)).to_numpy())


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Field:
    """One column of the contract, declared once.

    ``default``: filled when the column is absent and into its missing values
    (``None`` = the column is created with missing values; no default = an
    absent optional column stays absent). ``allowed_from="measures"`` means the
    allowed values are the book's measure codes (standard plus declared).
    """

    name: str
    kind: Kind
    description: str
    unit: str = ""
    required: bool = True
    nullable: bool = False
    rules: tuple[Rule, ...] = ()
    default: object = _NO_DEFAULT
    allowed_from: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    @property
    def dtype(self) -> str:
        return DTYPES[self.kind][1 if self.nullable else 0]


Extra = Literal["covariates", "kept", "numeric_signals"]


@dataclass(frozen=True)
class Table:
    """One table (file) of the contract.

    ``required``: "always", "optional" or "with_signals_or_reasons".
    ``extra``: what happens to columns not declared: kept as loan covariates,
    kept as they are, or read as numeric signal columns.
    ``text_as_category``: the pandas loader holds the declared text columns (IDs and
    codes) as ``category`` with sorted categories (:func:`category_columns`): the large
    tables, where one text object per row would cost memory and hashing time.
    """

    name: str
    description: str
    fields: tuple[str, ...]
    primary_key: tuple[str, ...]
    required: Literal["always", "optional", "with_signals_or_reasons"] = "always"
    may_be_empty: bool = False
    extra: Extra = "kept"
    text_as_category: bool = False


def _fields(*fields: Field) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for f in fields:
        if f.name in out:
            raise ValueError(f"field {f.name!r} declared twice")
        out[f.name] = f
    return out


_CODE = matches(r"[a-z][a-z0-9_]*", "code format [a-z][a-z0-9_]*")

FIELDS: dict[str, Field] = _fields(
    # keys and dates
    Field("loan_id", "str", "Loan identifier (pseudonymised); unique in loans."),
    Field("borrower_id", "str", "Borrower identifier (pseudonymised); a borrower may hold several loans."),
    Field("month", "month", "Month of the observation, stored as the month-end date.", "month"),
    Field("origination_date", "date", "Date the loan was disbursed.", "date"),
    Field("granted_date", "date", "Date the relief measure was granted.", "date"),
    Field("reported_date", "date", "Date the borrower reported the reason to collections.", "date"),
    # loans
    Field("borrower_type", "str", "Kind of borrower.", rules=(isin(BORROWER_TYPES),)),
    Field("industry", "str", "Industry of the borrower's business (or 'household')."),
    Field("region", "str", "Region (province or city) of the borrower."),
    Field("term_months", "int", "Contractual term.", "months", rules=(gt(0),)),
    Field("principal", "float", "Amount disbursed.", "currency (CNY)", rules=(gt(0),)),
    Field("annual_rate", "float", "Contractual annual interest rate.", "fraction per year",
          rules=(in_interval(0, 1),)),
    Field("credit_score", "float", "Credit score at origination (scale of the source).", "score points",
          required=False, nullable=True),
    # performance
    Field("balance", "float", "Outstanding balance at month end.", "currency (CNY)", rules=(ge(0),)),
    Field("days_past_due", "int", "Days past due at month end.", "days", rules=(ge(0),)),
    Field("amount_due", "float", "Amount due in the month.", "currency (CNY)", required=False,
          nullable=True, rules=(ge(0),)),
    Field("amount_paid", "float", "Amount paid in the month.", "currency (CNY)", required=False,
          nullable=True, rules=(ge(0),)),
    Field("write_off", "float", "Amount written off in the month.", "currency (CNY)", required=False,
          nullable=True, rules=(ge(0),), default=0.0),
    Field("recovery", "float", "Amount recovered in the month after a write-off.", "currency (CNY)",
          required=False, nullable=True, rules=(ge(0),), default=0.0),
    # relief
    Field("measure", "str", "Relief measure code: a standard one or one declared in measures.",
          allowed_from="measures"),
    Field("deferral_months", "int", "Months of payments deferred (deferral).", "months",
          required=False, nullable=True, rules=(ge(0),), default=None),
    Field("instalments", "int", "Number of instalments arrears are re-spread over (instalment).",
          "instalments", required=False, nullable=True, rules=(ge(0),), default=None),
    Field("rate_cut_bp", "float", "Interest rate cut (rate_reduction).", "basis points",
          required=False, nullable=True, rules=(ge(0),), default=None),
    Field("counselling_sessions", "int", "Counselling sessions held (counselling).", "sessions",
          required=False, nullable=True, rules=(ge(0),), default=None),
    # reasons and cause map
    Field("reason_code", "str", "Reason the borrower gave collections, as a code."),
    Field("source", "str", "What the row maps: a signal column or a reason code.",
          rules=(isin(("signal", "reason")),)),
    Field("name", "str", "Name of the signal column or the reason code."),
    Field("family", "str", "Cause family the signal or reason speaks for.", rules=(isin(FAMILIES),)),
    # measures
    Field("code", "str", "Measure code used in relief.measure.",
          rules=(_CODE, not_in((NO_RELIEF,), f"not reserved '{NO_RELIEF}'"))),
    Field("description", "str", "What the measure does.", required=False, nullable=True),
    Field("is_concession", "bool", "True when the measure changes the loan's terms (forbearance)."),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("loans", "One row per loan: attributes at origination. Further columns are kept "
              "as covariates.",
              ("loan_id", "borrower_id", "borrower_type", "industry", "region", "origination_date",
               "term_months", "principal", "annual_rate", "credit_score"),
              ("loan_id",), extra="covariates", text_as_category=True),
        Table("performance", "One row per loan per month-end, from origination, without gaps. "
              "Further columns (e.g. an is_reconstructed flag) are kept.",
              ("loan_id", "month", "balance", "days_past_due", "amount_due", "amount_paid",
               "write_off", "recovery"),
              ("loan_id", "month"), text_as_category=True),
        Table("relief", "One row per relief measure granted. The file is required but may have "
              "no rows.",
              ("loan_id", "granted_date", "measure", "deferral_months", "instalments",
               "rate_cut_bp", "counselling_sessions"),
              ("loan_id", "granted_date", "measure"), may_be_empty=True),
        Table("signals", "Optional. One row per loan per month-end; every further column is a "
              "numeric signal (e.g. regional demand change, revenue volatility, a medical-claim "
              "flag) and must be mapped in cause_map.",
              ("loan_id", "month"), ("loan_id", "month"), required="optional",
              extra="numeric_signals", text_as_category=True),
        Table("reasons", "Optional. Reasons borrowers reported to collections.",
              ("loan_id", "reported_date", "reason_code"),
              ("loan_id", "reported_date", "reason_code"), required="optional"),
        Table("cause_map", "Which signal column or reason code speaks for which cause family. "
              "Required when signals or reasons exist.",
              ("source", "name", "family"), ("source", "name"),
              required="with_signals_or_reasons"),
        Table("measures", "Optional. Declares measure codes beyond the standard four "
              f"({', '.join(MEASURES)}); an undeclared code in relief is an error.",
              ("code", "description", "is_concession"), ("code",), required="optional"),
    )
}

#: Checks on files and columns, before any value is looked at.
FILE_CHECKS: dict[str, str] = {
    "directory_exists": "the data directory exists",
    "file_present": "a required table has a file (`<table>.parquet`, `<table>.csv` or `<table>/`)",
    "single_file": "a table has only one of the three file forms",
    "readable": "the file can be read as CSV or Parquet",
    "encoding": "a CSV file is UTF-8 (the report names the byte offset and line)",
    "delimiter": "a CSV file is comma-separated",
    "not_empty": "the file has a header and (unless the table may be empty) rows",
    "required_column": "every required column is present",
    "unique_column_names": "no column name appears twice",
    "not_null": "a non-nullable column has no missing values",
    "integer": "an integer column holds whole numbers",
}
for _kind, _text in KIND_TEXT.items():
    if _kind != "str":  # anything reads as text
        FILE_CHECKS[f"type:{_kind}"] = f"the value parses as {_text}"

#: Checks across rows and tables (implemented in analysis.data.validate).
CROSS_CHECKS: dict[str, str] = {
    "unique_key": "the primary key is unique",
    "month_end": "months are month-end dates (YYYY-MM is read as its month end)",
    "known_loan_id": "every loan_id of performance, relief, signals and reasons is in loans",
    "not_before_origination": "no performance month (and no relief) before the loan's "
    "origination month",
    "contiguous_months": "performance months of a loan are consecutive (no gaps)",
    "standard_measure": "a standard code redeclared in measures keeps its is_concession",
    "numeric": "signal columns are numeric",
    "signal_mapped": "every signal column has a cause_map row with source=signal",
    "mapped_signal_exists": "when signals exist, every cause_map signal names one of its columns",
    "family_has_signal": "when signals exist, every cause family has at least one signal",
    "reason_mapped": "every reason_code has a cause_map row with source=reason",
}


def field_rule_names() -> set[str]:
    names = {r.name for f in FIELDS.values() for r in f.rules}
    names.add("in declared measures")
    return names


def known_checks() -> set[str]:
    """Every check name a validation report may contain."""
    return set(FILE_CHECKS) | set(CROSS_CHECKS) | field_rule_names()


def table_fields(table: str) -> list[Field]:
    return [FIELDS[n] for n in TABLES[table].fields]


def category_columns(table: str) -> tuple[str, ...]:
    """The declared text columns the pandas loader holds as ``category`` (empty unless the
    table is ``text_as_category``): loan and borrower IDs and the loan codes, whose
    values repeat over millions of loan-months (4-byte codes instead of text objects)."""
    t = TABLES[table]
    if not t.text_as_category:
        return ()
    return tuple(n for n in t.fields if FIELDS[n].kind == "str")


def measure_rule(codes: list[str] | tuple[str, ...]) -> Rule:
    codes = tuple(codes)
    return Rule("in declared measures", lambda s: s.isin(codes).to_numpy(),
                hint=f"known codes: {', '.join(codes)}; declare others in a measures table")


def field_rules(f: Field, measure_codes: tuple[str, ...] | list[str] = MEASURES) -> tuple[Rule, ...]:
    """The value rules of a field, with dynamic allowed values resolved."""
    if f.allowed_from == "measures":
        return (*f.rules, measure_rule(measure_codes))
    return f.rules


def pandera_schema(
    table: str,
    *,
    measure_codes: tuple[str, ...] | list[str] = MEASURES,
    dtypes: bool = True,
    primary_key: bool = True,
):
    """The pandera ``DataFrameSchema`` of a table, generated from the registry.

    ``dtypes=False`` leaves dtypes unchecked (``analysis.data.validate`` coerces and reports
    type problems itself, with the raw values as examples); ``primary_key=False``
    leaves uniqueness to the caller. Optional columns are ``required=False``;
    further columns are allowed (``strict=False``).
    """
    import pandera.pandas as pa

    columns = {}
    for f in table_fields(table):
        checks = [
            pa.Check(lambda s, r=r: pd.Series(~r.failures(s), index=s.index), name=r.name, error=r.name)
            for r in field_rules(f, measure_codes)
        ]
        columns[f.name] = pa.Column(
            f.dtype if dtypes else None,
            checks=checks,
            nullable=f.nullable,
            required=f.required,
            description=f.description,
            title=f.name,
        )
    pk = list(TABLES[table].primary_key)
    return pa.DataFrameSchema(
        columns,
        name=table,
        strict=False,
        unique=pk if (primary_key and pk) else None,
        report_duplicates="exclude_first",
        description=TABLES[table].description,
    )


# --- the data dictionary ---------------------------------------------------------------

BEGIN_MARK = "<!-- BEGIN schema-doc: generated by `python -m analysis schema-doc`; do not edit -->"
END_MARK = "<!-- END schema-doc -->"


def _rule_text(f: Field) -> str:
    parts = [r.name for r in f.rules]
    if f.kind == "month":
        parts.insert(0, "month_end")
    if f.allowed_from == "measures":
        parts.append(f"in {{{', '.join(MEASURES)}}} or declared in measures")
    if f.has_default:
        parts.append("default: missing" if f.default is None else f"default {f.default:g}")
    return "; ".join(parts)


def render_markdown() -> str:
    """The data dictionary (``data/README.md`` section 1) as Markdown."""
    req_text = {
        "always": "required",
        "optional": "optional",
        "with_signals_or_reasons": "required when signals or reasons exist",
    }
    lines = [
        "A data directory holds one file per table: `<table>.parquet`, `<table>.csv` "
        "(UTF-8, comma-separated, header row, ISO dates) or a folder `<table>/` of Parquet "
        "parts. Table and column names are exactly these. Validate with "
        "`python -m analysis validate --data DIR`; load with `analysis.load_book(DIR)`.",
        "",
        "| table | file | primary key | further columns |",
        "|---|---|---|---|",
    ]
    extra_text = {
        "covariates": "kept as covariates",
        "kept": "kept",
        "numeric_signals": "numeric signal columns",
    }
    for t in TABLES.values():
        empty = ", may be empty" if t.may_be_empty else ""
        lines.append(
            f"| `{t.name}` | {req_text[t.required]}{empty} | {', '.join(t.primary_key)} "
            f"| {extra_text[t.extra]} |"
        )
    for t in TABLES.values():
        lines += ["", f"### `{t.name}`", "", t.description, ""]
        lines += [
            "| column | type | required | missing allowed | checks | unit | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in table_fields(t.name):
            lines.append(
                f"| `{f.name}` | {f.kind} | {'yes' if f.required else 'no'} "
                f"| {'yes' if f.nullable else 'no'} | {_rule_text(f)} | {f.unit} "
                f"| {f.description} |"
            )
    lines += [
        "",
        "Standard measures (always known; a `measures` table may add codes, an undeclared "
        "code is an error):",
        "",
        "| code | is_concession | description |",
        "|---|---|---|",
    ]
    for code, (desc, conc) in STANDARD_MEASURES.items():
        lines.append(f"| `{code}` | {str(conc).lower()} | {desc} |")
    lines += ["", "Loading types: " + "; ".join(
        f"{k} → `{v[0]}`" + (f" (`{v[1]}` when missing allowed)" if v[1] != v[0] else "")
        for k, v in DTYPES.items()
    ) + ". Months given as `YYYY-MM` become the month-end date; a full date must be a "
        "month end. IDs are read as text. Missing values in CSV: empty, "
        + ", ".join(f"`{x}`" for x in NA_STRINGS if x) + "."]
    lines += ["", "Checks a validation report can name, besides the column checks above:", ""]
    lines += [f"- `{k}`: {v}" for k, v in {**FILE_CHECKS, **CROSS_CHECKS}.items()]
    return "\n".join(lines) + "\n"


def default_readme() -> Path:
    """The repository's ``data/README.md`` (where the data dictionary lives)."""
    return Path(__file__).resolve().parents[2] / "data" / "README.md"


def _splice(text: str, body: str, path: Path) -> str:
    if BEGIN_MARK not in text or END_MARK not in text:
        # First run: put the markers right under the section 1 heading.
        head = "## 1. The data contract"
        if head not in text:
            raise InputError(f"{path}: no '{head}' section and no schema-doc markers")
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        nxt = len(text) if nxt < 0 else nxt + 1
        section = text[start:nxt].rstrip("\n")
        text = text[:start] + f"{section}\n\n{BEGIN_MARK}\n{END_MARK}\n\n" + text[nxt:]
    a = text.index(BEGIN_MARK) + len(BEGIN_MARK)
    b = text.index(END_MARK)
    return text[:a] + "\n" + body + text[b:]


def readme_with_schema(path: Path | None = None) -> tuple[Path, str, str]:
    """(path, current text, text with a fresh data dictionary)."""
    path = Path(path) if path else default_readme()
    if not path.exists():
        raise InputError(f"{path}: not found (give --readme PATH)")
    text = path.read_text(encoding="utf-8")
    return path, text, _splice(text, render_markdown(), path)


def write_readme(path: Path | None = None) -> bool:
    """Rewrite section 1 of ``data/README.md``; True when the file changed."""
    path, old, new = readme_with_schema(path)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
