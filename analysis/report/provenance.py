"""Which code and which libraries produced a published number; where its notebooks are.

``run.json`` and the run history record :func:`provenance`: the package version, the git
commit (and whether the checkout had uncommitted changes) when the run came from a
source checkout, the platform, Python and the versions of the libraries the numbers
depend on (:data:`LIBRARIES`), and :func:`environment_id`, a short digest of those
versions. ``refresh`` publishes a month again when the package version or the
environment id that published it differ from the running ones
(:func:`analysis.report.refresh.version_change`).

:func:`notebooks_dir` finds the report notebooks of this installation: ``notebooks/`` of
the checkout, else the copy the wheel carries (``analysis/report/notebooks``).

Known drawbacks: a checkout's commit is read with the ``git`` command (absent: no
commit); an installed wheel records no commit, only its version, so a wheel must be built
from a tagged, clean checkout for its version to name the code.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from analysis.errors import ParameterError
from analysis.report.pages import package_version
from analysis.report.params import default_notebooks_dir

#: Distributions whose versions a published number depends on, in ``run.json``.
LIBRARIES: tuple[str, ...] = (
    "pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "pyarrow", "dask",
    "distributed", "papermill", "nbclient", "ipykernel", "matplotlib",
)
NOT_INSTALLED = "not installed"


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "pandas": "2.2.3", ...}``; ``"not installed"`` for an
    optional library that is absent (Dask on a core-only host)."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out


def environment_id(versions: dict[str, str] | None = None) -> str:
    """12 hex digits of SHA-256 over the library versions: equal on two hosts with the
    same locked environment, different after any upgrade."""
    versions = library_versions() if versions is None else versions
    blob = json.dumps(sorted(versions.items())).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def checkout_root() -> Path | None:
    """The source checkout this package runs from (a folder with ``pyproject.toml`` and
    ``.git`` above ``analysis/``), or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / ".git").exists() else None


@functools.lru_cache(maxsize=1)
def source_commit() -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout (``dirty``: tracked files changed since the
    commit); ``(None, None)`` when installed or when git is unavailable."""
    root = checkout_root()
    if root is None:
        return None, None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True,
                                timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha or None, bool(status.strip())


def provenance() -> dict:
    """The code and environment of this process, as ``run.json`` records them."""
    commit, dirty = source_commit()
    versions = library_versions()
    return {
        "package_version": package_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "platform": platform.platform(),
        "python": versions["python"],
        "libraries": versions,
        "environment_id": environment_id(versions),
    }


def notebooks_dir() -> Path:
    """The report notebooks (:func:`analysis.report.params.default_notebooks_dir`: the
    checkout's, else the installed package's); ParameterError when there are none."""
    found = default_notebooks_dir()
    if found.is_dir():
        return found
    raise ParameterError(
        f"no report notebooks: neither {found} (a source checkout) nor the installed "
        "package's analysis/report/notebooks exists; pass --notebooks DIR"
    )


__all__ = ["LIBRARIES", "NOT_INSTALLED", "checkout_root", "environment_id", "library_versions",
           "notebooks_dir", "provenance", "source_commit"]
