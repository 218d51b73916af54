"""Progress bars on long loops (bootstrap replicates, cross-fitting folds, Dask partitions).

:func:`progress` wraps an iterable in a :mod:`tqdm` bar on stderr. By default the bar is
shown only when stderr is a terminal (tqdm's ``disable=None``), so tests, notebook kernels
and scheduled runs, whose stderr is a pipe or a log file, print nothing; the run's
one-line heartbeat (:mod:`analysis.report.execute`) covers non-interactive logs. The
environment variable ``OVERDUE_RELIEF_PROGRESS`` forces bars on (``1``) or off (``0``).

This is a core module: any layer may import it; it imports nothing of the package but
:mod:`analysis.errors`.

Known drawbacks: a bar is redrawn at most once a second (``mininterval``), so a loop of a
few fast iterations may show only its final state; bars of nested loops share one stderr
and are left on screen only for the outer loop (``leave``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, TypeVar

from tqdm import tqdm

from analysis.errors import ParameterError

__all__ = ["ENV_VAR", "progress", "progress_enabled"]

#: ``1``: always draw bars; ``0``: never; unset or empty: only when stderr is a terminal.
ENV_VAR = "OVERDUE_RELIEF_PROGRESS"

T = TypeVar("T")


def progress_enabled() -> bool | None:
    """What ``OVERDUE_RELIEF_PROGRESS`` asks for: True (``1``), False (``0``), None (unset:
    decide by whether stderr is a terminal). ParameterError on any other value."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw == "":
        return None
    if raw in ("0", "1"):
        return raw == "1"
    raise ParameterError(f"{ENV_VAR}={raw!r}: use 1 (show progress bars) or 0 (never)")


def progress(iterable: Iterable[T], desc: str, total: int | None = None, *,
             leave: bool = False, file: IO[str] | None = None) -> Iterable[T]:
    """``iterable`` with a progress bar labelled ``desc`` (an operator's label, English).

    ``total``: the number of items when ``iterable`` has no ``len`` (a generator of
    batches), None when unknown (the bar then counts without a percentage). ``leave``:
    keep the finished bar on screen. ``file``: where to draw (default stderr). The bar is
    drawn when stderr (``file``) is a terminal, or always / never when
    ``OVERDUE_RELIEF_PROGRESS`` is ``1`` / ``0``; otherwise the iterable is returned
    through a disabled tqdm, which costs nothing per item.
    """
    enabled = progress_enabled()
    return tqdm(iterable, desc=desc, total=total, leave=leave, file=file,
                disable=None if enabled is None else not enabled, mininterval=1.0,
                dynamic_ncols=True)
