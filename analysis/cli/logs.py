"""Logging options of every command: ``--log-level``, ``-q`` / ``-v``.

The package logs through the standard :mod:`logging` module under the ``analysis``
logger. The command line decides what reaches stderr: INFO and above by default (each
step of a run, each notebook with its duration, a heartbeat a minute while one runs),
warnings and errors only with ``-q``, debug lines with ``-v``, or any level by name with
``--log-level``. Each line has a UTC timestamp. A report run's own ``log.txt`` keeps INFO
and above whatever stderr shows (:mod:`analysis.report.runlog`). Results (a published
path, a table of KPIs) are printed on stdout, not logged.

Third-party libraries log at WARNING and above (papermill, distributed, traitlets: their
INFO lines are noise for the people who schedule the run).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

from analysis.report.runlog import ROOT_LOGGER, utc_formatter

LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Libraries whose INFO lines are noise in a scheduled run's log: WARNING and above only.
NOISY: tuple[str, ...] = ("papermill", "traitlets", "distributed", "nbclient", "jupyter_client")
#: stderr line: the time, the level, the message (the logger name only at DEBUG).
STDERR_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DEBUG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def add_logging_arguments(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """Add ``--log-level``, ``-q`` and ``-v`` to ``parser``. ``suppress``: the options'
    defaults leave the namespace alone (a subcommand's copy must not reset what was given
    before the subcommand name)."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("logging")
    group.add_argument("--log-level", choices=LEVELS, type=str.upper, default=default,
                       help="what reaches stderr (default: INFO)")
    group.add_argument("-q", "--quiet", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="warnings and errors only (--log-level WARNING)")
    group.add_argument("-v", "--verbose", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="debug lines too (--log-level DEBUG)")


def log_level(args: argparse.Namespace) -> int:
    """The stderr level the arguments ask for: ``--log-level`` wins, then ``-v``, then
    ``-q``; INFO by default."""
    name = getattr(args, "log_level", None)
    if name:
        return logging.getLevelName(name)
    if getattr(args, "verbose", False):
        return logging.DEBUG
    if getattr(args, "quiet", False):
        return logging.WARNING
    return logging.INFO


def configure_logging(level: int, stream=None) -> logging.Handler:
    """One stderr handler on the ``analysis`` logger at ``level`` (replacing one a previous
    call added); returns it. The logger itself passes INFO (a run's log.txt wants it)."""
    root = logging.getLogger(ROOT_LOGGER)
    for h in list(root.handlers):
        if getattr(h, "overdue_relief_cli", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.overdue_relief_cli = True
    handler.setLevel(level)
    handler.setFormatter(utc_formatter(DEBUG_FORMAT if level <= logging.DEBUG else STDERR_FORMAT))
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return handler


@contextlib.contextmanager
def command_logging(level: int) -> Iterator[logging.Handler]:
    """:func:`configure_logging` for one command; afterwards the loggers are as they were
    (``main`` called twice in one process, as tests do, leaves no handler behind)."""
    loggers = [logging.getLogger(n) for n in (ROOT_LOGGER, *NOISY)]
    levels = [lg.level for lg in loggers]
    handler = configure_logging(level)
    try:
        yield handler
    finally:
        logging.getLogger(ROOT_LOGGER).removeHandler(handler)
        for lg, old in zip(loggers, levels, strict=True):
            lg.setLevel(old)


__all__ = ["DEBUG_FORMAT", "LEVELS", "NOISY", "STDERR_FORMAT", "add_logging_arguments",
           "command_logging", "configure_logging", "log_level"]
