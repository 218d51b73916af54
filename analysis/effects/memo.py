"""Memoised nuisance fits: the same learner on the same rows returns the model it fitted.

Method
------
A page fits many nuisances whose parts coincide: the propensity of the ``cure`` and the
``loss_rate`` outcomes (same analysed episodes, same folds: it does not look at the
outcome), the refutation's original estimate and the page's own cross-fitted models,
targeting's cure and loss nuisances. :func:`memoised` keys a fit on everything it reads
(the fitting function, its scalar arguments and a BLAKE2 digest of every array's dtype,
shape and bytes) and keeps the last :data:`MAX_ENTRIES` results, so a repeated fit
returns the identical fitted object, and the published numbers cannot change.

The cache is on only inside :func:`shared_fits` (a context manager; nested scopes share
one cache, the outermost empties it on exit): the key does not see module settings or
a replaced fitter (``EPV_MIN``, a monkeypatched statsmodels in a test), so a cache that
outlived such a change would return stale models. :func:`analysis.targeting.arm_estimates`
opens a scope of its own (its cure and loss nuisances share the propensity); a report
notebook opens one around all its analyses to share fits across calls.

Known drawbacks: the cache lives in one process (each report notebook has its own
kernel); hashing costs one pass over the arrays (a millisecond per 10,000 x 40 design,
far below any fit); the fitted objects are immutable by convention (frozen dataclasses
holding arrays), and must not be modified by callers.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

#: Fitted models kept (least recently used dropped first): one cross-fitted nuisance
#: makes (folds + 1) x (arms + 1) fits, so 96 cover two nuisances of five arms and folds.
MAX_ENTRIES = 96

_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_STATS = {"hits": 0, "misses": 0, "depth": 0}


@contextmanager
def shared_fits() -> Iterator[None]:
    """Memoise nuisance fits inside the block (see the module docstring)."""
    _STATS["depth"] += 1
    try:
        yield
    finally:
        _STATS["depth"] -= 1
        if _STATS["depth"] == 0:
            _CACHE.clear()


def digest(a: np.ndarray) -> str:
    """BLAKE2b digest of an array's dtype, shape and bytes (its identity as fit input)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).view(np.uint8).ravel())
    return h.hexdigest()


def memoised(fit: Callable, *args: Any) -> Any:
    """``fit(*args)``, or, inside :func:`shared_fits`, the result of an earlier call with
    equal arguments (arrays compared by :func:`digest`, other arguments by ``repr``)."""
    if not _STATS["depth"]:
        return fit(*args)
    key = (fit.__module__, fit.__qualname__,
           *(digest(a) if isinstance(a, np.ndarray) else repr(a) for a in args))
    if key in _CACHE:
        _STATS["hits"] += 1
        _CACHE.move_to_end(key)
        return _CACHE[key]
    _STATS["misses"] += 1
    out = fit(*args)
    _CACHE[key] = out
    if len(_CACHE) > MAX_ENTRIES:
        _CACHE.popitem(last=False)
    return out


def cache_info() -> dict[str, int]:
    """Hits, misses, open scopes and entries of the fit cache of this process (benchmarks,
    tests)."""
    return {**_STATS, "entries": len(_CACHE)}

