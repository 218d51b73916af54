"""The Dask engine: layer 2 (episodes, KPIs) mapped over loan partitions of large books."""

from analysis.dask.frames import DaskBook, client, episodes_dask, load_book_dask
from analysis.dask.kpis import kpis_dask, month_range, reweight_roll_rates
from analysis.dask.report_pass import ensure_pass, latest_complete_month_dask, run_key
from analysis.dask.sample import sample_episodes
from analysis.dask.synth import synth_dask
from analysis.dask.validate import validate_book_dask

__all__ = [
    "DaskBook", "client", "ensure_pass", "episodes_dask", "kpis_dask",
    "latest_complete_month_dask", "load_book_dask", "month_range", "reweight_roll_rates",
    "run_key", "sample_episodes", "synth_dask", "validate_book_dask",
]
