"""Logging for the scheduled job: every command takes --log-level / -q / -v; stderr shows
what was asked for, with UTC timestamps; a run's log.txt keeps INFO whatever stderr shows."""

from __future__ import annotations

import io
import logging
import re

import pytest

from analysis.cli.logs import configure_logging, log_level
from analysis.cli.main import build_parser
from analysis.report.runlog import LOG_FILE, RunLog

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture()
def restore_logging():
    root = logging.getLogger("analysis")
    handlers, level, propagate = list(root.handlers), root.level, root.propagate
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    root.propagate = propagate


@pytest.mark.parametrize(("argv", "level"), [
    (["kpis", "--data", "d"], logging.INFO),
    (["-q", "kpis", "--data", "d"], logging.WARNING),
    (["kpis", "--data", "d", "-q"], logging.WARNING),
    (["kpis", "--data", "d", "-v"], logging.DEBUG),
    (["-v", "refresh", "--data", "d"], logging.DEBUG),
    (["--log-level", "error", "validate", "--data", "d"], logging.ERROR),
    (["report", "--data", "d", "--as-of", "2024-06", "-q", "--log-level", "DEBUG"], logging.DEBUG),
])
def test_log_level_before_or_after_the_command(argv, level):
    assert log_level(build_parser().parse_args(argv)) == level


def test_every_command_documents_the_logging_options():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "--log-level" in text and "-q, --quiet" in text and "-v, --verbose" in text, name


def test_stderr_shows_the_chosen_level_and_the_run_log_keeps_info(restore_logging, tmp_path):
    stream = io.StringIO()
    configure_logging(logging.WARNING, stream)
    log = logging.getLogger("analysis.report.test")
    run_log = RunLog()
    with run_log.capturing():
        run_log.attach(tmp_path)
        log.info("step one")
        log.warning("kernel died; running it once more")
    assert "step one" not in stream.getvalue()
    (line,) = stream.getvalue().splitlines()
    assert re.fullmatch(STAMP + r" WARNING kernel died; running it once more", line)
    kept = (tmp_path / LOG_FILE).read_text().splitlines()
    assert [re.sub(STAMP + " ", "", k) for k in kept] == [
        "INFO    step one", "WARNING kernel died; running it once more"]
    configure_logging(logging.INFO, stream)  # a second call replaces the handler
    assert sum(getattr(h, "overdue_relief_cli", False)
               for h in logging.getLogger("analysis").handlers) == 1


def test_a_command_leaves_no_handler_behind(capsys):
    from analysis.cli.main import main

    root = logging.getLogger("analysis")
    before = (list(root.handlers), root.level)
    assert main(["-v", "validate", "--data", "/no/such/folder"]) == 2
    assert (list(root.handlers), root.level) == before
    assert "not found" in capsys.readouterr().err


def test_run_log_writes_earlier_lines_on_attach_and_stops_on_detach(tmp_path):
    run_log = RunLog()
    with run_log.capturing():
        run_log("before the staging folder exists")
        path = run_log.attach(tmp_path)
        run_log("while it runs", logging.WARNING)
        assert len(path.read_text().splitlines()) == 2  # flushed line by line
        run_log.detach()
        run_log("after publishing")
    assert len(path.read_text().splitlines()) == 2
    assert run_log.text().count("\n") == 3 and "after publishing" in run_log.lines[-1]
    assert logging.getLogger("analysis").level == logging.NOTSET  # restored
