"""A hostile wheel author against the real ``wn install``: wheels the ``installer`` library
would loop on, fail half-way through or mis-install, and variant wheels whose own
``variant.json`` disagrees with their label or with the index's ``variants.json``.

Each one is refused with exit status 1 and one line naming the wheel, and nothing changes
on disk: the fresh environment, the wheels and everything else below the test's directory
are byte-identical (paths, bytes, modes) afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.helpers import PEP825, snapshot
from tests.installer.envs import client, install_from, make_venv, site, wn, write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel, variants_json
from wheelnext.installer.drift import RECORD as VARIANT_RECORD
from wheelnext.installer.target import probe
from wheelnext.installer.wheeledit import record_hash

INFO = "bad-1.0.dist-info"
DATA = "bad-1.0.data"
METADATA = b"Metadata-Version: 2.4\nName: bad\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
V1 = {"x86_64": {"level": ["v1"]}}
V4 = {"x86_64": {"level": ["v4"]}}
XY = f"python{sys.version_info.major}.{sys.version_info.minor}"
# the base interpreter's headers: what a venv's sysconfig "include" points at
BASE_INCLUDE = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["include"])


def archive(
    directory: Path,
    filename: str,
    files: Sequence[tuple[str, bytes]],
    *,
    hashes: dict[str, str] | None = None,
) -> Path:
    """Write ``filename`` holding ``files`` in that order, plus a RECORD giving each its
    real hash (or the one in ``hashes``): only the attack differs from a good wheel."""
    info = next(n for n, _ in files if n.split("/", 1)[0].endswith(".dist-info")).split("/")[0]
    rows = "".join(
        f'"{name}",{(hashes or {}).get(name, record_hash(data))},{len(data)}\n'
        for name, data in files
    )
    path = directory / filename
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in files:
            out.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data)
        out.writestr(f"{info}/RECORD", rows + f"{info}/RECORD,,\n")
    return path


def bad(
    *extra: tuple[str, bytes],
    metadata: bytes = METADATA,
    wheel: bytes | None = WHEEL,
    entry_points: str | None = None,
    info: str = INFO,
    hashes: dict[str, str] | None = None,
) -> Callable[[Path], Path]:
    """A maker of ``bad-1.0-py3-none-any.whl``: a package, ``extra`` members, then the
    dist-info files (WHEEL left out when None)."""
    files = [("bad/__init__.py", b"VERSION = 'hostile'\n"), *extra, (f"{info}/METADATA", metadata)]
    if wheel is not None:
        files.append((f"{info}/WHEEL", wheel))
    if entry_points is not None:
        files.append((f"{info}/entry_points.txt", entry_points.encode()))
    return lambda d: archive(d, "bad-1.0-py3-none-any.whl", files, hashes=hashes)


DEEP = "bad/" + "/".join(["d" * 200] * 6) + "/x.py"

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # .data: the exact directory name made the installer library spin forever
    "data-dir-as-file": (
        bad((DATA, b"x")),
        f"member '{DATA}' is not below one of {DATA}/{{purelib,platlib,headers,scripts,data}}/",
    ),
    "data-scheme-unknown": (bad((f"{DATA}/etc/passwd", b"x")), f"member '{DATA}/etc/passwd'"),
    "data-scheme-as-file": (bad((f"{DATA}/purelib", b"x")), f"member '{DATA}/purelib' is not"),
    "data-dir-of-another-wheel": (
        bad(("other-1.0.data/purelib/x.py", b"x")),
        f"is in 'other-1.0.data', but the wheel's data directory is {DATA}",
    ),
    # two members, one destination; a file where a directory must go
    "file-then-directory": (
        bad(("bad/mod", b"x"), ("bad/mod/x.py", b"y")),
        "member 'bad/mod/x.py' would be installed inside member 'bad/mod', which is a file",
    ),
    "data-purelib-overlaps-root": (
        bad(("bad/x.py", b"1"), (f"{DATA}/purelib/bad/x.py", b"2")),
        "would both be installed as purelib/bad/x.py",
    ),
    "data-scheme-overlaps-site-packages": (
        bad((f"{DATA}/data/{SITE}/bad/__init__.py", b"evil")),
        "would be installed as the same file",
    ),
    "ships-INSTALLER": (
        bad((f"{INFO}/INSTALLER", b"pip\n")),
        f"the INSTALLER file the installer writes and member '{INFO}/INSTALLER'",
    ),
    "ships-variant-record": (
        bad((f"{INFO}/{VARIANT_RECORD}", b"{}")),
        f"ships '{INFO}/{VARIANT_RECORD}', a file only the installer writes",
    ),
    "ships-variant-record-other-case": (
        bad((f"{INFO}/{VARIANT_RECORD.lower()}", b"{}")),
        f"ships '{INFO}/{VARIANT_RECORD.lower()}', a file only the installer writes",
    ),
    "data-dir-case-differs": (
        bad(("bad-1.0.DATA/scripts/x", b"#!/bin/sh\n")),
        "member 'bad-1.0.DATA/scripts/x' is in 'bad-1.0.DATA', which differs from the "
        f"wheel's data directory {DATA} only in case",
    ),
    "data-dir-of-another-wheel-case": (
        bad(("other-1.0.Data/purelib/x.py", b"x")),
        f"is in 'other-1.0.Data', but the wheel's data directory is {DATA}",
    ),
    "two-dist-info": (
        bad(("other-1.0.dist-info/METADATA", b"Name: other\n")),
        ".dist-info director",
    ),
    "dist-info-version-differs": (
        bad(info="bad-2.0.dist-info"),
        "bad-2.0.dist-info",
    ),
    # WHEEL and METADATA
    "no-WHEEL": (bad(wheel=None), f"{INFO}/WHEEL is missing"),
    "WHEEL-not-utf8": (bad(wheel=WHEEL + b"Generator: \xff\xfe\n"), "WHEEL is not UTF-8 text"),
    "WHEEL-odd-version-line": (
        bad(wheel=WHEEL.replace(b"Wheel-Version: 1.0", b"wheel-version:2.0")),
        "must state 'Wheel-Version: X.Y' on a line of its own",
    ),
    "METADATA-deep-marker": (
        bad(metadata=METADATA + b"Requires-Dist: a; " + b"(" * 3000 + b"os_name" + b")" * 3000),
        "a Requires-Dist nests too deeply",
    ),
    "METADATA-not-utf8": (
        bad(metadata=METADATA + b"Summary: \xff\xfe\n"),
        f"{INFO}/METADATA is not UTF-8 text",
    ),
    # entry_points.txt
    "entry-point-path": (
        bad(entry_points="[console_scripts]\n../../../evil = bad:main\n"),
        "entry point name '../../../evil' is not a file name (a path separator)",
    ),
    "entry-point-dotdot": (
        bad(entry_points="[console_scripts]\n.. = bad:main\n"),
        "entry point name '..' is not a file name",
    ),
    "entry-point-value": (
        bad(entry_points="[console_scripts]\ntool = not a module\n"),
        "entry point 'tool' = 'not a module' is not 'module:function'",
    ),
    "entry-point-interpolation": (
        bad(entry_points="[console_scripts]\na = %(b)s%(b)s\nb = x:y\n"),
        "entry point 'a' uses '%'",
    ),
    "entry-points-unparsable": (
        bad(entry_points="tool = bad:main\n"),
        f"{INFO}/entry_points.txt: cannot be parsed",
    ),
    "entry-point-twice": (
        bad(entry_points="[console_scripts]\ntool = bad:main\n[gui_scripts]\ntool = bad:gui\n"),
        "entry point 'tool' and entry point 'tool' would both be installed as scripts/tool",
    ),
    "entry-point-over-data-script": (
        bad((f"{DATA}/scripts/tool", b"#!/bin/sh\n"), entry_points="[console_scripts]\ntool=a:b\n"),
        "would both be installed as scripts/tool",
    ),
    # names no file system takes, or that break RECORD
    "segment-too-long": (
        bad(("bad/" + "a" * 300 + ".py", b"x")),
        "a path segment longer than 255 bytes",
    ),
    "name-too-long": (bad((DEEP, b"x")), "longer than 1024 bytes"),
    "newline-in-name": (bad(("bad/x\n.py", b"x")), "control character in path"),
    # RECORD hashes the library cannot digest, or PEP 427 forbids
    "record-shake": (
        bad(("bad/x.py", b"x"), hashes={"bad/x.py": "shake_128=AAAA"}),
        "RECORD hashes 'bad/x.py' with 'shake_128'",
    ),
    "record-md5": (
        bad(("bad/x.py", b"x"), hashes={"bad/x.py": "md5=AAAA"}),
        "RECORD hashes 'bad/x.py' with 'md5'",
    ),
}


def refused(proc: subprocess.CompletedProcess[str], wheel: str, message: str) -> None:
    """Exit status 1 and one ``wn install: error:`` line naming ``wheel`` and the problem."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"wn install: error: {wheel}: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert "/tmp" not in lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_wheel_is_refused_and_nothing_changes(
    tmp_path: Path, venv: Path, case: str
) -> None:
    make, message = CASES[case]
    wheels = tmp_path / "wheels"
    make(wheels)
    build_wheel(wheels, "fine", "1.0")  # a good wheel in the same transaction stays out too
    profile = write_profile(tmp_path, ["v1"])
    before, outside = snapshot(tmp_path), snapshot(BASE_INCLUDE)
    proc = install_from(venv, wheels, "fine", "bad", "--properties", str(profile))
    refused(proc, "bad-1.0-py3-none-any.whl", message)
    assert snapshot(tmp_path) == before
    assert snapshot(BASE_INCLUDE) == outside


