"""The package's version: one source, ``pyproject.toml``, read back from the installed
metadata (``importlib.metadata``), so ``--version``, page footers and run records agree."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("overdue-relief")
except PackageNotFoundError:  # a bare checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
