"""Publishing a report safely: one run at a time, all-or-nothing, failures kept.

* **Lock**: every run (and ``refresh``) holds an exclusive ``fcntl.flock`` on
  ``reports/.lock`` for its whole duration. A second run waits up to
  ``lock_timeout`` seconds (default 600), polling, then exits with status 3 and a
  message naming the holder (pid, start time, reporting month). The lock is released by
  the kernel when the process dies, so a crashed run never leaves a stale lock.
* **Atomic publish**: a run builds everything in ``reports/.staging-<run id>/`` (same
  file system), then swaps it with ``reports/<as_of>/``: with Linux ``renameat2``
  ``RENAME_EXCHANGE`` the swap is a single atomic step, elsewhere two renames under the
  lock. The old tree is then removed. Readers see the old month or the new one, never a
  mixture.
* **Failures** go to ``reports/_failed/<run id>/``: the executed notebooks (with the
  failing cell's traceback), ``log.txt`` and ``run.json``. The published month is not
  touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis.errors import InputError

LOCK_FILE = ".lock"
FAILED_DIR = "_failed"
STAGING_PREFIX = ".staging-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class ReportBusy(InputError):
    """Another run holds the lock on the reports directory."""

    exit_code = 3


def new_run_id(now: dt.datetime | None = None) -> str:
    """``20240705T101500Z-3f9a`` (UTC time plus random suffix; sorts by time)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@contextmanager
def report_lock(out_dir: Path, timeout_s: float = 600.0, what: str = "") -> Iterator[None]:
    """Hold the exclusive lock on ``out_dir/.lock``; wait up to ``timeout_s`` seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, timeout_s)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "unknown"
                    raise ReportBusy(
                        f"another report run holds {path} ({holder}); waited {timeout_s:g} s. "
                        "Try again later or raise --lock-timeout."
                    ) from None
                time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {utc_now()}, {what}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def publish_name(as_of: str, segment: str) -> str:
    """Folder of a published month: ``2024-06`` or ``2024-06_borrower_type-micro``."""
    if not segment:
        return as_of
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", segment.replace("=", "-").replace(",", "_"))
    return f"{as_of}_{slug}"


def staging_dir(out_dir: Path, run_id: str) -> Path:
    """A fresh build folder beside the published months."""
    path = out_dir / f"{STAGING_PREFIX}{run_id}"
    path.mkdir(parents=True)
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` atomically (see module docstring)."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the old tree
        return
    old = target.with_name(f".old-{target.name}-{staging.name}")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def keep_failure(out_dir: Path, run_id: str, staging: Path | None, log_text: str,
                 run_info: dict) -> Path:
    """Move the failed build's executed notebooks and log to ``_failed/<run id>/``."""
    dest = out_dir / FAILED_DIR / run_id
    dest.mkdir(parents=True, exist_ok=True)
    if staging is not None and staging.exists():
        executed = staging / "executed"
        if executed.exists():
            shutil.copytree(executed, dest / "executed", dirs_exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    (dest / "log.txt").write_text(log_text, encoding="utf-8")
    write_json(dest / "run.json", run_info)
    return dest


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (temporary file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def clean_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging folders left by killed runs (call while holding the lock)."""
    removed = []
    for p in out_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    for p in out_dir.glob(".old-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed
