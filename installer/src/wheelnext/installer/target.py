"""The environment being installed into: its interpreter, paths, tags and markers.

The facts come from the target interpreter itself (``--python``), so a tool running on one
Python can install into another; ``--target DIR`` uses this interpreter's facts with DIR
as every library path.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from packaging import tags
from packaging.version import Version

from wheelnext.installer.errors import InstallerError

_PROBE = r"""
import json, os, platform, sys, sysconfig
impl = sys.implementation
iv = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
if impl.version.releaselevel != "final":
    iv += impl.version.releaselevel[0] + str(impl.version.serial)
print(json.dumps({
    "executable": sys.executable,
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
    """Where files go (the install scheme), and what the environment accepts."""

    executable: str
    scheme: dict[str, str]
    tags: tuple[tags.Tag, ...]
    markers: dict[str, str]

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
        scheme = {
            "purelib": str(paths["purelib"]),
            "platlib": str(paths["platlib"]),
            "headers": str(paths.get("include", Path(paths["data"]) / "include")),
            "scripts": str(paths["scripts"]),
            "data": str(paths["data"]),
        }
        markers = {str(k): str(v) for k, v in info["markers"].items()}
        facts = (str(info["executable"]), _tags(info), markers)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InstallerError(f"{where}: not a Python interpreter this installer can use") from None
    if target_dir is not None:
        root = str(target_dir.resolve())
        scheme = {
            "purelib": root,
            "platlib": root,
            "headers": str(Path(root) / "include"),
            "scripts": str(Path(root) / "bin"),
            "data": root,
        }
    return Target(facts[0], scheme, facts[1], facts[2])
