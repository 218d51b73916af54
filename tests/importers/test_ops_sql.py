"""SQL sources in import specs: the LendingClub excerpt loaded into a database gives the
same book as the CSV file, read through a table or a query, in chunks; the connection
string lives in an environment variable, never in the spec.

The fast tests use SQLite (a file, no server). The PostgreSQL test (slow; ``make
test-ops``, which CI runs) starts a throwaway server from the installed PostgreSQL binaries
(Debian's ``postgresql`` package) in a temporary folder on a Unix socket and stops it
afterwards, or uses the server in ``OVERDUE_RELIEF_TEST_PG_URL``; without either it says
why it is skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.data import load_book
from analysis.importers import ImportInputError, SpecError, load_spec, run_import
from analysis.importers.sql import as_text

sqlalchemy = pytest.importorskip("sqlalchemy")

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "data" / "specs"
EXCERPT = ROOT / "data" / "samples" / "lendingclub_excerpt.csv"
KEY = b"test-key-0123456789abcdef"
URL_ENV = "OVERDUE_RELIEF_TEST_TAPE_URL"
TABLES = ("loans", "performance", "relief", "measures", "signals", "reasons", "cause_map")


def excerpt() -> pd.DataFrame:
    return pd.read_csv(EXCERPT, dtype=str, keep_default_na=False)


def sql_spec(folder: Path, **source) -> Path:
    """The LendingClub spec with its CSV source replaced by ``source`` (format: sql)."""
    raw = yaml.safe_load((SPECS / "lendingclub.yml").read_text())
    raw["sources"]["lendingclub"] = {"format": "sql", "url_env": URL_ENV, **source}
    path = folder / "lendingclub_sql.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def load_into(url: str, frame: pd.DataFrame, table: str = "lendingclub_excerpt") -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        frame.to_sql(table, engine, index=False, if_exists="replace")
    finally:
        engine.dispose()


def same_books(a: Path, b: Path) -> None:
    left, right = load_book(a), load_book(b)
    compared = 0
    for name in TABLES:
        x, y = getattr(left, name), getattr(right, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_frame_equal(x, y, obj=name)
            compared += len(x)
    assert compared > 1000  # loans, performance, relief, ... of 363 records


@pytest.fixture(scope="module")
def csv_book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("csv") / "book"
    res = run_import(SPECS / "lendingclub.yml", out, key=KEY)
    assert res.published and res.n_records == len(excerpt())
    return out


@pytest.fixture()
def sqlite_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'tape.db'}"
    load_into(url, excerpt())
    monkeypatch.setenv(URL_ENV, url)
    return url


def test_a_sqlite_table_gives_the_same_book_as_the_csv(csv_book, sqlite_url, tmp_path):
    out = tmp_path / "from_sql"
    spec = sql_spec(tmp_path, table="lendingclub_excerpt", chunksize=50)  # 363 records: 8 chunks
    res = run_import(spec, out, key=KEY)
    assert res.published and res.n_records == len(excerpt()) and res.n_quarantined == 0
    same_books(csv_book, out)
    assert res.manifest["sources"]["lendingclub"]["records"] == len(excerpt())


@pytest.mark.slow  # one more import, ~7 s under load; `make test-ops` (CI) runs it
def test_a_query_gives_the_same_book(csv_book, sqlite_url, tmp_path):
    spec = sql_spec(tmp_path, query="SELECT * FROM lendingclub_excerpt ORDER BY rowid")
    out = tmp_path / "from_query"
    res = run_import(spec, out, key=KEY)
    assert res.published
    same_books(csv_book, out)


def test_typed_database_columns_read_as_the_csv_text():
    chunk = pd.DataFrame({
        "term": [36.0, np.nan, 60.0],         # an INTEGER column with a NULL arrives as float
        "int_rate": [13.56, 7.0, np.nan],     # a REAL column stays as written
        "purpose": ["car", None, "N/A"],      # NULL and a declared missing marker
        "n": [1, 2, 3],
    })
    text = as_text(chunk, ("", "N/A"))
    assert text["term"].tolist()[::2] == ["36", "60"] and pd.isna(text["term"][1])
    assert text["int_rate"].tolist()[:2] == ["13.56", "7.0"] and pd.isna(text["int_rate"][2])
    assert text["purpose"][0] == "car" and text["purpose"][1:].isna().all()
    assert text["n"].tolist() == ["1", "2", "3"]


def test_the_url_comes_from_the_environment_never_the_spec(tmp_path, monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)
    with pytest.raises(ImportInputError, match=f"environment variable {URL_ENV} is not set"):
        run_import(sql_spec(tmp_path, table="t"), tmp_path / "out", key=KEY)
    raw = yaml.safe_load(sql_spec(tmp_path, table="t").read_text())
    raw["sources"]["lendingclub"]["url"] = "postgresql://user:secret@host/db"
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match="never write a connection string"):
        load_spec(tmp_path / "bad.yml")
    for source in ({"table": "t", "query": "SELECT 1"}, {}, {"table": "t", "chunksize": 0}):
        with pytest.raises(SpecError, match=r"sources\.lendingclub"):
            load_spec(sql_spec(tmp_path, **source))


def test_a_missing_table_or_a_bad_query_names_the_source(sqlite_url, tmp_path):
    with pytest.raises(ImportInputError, match="has no table 'no_such_table'"):
        run_import(sql_spec(tmp_path, table="no_such_table"), tmp_path / "a", key=KEY)
    with pytest.raises(ImportInputError, match="source 'lendingclub': cannot read"):
        run_import(sql_spec(tmp_path, query="SELECT * FROM nowhere"), tmp_path / "b", key=KEY)
    with pytest.raises(ImportInputError, match="returned no rows"):
        run_import(sql_spec(tmp_path, query="SELECT * FROM lendingclub_excerpt WHERE 1 = 0"),
                   tmp_path / "c", key=KEY)


def test_a_source_override_turns_the_sql_source_back_into_the_file(csv_book, tmp_path,
                                                                   monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)  # not needed: the file replaces the database
    out = tmp_path / "override"
    run_import(sql_spec(tmp_path, table="t"), out, key=KEY, sources={"lendingclub": str(EXCERPT)})
    same_books(csv_book, out)


# ------------------------------------------------------------------------ PostgreSQL
def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return Path(dirs[-1]) if dirs else None


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory) -> str:
    """A PostgreSQL URL: ``OVERDUE_RELIEF_TEST_PG_URL``, else a throwaway server started
    here (as the ``postgres`` user when run as root: initdb refuses root)."""
    if os.environ.get("OVERDUE_RELIEF_TEST_PG_URL"):
        yield os.environ["OVERDUE_RELIEF_TEST_PG_URL"]
        return
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (psycopg) is not installed")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql); .ci/run installs it")
    folder = Path("/tmp") / f"or-pg-{os.getpid()}"  # short: the socket path has a length limit
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o777)
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    run = lambda *cmd: subprocess.run([*as_user, *map(str, cmd)], capture_output=True,  # noqa: E731
                                      text=True, timeout=120)
    init = run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if init.returncode:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    start = run(bindir / "pg_ctl", "-D", data, "-w", "-t", "60", "-l", folder / "log",
                "-o", f"-k {folder} -c listen_addresses='' -p 54329", "start")
    if start.returncode:
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={folder}&port=54329"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow  # starts a PostgreSQL server (~5 s); `make test-ops` (CI) runs it
def test_postgresql_gives_the_same_book_as_the_csv(csv_book, pg_url, tmp_path, monkeypatch):
    frame = excerpt()
    typed = frame.assign(funded_amnt=pd.to_numeric(frame["funded_amnt"]),  # a numeric column
                         row_no=range(1, len(frame) + 1))
    load_into(pg_url, typed, "lc_excerpt")
    monkeypatch.setenv(URL_ENV, pg_url)
    # a query in the file's order (PostgreSQL returns a table's rows in no set order)
    spec = sql_spec(tmp_path, query="SELECT * FROM public.lc_excerpt ORDER BY row_no",
                    chunksize=100)
    res = run_import(spec, tmp_path / "from_pg", key=KEY)
    assert res.published and res.n_records == len(frame)
    same_books(csv_book, tmp_path / "from_pg")
    # the table itself: the same loans, in the server's order
    res = run_import(sql_spec(tmp_path, table="public.lc_excerpt"), tmp_path / "table", key=KEY)
    got, want = load_book(tmp_path / "table").loans, load_book(csv_book).loans
    pd.testing.assert_frame_equal(got.sort_values("loan_id").reset_index(drop=True),
                                  want.sort_values("loan_id").reset_index(drop=True))
