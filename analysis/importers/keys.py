"""Pseudonymisation keys and HMAC-SHA256 pseudonyms of the importer.

The secret comes from ``$OVERDUE_RELIEF_KEY`` or a key file kept outside any repository;
it is never written with the data. A pseudonym is the HMAC-SHA256 of
``"<column>:<value>"`` under the key, as 32 hex characters (128 bits): the same key gives
the same pseudonym on every import, another key an unrelated one, and without the key a
pseudonym cannot be linked back to the source ID (short of guessing the key).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.importers.spec import ImportInputError

KEY_ENV = "OVERDUE_RELIEF_KEY"
MIN_KEY_BYTES = 16


def resolve_key(key_file: str | Path | None = None, *, out_dir: str | Path | None = None,
                environ: dict | None = None) -> bytes:
    """The pseudonymisation secret: ``key_file`` if given, else ``$OVERDUE_RELIEF_KEY``.

    Refuses a missing or short key (< 16 bytes), and a key file inside the output
    folder or inside a git working tree (the key must live outside the repository).
    """
    env = os.environ if environ is None else environ
    if key_file is not None:
        path = Path(key_file).expanduser().resolve()
        if not path.is_file():
            raise ImportInputError(f"--key-file {path} does not exist")
        if out_dir is not None and Path(out_dir).resolve() in (path, *path.parents):
            raise ImportInputError(f"--key-file {path} lies inside the output folder; keep it apart")
        for parent in path.parents:
            if (parent / ".git").exists():
                raise ImportInputError(f"--key-file {path} lies inside the repository {parent}; "
                                   "keep the key outside any repository")
        key = path.read_bytes().strip()
        origin = f"--key-file {path}"
    elif env.get(KEY_ENV):
        key = env[KEY_ENV].encode("utf-8")
        origin = f"${KEY_ENV}"
    else:
        raise ImportInputError(
            f"no pseudonymisation key: set {KEY_ENV} or give --key-file (outside the "
            "repository); give --no-pseudonymise only for data already anonymised"
        )
    if len(key) < MIN_KEY_BYTES:
        raise ImportInputError(f"the key from {origin} is shorter than {MIN_KEY_BYTES} bytes; "
                           "use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return key


def pseudonymise(values: pd.Series, key: bytes, column: str) -> pd.Series:
    """HMAC-SHA256 of ``"<column>:<value>"`` under ``key``, first 32 hex characters.

    Missing values stay missing. The HMAC is computed once per distinct value (a Python
    loop over distinct IDs: hashlib has no vectorised form), then spread by position.
    """
    codes, uniq = pd.factorize(values.astype(object), use_na_sentinel=True)
    prefix = f"{column}:".encode()
    digests = np.array([hmac.digest(key, prefix + str(v).encode(), "sha256").hex()[:32]
                        for v in uniq] + [None], dtype=object)
    return pd.Series(digests[codes], index=values.index, dtype=object)  # code -1 -> None


def pseudonymise_tables(tables: dict[str, pd.DataFrame], columns: tuple[str, ...],
                        key: bytes) -> dict[str, pd.DataFrame]:
    """Replace ``columns`` in every table by their pseudonyms, hashing each distinct ID once
    across all tables (a loan_id of loans and of performance is hashed one time)."""
    out = dict(tables)
    for col in columns:
        having = [n for n, df in out.items() if col in df.columns]
        if not having:
            continue
        factors = {n: pd.factorize(out[n][col].astype(object), use_na_sentinel=True)
                   for n in having}
        every = pd.Index(np.concatenate([u.astype(str) for _, u in factors.values()])).unique()
        hashed = pseudonymise(pd.Series(every, dtype=object), key, col).to_numpy(object)
        for n, (codes, uniq) in factors.items():
            per_value = np.append(hashed[every.get_indexer(uniq.astype(str))], None)
            out[n] = out[n].assign(**{col: per_value[codes]})  # code -1 (missing) -> None
    return out


def key_fingerprint(key: bytes) -> str:
    """A short HMAC of a fixed text: equal for equal keys, reveals nothing of the key."""
    return hmac.new(key, b"overdue-relief key check", hashlib.sha256).hexdigest()[:12]
