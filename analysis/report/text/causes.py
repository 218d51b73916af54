"""Words of the cause-attribution page (notebook 02) in the report language.

The attribution methods (``combined``, ``model``, ``reported``) and the probability models
scored against the reports (``shapley``, ``label_model``, ``latent``) by their catalogue
names, the status paragraph at the top of the page, and the latent model's reporting
table as the page shows it. ``combined`` has two descriptions: the latent competing-causes
model when it was fitted (signals and at least ``min_labelled`` reports), else the
fallback (reported reason where given, the better-calibrated model elsewhere). The notes of :class:`analysis.causes.Attribution` are written by
the analysis in English; in another language they are shown under a heading that says so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.definitions import FAMILIES
from analysis.report.i18n.catalogue import Translator

# Catalogue keys: method names, the methods' one-line descriptions (figure notes), models.
METHOD_KEYS = {
    "combined": "causes.method.combined", "model": "causes.method.model",
    "reported": "causes.method.reported",
}
METHOD_NOTE_KEYS = {
    "combined": "causes.method_note.combined", "model": "causes.method_note.model",
    "reported": "causes.method_note.reported",
}
MODEL_KEYS = {
    "shapley": "causes.model.shapley", "label_model": "causes.model.label_model",
    "latent": "causes.model.latent",
}


def has_reporting(att: Any) -> bool:
    """True when ``att`` carries the latent model's reporting table (non-empty).

    False for attributions without it: no reports, no signals, too few reports, or an
    object from before the field existed.
    """
    rep = getattr(att, "reporting", None)
    return isinstance(rep, pd.DataFrame) and len(rep) > 0


def reporting_table(att: Any) -> pd.DataFrame:
    """The latent model's reporting estimates per true family, with display column names.

    ``att.reporting`` (see :class:`analysis.causes.Attribution`) renamed so that every
    probability reads as a percentage and its columns have catalogue titles:
    ``family``, ``report_rate`` (``r_f``, the share of the family's episodes that report a
    reason), ``report_rate_ci_low`` / ``report_rate_ci_high`` (its interval),
    ``share_named_<family>`` (the row ``C[f, .]``: of the family's reports, the share
    naming each family; sums to 1) and ``n_episodes_est`` (expected number of episodes of
    the family, the sum of their posterior probabilities: the count the row rests on for
    small-cell suppression). Empty when :func:`has_reporting` is False.
    """
    if not has_reporting(att):
        return pd.DataFrame()
    names = {"ci_low": "report_rate_ci_low", "ci_high": "report_rate_ci_high",
             **{f"reported_as_{f}": f"share_named_{f}" for f in FAMILIES}}
    return att.reporting.rename(columns=names)


def method_name(t: Translator, method: str, note: bool = False, latent: bool = True) -> str:
    """Name (or, with ``note``, one-line description) of an attribution method code.

    ``latent``: whether ``combined`` came from the latent model (see :func:`has_reporting`);
    when False its description is the fallback one.
    """
    if note and method == "combined" and not latent:
        return t("causes.method_note.combined_fallback")
    keys = METHOD_NOTE_KEYS if note else METHOD_KEYS
    return t(keys[method]) if method in keys else method


def status_text(att: Any, t: Translator, notes: bool = True) -> str:
    """Markdown: how many episodes were attributed, by which method, and (``notes``) the
    analysis notes; the causes page leaves the notes to its technical notes at the end
    (:func:`analysis.report.text.display.technical_notes`).

    ``att``: an :class:`analysis.causes.Attribution`.
    """
    head = t("causes.text.status", episodes=t.count(att.info["n_episodes"]),
             labelled=t.count(att.info["n_labelled"]), method=method_name(t, att.method))
    if not notes or not att.notes:
        return head
    notes = "\n".join(f"- {n}" for n in att.notes)
    return head + "\n\n" + t("causes.text.notes_heading") + "\n\n" + notes
