"""Progress bars: drawn on a terminal or when forced, silent in tests, kernels and logs."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.progress import ENV_VAR, progress, progress_enabled


class Terminal(io.StringIO):
    """A StringIO that says it is a terminal, as an interactive stderr does."""

    def isatty(self) -> bool:
        return True


def test_forced_on_draws_a_bar_and_passes_every_item(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1")
    out = io.StringIO()  # not a terminal: only the variable turns the bar on
    assert list(progress(iter("abc"), "bootstrap", total=3, leave=True, file=out)) == list("abc")
    text = out.getvalue()
    assert "bootstrap" in text and "3/3" in text and "100%" in text


def test_forced_off_prints_nothing_even_on_a_terminal(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "0")
    out = Terminal()
    assert sum(progress(range(5), "folds", file=out)) == 10
    assert out.getvalue() == ""


def test_unset_draws_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    piped, tty = io.StringIO(), Terminal()
    assert list(progress(range(2), "partitions", file=piped)) == [0, 1]
    assert piped.getvalue() == ""  # a log file or a kernel's stream: silent
    assert list(progress(range(2), "partitions", leave=True, file=tty)) == [0, 1]
    assert "partitions" in tty.getvalue() and "2/2" in tty.getvalue()


def test_a_generator_without_total_counts_without_percentage(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1")
    out = io.StringIO()
    batches = (np.arange(k) for k in range(4))
    assert [len(b) for b in progress(batches, "batches", leave=True, file=out)] == [0, 1, 2, 3]
    assert "batches: 4it" in out.getvalue() and "%" not in out.getvalue()


@pytest.mark.parametrize(("raw", "expected"), [("", None), (" 1 ", True), ("0", False)])
def test_environment_values(monkeypatch, raw, expected):
    monkeypatch.setenv(ENV_VAR, raw)
    assert progress_enabled() is expected


def test_an_unknown_value_is_a_parameter_error(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "yes")
    with pytest.raises(ParameterError, match=f"{ENV_VAR}='yes': use 1"):
        progress(range(3), "x")


def test_the_cause_bootstrap_loop_reports_progress(monkeypatch, capsys):
    """The wiring: forced on, the bootstrap of cause shares draws its bar on stderr; the
    shares are the same as without the bar."""
    from analysis.causes.shares import bootstrap_shares, segment_codes

    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    segs = segment_codes(pd.DataFrame(index=range(4)))  # the whole book only
    kw = dict(draw_p=None, n_boot=7, level=0.9, min_cell=1, method="m", weight="count")

    def run() -> pd.DataFrame:
        return bootstrap_shares(p, np.ones(4), np.arange(4), segs,
                                rng=np.random.default_rng(0), **kw)[0]

    monkeypatch.setenv(ENV_VAR, "0")
    quiet = run()
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(ENV_VAR, "1")
    shown = run()
    assert "cause shares: bootstrap" in capsys.readouterr().err
    assert quiet.equals(shown)
