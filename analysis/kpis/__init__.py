"""Portfolio KPIs over loan-months and episodes: rates, rolls, vintages, classification."""

from analysis.kpis.metrics import headline_kpis, resolve_as_of

__all__ = ["headline_kpis", "resolve_as_of"]
