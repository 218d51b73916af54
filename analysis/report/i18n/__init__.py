"""Translations of the report's text (catalogues in locale/)."""

__all__ = ['catalogue']
