"""The environment being installed into: its interpreter, paths, tags and markers.

The facts come from the target interpreter itself (``--python``), so a tool running on one
Python can install into another; ``--target DIR`` uses this interpreter's facts with DIR
as every library path.

The environment is a directory: the interpreter's ``sys.prefix`` (a venv's own directory;
for a base interpreter its installation prefix, ``/usr`` for ``/usr/bin/python3``), or
the ``--target`` DIR. Every scheme path must lie inside it, links resolved, or nothing is
installed. Headers go where pip puts them, one directory per project: in a venv
``{prefix}/include/site/pythonX.Y/{name}`` (sysconfig's ``include`` would be the base
interpreter's), for a base interpreter ``{sysconfig include}/{name}``, for ``--target``
``DIR/include/{name}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from packaging import tags
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import Version

from wheelnext.core.errors import one_line
from wheelnext.installer.errors import InstallerError

_PROBE = r"""
import json, os, platform, sys, sysconfig
impl = sys.implementation
iv = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
if impl.version.releaselevel != "final":
    iv += impl.version.releaselevel[0] + str(impl.version.serial)
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "paths": sysconfig.get_paths(),
    "platform": sysconfig.get_platform(),
    "abiflags": getattr(sys, "abiflags", ""),
    "version": list(sys.version_info[:2]),
    "markers": {
        "implementation_name": impl.name,
        "implementation_version": iv,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
"""


@dataclass(frozen=True, slots=True)
class Target:
    """Where files go (the install scheme), and what the environment accepts.

    ``scheme["headers"]`` is the directory holding every project's headers directory
    (see ``scheme_for``); ``prefix`` is the environment's root ("": the scheme's ``data``
    directory)."""

    executable: str
    scheme: dict[str, str]
    tags: tuple[tags.Tag, ...]
    markers: dict[str, str]
    prefix: str = ""

    @property
    def roots(self) -> tuple[Path, ...]:
        """The environment's root, links resolved: nothing outside it is written or removed."""
        return (Path(os.path.realpath(self.prefix or self.scheme["data"])),)

    def scheme_for(self, project: str, where: str) -> dict[str, str]:
        """The scheme for installing ``project`` (from ``where``, a wheel): headers in its
        own directory, its canonical name (refused unless a valid name, so never a path)."""
        try:
            name = canonicalize_name(project, validate=True)
        except InvalidName:
            shown = one_line(project, 120)
            raise InstallerError(f"{where}: {shown!r} is not a valid project name") from None
        headers = Path(self.scheme["headers"]) / name
        if not any(Path(os.path.realpath(headers)).is_relative_to(root) for root in self.roots):
            raise InstallerError(
                f"{where}: the headers directory for {name} leads outside the environment "
                "(a link); refusing to install there"
            )
        return {**self.scheme, "headers": str(headers)}

    @property
    def python_version(self) -> Version:
        return Version(self.markers["python_full_version"])

    @property
    def library_dirs(self) -> list[str]:
        return sorted({self.scheme["purelib"], self.scheme["platlib"]})


def _tags(info: dict[str, object]) -> tuple[tags.Tag, ...]:
    major, minor = (int(part) for part in info["version"])  # type: ignore[attr-defined]
    if info["platform"] == sysconfig.get_platform():
        platforms = list(tags.platform_tags())
    else:
        platforms = [str(info["platform"]).replace("-", "_").replace(".", "_")]
    interpreter = f"cp{major}{minor}"
    abis = [f"{interpreter}{info['abiflags']}", "abi3", "none"]
    return (
        *tags.cpython_tags((major, minor), abis, platforms),
        *tags.compatible_tags((major, minor), interpreter, platforms),
    )


def probe(python: str | None = None, target_dir: Path | None = None) -> Target:
    """Ask ``python`` (default: this interpreter) for its facts; ``target_dir`` overrides paths."""
    executable = python or sys.executable
    where = f"--python {executable}"
    if python is not None and not Path(python).is_file():
        raise InstallerError(f"{where}: no such file")
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        raise InstallerError(f"{where}: did not answer within 60 seconds") from None
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InstallerError(f"{where}: cannot run it ({reason})") from None
    if done.returncode != 0:
        raise InstallerError(
            f"{where}: not a working Python interpreter (exit status {done.returncode})"
        )
    try:
        info = json.loads(done.stdout)
        paths = info["paths"]
        prefix = str(info["prefix"])
        if prefix != str(info["base_prefix"]):  # a venv: pip's headers path, not the base's
            major, minor = (int(part) for part in info["version"])
            headers = str(Path(prefix, "include", "site", f"python{major}.{minor}"))
        else:
            headers = str(paths.get("include", Path(paths["data"]) / "include"))
        scheme = {
            "purelib": str(paths["purelib"]),
            "platlib": str(paths["platlib"]),
            "headers": headers,
            "scripts": str(paths["scripts"]),
            "data": str(paths["data"]),
        }
        markers = {str(k): str(v) for k, v in info["markers"].items()}
        facts = (str(info["executable"]), _tags(info), markers)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InstallerError(f"{where}: not a Python interpreter this installer can use") from None
    if target_dir is not None:
        where = f"--target {target_dir}"
        prefix = str(target_dir.resolve())
        scheme = {
            "purelib": prefix,
            "platlib": prefix,
            "headers": str(Path(prefix) / "include"),
            "scripts": str(Path(prefix) / "bin"),
            "data": prefix,
        }
    target = Target(facts[0], scheme, facts[1], facts[2], prefix)
    _check_inside(target, where, "" if target_dir else " (use a virtual environment or --target)")
    return target


def _check_inside(target: Target, where: str, hint: str) -> None:
    """Refuse an environment one of whose scheme paths (links resolved) is outside its
    root: installing there would change another environment or the system."""
    if not Path(target.prefix).is_absolute():
        raise InstallerError(f"{where}: its prefix {target.prefix!r} is not an absolute path")
    (root,) = target.roots
    for name, path in sorted(target.scheme.items()):
        real = Path(os.path.realpath(path))
        if not Path(path).is_absolute() or not real.is_relative_to(root):
            raise InstallerError(
                f"{where}: its {name} directory {path} is outside the environment {root}; "
                f"refusing to install there{hint}"
            )
