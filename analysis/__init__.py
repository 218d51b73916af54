"""overdue-relief: why loans go overdue and which relief measures work.

The package is layered (``docs/ARCHITECTURE.md``): contract and data, episodes and KPIs,
analyses, delivery, scale. The two entry points most users need are re-exported here.
"""

from analysis.data import Book, load_book, validate_book
from analysis.definitions import Definitions
from analysis.episodes import build_episodes
from analysis.version import __version__

__all__ = ["Book", "Definitions", "__version__", "build_episodes", "load_book", "validate_book"]
