"""The command line (`python -m analysis`, `overdue-relief`)."""

__all__ = ['causes', 'common', 'data', 'kpis', 'main', 'report', 'synth', 'tapes', 'targeting']
