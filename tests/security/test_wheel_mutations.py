"""Good wheels mutated at random (member names, bytes, modes, RECORD rows, WHEEL, METADATA,
entry_points.txt, raw ZIP headers), then checked and installed in-process the way
``wn install`` does it, into a fresh target directory.

Whatever hypothesis makes, the outcome is one of two: a clean install (every new path
inside the target), or an ``InstallerError`` whose message is one line naming the wheel
with nothing written anywhere. Any other exception, a traceback, or a hang (an alarm cuts
each example at ``HANG_S``) fails the test.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.helpers import snapshot
from wheelnext.installer.archive import check_archive, check_destinations
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.target import Target
from wheelnext.installer.transaction import transaction
from wheelnext.installer.variant_wheels import check_variant_wheel
from wheelnext.installer.wheeledit import record_hash

HANG_S = 10
FILENAME = "pkg-1.0-py3-none-any.whl"
INFO = "pkg-1.0.dist-info"
DATA = "pkg-1.0.data"
SETTINGS = settings(
    max_examples=int(os.environ.get("WHEEL_MUTATIONS", "400")),
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="WHEEL_MUTATIONS" not in os.environ,
)

WHEEL_LINES = [
    "Wheel-Version: 1.0",
    "Wheel-Version: 2.0",
    "Wheel-Version: 3.0",
    "wheel-version: 2.0",
    "Wheel-Version:1.0",
    "Wheel-Version: 1.0 ",
    "Wheel-Version: one",
    "Root-Is-Purelib: true",
    "Root-Is-Purelib: True",
    "Root-Is-Purelib: false",
    "Generator: mutant",
    "Tag: py3-none-any",
    " folded",
    "",
    "no colon at all",
]
METADATA_LINES = [
    "Metadata-Version: 2.4",
    "Name: pkg",
    "Name: other",
    "Name: ../pkg",
    "Version: 1.0",
    "Version: 2.0",
    "Version: not a version",
    "Wheel-Version: 2.0",
    "Requires-Dist: helper>=1",
    "Requires-Dist: ((((((((((",
    "Requires-Dist: a; " + "(" * 3000 + 'os_name == "posix"' + ")" * 3000,
    "Requires-Python: >=3.8",
    "Requires-Python: >>>",
    "Provides-Extra: x",
    "Default-Extra: y",
    "",
]
ENTRY_POINT_LINES = [
    "[console_scripts]",
    "[gui_scripts]",
    "[other]",
    "[DEFAULT]",
    "tool = pkg:main",
    "tool = pkg.sub.mod:main [extra]",
    "tool=pkg",
    "../evil = pkg:main",
    "a/b = pkg:main",
    ". = pkg:main",
    "python = pkg:main",
    "x = %(tool)s",
    "x = %",
    "%(x)s = pkg:main",
    "= pkg:main",
    "  continued",
    "tool = pkg:main",  # twice: a duplicate option
    "[console_scripts]",  # twice: a duplicate section
]
NAMES = [
    DATA,
    f"{DATA}/",
    f"{DATA}/purelib",
    f"{DATA}/purelib/",
    f"{DATA}/purelib/pkg/__init__.py",
    f"{DATA}/bogus/x",
    f"{DATA}/scripts/tool",
    f"{DATA}/data/bin/tool",
    f"{DATA}/headers/pkg.h",
    "other-1.0.data/purelib/x",
    "pkg",
    "pkg/",
    "pkg/__init__.py",
    "pkg/__init__.py/x",
    "pkg/__pycache__/x.pyc",
    "pkg/sub",
    f"{INFO}",
    f"{INFO}/INSTALLER",
    f"{INFO}/RECORD",
    f"{INFO}/entry_points.txt",
    f"{INFO}/variant.json",
    f"{INFO}/LINKS",
    "other-1.0.dist-info/METADATA",
    "pkg-2.0.dist-info/METADATA",
    "../evil",
    "/abs",
    "a\\b",
    "pkg/\x00",
    "pkg/new\nline",
    "pkg/" + "x" * 300,
    "pkg/" + "/".join(["y" * 250] * 5),
    "",
    ".",
    "pkg/./x",
    "pkg//x",
    "ü/ñ.py",
]
TEXTS = {  # mutation kind -> (dist-info file, lines to build its text from)
    "wheel": ("WHEEL", WHEEL_LINES),
    "metadata": ("METADATA", METADATA_LINES),
    "entry_points": ("entry_points.txt", ENTRY_POINT_LINES),
}
HASHES = [
    "",
    "sha256=AAAA",
    "md5=AAAA",
    "shake_128=AAAA",
    "sha512=",
    "nohash",
    "=",
    "blake2b=x",
    "unknownalgo=abc",
]


@dataclass
class Member:
    name: str
    data: bytes
    mode: int = 0o100644
    method: int = zipfile.ZIP_DEFLATED


@dataclass
class Wheel:
    """A wheel's members and RECORD rows before they are zipped."""

    members: list[Member]
    rows: list[str] = field(default_factory=list)


