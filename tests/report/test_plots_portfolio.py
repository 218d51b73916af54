"""Portfolio plots survive tables whose first rows were suppressed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report.plots.portfolio import plot_vintages


def test_vintage_plot_reads_the_threshold_from_any_unsuppressed_row():
    vc = pd.DataFrame(
        {
            "segment_type": "all",
            "segment": "all",
            "cohort": ["2018Q1"] * 3 + ["2018Q2"] * 3,
            "months_on_book": [1, 2, 3] * 2,
            "share_ever": [np.nan, np.nan, np.nan, 0.01, 0.02, 0.04],
            "n_loans": [np.nan, np.nan, np.nan, 40, 40, 40],
            "dpd_threshold": [np.nan, np.nan, np.nan, 90, 90, 90],
        }
    )
    fig = plot_vintages(vc)
    ax = fig.axes[0]
    titles = [ax.get_title(loc) for loc in ("left", "center", "right")]
    titles += [t.get_text() for t in fig.texts] + [ax.get_ylabel()]
    assert any("90" in t for t in titles), titles


def test_interval_bars_accept_an_estimate_outside_its_interval():
    import matplotlib.pyplot as plt

    from analysis.report.style import ci_bars

    df = pd.DataFrame({"label": ["loss_rate", "cure_rate"], "estimate": [1.2, 0.5],
                       "ci_lower": [0.9, 0.4], "ci_upper": [1.0, 0.6]})
    fig, ax = plt.subplots()
    ci_bars(ax, df, label="label")
    assert len(ax.patches) == 2
    plt.close(fig)