def test_the_good_wheels_install(tmp_path: Path, venv: Path) -> None:
    """The makers above build installable wheels apart from their attack."""
    wheels = tmp_path / "wheels"
    bad(
        (f"{DATA}/scripts/helper", b"#!python\nprint('hi')\n"),
        (f"{DATA}/data/share/bad/x.txt", b"x"),
        entry_points="[console_scripts]\ntool = bad:main\n",
    )(wheels)
    profile = write_profile(tmp_path, ["v1"])
    proc = install_from(venv, wheels, "bad", "--properties", str(profile))
    assert proc.returncode == 0, proc.stderr
    assert (venv / "bin" / "tool").is_file()
    assert (venv / "bin" / "helper").is_file()
    assert (venv / "share" / "bad" / "x.txt").read_bytes() == b"x"


# -- variant wheels: variant.json against the label and the index's variants.json -------


def _variant_doc(label: str, properties: dict[str, dict[str, list[str]]]) -> bytes:
    doc = {
        "$schema": PEP825,
        "default-priorities": {"namespace": ["x86_64"]},
        "variants": {label: properties},
    }
    return json.dumps(doc).encode()


def _vwheel(directory: Path, label: str | None, variant_json: bytes | None) -> Path:
    """``vpkg-1.0-py3-none-any[-label].whl`` with the given ``variant.json`` (or none)."""
    info = "vpkg-1.0.dist-info"
    files = [
        ("vpkg/__init__.py", f"VARIANT = {label!r}\n".encode()),
        (f"{info}/METADATA", b"Metadata-Version: 2.4\nName: vpkg\nVersion: 1.0\n"),
        (f"{info}/WHEEL", WHEEL),
    ]
    if variant_json is not None:
        files.append((f"{info}/variant.json", variant_json))
    suffix = f"-{label}" if label else ""
    return archive(directory, f"vpkg-1.0-py3-none-any{suffix}.whl", files)


