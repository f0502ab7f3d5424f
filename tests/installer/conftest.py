"""Fixtures for installer tests: an index server on 127.0.0.1 and a wheel workshop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.installer.envs import make_venv
from tests.installer.index import Server, serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(tmp_path / "www") as running:
        yield running


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """Where a test builds its wheels."""
    path = tmp_path / "built"
    path.mkdir()
    return path


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh, empty virtual environment (no pip: everything in it comes from the test)."""
    return make_venv(tmp_path / "venv")
