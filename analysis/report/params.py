"""Report notebooks and their parameters: discovery, order, ``-p name=value`` checks.

A report notebook is ``notebooks/NN_name.ipynb`` with one code cell tagged
``parameters`` of plain typed literals (``min_cell: int = 10  # comment``). The runner
reads the declared names and types with :func:`papermill.inspect_notebook` and refuses
any ``-p`` name no selected notebook declares, or a value that does not parse as the
declared type (``int``, ``float``, ``bool``, ``str``; dates stay strings). It never
falls back to a default silently.

Order: the numbered notebooks in ascending order, then ``00_*`` last, because the
management summary reads the tables the others wrote in the same run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.errors import ParameterError

_NAME_RE = re.compile(r"^(\d\d)_([A-Za-z0-9_]+)\.ipynb$")
# Set by the runner itself, never with -p.
RUNNER_PARAMETERS: tuple[str, ...] = ("data_dir", "as_of", "tables_dir", "language")
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class NotebookSpec:
    """One report notebook: its path, stem (``01_portfolio_overview``) and parameters.

    ``parameters`` maps a name to its declared type name (``"int"``, ``"str"``, ...;
    ``"None"`` when the cell gives no annotation and papermill cannot infer one).
    """

    path: Path
    number: str
    parameters: dict[str, str]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def title_slug(self) -> str:
        return self.path.stem[3:]


def default_notebooks_dir() -> Path:
    """The report notebooks: ``notebooks/`` of the source checkout the package runs from,
    else the copy an installed wheel carries (``analysis/report/notebooks``, read with
    :mod:`importlib.resources`; setup.py puts it there). The checkout's path when neither
    exists (the caller says so)."""
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    if checkout.is_dir() and (checkout.parent / "pyproject.toml").is_file():
        return checkout
    shipped = resources.files("analysis.report") / "notebooks"
    return Path(str(shipped)) if shipped.is_dir() else checkout


def _ast_parameters(path: Path) -> dict[str, str]:
    """Names and types in the ``parameters`` cell, read with :mod:`ast`.

    Papermill's line parser skips a line with a second ``=`` (for example in its
    comment: ``segment: str = ""  # e.g. "borrower_type=micro"``); this reads such
    lines too.
    """
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    out: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            raise ParameterError(f"notebook {path.name}: parameters cell does not parse ({exc})") from None
        for node in tree.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                ann = node.annotation
                out[node.target.id] = ann.id if isinstance(ann, ast.Name) else "None"
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        value = node.value
                        typ = type(value.value).__name__ if isinstance(value, ast.Constant) else "None"
                        out[target.id] = typ
        break
    return out


def inspect_parameters(path: Path) -> dict[str, str]:
    """Declared parameters of a notebook: ``{name: type name}``.

    Papermill's :func:`papermill.inspect_notebook` first; names its line parser could not
    read are added from an :mod:`ast` reading of the same cell.
    """
    import logging

    import papermill as pm

    pm_logger = logging.getLogger("papermill")
    level = pm_logger.level
    pm_logger.setLevel(logging.ERROR)
    try:
        info = pm.inspect_notebook(str(path))
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad notebook file
        raise ParameterError(f"notebook {path.name}: cannot read its parameters ({exc})") from exc
    finally:
        pm_logger.setLevel(level)
    params = {name: str(p.get("inferred_type_name") or "None") for name, p in info.items()}
    for name, typ in _ast_parameters(path).items():
        params.setdefault(name, typ)
    if not params:
        raise ParameterError(
            f"notebook {path.name}: no code cell tagged 'parameters'; every report "
            "notebook needs one"
        )
    return params


def run_order(stems: Iterable[str]) -> list[str]:
    """Ascending by number, ``00_*`` (the summary that reads the others) last."""
    stems = sorted(stems)
    return [s for s in stems if not s.startswith("00_")] + [s for s in stems if s.startswith("00_")]


def discover(notebooks_dir: Path, only: Sequence[str] | None = None) -> list[NotebookSpec]:
    """Report notebooks in run order, optionally only those named in ``only``.

    ``only`` entries may be a stem (``01_portfolio_overview``), a file name, a number
    (``01``) or the name without number (``portfolio_overview``).
    """
    if not notebooks_dir.is_dir():
        raise ParameterError(f"notebooks directory {str(notebooks_dir)!r} does not exist")
    found = {p.stem: p for p in notebooks_dir.glob("*.ipynb") if _NAME_RE.match(p.name)}
    if not found:
        raise ParameterError(f"no report notebooks (NN_name.ipynb) in {str(notebooks_dir)!r}")
    chosen = set(found)
    if only:
        chosen = set()
        for want in only:
            key = Path(want).name.removesuffix(".ipynb")
            hits = [s for s in found if key in (s, s[:2], s[3:])]
            if not hits:
                raise ParameterError(
                    f"--only {want!r}: no such notebook; available: {sorted(found)}"
                )
            chosen.update(hits)
    specs = []
    for stem in run_order(chosen):
        path = found[stem]
        specs.append(NotebookSpec(path=path, number=stem[:2], parameters=inspect_parameters(path)))
    return specs


def parse_assignments(items: Sequence[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a repeated or malformed item raises."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(f"-p {item!r}: expected name=value")
        if name in out:
            raise ParameterError(f"-p {name}: given twice")
        out[name] = value
    return out


def convert(name: str, raw: str, type_name: str) -> Any:
    """Parse ``raw`` as the declared type; a value that does not parse raises."""
    typ = _TYPES.get(type_name)
    if typ is None or typ is str:
        return raw
    try:
        if typ is bool:
            low = raw.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return low in ("true", "1", "yes")
        return typ(raw.strip())
    except ValueError:
        raise ParameterError(
            f"-p {name}={raw!r}: the notebooks declare {name} as {type_name}"
        ) from None


def resolve_parameters(
    specs: Sequence[NotebookSpec], assignments: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Per notebook stem, the converted ``-p`` values it declares.

    Raises :class:`ParameterError` for a name the runner sets itself, a name no selected
    notebook declares (listing the declared ones), or two notebooks declaring the same
    name with different types.
    """
    reserved = sorted(set(assignments) & set(RUNNER_PARAMETERS))
    if reserved:
        raise ParameterError(
            f"-p {', '.join(reserved)}: set by the runner; use --data / --as-of / --language"
        )
    declared: dict[str, set[str]] = {}
    for spec in specs:
        for name, typ in spec.parameters.items():
            declared.setdefault(name, set()).add(typ)
    unknown = sorted(set(assignments) - set(declared))
    if unknown:
        allowed = sorted(set(declared) - set(RUNNER_PARAMETERS))
        raise ParameterError(
            f"unknown parameter(s) {unknown}: the selected notebooks declare {allowed}"
        )
    converted: dict[str, Any] = {}
    for name, raw in assignments.items():
        types = declared[name] - {"None"}
        if len(types) > 1:
            raise ParameterError(f"-p {name}: notebooks declare conflicting types {sorted(types)}")
        converted[name] = convert(name, raw, next(iter(types)) if types else "str")
    return {
        spec.stem: {k: v for k, v in converted.items() if k in spec.parameters} for spec in specs
    }


def check_runner_parameters(specs: Sequence[NotebookSpec]) -> None:
    """Every report notebook must declare the parameters the runner sets."""
    for spec in specs:
        missing = [p for p in RUNNER_PARAMETERS if p not in spec.parameters]
        if missing:
            raise ParameterError(
                f"notebook {spec.path.name}: parameters cell lacks {missing}; report "
                f"notebooks declare {list(RUNNER_PARAMETERS)}"
            )


def declared_defaults(path: Path) -> dict[str, Any]:
    """Default values of the ``parameters`` cell (literals only; others as source text)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    out: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        for node in ast.parse(cell.source).body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            if not isinstance(target, ast.Name) or getattr(node, "value", None) is None:
                continue
            try:
                out[target.id] = ast.literal_eval(node.value)
            except ValueError:
                out[target.id] = ast.unparse(node.value)
        break
    return out