VARIANT_CASES: dict[str, tuple[Callable[[Path], list[Path]], str, str]] = {
    # the index's variants.json says x86v1 is level v1; the wheel itself says v4
    "declares-v4-listed-as-v1": (
        lambda d: [
            build_wheel(d, "vpkg", "1.0", label="x86v1", properties=V4),
            variants_json(d, "vpkg", "1.0", {"x86v1": V1}, ["x86_64"]),
        ],
        "vpkg-1.0-py3-none-any-x86v1.whl",
        "its variant.json declares x86_64 :: level :: v4 but the release's variant metadata "
        "gives label 'x86v1' x86_64 :: level :: v1",
    ),
    "label-mismatch": (
        lambda d: [
            _vwheel(d, "x86v1", _variant_doc("x86v4", V1)),
            variants_json(d, "vpkg", "1.0", {"x86v1": V1}, ["x86_64"]),
        ],
        "vpkg-1.0-py3-none-any-x86v1.whl",
        "must describe exactly the label 'x86v1' of its filename; it describes 'x86v4'",
    ),
    "variant-json-in-plain-wheel": (
        lambda d: [_vwheel(d, None, _variant_doc("x86v1", V1))],
        "vpkg-1.0-py3-none-any.whl",
        "has vpkg-1.0.dist-info/variant.json but no label in its filename",
    ),
    "variant-wheel-without-variant-json": (
        lambda d: [
            _vwheel(d, "x86v1", None),
            variants_json(d, "vpkg", "1.0", {"x86v1": V1}, ["x86_64"]),
        ],
        "vpkg-1.0-py3-none-any-x86v1.whl",
        "a variant wheel without *.dist-info/variant.json",
    ),
}


