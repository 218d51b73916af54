"""The report's languages: message catalogues (locale/), formats and fonts."""

__all__ = ["catalogue", "fonts"]
