"""The Dask engine: layer 2 (episodes, KPIs) mapped over loan partitions of large books."""

__all__ = ['aligned', 'frames', 'kpis', 'report_pass', 'sample', 'synth', 'validate']
