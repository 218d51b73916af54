"""The package's shape, read from its own imports (docs/ARCHITECTURE.md).

Each module of ``analysis`` belongs to a layer; a module imports only from its own layer or
lower ones, whether the import is at the top of the file or inside a function. Within the
analyses, ``causes``, ``effects`` and ``targeting`` reach each other only through the
sibling package's public face (its ``__init__``), never through its modules. There are no
import cycles, no private names used across modules, few modules at the top level and no
function longer than 120 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "analysis"

#: Layers, lowest first. A module's layer is that of the longest prefix listed here.
LAYERS: dict[str, int] = {
    "analysis.errors": 0, "analysis.months": 0, "analysis.checks": 0, "analysis.models": 0,
    "analysis.progress": 0, "analysis.version": 0,
    "analysis.definitions": 0,
    "analysis.data": 1,
    "analysis.importers": 2, "analysis.synthetic": 2,
    "analysis.episodes": 3,
    "analysis.kpis": 4,
    "analysis.causes": 5, "analysis.effects": 5, "analysis.targeting": 5,
    "analysis.scenarios": 5,
    "analysis.engine": 6, "analysis.dask": 6,
    "analysis.report": 7,
    "analysis.cli": 8,
    "analysis": 9, "analysis.__main__": 9,
}
#: Packages of one layer that must not import each other at all.
INDEPENDENT = [{"analysis.importers", "analysis.synthetic"}]
#: Sibling analyses: they may import each other's package face only.
SIBLINGS = {"analysis.causes", "analysis.effects", "analysis.targeting", "analysis.scenarios"}
#: Imports inside functions are for heavy optional dependencies only: the Dask engine.
LAZY_OK = ("analysis.dask",)
#: ... and for the command line, which imports a command's implementation (statsmodels,
#: papermill, nbformat: seconds) only when that command runs, so ``--help`` and the light
#: commands start fast. It is the top layer: nothing imports it, so no cycle can hide.
LAZY_IMPORTERS = ("analysis.cli",)
MAX_TOP_LEVEL = 12
MAX_FUNCTION_LINES = 120


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}
TREES = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in MODULES.items()}


def area(module: str) -> str:
    """The longest prefix of ``module`` in :data:`LAYERS`."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def imports(module: str) -> Iterator[tuple[str, str, int, bool]]:
    """(target module, imported name, line, inside a function) of every ``analysis`` import."""
    is_pkg = MODULES[module].name == "__init__.py"

    def walk(node: ast.AST, nested: bool) -> Iterator[tuple[str, str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    here = module.split(".") if is_pkg else module.split(".")[:-1]
                    here = here[: len(here) - (child.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                if base == "analysis" or base.startswith("analysis."):
                    for a in child.names:
                        full = f"{base}.{a.name}"
                        yield (full if full in MODULES else base), a.name, child.lineno, nested
            elif isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.startswith("analysis"):
                        yield a.name, "", child.lineno, nested
            yield from walk(child, inner)

    yield from walk(TREES[module], False)


EDGES = {m: {t for t, *_ in imports(m) if t in MODULES and t != m} for m in MODULES}


def test_every_import_points_down_or_sideways() -> None:
    bad = []
    for m in MODULES:
        src = area(m)
        for target, _, line, _ in imports(m):
            dst = area(target)
            if dst == src or dst == "analysis" and target != "analysis":
                continue
            if LAYERS[dst] > LAYERS[src]:
                bad.append(f"{m}:{line} imports {target} (layer {LAYERS[dst]} > {LAYERS[src]})")
            elif any({src, dst} <= group for group in INDEPENDENT):
                bad.append(f"{m}:{line} imports {target}: independent packages")
            elif src in SIBLINGS and dst in SIBLINGS and target != dst:
                bad.append(f"{m}:{line} imports {target}: use the public face {dst}")
    assert not bad, "\n".join(bad)


def test_upward_import_is_caught(tmp_path: Path) -> None:
    """The check above fails on a deliberate upward import (data importing the report)."""
    tree = ast.parse("from analysis.report.runner import run_report\n")
    TREES["analysis.data.book"].body.insert(0, tree.body[0])
    try:
        with pytest.raises(AssertionError):
            test_every_import_points_down_or_sideways()
    finally:
        TREES["analysis.data.book"].body.pop(0)


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in EDGES[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in EDGES:
        if v not in index:
            strong(v)
    assert not cycles, "\n".join(map(str, cycles))


def test_imports_inside_functions_are_for_heavy_dependencies_only() -> None:
    lazy = [f"{m}:{line} imports {t}" for m in MODULES for t, _, line, nested in imports(m)
            if nested and not t.startswith(LAZY_OK) and not m.startswith(LAZY_IMPORTERS)]
    assert not lazy, "\n".join(lazy)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_names_across_modules() -> None:
    bad = []
    for m, tree in TREES.items():
        bad += [f"{m}:{line} imports {name} from {target}"
                for target, name, line, _ in imports(m) if _private(name) and target != m]
        aliases = {}  # local names bound to analysis modules
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis"):
                for a in node.names:
                    if f"{node.module}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                aliases.update({a.asname: a.name for a in node.names if a.name in MODULES and a.asname})
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)
                    and aliases[node.value.id] != m):
                bad.append(f"{m}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_top_level_is_small_and_subpackages_say_what_they_are() -> None:
    top = [p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= MAX_TOP_LEVEL, sorted(top)
    for init in PKG.rglob("__init__.py"):
        tree = TREES[module_name(init)]
        assert ast.get_docstring(tree), f"{init} has no docstring"
        names = [n for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", "") == "__all__" for t in n.targets)]
        assert names, f"{init} has no __all__"


def test_functions_are_short() -> None:
    long = []
    for m, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{m}.{node.name}: {n} lines")
    assert not long, "\n".join(long)
