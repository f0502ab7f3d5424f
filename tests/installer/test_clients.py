"""Other clients on the same indexes: plain pip ignores variants; pypiserver serves us."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import BIN
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import build_wheel, variants_json

LEVELS = {"v3": {"x86_64": {"level": ["v3"]}}, "v1": {"x86_64": {"level": ["v1"]}}}


@pytest.fixture
def release(server: Server, built: Path) -> StaticIndex:
    index = server.index("pypi")
    index.add(
        *(
            build_wheel(built, "demo", "1.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
        build_wheel(built, "demo", "1.0", label="null", namespaces=["x86_64"]),
        build_wheel(built, "demo", "1.0"),
        variants_json(built, "demo", "1.0", {**LEVELS, "null": {}}, ["x86_64"]),
    )
    return index


def test_plain_pip_installs_the_non_variant_wheel(
    tmp_path: Path, server: Server, release: StaticIndex
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--index-url",
            server.url("pypi"),
            "--no-cache-dir",
            "demo",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import demo; print(demo.VARIANT)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "None"
    assert "demo-1.0-py3-none-any.whl" in proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def pypiserver_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pypiserver in a virtual environment of its own (installing it upgrades pip)."""
    venv = tmp_path_factory.mktemp("pypiserver") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "pypiserver==2.4.2",
            "setuptools",
        ],
        check=True,
        timeout=600,
    )
    return venv / "bin" / "pypi-server"


@pytest.fixture
def pypiserver(pypiserver_bin: Path, release: StaticIndex, tmp_path: Path) -> Iterator[str]:
    packages = tmp_path / "packages"
    shutil.copytree(release.files_dir, packages, ignore=shutil.ignore_patterns("*.metadata"))
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(pypiserver_bin),
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--disable-fallback",
            str(packages),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/simple"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_wn_install_from_pypiserver(tmp_path: Path, pypiserver: str) -> None:
    profile = tmp_path / "v3.json"
    profile.write_text(
        '{"providers": [{"namespace": "x86_64", "status": "ok", "features": '
        '[{"name": "level", "values": ["v3", "v2", "v1"], "multi_value": false}]}]}'
    )
    target = tmp_path / "t"
    proc = subprocess.run(
        [
            str(BIN / "wn"),
            "install",
            "demo",
            "--index-url",
            pypiserver,
            "--target",
            str(target),
            "--properties",
            str(profile),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Installed demo 1.0 [v3: x86_64 :: level :: v3] from {pypiserver}" in proc.stdout
    assert (target / "demo" / "__init__.py").read_text().endswith("VARIANT = 'v3'\n")
