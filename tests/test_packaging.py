"""The package installs and runs: environment.yml and pyproject.toml list the same
dependencies, the console script and ``python -m analysis`` answer ``--help``, and every
subcommand has ``--help`` (the loop picks up commands added later)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "overdue-relief"
#: conda ships these pip extras as packages of their own: (pip name, extra) -> conda name.
EXTRA_PACKAGES = {("dask", "distributed"): "distributed"}
#: environment.yml entries that are not dependencies of the package.
CONDA_ONLY = {"python", "pip"}
#: what must never be a core dependency: every Dask worker and scheduled host installs core.
NOT_CORE = {"jupyterlab", "itables", "dask", "distributed", "pytest", "playwright", "ruff"}


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


def _pip_groups() -> dict[str, dict[str, str]]:
    """pyproject.toml: group ('core' or the extra's name) -> {package: lower bound}; the
    self-reference of ``[dev]`` (``overdue-relief[lab,...]``) is left out."""
    project = _toml()["project"]
    groups = {"core": list(project["dependencies"]), **project.get("optional-dependencies", {})}
    out: dict[str, dict[str, str]] = {}
    for group, reqs in groups.items():
        deps = out.setdefault(group, {})
        for r in reqs:
            name, extras, spec = _split(r)
            if name == PROJECT:
                continue
            deps[name] = spec
            for e in extras:
                if (name, e) in EXTRA_PACKAGES:
                    deps[EXTRA_PACKAGES[(name, e)]] = spec
    return out


def _conda_groups(text: str | None = None) -> dict[str, dict[str, str]]:
    """environment.yml: the same mapping, a group opened by a ``# core`` or ``# [extra]``
    comment line (YAML drops comments, so the groups are read from the text)."""
    text = (ROOT / "environment.yml").read_text() if text is None else text
    env = yaml.safe_load(text)
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: section installs the package itself (-e .)
            assert set(dep) == {"pip"} and all(p.startswith("-e") for p in dep["pip"]), dep
    out: dict[str, dict[str, str]] = {}
    group = None
    for line in text.split("dependencies:", 1)[1].splitlines():
        heading = re.fullmatch(r"\s*#\s*(core|\[([a-z]+)\])\s*", line)
        if heading:
            group = heading.group(2) or "core"
            continue
        item = re.fullmatch(r"\s*-\s*([^\s#:]+)\s*(#.*)?", line)
        if not item:
            continue
        name, _, spec = _split(item.group(1))
        if name in CONDA_ONLY:
            continue
        assert group is not None, f"environment.yml: {name} before any '# core' / '# [extra]' line"
        out.setdefault(group, {})[name] = spec
    return out


def test_environment_yml_and_pyproject_list_the_same_dependencies_in_the_same_groups():
    pip, conda = _pip_groups(), _conda_groups()
    assert sorted(pip) == sorted(conda), "groups differ (pyproject, environment.yml)"
    for group in pip:
        only_pip = sorted(set(pip[group]) - set(conda[group]))
        only_conda = sorted(set(conda[group]) - set(pip[group]))
        assert (only_pip, only_conda) == ([], []), f"[{group}]: (pyproject only, environment.yml only)"
        differ = {n: (s, conda[group][n]) for n, s in pip[group].items() if s != conda[group][n]}
        assert differ == {}, f"[{group}]: version bounds differ (pyproject, environment.yml)"


def test_the_sync_check_sees_a_moved_or_changed_dependency():
    """The comparison above can fail: a package under the wrong heading or with another
    bound is a difference."""
    text = (ROOT / "environment.yml").read_text()
    moved = text.replace("  - jupyterlab>=4.0\n", "").replace("  # core\n", "  # core\n  - jupyterlab>=4.0\n")
    assert "jupyterlab" in _conda_groups(moved)["core"]
    assert _conda_groups(moved)["core"] != _pip_groups()["core"]
    bumped = text.replace("pandas>=2.1", "pandas>=2.2")
    assert _conda_groups(bumped)["core"]["pandas"] == ">=2.2" != _pip_groups()["core"]["pandas"]


def test_core_is_lean_and_dev_pulls_every_extra():
    """A scheduled host or a Dask worker installs core: no JupyterLab, no Dask, no test
    tools. ``make venv`` installs ``[dev]``, which must bring every other extra (CI tests
    them all)."""
    groups = _pip_groups()
    assert set(groups["core"]) & NOT_CORE == set()
    assert {"lab", "dask", "sql", "dev"} <= set(groups)
    dev = [r for r in _toml()["project"]["optional-dependencies"]["dev"] if r.startswith(PROJECT)]
    assert len(dev) == 1
    assert _split(dev[0])[1] == set(groups) - {"core", "dev"}
    assert "scikit-learn" in groups["core"] and "itables" in groups["lab"]


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


# ------------------------------------------------------------------------ the wheel
#: What a wheel is built from (a copy: the build leaves build/ and *.egg-info behind).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "analysis", "notebooks",
                "data/scenarios")


def _venv_over_this_one(venv: Path) -> Path:
    """A fresh venv whose own site-packages come first and this environment's after them
    (a .pth line: the dependencies without a download; the editable install's own .pth
    is not processed there, so ``analysis`` is the wheel's). Returns its python."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True).stdout
    (Path(site.strip()) / "_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow  # builds a wheel, installs it, publishes one page: ~60 s (`make test-ops`)
def test_the_wheel_runs_the_report_outside_the_checkout(tmp_path):
    """A scheduler host has the wheel, not the repository: the notebooks come from the
    package, ``--version`` answers, and ``synth`` then ``refresh`` publish a page."""
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name)
    shutil.rmtree(src / "analysis" / "report" / "notebooks", ignore_errors=True)
    shutil.rmtree(src / "analysis" / "scenarios" / "shipped", ignore_errors=True)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("overdue_relief-*.whl")
    import zipfile

    shipped = sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".ipynb"))
    expected = sorted(f"analysis/report/notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert shipped == expected and expected
    scenarios = sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".yml")
                       and n.startswith("analysis/scenarios/shipped/"))
    assert scenarios == sorted(f"analysis/scenarios/shipped/{p.name}"
                               for p in (ROOT / "data" / "scenarios").glob("*.yml")) and scenarios
    from analysis.report.html import TEMPLATES  # the pages' Jinja2 templates are package data

    templates = sorted(n for n in zipfile.ZipFile(wheel).namelist()
                       if n.startswith("analysis/report/templates/"))
    assert templates == sorted(f"analysis/report/templates/{n}" for n in TEMPLATES)

    python = _venv_over_this_one(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    host = tmp_path / "host"  # no pyproject.toml, no notebooks/: not a checkout
    host.mkdir()
    bindir = python.parent
    # nbconvert's templates are data files of this environment's prefix: show the new venv
    # those only (this environment's kernelspec would run the checkout's code)
    jupyter = tmp_path / "jupyter"
    jupyter.mkdir()
    (jupyter / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    env = {**os.environ, "JUPYTER_PATH": str(jupyter)}

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([str(bindir / "overdue-relief"), *args], cwd=host, env=env,
                              capture_output=True, text=True, timeout=timeout)

    declared = _toml()["project"]["version"]
    assert run("--version").stdout.strip() == f"overdue-relief {declared}"
    where = subprocess.run(
        [str(python), "-c", "import analysis; from analysis.report.provenance import notebooks_dir;"
         "from analysis.report.params import discover;"
         "from analysis.scenarios.spec import scenario_dir;"
         "print(analysis.__file__); print(*[s.stem for s in discover(notebooks_dir())]);"
         "print(*sorted(p.name for p in scenario_dir().glob('*.yml')))"],
        cwd=host, capture_output=True, text=True, check=True).stdout.splitlines()
    assert where[0].startswith(str(tmp_path / "venv"))
    assert where[1].split() == sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb"))[1:] \
        + ["00_management_summary"]  # run order: the summary last
    assert where[2].split() == sorted(p.name for p in (ROOT / "data" / "scenarios").glob("*.yml"))

    assert run("synth", "--loans", "300", "--seed", "3", "--out", "book").returncode == 0
    published = run("refresh", "--data", "book", "--out", "reports", "--only", "01")
    assert published.returncode == 0, published.stdout + published.stderr[-3000:]
    (month,) = [p for p in (host / "reports").iterdir() if p.is_dir() and p.name[:2] == "20"]
    assert (month / "01_portfolio_overview.html").exists() and (month / "log.txt").exists()
    # the standalone pages come from the wheel's templates
    assert '<nav class="report-nav">' in (month / "tables" / "index.html").read_text()
    assert f'href="{month.name}/index.html"' in (host / "reports" / "index.html").read_text()
    info = json.loads((month / "run.json").read_text())
    assert info["package_version"] == declared and info["git_commit"] is None
    assert Path(info["parameters"]["data_dir"]) == host / "book"


# ------------------------------------------------------------------------ the lock
def _lock() -> dict[str, str]:
    """requirements.lock: package -> pinned version."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned, f"requirements.lock: {line!r} is not pinned with =="
            pins[_split(name)[0]] = pinned.split(";")[0].strip()
    return pins


def test_the_lock_pins_core_and_dask_within_the_declared_bounds():
    """``make lock`` output: every core and [dask] dependency pinned at a version the
    bounds of pyproject.toml admit; nothing of [lab] or [dev] (a scheduled host needs
    neither)."""
    from packaging.specifiers import SpecifierSet

    pins, groups = _lock(), _pip_groups()
    for group in ("core", "dask"):
        for name, bound in groups[group].items():
            assert name in pins, f"{name} ([{group}]) is not in requirements.lock: run make lock"
            assert pins[name] in SpecifierSet(bound), f"{name}=={pins[name]} outside {bound}"
    assert not {"jupyterlab", "itables", "pytest", "ruff", "playwright"} & set(pins)


def test_command_line_skips_the_unused_iri_checker_and_still_validates_notebooks():
    """The CLI process marks ``rfc3987_syntax`` absent before nbformat loads jsonschema (2-4 s
    of import for a format no notebook schema uses); the notebooks still validate."""
    code = ("import sys\n"
            "from analysis.cli.main import skip_unused_optional_imports\n"
            "skip_unused_optional_imports()\n"
            "import nbformat\n"
            "from analysis.report.params import default_notebooks_dir\n"
            "for nb in sorted(default_notebooks_dir().glob('*.ipynb')):\n"
            "    nbformat.validate(nbformat.read(nb, as_version=4))\n"
            "print(sys.modules.get('rfc3987_syntax', 'missing'), 'jsonschema' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.split() == ["None", "True"]
