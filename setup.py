"""Build hook: ship the report notebooks and the scenario files inside the wheel.

Everything else is declared in pyproject.toml. The notebooks stay in ``notebooks/`` at the
top of the repository (where analysts open them); at build time this copies them into
``analysis/report/notebooks/`` of the wheel, so a host that installs the wheel (not a
checkout) runs the report from the package (:func:`analysis.report.provenance.notebooks_dir`
reads them with :mod:`importlib.resources`). A copy, not a symlink: wheels and Windows
file systems do not keep symlinks. The shipped scenarios (``data/scenarios/*.yml``) go to
``analysis/scenarios/shipped/`` the same way (:func:`analysis.scenarios.spec.scenario_dir`).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# source folder -> (files, folder inside the built package)
SHIPPED = {
    ROOT / "notebooks": ("*.ipynb", ("analysis", "report", "notebooks")),
    ROOT / "data" / "scenarios": ("*.yml", ("analysis", "scenarios", "shipped")),
}


class BuildWithNotebooks(build_py):
    """``build_py`` plus the copy of the notebooks and scenarios into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders
            return
        for source, (pattern, parts) in SHIPPED.items():
            target = Path(self.build_lib).joinpath(*parts)
            self.mkpath(str(target))
            for f in sorted(source.glob(pattern)):
                self.copy_file(str(f), str(target / f.name))


setup(cmdclass={"build_py": BuildWithNotebooks})
