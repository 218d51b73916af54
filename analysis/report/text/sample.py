"""The model-sample sentence at the top of a notebook, in the report language.

On the Dask engine the episode models (effects, targeting) fit on every episode and the
models that read loan-months (cause attribution) on a sample of loans
(:mod:`analysis.dask.report_pass`); the sample's design (sizes, fraction, the factor by
which standard errors grow) is stated once at the top of every notebook.
"""

from __future__ import annotations

from typing import Any

from analysis.report.i18n.catalogue import Translator, translator


def with_sample_note(design: dict[str, Any], t: Translator | None = None) -> str:
    """One sentence on the model sample for the top of a notebook ("" when not sampled).

    ``design``: :func:`analysis.dask.report_pass.sample_design`; ``t``: the report's
    :class:`~analysis.report.i18n.catalogue.Translator` (English when None).
    """
    if not design or not design.get("sampled"):
        return ""
    if t is None:
        t = translator("en")
    if design.get("model_episodes") == "all":  # only the loan-month models are sampled
        return t("page.sample_note_loan_months", sample_loans=f"{design['n_sample_loans']:,}",
                 loans=f"{design['n_loans']:,}", pct=t.pct(design["fraction"]),
                 episodes=f"{design['n_model_episodes']:,}",
                 inflation=f"{design['se_inflation']:.1f}")
    return t("page.sample_note", sample_loans=f"{design['n_sample_loans']:,}",
             loans=f"{design['n_loans']:,}", pct=t.pct(design["fraction"]),
             sample_episodes=f"{design['n_sample_episodes']:,}",
             episodes=f"{design['n_episodes']:,}", inflation=f"{design['se_inflation']:.1f}")


__all__ = ["with_sample_note"]