@pytest.mark.parametrize("case", sorted(VARIANT_CASES))
def test_variant_json_disagreeing_is_refused(
    tmp_path: Path, server: Server, venv: Path, case: str
) -> None:
    make, wheel, message = VARIANT_CASES[case]
    built = tmp_path / "built"
    server.index("pypi").add(*make(built))
    profile = write_profile(tmp_path, ["v1"])
    before = snapshot(tmp_path)
    python = str(venv / "bin" / "python")
    proc = wn(
        "install",
        "vpkg",
        "--index-url",
        server.url("pypi"),
        "--python",
        python,
        "--no-cache",
        "--properties",
        str(profile),
    )
    refused(proc, wheel, message)
    assert snapshot(tmp_path) == before


def test_an_honest_variant_wheel_installs(tmp_path: Path, server: Server, venv: Path) -> None:
    """The same index with a wheel that agrees with its variants.json installs."""
    built = tmp_path / "built"
    server.index("pypi").add(
        build_wheel(built, "vpkg", "1.0", label="x86v1", properties=V1),
        variants_json(built, "vpkg", "1.0", {"x86v1": V1}, ["x86_64"]),
    )
    python = str(venv / "bin" / "python")
    proc = wn(
        "install",
        "vpkg",
        "--index-url",
        server.url("pypi"),
        "--python",
        python,
        "--no-cache",
        "--properties",
        str(write_profile(tmp_path, ["v1"])),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Installed vpkg 1.0 [x86v1: x86_64 :: level :: v1] from {server.url('pypi')}"
    ]


# -- headers: inside the environment, where pip puts them -------------------------------


def _demo(directory: Path, version: str) -> Path:
    """``demo-VERSION`` with a header, a script and a data file in its ``.data``."""
    info, data = f"demo-{version}.dist-info", f"demo-{version}.data"
    return archive(
        directory,
        f"demo-{version}-py3-none-any.whl",
        [
            ("demo/__init__.py", f"VERSION = {version!r}\n".encode()),
            (f"{data}/headers/x.h", f"int x_{version[0]};\n".encode()),
            (f"{data}/scripts/demo-tool", b"#!python\nprint('hi')\n"),
            (f"{data}/data/share/demo/x.txt", b"x"),
            (
                f"{info}/METADATA",
                f"Metadata-Version: 2.4\nName: demo\nVersion: {version}\n".encode(),
            ),
            (f"{info}/WHEEL", WHEEL),
        ],
    )


def _record(env: Path, version: str) -> dict[str, str]:
    """The installed RECORD of demo, path -> hash, less the rows only one installer writes."""
    text = (site(env) / f"demo-{version}.dist-info" / "RECORD").read_text()
    rows = (line.split(",") for line in text.splitlines())
    own = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json", VARIANT_RECORD)
    return {row[0]: row[1] for row in rows if row[0].rpartition("/")[2] not in own}


def test_headers_go_inside_the_venv_where_pip_puts_them(tmp_path: Path, venv: Path) -> None:
    """``.data/headers`` lands in ``{venv}/include/site/pythonX.Y/demo``, with the RECORD
    pip writes for the same wheel; an upgrade follows that RECORD; the base interpreter's
    include directory is never touched."""
    wheels = tmp_path / "wheels"
    _demo(wheels, "1.0")
    by_pip = make_venv(tmp_path / "by-pip")
    outside, offered = snapshot(BASE_INCLUDE), snapshot(wheels)
    proc = install_from(venv, wheels, "demo")
    assert proc.returncode == 0, proc.stderr
    pip = client("pip", by_pip, "install", "--no-index", "--find-links", str(wheels), "demo")
    assert pip.returncode == 0, pip.stderr
    header = f"../../../include/site/{XY}/demo/x.h"
    for env in (venv, by_pip):
        assert (env / "include" / "site" / XY / "demo" / "x.h").read_bytes() == b"int x_1;\n"
        assert (env / "share" / "demo" / "x.txt").read_bytes() == b"x"
        assert header in _record(env, "1.0")
    ours, pips = _record(venv, "1.0"), _record(by_pip, "1.0")
    pips = {k: v for k, v in pips.items() if "__pycache__" not in k}
    assert sorted(ours) == sorted(pips)
    assert {k: v for k, v in ours.items() if k != "../../../bin/demo-tool"} == {
        k: v for k, v in pips.items() if k != "../../../bin/demo-tool"
    }  # the script's shebang names each venv's own python
    _demo(wheels, "2.0")
    proc = install_from(venv, wheels, "demo==2.0")
    assert proc.returncode == 0, proc.stderr
    assert (venv / "include" / "site" / XY / "demo" / "x.h").read_bytes() == b"int x_2;\n"
    assert header in _record(venv, "2.0")
    assert snapshot(BASE_INCLUDE) == outside
    assert offered.items() <= snapshot(wheels).items()  # the offered wheels: unchanged


