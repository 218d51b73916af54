"""Sentences and display names in the report language."""

__all__ = ['causes', 'display', 'effects', 'targeting']
