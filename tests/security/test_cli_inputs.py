"""Command-line arguments and the files they name are input from outside: every bad one
is refused with one ``prog: error: ...`` line naming it, exit status 1 (2 for argparse
usage errors), no traceback, no list repr, no temporary path, and nothing written.

Each case drives the real ``wn`` command against a small world of real files (a wheel,
a directory, a text file, a latin-1 file, broken JSON) and compares the world's bytes,
modes and paths before and after.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, snapshot
from tests.installer.run import PROFILE
from tests.installer.wheels import build_wheel, variants_json

LIST_REPR = re.compile(r"""\[\s*(['"]).*?\1\s*(,\s*(['"]).*?\3\s*)*\]""")


def run_wn(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``wn ARGS`` as a user runs it, with detection and user config out of the way."""
    env = {**os.environ, "WHEELNEXT_CONFIG": os.devnull, "NO_COLOR": "1"}
    return subprocess.run(
        [str(BIN / "wn"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def assert_one_error(proc: subprocess.CompletedProcess[str], prog: str, *names: str) -> str:
    """The refusal contract: status 1 (2: argparse usage), one ``prog: error:`` line that
    names each of ``names``; no traceback, no Python list repr, no temporary path."""
    assert proc.returncode in (1, 2), (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    if proc.returncode == 1:
        assert len(lines) == 1, proc.stderr
    line = lines[-1]
    assert line.startswith(f"{prog}"), proc.stderr
    assert ": error: " in line, proc.stderr
    assert not LIST_REPR.search(line), line
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in line), repr(line)
    for temporary in ("wheelnext-", ".part", ".tmp"):
        assert temporary not in line, line
    for name in names:
        assert name in line, (name, line)
    return line


@dataclass(frozen=True)
class World:
    """Real files of every wrong kind, in one folder whose tree a case must not change."""

    root: Path
    wheel: Path
    wheels: Path  # a --find-links directory holding ``wheel``
    directory: Path
    text: Path
    latin1: Path
    broken_json: Path
    list_json: Path
    profile: Path
    variants: Path
    not_zip: Path
    missing: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    wheels = root / "wheels"
    wheel = build_wheel(wheels, "pkg", "1.0")
    (root / "a-dir").mkdir()
    (root / "file.txt").write_text("pkg\n")
    (root / "latin1.txt").write_bytes("caf\xe9 >= 1\n".encode("latin-1"))
    (root / "broken.json").write_text("{nope")
    (root / "list.json").write_text('["a", "b"]')
    (root / "profile.json").write_text(json.dumps(PROFILE))
    variants = variants_json(root, "pkg", "1.0", {"v3": {"x86_64": {"level": ["v3"]}}}, ["x86_64"])
    (root / "pkg-1.0-py3-none-any.zip.whl").write_bytes(b"PK\x03\x04 not really")
    not_zip = root / "pkg-2.0-py3-none-any.whl"
    not_zip.write_bytes(b"not a zip at all")
    return World(
        root,
        wheel,
        wheels,
        root / "a-dir",
        root / "file.txt",
        root / "latin1.txt",
        root / "broken.json",
        root / "list.json",
        root / "profile.json",
        variants,
        not_zip,
        root / "no" / "such" / "thing",
    )


@pytest.fixture
def unchanged(world: World) -> Iterator[None]:
    """The world (and so every path a case names) is byte-identical after the case."""
    before = snapshot(world.root)
    yield
    assert snapshot(world.root) == before


Case = Callable[[World], tuple[list[str], list[str]]]  # → (argv, names the error must say)


def _install(w: World, *args: str) -> list[str]:
    return [
        "install",
        "--no-index",
        "--find-links",
        str(w.wheels),
        "--properties",
        str(w.profile),
        "--dry-run",
        *args,
    ]


INSTALL: dict[str, Case] = {
    "python-missing": lambda w: (_install(w, "pkg", "--python", str(w.missing)), ["--python"]),
    "python-a-text-file": lambda w: (_install(w, "pkg", "--python", str(w.text)), ["--python"]),
    "python-a-directory": lambda w: (
        _install(w, "pkg", "--python", str(w.directory)),
        ["--python"],
    ),
    "python-exits-1": lambda w: (_install(w, "pkg", "--python", "/bin/false"), ["/bin/false"]),
    "python-prints-nothing": lambda w: (
        _install(w, "pkg", "--python", "/bin/true"),
        ["/bin/true"],
    ),
    "python-prints-garbage": lambda w: (
        _install(w, "pkg", "--python", "/bin/echo"),
        ["/bin/echo"],
    ),
    "target-is-a-file": lambda w: (
        [a for a in _install(w, "pkg", "--target", str(w.text)) if a != "--dry-run"],
        ["--target", str(w.text)],
    ),
    "target-under-a-file": lambda w: (
        [a for a in _install(w, "pkg", "--target", str(w.text / "x")) if a != "--dry-run"],
        ["--target"],
    ),
    "report-is-a-directory": lambda w: (
        _install(w, "pkg", "--report", str(w.directory)),
        ["--report", str(w.directory)],
    ),
    "report-in-missing-directory": lambda w: (
        _install(w, "pkg", "--report", str(w.missing / "r.json")),
        ["--report"],
    ),
    "timeout-nan": lambda w: (_install(w, "pkg", "--timeout", "nan"), ["--timeout", "nan"]),
    "timeout-negative": lambda w: (_install(w, "pkg", "--timeout", "-1"), ["--timeout"]),
    "timeout-inf": lambda w: (_install(w, "pkg", "--timeout", "inf"), ["--timeout"]),
    "timeout-huge": lambda w: (_install(w, "pkg", "--timeout", "1e400"), ["--timeout"]),
    "timeout-zero": lambda w: (_install(w, "pkg", "--timeout", "0"), ["--timeout"]),
    "timeout-word": lambda w: (_install(w, "pkg", "--timeout", "soon"), ["--timeout"]),
    "requirements-latin1": lambda w: (_install(w, "-r", str(w.latin1)), [str(w.latin1), "UTF-8"]),
    "requirements-directory": lambda w: (_install(w, "-r", str(w.directory)), [str(w.directory)]),
    "requirements-missing": lambda w: (_install(w, "-r", str(w.missing)), [str(w.missing)]),
    "properties-directory": lambda w: (
        _install(w, "pkg", "--properties", str(w.directory)),
        [str(w.directory)],
    ),
    "properties-broken-json": lambda w: (
        _install(w, "pkg", "--properties", str(w.broken_json)),
        [str(w.broken_json)],
    ),
    "properties-a-list": lambda w: (
        _install(w, "pkg", "--properties", str(w.list_json)),
        [str(w.list_json)],
    ),
    "properties-latin1": lambda w: (
        _install(w, "pkg", "--properties", str(w.latin1)),
        [str(w.latin1)],
    ),
    "cache-dir-is-a-file": lambda w: (
        _install(w, "pkg", "--cache-dir", str(w.text)),
        ["--cache-dir", str(w.text)],
    ),
    "find-links-is-a-file": lambda w: (
        ["install", "--no-index", "--find-links", str(w.text), "--dry-run", "pkg"],
        ["--find-links", str(w.text)],
    ),
    "find-links-missing": lambda w: (
        ["install", "--no-index", "--find-links", str(w.missing), "--dry-run", "pkg"],
        ["--find-links", str(w.missing)],
    ),
    "index-url-not-a-url": lambda w: (
        _install(w, "pkg", "--index-url", "notaurl", "--no-cache"),
        ["--index-url", "notaurl"],
    ),
    "index-url-a-file": lambda w: (
        _install(w, "pkg", "--index-url", str(w.text), "--no-cache"),
        ["--index-url", str(w.text)],
    ),
    "index-url-bad-ipv6": lambda w: (
        _install(w, "pkg", "--index-url", "http://[::1", "--no-cache"),
        ["--index-url", "http://[::1"],
    ),
    "index-url-bad-port": lambda w: (
        _install(w, "pkg", "--index-url", "http://127.0.0.1:99999/simple", "--no-cache"),
        ["--index-url"],
    ),
    "index-url-ftp": lambda w: (
        _install(w, "pkg", "--index-url", "ftp://example.org/simple", "--no-cache"),
        ["--index-url", "ftp"],
    ),
    "extra-index-url-no-host": lambda w: (
        _install(w, "pkg", "--extra-index-url", "https:///simple", "--no-cache"),
        ["--extra-index-url"],
    ),
    "index-no-equals": lambda w: (_install(w, "pkg", "--index", "just-a-name"), ["--index"]),
    "index-group-no-urls": lambda w: (_install(w, "pkg", "--index-group", "a=,"), ["'a'"]),
    "index-group-bad-url": lambda w: (
        _install(w, "pkg", "--index-group", "a=http://[x,http://127.0.0.1:9/s"),
        ["--index-group", "http://[x"],
    ),
    "pin-unknown-index": lambda w: (
        _install(w, "pkg", "--pin", "pkg=nowhere"),
        ["'nowhere'", "known: "],
    ),
    "pin-no-equals": lambda w: (_install(w, "pkg", "--pin", "pkg"), ["--pin"]),
    "explicit-unknown-index": lambda w: (
        _install(w, "pkg", "--explicit-index", "nowhere"),
        ["'nowhere'"],
    ),
    "strategy-unknown": lambda w: (_install(w, "pkg", "--index-strategy", "any"), ["any"]),
    "link-fallback-unknown": lambda w: (
        _install(w, "pkg", "--link-fallback", "hardlink"),
        ["hardlink"],
    ),
    "requirement-unbalanced": lambda w: (_install(w, "pkg["), ["'pkg['"]),
    "requirement-bad-specifier": lambda w: (_install(w, "pkg==="), ["'pkg==='"]),
    "requirement-bad-variant-marker": lambda w: (
        _install(w, "pkg ; variant_namespaces >= 'x'"),
        ["variant_namespaces"],
    ),
    "requirement-control-characters": lambda w: (_install(w, "pkg\x1b[31m=="), ["pkg"]),
    "no-requirement": lambda w: (_install(w), ["requirement"]),
    "python-and-target": lambda w: (
        _install(w, "pkg", "--python", "/bin/false", "--target", str(w.directory)),
        ["--target"],
    ),
}

SELECT: dict[str, Case] = {
    "variants-missing": lambda w: (
        ["select", "--variants-json", str(w.missing), "--properties", str(w.profile)],
        [str(w.missing)],
    ),
    "variants-directory": lambda w: (
        ["select", "--variants-json", str(w.directory), "--properties", str(w.profile)],
        [str(w.directory)],
    ),
    "variants-broken-json": lambda w: (
        ["select", "--variants-json", str(w.broken_json), "--properties", str(w.profile)],
        [str(w.broken_json)],
    ),
    "variants-a-list": lambda w: (
        ["select", "--variants-json", str(w.list_json), "--properties", str(w.profile)],
        [str(w.list_json)],
    ),
    "variants-latin1": lambda w: (
        ["select", "--variants-json", str(w.latin1), "--properties", str(w.profile)],
        [str(w.latin1)],
    ),
    "variants-is-a-wheel": lambda w: (
        ["select", "--variants-json", str(w.wheel), "--properties", str(w.profile)],
        [str(w.wheel)],
    ),
    "properties-directory": lambda w: (
        ["select", "--variants-json", str(w.variants), "--properties", str(w.directory)],
        [str(w.directory)],
    ),
    "properties-a-list": lambda w: (
        ["select", "--variants-json", str(w.variants), "--properties", str(w.list_json)],
        [str(w.list_json)],
    ),
    "properties-missing": lambda w: (
        ["select", "--variants-json", str(w.variants), "--properties", str(w.missing)],
        [str(w.missing)],
    ),
    "no-variants-option": lambda w: (["select", "--properties", str(w.profile)], ["--variants"]),
}


def _MAKE(w: World) -> list[str]:
    return ["variant", "make", str(w.wheel), "-p", "x86_64 :: level :: v3"]


VARIANT: dict[str, Case] = {
    "make-no-wheel-argument": lambda w: (["variant", "make", "-p", "x86_64 :: level :: v3"], []),
    "make-wheel-missing": lambda w: (
        ["variant", "make", str(w.missing), "-p", "x86_64 :: level :: v3", "-o", str(w.directory)],
        [str(w.missing)],
    ),
    "make-wheel-is-a-directory": lambda w: (
        ["variant", "make", str(w.directory), "-p", "x86_64 :: level :: v3"],
        [str(w.directory)],
    ),
    "make-wheel-not-a-zip": lambda w: (
        ["variant", "make", str(w.not_zip), "-p", "x86_64 :: level :: v3", "-o", str(w.directory)],
        [w.not_zip.name],
    ),
    "make-wheel-not-a-wheel-name": lambda w: (
        ["variant", "make", str(w.text), "-p", "x86_64 :: level :: v3", "-o", str(w.directory)],
        ["file.txt"],
    ),
    "make-output-is-a-file": lambda w: (
        ["variant", "make", str(w.wheel), "-p", "x86_64 :: level :: v3", "-o", str(w.text)],
        ["-o", str(w.text)],
    ),
    "make-output-under-a-file": lambda w: (
        ["variant", "make", str(w.wheel), "-p", "x86_64 :: level :: v3", "-o", str(w.text / "d")],
        ["-o"],
    ),
    "make-bad-property": lambda w: (
        ["variant", "make", str(w.wheel), "-p", "bogus", "-o", str(w.directory)],
        ["'bogus'"],
    ),
    "make-label-traversal": lambda w: (
        ["variant", "make", str(w.wheel), "-p", "x86_64 :: level :: v3", "--label", "../x"],
        ["../x"],
    ),
    "make-bad-provider-requirement": lambda w: (
        [*_MAKE(w), "--provider", "x86_64=not a requirement !!", "-o", str(w.directory)],
        ["--provider"],
    ),
    "make-bad-plugin-api": lambda w: (
        [*_MAKE(w), "--plugin-api", "x86_64=no colon", "-o", str(w.directory)],
        ["--plugin-api"],
    ),
    "make-provider-no-equals": lambda w: (
        ["variant", "make", str(w.wheel), "-p", "x86_64 :: level :: v3", "--provider", "x"],
        ["--provider"],
    ),
    "make-unknown-format": lambda w: (
        ["variant", "make", str(w.wheel), "--null", "--format", "pep999"],
        ["pep999"],
    ),
    "show-no-wheel-argument": lambda w: (["variant", "show"], []),
    "show-missing": lambda w: (["variant", "show", str(w.missing)], [str(w.missing)]),
    "show-directory": lambda w: (["variant", "show", str(w.directory)], [str(w.directory)]),
    "show-not-a-zip": lambda w: (["variant", "show", str(w.not_zip)], [w.not_zip.name]),
    "show-text-file": lambda w: (["variant", "show", str(w.text)], ["file.txt"]),
    "index-missing": lambda w: (["variant", "index", str(w.missing)], [str(w.missing)]),
    "index-a-file": lambda w: (["variant", "index", str(w.text)], [str(w.text)]),
    "unknown-action": lambda w: (["variant", "explode"], ["explode"]),
}

WHEEL: dict[str, Case] = {
    "recompress-no-wheel-argument": lambda w: (["wheel", "recompress", "--zstd"], []),
    "recompress-missing": lambda w: (
        ["wheel", "recompress", str(w.missing), "--zstd"],
        [str(w.missing)],
    ),
    "recompress-directory": lambda w: (
        ["wheel", "recompress", str(w.directory), "--zstd"],
        [str(w.directory)],
    ),
    "recompress-not-a-zip": lambda w: (
        ["wheel", "recompress", str(w.not_zip), "--zstd", "-o", str(w.directory)],
        [w.not_zip.name],
    ),
    "recompress-output-is-a-file": lambda w: (
        ["wheel", "recompress", str(w.wheel), "--zstd", "-o", str(w.text)],
        ["-o", str(w.text)],
    ),
    "recompress-level-too-high": lambda w: (
        ["wheel", "recompress", str(w.wheel), "--zstd", "--level", "99", "-o", str(w.directory)],
        ["--level 99"],
    ),
    "recompress-level-negative-deflate": lambda w: (
        ["wheel", "recompress", str(w.wheel), "--deflate", "--level", "-1", "-o", str(w.directory)],
        ["--level -1"],
    ),
    "recompress-level-word": lambda w: (
        ["wheel", "recompress", str(w.wheel), "--zstd", "--level", "max"],
        ["--level"],
    ),
    "recompress-no-method": lambda w: (["wheel", "recompress", str(w.wheel)], []),
    "dedupe-missing": lambda w: (["wheel", "dedupe", str(w.missing)], [str(w.missing)]),
    "dedupe-directory": lambda w: (["wheel", "dedupe", str(w.directory)], [str(w.directory)]),
    "dedupe-not-a-zip": lambda w: (
        ["wheel", "dedupe", str(w.not_zip), "-o", str(w.directory)],
        [w.not_zip.name],
    ),
    "dedupe-output-is-a-file": lambda w: (
        ["wheel", "dedupe", str(w.wheel), "-o", str(w.text)],
        ["-o", str(w.text)],
    ),
}

PROXY: dict[str, Case] = {
    "port-negative": lambda w: (["proxy", "--find-links", str(w.wheels), "--port", "-1"], ["-1"]),
    "port-too-big": lambda w: (["proxy", "--find-links", str(w.wheels), "--port", "99999"], []),
    "port-word": lambda w: (["proxy", "--find-links", str(w.wheels), "--port", "http"], []),
    "ttl-nan": lambda w: (["proxy", "--find-links", str(w.wheels), "--ttl", "nan"], ["--ttl"]),
    "timeout-negative": lambda w: (
        ["proxy", "--find-links", str(w.wheels), "--timeout", "-5"],
        ["--timeout"],
    ),
    "upstream-not-a-url": lambda w: (
        ["proxy", "--upstream", "notaurl", "--port", "0"],
        ["--upstream", "notaurl"],
    ),
    "find-links-a-file": lambda w: (
        ["proxy", "--find-links", str(w.text), "--port", "0"],
        ["--find-links", str(w.text)],
    ),
    "cache-dir-a-file": lambda w: (
        ["proxy", "--find-links", str(w.wheels), "--port", "0", "--cache-dir", str(w.text)],
        ["--cache-dir", str(w.text)],
    ),
    "pin-unknown-index": lambda w: (
        ["proxy", "--find-links", str(w.wheels), "--port", "0", "--pin", "pkg=nowhere"],
        ["'nowhere'"],
    ),
    "nothing-to-serve": lambda w: (["proxy", "--port", "0"], []),
}


def _check(world: World, case: Case, prog: str) -> None:
    argv, names = case(world)
    proc = run_wn(*argv, timeout=60)
    assert_one_error(proc, prog, *names)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(INSTALL))
def test_wn_install_refuses(world: World, name: str) -> None:
    _check(world, INSTALL[name], "wn install")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(SELECT))
def test_wn_select_refuses(world: World, name: str) -> None:
    _check(world, SELECT[name], "wn select")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(VARIANT))
def test_wn_variant_refuses(world: World, name: str) -> None:
    _check(world, VARIANT[name], "wn variant")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(WHEEL))
def test_wn_wheel_refuses(world: World, name: str) -> None:
    _check(world, WHEEL[name], "wn wheel")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(PROXY))
def test_wn_proxy_refuses(world: World, name: str) -> None:
    _check(world, PROXY[name], "wn proxy")


def test_refused_install_leaves_the_environment_alone(world: World, venv: Path) -> None:
    """A bad option after good ones: the venv and the world are byte-identical."""
    before = snapshot(world.root), snapshot(venv)
    argv = _install(world, "pkg", "--python", str(venv / "bin" / "python"))
    argv = [a for a in argv if a != "--dry-run"] + ["--report", str(world.directory)]
    assert_one_error(run_wn(*argv), "wn install", "--report")
    assert (snapshot(world.root), snapshot(venv)) == before


def test_unknown_command_is_one_usage_error() -> None:
    proc = run_wn("explode")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "wn: error: unknown command 'explode'"


def test_a_closed_pipe_ends_quietly(world: World) -> None:
    """``wn select --json | head -c1``: the reader leaves; wn stops without a traceback."""
    argv = [str(BIN / "wn"), "select", "--variants-json", str(world.variants)]
    argv += ["--properties", str(world.profile), "--json"]
    argv += [f"--wheel=pkg-1.0-{n}{'x' * 200}-py3-none-any.whl" for n in range(2000)]  # ~450 kB
    reader = subprocess.Popen(["head", "-c1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert reader.stdin is not None
    proc = subprocess.run(argv, stdout=reader.stdin, stderr=subprocess.PIPE, text=True, check=False)
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "BrokenPipe" not in proc.stderr, proc.stderr


# Requests that cannot be answered (issue 16): one line and status 1, not an empty answer
# and status 0.
UNANSWERABLE: dict[str, tuple[Case, str]] = {
    "detect-unknown-namespace": (
        lambda w: (["detect", "--json", "--namespace", "nobody"], ["--namespace nobody"]),
        "wn detect",
    ),
    "detect-sysroot-missing": (
        lambda w: (["detect", "--sysroot", str(w.missing)], ["--sysroot", str(w.missing)]),
        "wn detect",
    ),
    "detect-sysroot-a-file": (
        lambda w: (["detect", "--sysroot", str(w.text)], ["--sysroot", str(w.text)]),
        "wn detect",
    ),
    "select-another-projects-wheel": (
        lambda w: (
            [
                *("select", "--variants-json", str(w.variants), "--properties", str(w.profile)),
                *("--wheel", "pkg-1.0-py3-none-any-v3.whl"),
                *("--wheel", "other-1.0-py3-none-any.whl"),
            ],
            ["other-1.0-py3-none-any.whl", "pkg 1.0"],
        ),
        "wn select",
    ),
    "index-no-variant-wheels": (
        lambda w: (["variant", "index", str(w.wheels)], [str(w.wheels), "no variant wheels"]),
        "wn variant",
    ),
    "index-empty-directory": (
        lambda w: (["variant", "index", str(w.directory)], [str(w.directory)]),
        "wn variant",
    ),
    "make-provider-without-variantlib-format": (
        lambda w: (
            [*_MAKE(w), "--provider", "x86_64=wheelnext-provider-x86", "-o", str(w.directory)],
            ["--provider", "--format variantlib"],
        ),
        "wn variant",
    ),
    "make-null-without-namespaces-or-siblings": (
        lambda w: (["variant", "make", str(w.wheel), "--null", "-o", str(w.directory)], []),
        "wn variant",
    ),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(UNANSWERABLE))
def test_unanswerable_requests_are_errors(world: World, name: str) -> None:
    case, prog = UNANSWERABLE[name]
    argv, names = case(world)
    proc = run_wn(*argv)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert_one_error(proc, prog, *names)


@pytest.mark.parametrize(
    ("prop", "names"),
    [("x86_64 :: level :: v9", ["'v9'", "v4, v3, v2, v1"]), ("x86_64 :: warp :: on", ["'warp'"])],
)
def test_explaining_an_undeclared_property_is_an_error(prop: str, names: list[str]) -> None:
    """The line names the provider's distribution (``wheelnext-provider-x86``), so the
    temporary-path check of ``assert_one_error`` does not apply."""
    proc = run_wn("detect", "--explain", prop)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("wn detect: error: --explain: wheelnext-provider-x86 "), line
    assert "Traceback" not in line
    for name in names:
        assert name in line, (name, line)


# -- files that are not regular files, and --report ------------------------------------------


def _special(root: Path, kind: str) -> Path:
    """A path of ``kind`` in ``root``: fifo, socket, symlink (to a real file), directory,
    huge (a sparse 17 MiB file), dev-null, or chardev: a node like /dev/full made here
    (as root), so a regression replaces only this copy; else /dev/full itself, which a
    user cannot replace. (/dev/zero is not read: a regression would eat the memory.)"""
    import socket
    import stat

    path = root / kind
    if kind == "dev-null":
        return Path(os.devnull)
    if kind == "chardev":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        except PermissionError:
            return Path("/dev/full")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        listener.close()
    elif kind == "symlink":
        (root / "real.json").write_text("{}")
        path.symlink_to(root / "real.json")
    elif kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with path.open("wb") as f:
            f.truncate(17 * 1024 * 1024)
    return path


def _select(variants: Path, profile: Path) -> list[str]:
    wheel = ["--wheel", "pkg-1.0-py3-none-any.whl"]
    return ["select", "--variants-json", str(variants), "--properties", str(profile), *wheel]


USER_FILES: dict[str, tuple[Callable[[World, Path], list[str]], str, str, tuple[str, ...]]] = {
    # name: (argv, prog, kind of file, words)
    "r-fifo": (lambda w, p: _install(w, "-r", str(p)), "wn install", "fifo", ("-r", "FIFO")),
    "r-dev-null": (
        lambda w, p: _install(w, "-r", str(p)),
        "wn install",
        "dev-null",
        ("-r /dev/null", "character device"),
    ),
    "r-socket": (lambda w, p: _install(w, "-r", str(p)), "wn install", "socket", ("-r", "socket")),
    "r-huge": (lambda w, p: _install(w, "-r", str(p)), "wn install", "huge", ("larger than 16",)),
    "c-fifo": (lambda w, p: _install(w, "pkg", "-c", str(p)), "wn install", "fifo", ("-c", "FIFO")),
    "c-directory": (
        lambda w, p: _install(w, "pkg", "-c", str(p)),
        "wn install",
        "directory",
        ("-c", "is a directory"),
    ),
    "properties-fifo": (
        lambda w, p: _install(w, "pkg", "--properties", str(p)),  # the last one counts
        "wn install",
        "fifo",
        ("FIFO",),
    ),
    "select-variants-json-fifo": (
        lambda w, p: _select(p, w.profile),
        "wn select",
        "fifo",
        ("FIFO",),
    ),
    "select-properties-dev-null": (
        lambda w, p: _select(w.variants, p),
        "wn select",
        "dev-null",
        ("/dev/null", "character device"),
    ),
    "report-fifo": (
        lambda w, p: _install(w, "pkg", "--report", str(p)),
        "wn install",
        "fifo",
        ("--report", "FIFO"),
    ),
    "report-socket": (
        lambda w, p: _install(w, "pkg", "--report", str(p)),
        "wn install",
        "socket",
        ("--report", "socket"),
    ),
    "report-symlink": (
        lambda w, p: _install(w, "pkg", "--report", str(p)),
        "wn install",
        "symlink",
        ("--report", "symbolic link"),
    ),
    "report-directory": (
        lambda w, p: _install(w, "pkg", "--report", str(p)),
        "wn install",
        "directory",
        ("--report", "directory"),
    ),
    "report-device": (
        lambda w, p: _install(w, "pkg", "--report", str(p)),
        "wn install",
        "chardev",
        ("--report", "character device"),
    ),
}


@pytest.mark.parametrize("name", sorted(USER_FILES))
def test_named_files_must_be_regular_files(world: World, tmp_path: Path, name: str) -> None:
    """A FIFO, socket, device, directory or symlink (for ``--report``) is refused in one
    line, without blocking or reading it; the path is left exactly as it was (a device
    keeps its node: ``--report /dev/full`` once renamed a file over it as root)."""
    argv, prog, kind, words = USER_FILES[name]
    path = _special(tmp_path, kind)
    before_world, before_here = snapshot(world.root), snapshot(tmp_path)
    before_node = os.lstat(path)
    proc = run_wn(*argv(world, path), timeout=30)  # a FIFO read would hang: the timeout fails
    assert_one_error(proc, prog, *words)
    assert proc.returncode == 1
    assert snapshot(world.root) == before_world
    assert snapshot(tmp_path) == before_here
    after_node = os.lstat(path)
    assert (after_node.st_mode, after_node.st_ino, after_node.st_rdev) == (
        before_node.st_mode,
        before_node.st_ino,
        before_node.st_rdev,
    )


def test_report_dash_writes_the_report_to_stdout(world: World, tmp_path: Path) -> None:
    """pip's convention: ``--report -`` is stdout, which then holds only the JSON (the
    lines for people go to stderr); no file named ``-`` appears."""
    target = tmp_path / "target"
    argv = [str(BIN / "wn"), *_install(world, "pkg", "--report", "-")]
    argv.remove("--dry-run")
    proc = subprocess.run(
        [*argv, "--target", str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "WHEELNEXT_CONFIG": os.devnull, "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [item["metadata"]["name"] for item in report["install"]] == ["pkg"]
    assert "Installed pkg 1.0" in proc.stderr
    assert not (tmp_path / "-").exists()
    assert (target / "pkg" / "__init__.py").is_file()


def test_report_replaces_a_regular_file(world: World, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    proc = run_wn(*_install(world, "pkg", "--report", str(out)))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["version"] == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
