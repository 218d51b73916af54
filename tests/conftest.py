"""Shared fixtures: one small synthetic book (with its truth) for the whole session.

Fixtures never mutate what they hand out: tests that change a table copy it first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.cli.main import skip_unused_optional_imports

skip_unused_optional_imports()  # as the command line does: the test workers run reports too

SYNTH_LOANS = 4000
SYNTH_SEED = 7


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """For pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``): every test module not
    in a group of its own is a group, so its tests run in one worker and its module fixtures
    (a published report, a Dask cluster) are built once; modules that share an expensive
    session fixture name one group (``pytest.mark.xdist_group``) and share a worker. A module
    of long independent runs whose fixtures are cheap sets ``XDIST_SPREAD = True``: its tests
    are spread over the workers one by one."""
    for item in items:
        spread = getattr(getattr(item, "module", None), "XDIST_SPREAD", False)
        if not spread and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated synthetic book (4,000 loans, seed 7) with ``truth/``."""
    from analysis.synthetic.generate import generate_book

    return generate_book(SYNTH_LOANS, SYNTH_SEED, tmp_path_factory.mktemp("synth") / "book")


@pytest.fixture(scope="session")
def synth_book(synth_dir: Path):
    from analysis.data import load_book

    return load_book(synth_dir)


@pytest.fixture(scope="session")
def synth_episodes(synth_book) -> pd.DataFrame:
    from analysis.episodes import build_episodes

    return build_episodes(synth_book)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 in-process workers (2 GiB each) per test module, with the
    task-based shuffle (no p2p plugin start-up on tiny books)."""
    import dask

    from analysis.dask.frames import client

    with dask.config.set({"dataframe.shuffle.method": "tasks"}), client(
        n_workers=2, processes=False, memory_limit="2GiB"
    ) as c:
        yield c
