"""Fail when a notebook carries outputs or execution counts (the pre-commit hook; CI checks
the same in tests/report/test_notebooks.py). Usage: python .ci/check_notebooks.py NB.ipynb ...

Standard library only, so the hook needs no environment. ``--strip`` removes them instead
(what nbstripout would do), for a contributor who ran a notebook in JupyterLab.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def dirty_cells(nb: dict) -> list[int]:
    """1-based numbers of the code cells with outputs or an execution count."""
    return [i for i, c in enumerate(nb.get("cells", []), 1) if c.get("cell_type") == "code"
            and (c.get("outputs") or c.get("execution_count") is not None)]


def strip(nb: dict) -> dict:
    """The notebook without outputs and execution counts."""
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code":
            c["outputs"], c["execution_count"] = [], None
    return nb


def main(argv: list[str]) -> int:
    fix = "--strip" in argv
    bad = 0
    for name in (a for a in argv if a != "--strip"):
        path = Path(name)
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = dirty_cells(nb)
        if not cells:
            continue
        if fix:
            path.write_text(json.dumps(strip(nb), indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            print(f"{name}: stripped cells {cells}")
        else:
            bad += 1
            print(f"{name}: cells {cells} carry outputs or execution counts; "
                  f"strip them: python .ci/check_notebooks.py --strip {name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
