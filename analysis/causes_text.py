"""Words of the cause-attribution page (notebook 02) in the report language.

The attribution methods (``combined``, ``model``, ``reported``) and the two probability
models (``shapley``, ``label_model``) by their catalogue names, and the status paragraph
at the top of the page. The notes of :class:`analysis.causes.Attribution` are written by
the analysis in English; in another language they are shown under a heading that says so.
"""

from __future__ import annotations

from typing import Any

from analysis.i18n import Translator

# Catalogue keys: method names, the methods' one-line descriptions (figure notes), models.
METHOD_KEYS = {
    "combined": "causes.method.combined", "model": "causes.method.model",
    "reported": "causes.method.reported",
}
METHOD_NOTE_KEYS = {
    "combined": "causes.method_note.combined", "model": "causes.method_note.model",
    "reported": "causes.method_note.reported",
}
MODEL_KEYS = {"shapley": "causes.model.shapley", "label_model": "causes.model.label_model"}


def method_name(t: Translator, method: str, note: bool = False) -> str:
    """Name (or, with ``note``, one-line description) of an attribution method code."""
    keys = METHOD_NOTE_KEYS if note else METHOD_KEYS
    return t(keys[method]) if method in keys else method


def status_text(att: Any, t: Translator) -> str:
    """Markdown: how many episodes were attributed, by which method, and the analysis notes.

    ``att``: an :class:`analysis.causes.Attribution`.
    """
    head = t("causes.text.status", episodes=f"{att.info['n_episodes']:,}",
             labelled=f"{att.info['n_labelled']:,}", method=method_name(t, att.method))
    if not att.notes:
        return head
    notes = "\n".join(f"- {n}" for n in att.notes)
    return head + "\n\n" + t("causes.text.notes_heading") + "\n\n" + notes
