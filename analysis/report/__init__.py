"""Delivery: parameterised notebook runs, their context, pages, tables, history and privacy."""

__all__ = ['context', 'context_dask', 'history', 'html', 'i18n', 'index', 'kpis', 'params', 'plots', 'privacy', 'publish', 'refresh', 'runner', 'style', 'tables', 'text']
