"""overdue-relief: why loans go overdue and which relief measures work.

The package is layered (``docs/ARCHITECTURE.md``): contract and data, episodes and KPIs,
analyses, delivery, scale. The two entry points most users need are re-exported here.
"""

from analysis.data import load_book, validate_book
from analysis.episodes import build_episodes

__all__ = ["build_episodes", "load_book", "validate_book"]
__version__ = "0.1.0"
