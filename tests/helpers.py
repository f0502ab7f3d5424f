"""Plain helpers for the tests: metadata documents, provider module sources, exact
snapshots of a directory tree, and ``wn-detect`` run as a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
V020 = "https://variants-schema.wheelnext.dev/v0.2.0.json"
V003 = "https://variants-schema.wheelnext.dev/v0.0.3.json"
BIN = Path(sys.executable).parent

Tree = dict[str, tuple[int, bytes | str | None]]


def wn_detect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``wn-detect ARGS`` as users run it, with ``env`` over this environment."""
    return subprocess.run(
        [str(BIN / "wn-detect"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def snapshot(root: Path, *, ignore: str | None = None) -> Tree:
    """``root`` and every path under it, relative to it, with its mode and bytes (a link:
    its target): two equal snapshots mean nothing was written, removed or changed. Paths
    with a part named ``ignore`` (``__pycache__``) are left out; no ``root``: empty."""
    tree: Tree = {}
    if not root.exists():
        return tree
    for path in sorted([root, *root.rglob("*")]):
        key = path.relative_to(root)
        if ignore is not None and ignore in key.parts:
            continue
        content: bytes | str | None = None
        if path.is_symlink():
            content = str(path.readlink())
        elif path.is_file():
            content = path.read_bytes()
        tree[str(key)] = (path.lstat().st_mode, content)
    return tree


def metadata_doc(
    namespaces: list[str], variants: dict[str, Any], schema: str = PEP825, **extra: Any
) -> dict[str, Any]:
    """A variant metadata document; extra keys go in as given (``default_priorities``...)."""
    prio: dict[str, Any] = {"namespace": namespaces}
    prio.update(extra.pop("priorities", {}))
    doc: dict[str, Any] = {"$schema": schema, "default-priorities": prio}
    doc.update(extra)
    doc["variants"] = variants
    return doc


FICTIONAL = """
    from wheelnext.core.hookspecs import hookimpl
    from wheelnext.core.providers import (
        Absent, DetectedFeature, FeatureDeclaration, ProviderDescription,
    )
    from wheelnext.core.plugin_api import as_plugin_api
    import sys

    GENERATIONS = ("gen3", "gen2", "gen1")

    @hookimpl
    def wheelnext_provider():
        return ProviderDescription(
            "fictional_hw",
            "Fictional accelerator",
            (
                FeatureDeclaration("arch", GENERATIONS, multi_value=True),
                FeatureDeclaration("mode", ("fast", "safe")),
            ),
        )

    @hookimpl
    def wheelnext_detect(context):
        forced = context.environ.get("FICTIONAL_HW_GEN") or None
        path = context.path("/sys/class/fictional/generation")
        if forced is None and not path.is_file():
            return Absent("no fictional accelerator")
        gen = forced or path.read_text().strip()
        supported = GENERATIONS[GENERATIONS.index(gen):]
        return [DetectedFeature("arch", supported), DetectedFeature("mode", ("safe",))]

    @hookimpl
    def wheelnext_describe(prop):
        return f"{prop.value} of the fictional accelerator"

    plugin_api = as_plugin_api(sys.modules[__name__])
"""


def on_pty(argv: list[str], env: dict[str, str]) -> bytes:
    """Everything ``argv`` writes to stdout when stdout is a pseudo-terminal (it must
    exit 0); stderr is dropped."""
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(argv, stdout=follower, stderr=subprocess.DEVNULL, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end closed: the command is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks)
