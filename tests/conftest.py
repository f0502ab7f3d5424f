"""Shared test helpers: metadata documents and real (fake-hardware) installed providers."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

InstallProvider = Callable[..., Path]
_CACHE_HOME = "WHEELNEXT_TEST_CACHE_HOME"


def pytest_configure(config: pytest.Config) -> None:
    """Every command a test runs (in-process or as a subprocess) caches under a fresh
    folder of this session, never in the user's ``~/.cache``."""
    home = tempfile.mkdtemp(prefix="wheelnext-test-cache-")
    os.environ[_CACHE_HOME] = os.environ["XDG_CACHE_HOME"] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    home = os.environ.pop(_CACHE_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path (and PYTHONPATH) where tests install distributions."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    importlib.invalidate_caches()
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if module is not None and str(getattr(module, "__file__", "")).startswith(str(site)):
            del sys.modules[name]


@pytest.fixture
def install_provider(site_dir: Path) -> InstallProvider:
    """Install a distribution with one module and an entry point into ``site_dir``."""

    def install(
        module: str,
        source: str,
        *,
        dist: str | None = None,
        entry: str | None = None,
        ref: str | None = None,
        group: str = "wheelnext.providers",
        version: str = "1.0",
    ) -> Path:
        dist = dist or module.replace("_", "-")
        (site_dir / f"{module}.py").write_text(textwrap.dedent(source))
        info = site_dir / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        eps = info / "entry_points.txt"
        old = eps.read_text() if eps.exists() else ""
        eps.write_text(f"{old}[{group}]\n{entry or module} = {ref or module}\n")
        importlib.invalidate_caches()
        return site_dir

    return install