def good() -> Wheel:
    files = [
        Member("pkg/__init__.py", b"VERSION = '1.0'\n"),
        Member("pkg/sub/mod.py", b"def main():\n    return 0\n"),
        Member(f"{DATA}/scripts/helper", b"#!python\nprint('hi')\n", 0o100755),
        Member(f"{DATA}/data/share/pkg/x.txt", b"x\n"),
        Member(f"{INFO}/METADATA", b"Metadata-Version: 2.4\nName: pkg\nVersion: 1.0\n"),
        Member(
            f"{INFO}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        Member(f"{INFO}/entry_points.txt", b"[console_scripts]\ntool = pkg.sub.mod:main\n"),
    ]
    return Wheel(files)


def _text(lines: list[str]) -> st.SearchStrategy[bytes]:
    """Metadata-like text: lines from ``lines`` in any order, or arbitrary text/bytes."""
    return st.one_of(
        st.lists(st.sampled_from(lines), max_size=8).map(lambda x: "\n".join(x).encode()),
        st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=40),
    )


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Wheel, list[tuple[int, int]]]:
    """A good wheel with 1-4 semantic mutations (RECORD kept truthful unless a row is the
    target), and raw byte changes to apply to the ZIP file itself."""
    wheel = good()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "rename",
                    "add",
                    "drop",
                    "bytes",
                    "mode",
                    "method",
                    "wheel",
                    "metadata",
                    "entry_points",
                    "record",
                ]
            )
        )
        members = wheel.members
        index = draw(st.integers(0, max(len(members) - 1, 0)))
        if kind == "rename" and members:
            name = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=30)))
            members[index].name = name
        elif kind == "add":
            name = draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=30)))
            members.append(Member(name, draw(st.binary(max_size=30))))
        elif kind == "drop" and members:
            members.pop(index)
        elif kind == "bytes" and members:
            members[index].data = draw(st.binary(max_size=60))
        elif kind == "mode" and members:
            members[index].mode = draw(
                st.sampled_from([0o120777, 0o100755, 0o040755, 0o010644, 0, 0o177777])
            )
        elif kind == "method" and members:
            members[index].method = zipfile.ZIP_STORED
        elif kind in TEXTS:
            member_name, lines = TEXTS[kind]
            target = f"{INFO}/{member_name}"
            data = draw(_text(lines))
            for member in members:
                if member.name == target:
                    member.data = data
                    break
            else:
                members.append(Member(target, data))
        elif kind == "record":
            wheel.rows = draw(
                st.lists(
                    st.tuples(
                        st.one_of(
                            st.sampled_from([m.name for m in members] or ["x"]),
                            st.text(max_size=10),
                        ),
                        st.sampled_from(HASHES),
                        st.sampled_from(["", "1", "-1", "x", "99999999999"]),
                        st.booleans(),
                    ).map(lambda t: f'"{t[0]}",{t[1]},{t[2]}' + (",extra" if t[3] else "")),
                    min_size=1,
                    max_size=4,
                )
            )
    flips = draw(st.lists(st.tuples(st.integers(-400, 4000), st.integers(0, 255)), max_size=3))
    return wheel, flips


def write(wheel: Wheel, flips: list[tuple[int, int]], path: Path) -> None:
    """Zip ``wheel`` with a RECORD of real hashes (plus its mutated rows), then overwrite
    bytes at the ``flips`` offsets (negative: from the end, where the central directory is)."""
    rows = [f'"{m.name}",{record_hash(m.data)},{len(m.data)}' for m in wheel.members]
    record = "\n".join([*rows, *wheel.rows, f"{INFO}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(path, "w") as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for m in [*wheel.members, Member(f"{INFO}/RECORD", record.encode())]:
            info = zipfile.ZipInfo(m.name or "_", (2026, 1, 1, 0, 0, 0))
            info.filename = m.name  # the empty name too, which ZipInfo would not take
            info.external_attr = m.mode << 16
            info.compress_type = m.method
            out.writestr(info, m.data)
    if flips:
        data = bytearray(path.read_bytes())
        for offset, value in flips:
            if -len(data) <= offset < len(data):
                data[offset] = value
        path.write_bytes(bytes(data))


class Hang(Exception):
    """An example ran past HANG_S: a loop the installer would never leave."""


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def install(path: Path, root: Path) -> None:
    """What ``install_all`` does for one wheel: every check, then the transaction."""
    target = Target(
        sys.executable,
        {
            "purelib": str(root / "lib"),
            "platlib": str(root / "lib"),
            "headers": str(root / "include"),
            "scripts": str(root / "bin"),
            "data": str(root),
        },
        (),
        {},
    )
    info = check_archive(path)
    check_variant_wheel(path, None)
    check_destinations(path, info, target.scheme)
    with transaction(target) as tx:
        tx.install(path, info)


def attempt(wheel: Wheel, flips: list[tuple[int, int]]) -> str | None:
    """Install the wheel into a fresh target: None when it installed, else the refusal."""
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp)
        (world / "wheels").mkdir()
        (world / "outside").mkdir()
        (world / "outside" / "keep.txt").write_text("keep\n")
        root = world / "target"
        for sub in ("lib", "bin", "include"):
            (root / sub).mkdir(parents=True)
        path = world / "wheels" / FILENAME
        write(wheel, flips, path)
        before = snapshot(world)
        try:
            with alarm(HANG_S):
                install(path, root)
        except InstallerError as exc:
            message = str(exc)
            assert message, "an empty error"
            assert "\n" not in message, message
            assert FILENAME in message, message
            assert tmp not in message, message
            assert snapshot(world) == before, message
            return message
        after = snapshot(world)
        changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
        assert all(k.startswith("target/") for k in changed), sorted(changed)
        return None


@SETTINGS
@given(mutated())
def test_mutated_wheels_install_cleanly_or_are_refused(
    case: tuple[Wheel, list[tuple[int, int]]],
) -> None:
    refusal = attempt(*case)
    event("installed" if refusal is None else f"refused: {refusal.partition(': ')[2][:25]}")


def test_the_unmutated_wheel_installs() -> None:
    """The base the mutations start from is a wheel that installs."""
    assert attempt(good(), []) is None
