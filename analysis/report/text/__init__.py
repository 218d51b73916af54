"""Sentences, display names and formatted tables in the report language."""

__all__ = ["causes", "display", "effects", "kpis", "sample", "targeting"]
