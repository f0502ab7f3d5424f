"""Build a small variant release, ``hellown`` 1.0, to try wheelnext on without any index.

Usage: ``.venv/bin/python examples/demo/make_release.py OUTDIR`` (OUTDIR absent or empty).

It writes a plain pure-Python wheel with ``zipfile``, turns it into variant wheels with the
real ``wn variant make`` (x86-64 levels v1..v4 and the ``null`` variant), writes the
release's ``hellown-1.0-variants.json`` with ``wn variant index``, and lays out a static
PEP 503 index that ``python -m http.server`` can serve::

    OUTDIR/wheels/    the release: a --find-links directory for ``wn install``
    OUTDIR/simple/    the index pages (links point into ../../wheels/)

``python -m hellown`` then prints which wheel was installed: its label and properties.
"""

from __future__ import annotations

import base64
import hashlib
import html
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NAME, VERSION = "hellown", "1.0"
LEVELS = ("v1", "v2", "v3", "v4")
PLAIN = f"{NAME}-{VERSION}-py3-none-any.whl"

# The package reads its own variant.json, so one source tells every variant apart.
MODULE = '''\
"""hellown: says which wheel of its release was installed."""

import json
from importlib import metadata
from pathlib import Path


def describe() -> str:
    """One line: where hellown is installed and which variant (label, properties) it is."""
    dist = metadata.distribution("hellown")
    where = Path(__file__).parent
    text = dist.read_text("variant.json")
    if text is None:
        return f"hellown {dist.version} at {where}: the non-variant wheel"
    ((label, properties),) = json.loads(text)["variants"].items()
    props = "; ".join(
        f"{ns} :: {feature} :: {value}"
        for ns, features in properties.items()
        for feature, values in features.items()
        for value in values
    )
    return f"hellown {dist.version} at {where}: variant {label} ({props or 'no properties'})"
'''
MAIN = "from hellown import describe\n\nprint(describe())\n"


class DemoError(Exception):
    """A problem to report in one line (bad OUTDIR, a failing ``wn`` command)."""


def _record_hash(data: bytes) -> str:
    """A RECORD hash: urlsafe base64 sha256 without padding (PEP 376/427)."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_plain_wheel(directory: Path) -> Path:
    """Write the non-variant ``hellown-1.0-py3-none-any.whl`` (with a correct RECORD)."""
    info = f"{NAME}-{VERSION}.dist-info"
    members: dict[str, bytes] = {
        f"{NAME}/__init__.py": MODULE.encode(),
        f"{NAME}/__main__.py": MAIN.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.4\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: wheelnext's demo: prints which variant wheel was installed\n"
            "Requires-Python: >=3.8\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: wheelnext-demo\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = directory / PLAIN
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return path


def _wn() -> str:
    """The ``wn`` next to this interpreter (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "wn"
    found = str(beside) if beside.is_file() else shutil.which("wn")
    if found is None:
        raise DemoError("cannot find 'wn': run this with the Python where wheelnext is installed")
    return found


def wn(cwd: Path, *args: str) -> None:
    """Run ``wn ARGS`` in ``cwd``, echoing it; a failure becomes a DemoError with its stderr."""
    print("+ " + shlex.join(["wn", *args]), flush=True)
    proc = subprocess.run(
        [_wn(), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise DemoError(f"'wn {args[0]} {args[1]}' failed (exit {proc.returncode}): {last}")


def write_index(root: Path, wheels: Path) -> None:
    """Write PEP 503 pages for every file in ``wheels``, linked with their sha256."""
    project = root / "simple" / NAME
    project.mkdir(parents=True)
    links = []
    for path in sorted(wheels.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        href = html.escape(f"../../wheels/{path.name}#sha256={digest}")
        links.append(f'<a href="{href}">{html.escape(path.name)}</a><br>')
    page = "<!DOCTYPE html>\n<html><body>\n{}\n</body></html>\n"
    (project / "index.html").write_text(page.format("\n".join(links)), encoding="utf-8")
    root_link = f'<a href="{NAME}/">{NAME}</a>'
    (root / "simple" / "index.html").write_text(page.format(root_link), encoding="utf-8")


def build(out: Path) -> None:
    """Build the whole release in ``out`` (an empty directory)."""
    wheels = out / "wheels"
    wheels.mkdir()
    plain = write_plain_wheel(wheels)
    print(f"wrote wheels/{plain.name} (the plain wheel); then, in wheels/:")
    for level in LEVELS:
        wn(wheels, "variant", "make", plain.name, "-p", f"x86_64 :: level :: {level}",
           "--label", f"x86_64_{level}")  # fmt: skip
    # after the others: --null takes their namespaces and format from the output directory
    wn(wheels, "variant", "make", plain.name, "--null")
    wn(wheels, "variant", "index", ".")
    write_index(out, wheels)


def main(argv: list[str]) -> int:
    """Build the release into the OUTDIR given, atomically; 0 on success, 2 on bad usage."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: make_release.py OUTDIR  (OUTDIR absent or empty)", file=sys.stderr)
        return 2
    out = Path(argv[0]).absolute()
    try:
        if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
            raise DemoError(f"{out}: exists and is not an empty directory")
        if not out.parent.is_dir():
            raise DemoError(f"{out.parent}: no such directory")
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            build(work)
            work.chmod(0o755)
            work.replace(out)  # replaces an empty OUTDIR; nothing half-written is left
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except (DemoError, OSError) as exc:
        print(f"make_release.py: {exc}", file=sys.stderr)
        return 1
    print(f"release in {out / 'wheels'}:")
    for path in sorted((out / "wheels").iterdir()):
        print(f"  {path.name}")
    print(f"index pages in {out / 'simple'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
