"""The synthetic loan book with its ground truth (causes, relief effects)."""

from analysis.synthetic.chunk import simulate_chunk
from analysis.synthetic.forward import forward_truth, history_params, simulate_forward
from analysis.synthetic.generate import generate_book, simulate
from analysis.synthetic.macro import make_macro
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
from analysis.synthetic.run import (
    WRITE_OPTIONS,
    chunk_tables,
    clear_book,
    truth_tables,
    write_truth,
)
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
    "WRITE_OPTIONS",
    "build_scripts",
    "chunk_tables",
    "clear_book",
    "forward_truth",
    "generate_book",
    "history_params",
    "make_macro",
    "simulate",
    "simulate_chunk",
    "simulate_forward",
    "truth_tables",
    "write_truth",
]
