"""Figures for the report pages."""

__all__ = ['causes', 'effects', 'portfolio', 'targeting']
