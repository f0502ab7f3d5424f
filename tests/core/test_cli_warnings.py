"""A warning in a CLI run is one ``prog: warning: message`` line on stderr, as errors are,
not Python's two lines naming a wheelnext source file: uv's top-level ``providers`` in a
PEP 825 0.1.1 document (spec/metadata.md) is read with such a warning."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import BIN, PEP825, metadata_doc
from tests.installer.envs import make_venv, write_profile
from tests.installer.wheels import level_release

WARNING = (
    "ignoring the top-level 'providers' of a 0.1.1 document (PEP 825 has none; uv's "
    "prototype writes it)"
)
UV_PROVIDERS = {"x86_64": {"requires": ["wheelnext-provider-x86"]}}


def wn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wn"), *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_select_warns_in_one_line(tmp_path: Path) -> None:
    doc = metadata_doc(
        ["x86_64"], {"v3": {"x86_64": {"level": ["v3"]}}}, PEP825, providers=UV_PROVIDERS
    )
    variants = tmp_path / "demo-1.0-variants.json"
    variants.write_text(json.dumps(doc))
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "select", "--variants-json", str(variants), "--properties", str(profile),
        "--wheel", "demo-1.0-py3-none-any-v3.whl",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "demo-1.0-py3-none-any-v3.whl\n"  # the document is still read
    assert done.stderr == f"wn select: warning: {variants}: {WARNING}\n"


def test_install_warns_in_one_line(tmp_path: Path) -> None:
    """The installer reads the index's variants.json (and the wheel's variant.json, which
    has no ``providers``): the one warning, once, in one line."""
    wheels = tmp_path / "wheels"
    level_release(wheels, "demo", "1.0", [])
    variants = wheels / "demo-1.0-variants.json"
    doc = json.loads(variants.read_text())
    variants.write_text(json.dumps({**doc, "providers": UV_PROVIDERS}))
    venv = make_venv(tmp_path / "venv")
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "install", "demo", "--no-index", "--find-links", str(wheels), "--no-cache",
        "--python", str(venv / "bin" / "python"), "--properties", str(profile),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Installed demo 1.0 [v3: ")
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("wn install: warning: ")
    assert lines[0].endswith(f"demo-1.0-variants.json: {WARNING}")
