"""Real wheels, built in the test session: valid archives with METADATA, WHEEL, RECORD
(and ``variant.json`` for variant wheels), installable by pip, uv and ``wn install``."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.helpers import PEP825

LEVELS = {"v4": {"x86_64": {"level": ["v4"]}}, "v3": {"x86_64": {"level": ["v3"]}}}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Mapping[str, Sequence[str]] | None = None,
    default_extras: Sequence[str] = (),
    requires_python: str | None = None,
    label: str | None = None,
    properties: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    namespaces: Sequence[str] = (),
    tag: str = "py3-none-any",
    module: str | None = None,
    files: Mapping[str, bytes] | None = None,
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write ``{name}-{version}-{tag}[-{label}].whl`` into ``directory`` and return it.

    The package module ``module`` (default: the name with ``_``) records the version and
    label it was built with, so tests can import it and see which wheel was installed.
    """
    dist = name.replace("-", "_")
    module = module or dist
    info = f"{dist}-{version}.dist-info"
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [
            f'Requires-Dist: {r}{" and " if ";" in r else "; "}extra == "{extra}"' for r in reqs
        ]
    lines += [f"Default-Extra: {e}" for e in default_extras]
    contents: dict[str, bytes] = {
        f"{module}/__init__.py": f"VERSION = {version!r}\nVARIANT = {label!r}\n".encode(),
        **(files or {}),
        f"{info}/METADATA": ("\n".join(lines) + "\n").encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: wheelnext-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    if scripts:
        contents[f"{info}/entry_points.txt"] = (
            "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        ).encode()
    if label is not None:
        doc: dict[str, Any] = {
            "$schema": PEP825,
            "default-priorities": {"namespace": list(namespaces or (properties or {}).keys())},
            "variants": {label: {ns: dict(f) for ns, f in (properties or {}).items()}},
        }
        contents[f"{info}/variant.json"] = json.dumps(doc).encode()
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items()
    )
    contents[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    filename = f"{dist}-{version}-{tag}{f'-{label}' if label else ''}.whl"
    path = directory / filename
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
    return path


def variants_json(
    directory: Path,
    name: str,
    version: str,
    variants: Mapping[str, Mapping[str, Mapping[str, Sequence[str]]]],
    namespaces: Sequence[str],
) -> Path:
    """The index-level ``{name}-{version}-variants.json`` for a release."""
    doc = {
        "$schema": PEP825,
        "default-priorities": {"namespace": list(namespaces)},
        "variants": {
            label: {ns: dict(f) for ns, f in props.items()} for label, props in variants.items()
        },
    }
    path = directory / f"{name.replace('-', '_')}-{version}-variants.json"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def level_release(directory: Path, name: str, version: str, requires: list[str]) -> list[Path]:
    """A release as x86_64 ``LEVELS`` variant wheels, a non-variant wheel (each needing
    ``requires``) and its variants.json."""
    return [
        *(
            build_wheel(directory, name, version, label=label, properties=p, requires=requires)
            for label, p in LEVELS.items()
        ),
        build_wheel(directory, name, version, requires=requires),
        variants_json(directory, name, version, LEVELS, ["x86_64"]),
    ]


# every wheel of the release declares it; only the v4 variant's environment turns it on
FASTPATH = "fastpath; 'x86_64 :: level :: v4' in variant_properties"


def fastpath_release(directory: Path) -> list[Path]:
    """demo 2.0 as ``LEVELS`` variants and a non-variant wheel, each needing ``helper`` and
    (on v4 only) ``fastpath``, with helper 1.5 and fastpath 1.0: the drift tests' world."""
    return [
        *level_release(directory, "demo", "2.0", ["helper", FASTPATH]),
        build_wheel(directory, "helper", "1.5"),
        build_wheel(directory, "fastpath", "1.0"),
    ]
