"""Figures of the report pages: tidy result tables in, matplotlib figures out."""

__all__ = ["causes", "effects", "portfolio", "targeting"]
