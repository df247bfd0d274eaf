"""Session fixtures: the wheel is built once and served as a package index for every e2e test."""

from __future__ import annotations

from pathlib import Path

import pytest

from .index import SimpleIndex, build_wheel, write_simple_index


@pytest.fixture(scope="session")
def forge_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def package_index(forge_wheel: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("index")
    write_simple_index(forge_wheel.parent, root)
    with SimpleIndex(root) as index:
        yield index