def test_headers_of_a_target_install_stay_in_the_target(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "target"
    _demo(wheels, "1.0")
    outside = snapshot(BASE_INCLUDE)
    proc = wn("install", "demo", "--no-index", "--find-links", str(wheels), "--target", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / "include" / "demo" / "x.h").read_bytes() == b"int x_1;\n"
    record = (target / "demo-1.0.dist-info" / "RECORD").read_text()
    assert "\ninclude/demo/x.h," in record
    assert snapshot(BASE_INCLUDE) == outside


def test_a_venv_whose_include_leads_outside_is_refused(tmp_path: Path, venv: Path) -> None:
    """A link out of the venv on a scheme path (old virtualenvs linked ``include`` to the
    base interpreter's): exit 1, one line, nothing written anywhere."""
    wheels, elsewhere = tmp_path / "wheels", tmp_path / "elsewhere"
    _demo(wheels, "1.0")
    elsewhere.mkdir()
    shutil.rmtree(venv / "include")
    (venv / "include").symlink_to(elsewhere)
    before = snapshot(tmp_path)
    proc = install_from(venv, wheels, "demo")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith(f"wn install: error: --python {venv}/bin/python: its headers "), (
        lines
    )
    assert "is outside the environment" in lines[0], lines[0]
    assert snapshot(tmp_path) == before


def test_a_record_line_into_the_base_interpreter_is_not_followed(
    tmp_path: Path, venv: Path
) -> None:
    """A RECORD naming the base interpreter's include directory (what wn once wrote for
    headers) refuses the upgrade: the base is outside the environment."""
    wheels = tmp_path / "wheels"
    _demo(wheels, "1.0")
    assert install_from(venv, wheels, "demo").returncode == 0
    absent = os.path.relpath(BASE_INCLUDE / "wn-test-absent.h", site(venv))
    with (site(venv) / "demo-1.0.dist-info" / "RECORD").open("a") as record:
        record.write(f"{absent},,\n")
    _demo(wheels, "2.0")
    before, outside = snapshot(tmp_path), snapshot(BASE_INCLUDE)
    proc = install_from(venv, wheels, "demo==2.0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"wn install: error: demo 1.0: its RECORD names {absent!r}, outside the environment; "
        "refusing to remove it"
    ]
    assert snapshot(tmp_path) == before
    assert snapshot(BASE_INCLUDE) == outside


_PIP_SCHEME = (
    "import json, sys; sys.path.insert(0, sys.argv[1]);"
    "from pip._internal.locations import get_scheme; s = get_scheme('demo');"
    "keys = ('purelib', 'platlib', 'headers', 'scripts', 'data');"
    "print(json.dumps({k: getattr(s, k) for k in keys}))"
)


@pytest.mark.parametrize("which", ["base-interpreter", "venv"])
def test_the_scheme_is_pips(tmp_path: Path, which: str) -> None:
    """For a base interpreter (no venv: its own prefix is the environment) and for a venv,
    the scheme a project installs with is the one pip computes for it."""
    import pip

    if which == "venv":
        python = make_venv(tmp_path / "venv") / "bin" / "python"
    else:
        python = Path(sys.base_prefix, "bin", XY)
    pips = subprocess.run(
        [str(python), "-I", "-c", _PIP_SCHEME, str(Path(pip.__file__).parents[1])],
        capture_output=True,
        text=True,
        check=True,
    )
    target = probe(str(python))
    assert target.scheme_for("demo", "demo-1.0-py3-none-any.whl") == json.loads(pips.stdout)
    assert target.prefix == (str(tmp_path / "venv") if which == "venv" else sys.base_prefix)
