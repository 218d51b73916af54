"""The synthetic loan book with its ground truth (causes, relief effects)."""

from analysis.synthetic.chunk import simulate_chunk
from analysis.synthetic.generate import generate_book, make_macro, simulate
from analysis.synthetic.params import SynthParams
from analysis.synthetic.paths import (
    CLEAN,
    CLEAN_FALSE,
    CURE,
    DEFAULT,
    NEITHER,
    WRITE_OFF,
    build_scripts,
)
from analysis.synthetic.run import write_truth
from analysis.synthetic.truth import EFFECT_COLUMNS, SHARE_COLUMNS

__all__ = [
    "CLEAN",
    "CLEAN_FALSE",
    "CURE",
    "DEFAULT",
    "EFFECT_COLUMNS",
    "NEITHER",
    "SHARE_COLUMNS",
    "SynthParams",
    "WRITE_OFF",
    "build_scripts",
    "generate_book",
    "make_macro",
    "simulate",
    "simulate_chunk",
    "write_truth",
]
