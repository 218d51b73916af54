"""The run's log: timestamped lines on the standard :mod:`logging` module.

A report run logs through the ``analysis`` logger hierarchy. :class:`RunLog` is a handler
attached to the ``analysis`` logger for the run's duration: it keeps every line of the run
at INFO and above (DEBUG with ``-v``) in memory and, once the run's staging folder exists,
in ``log.txt`` there, flushed line by line, so a killed run leaves its log on disk. The
file is published next to ``run.json`` (``reports/<month>/log.txt``), or kept in
``reports/_failed/<run id>/log.txt``.

What goes where is a decision, not an accident: the *file* always holds the run's
progress (INFO: each step, each notebook with its duration, heartbeats, retries,
degraded sections); *stderr* holds what the command line asked for (``--log-level``,
``-q`` for warnings and errors only, ``-v`` for debug; :mod:`analysis.cli.logs`).
Timestamps are UTC, ISO 8601, so logs of hosts in different time zones line up.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

#: The logger every module of the package logs under (``logging.getLogger(__name__)``).
ROOT_LOGGER = "analysis"
#: The runner's own lines.
RUN_LOGGER = "analysis.report.run"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LOG_FILE = "log.txt"


def utc_formatter(fmt: str = LOG_FORMAT) -> logging.Formatter:
    """A formatter with UTC ISO 8601 timestamps (``2026-12-03T03:00:12Z INFO ...``)."""
    formatter = logging.Formatter(fmt, DATE_FORMAT)
    formatter.converter = time.gmtime
    return formatter


class RunLog(logging.Handler):
    """The lines of one run: in memory, and in ``log.txt`` once :meth:`attach`-ed.

    Calling the object logs a line on the runner's logger: ``run.log("validating ...")``,
    ``run.log("kernel died", logging.WARNING)``.
    """

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(utc_formatter())
        self.lines: list[str] = []
        self.file: TextIO | None = None
        self.logger = logging.getLogger(RUN_LOGGER)

    def __call__(self, msg: str, level: int = logging.INFO) -> None:
        self.logger.log(level, msg)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()

    def attach(self, folder: Path) -> Path:
        """Write the lines so far to ``folder/log.txt`` and every later line as it comes."""
        self.detach()
        path = Path(folder) / LOG_FILE
        self.file = path.open("w", encoding="utf-8")
        self.file.write(self.text())
        self.file.flush()
        return path

    def detach(self) -> None:
        """Close ``log.txt`` (before its folder is moved or removed); lines stay in memory."""
        if self.file is not None:
            self.file.close()
            self.file = None

    def text(self) -> str:
        """The whole log so far, one line per record (a traceback spans several)."""
        return "".join(line + "\n" for line in self.lines)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[RunLog]:
        """Attach this handler to the ``analysis`` logger for the block; the logger lets
        INFO through while it runs when nobody configured it (library use, tests)."""
        root = logging.getLogger(ROOT_LOGGER)
        previous = root.level
        if root.getEffectiveLevel() > self.level:
            root.setLevel(self.level)
        root.addHandler(self)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(previous)
            self.detach()


__all__ = ["DATE_FORMAT", "LOG_FILE", "LOG_FORMAT", "ROOT_LOGGER", "RUN_LOGGER", "RunLog",
           "utc_formatter"]
