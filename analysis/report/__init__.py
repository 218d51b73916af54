"""Delivery: parameterised notebook runs, their context, pages, tables, history and privacy."""

from analysis.report.options import DEFAULT_KERNEL, SUPPORTED_LANGUAGES, ReportOptions
from analysis.report.text.kpis import format_kpis

__all__ = ["DEFAULT_KERNEL", "ReportOptions", "SUPPORTED_LANGUAGES", "format_kpis"]
