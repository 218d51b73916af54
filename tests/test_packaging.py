"""The package installs and runs: environment.yml and pyproject.toml list the same
dependencies, the console script and ``python -m analysis`` answer ``--help``, and every
subcommand has ``--help`` (the loop picks up commands added later)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
#: conda ships these pip extras as packages of their own: (pip name, extra) -> conda name.
EXTRA_PACKAGES = {("dask", "distributed"): "distributed"}
#: environment.yml entries that are not dependencies of the package.
CONDA_ONLY = {"python", "pip"}


def _toml() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _split(req: str) -> tuple[str, set[str], str]:
    """'dask[dataframe,distributed]>=2024.1' -> ('dask', {'dataframe', 'distributed'}, '>=2024.1')."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(?:\[([^\]]*)\])?\s*([^;]*?)\s*(?:;.*)?", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    extras = {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}
    return name, extras, m.group(3).replace(" ", "")


def _pip_deps() -> dict[str, str]:
    project = _toml()["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out: dict[str, str] = {}
    for r in reqs:
        name, extras, spec = _split(r)
        out[name] = spec
        for e in extras:
            if (name, e) in EXTRA_PACKAGES:
                out[EXTRA_PACKAGES[(name, e)]] = spec
    return out


def _conda_deps() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: section installs the package itself (-e .)
            assert set(dep) == {"pip"} and all(p.startswith("-e") for p in dep["pip"]), dep
            continue
        name, _, spec = _split(dep)
        if name not in CONDA_ONLY:
            out[name] = spec
    return out


def test_environment_yml_and_pyproject_list_the_same_dependencies():
    pip, conda = _pip_deps(), _conda_deps()
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml only"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml only"
    differ = {n: (pip[n], conda[n]) for n in pip if pip[n] != conda[n]}
    assert differ == {}, "version bounds differ (pyproject, environment.yml)"


def test_requirement_parser():
    assert _split("dask[dataframe, distributed]>=2024.1") == (
        "dask", {"dataframe", "distributed"}, ">=2024.1")
    assert _split("PyYAML >= 6.0") == ("pyyaml", set(), ">=6.0")


def _subcommands() -> dict:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return dict(action.choices)


def test_python_dash_m_analysis_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "analysis", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage: overdue-relief" in out.stdout
    for name in _subcommands():
        assert name in out.stdout


def test_console_script_is_installed_and_answers_help():
    script = Path(sys.executable).parent / "overdue-relief"
    assert script.exists(), "install the package (pip install -e .) to get the console script"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "validate" in out.stdout


def test_the_data_commands_are_registered():
    assert {"validate", "schema-doc"} <= set(_subcommands())


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: overdue-relief {command}")
    assert len(out.splitlines()) >= 3  # usage, a description or options


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_version_has_one_source() -> None:
    """``--version`` (console script and ``python -m analysis``) and ``analysis.__version__``
    all read the version pyproject.toml declares."""
    import analysis

    declared = _toml()["project"]["version"]
    assert analysis.__version__ == declared
    out = subprocess.run([sys.executable, "-m", "analysis", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"overdue-relief {declared}"
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
