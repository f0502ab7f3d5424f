"""Attacks by any index: its pages, redirects and bytes are untrusted input.

Every attack goes through the real ``wn install`` (with and without ``--dry-run``) or the
real ``wn proxy`` with real pip, against a raw hostile server on 127.0.0.1, and asserts
the refusal (exit 1, one line naming the URL and the problem) and that nothing under the
test's directory, the target environment included, changed by a single byte or mode bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import BIN, Tree, snapshot
from tests.installer import envs
from tests.installer.envs import client, site, write_profile
from tests.installer.wheels import build_wheel
from tests.security.hostile import JSON_TYPE, Hostile, Reply, hostile

PATH_NAMES = [
    "../../../escape-1.0-py3-none-any.whl",
    "foo-1.0-1/../../../escape-py3-none-any.whl",
    "foo-1.0-1\\..\\..\\escape-py3-none-any.whl",
    "foo-1.0-1\x00escape-py3-none-any.whl",
    "C:foo-1.0-py3-none-any.whl",
    "foo-1.0-1..-py3-none-any.whl",
]


@pytest.fixture
def evil() -> Iterator[Hostile]:
    with hostile() as server:
        yield server


@pytest.fixture
def foo(evil: Hostile, built: Path) -> dict[str, Any]:
    """An honest wheel of foo 1.0 on the hostile server; its page entry to tamper with."""
    wheel = build_wheel(built, "foo", "1.0")
    return evil.add_file(wheel)


def run_wn(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wn ARGS`` with its temporary files under ``tmp_path/tmp`` (so an escape from the
    work directory lands where the snapshot sees it) and a profile instead of detection."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    return subprocess.run(
        [str(BIN / "wn"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
        timeout=120,
        check=False,
    )


def install(tmp_path: Path, venv: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile.json"
    if not profile.exists():
        write_profile(tmp_path, ["v1"]).rename(profile)
    return run_wn(
        tmp_path,
        "install",
        *args,
        "--index-url",
        index,
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
        "--properties",
        str(profile),
        "--timeout",
        "2",
    )


def refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1 with one ``wn install: error:`` line holding every needle, no traceback."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wn install: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], result.stderr
    return lines[0]


def without_proxy_locks(tree: Tree) -> Tree:
    """``tree`` less ``wn proxy``'s lock files (empty ``cache/proxy/locks/*.lock``, at paths
    the proxy chooses: spec/proxy.md) and the folders made for them; all else stays."""
    locks = "cache/proxy/locks/"
    kept = {
        k: v
        for k, v in tree.items()
        if not (k.startswith(locks) and k.endswith(".lock") and v[1] == b"")
    }
    for folder in ("cache/proxy/locks", "cache/proxy", "cache"):
        if not any(k.startswith(folder + "/") for k in kept):
            kept.pop(folder, None)
    return kept


@pytest.fixture
def world(tmp_path: Path, venv: Path, foo: dict[str, Any]) -> Iterator[Path]:
    """The test's whole directory, asserted byte-identical after the test's attack."""
    (tmp_path / "tmp").mkdir()
    write_profile(tmp_path, ["v1"]).rename(tmp_path / "profile.json")
    before = snapshot(tmp_path)
    yield tmp_path
    assert without_proxy_locks(snapshot(tmp_path)) == before


# ------------------------------------------------------------------ names, not paths


@pytest.mark.parametrize("name", PATH_NAMES)
@pytest.mark.parametrize("dry_run", [True, False])
def test_path_filenames_are_refused(  # noqa: PLR0917
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path, name: str, dry_run: bool
) -> None:
    evil.page("foo", [{**foo, "filename": name}])
    result = install(world, venv, evil.index, "foo", *(["--dry-run"] if dry_run else []))
    refused(result, f"{evil.index}/foo/", "refusing file name")
    assert not any(p.startswith("/files/") for p in evil.requests)  # nothing fetched


def test_path_filenames_in_html_pages_are_refused(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path
) -> None:
    digest = foo["hashes"]["sha256"]
    body = f'<a href="/files/foo-1.0-py3-none-any.whl#sha256={digest}">{PATH_NAMES[1]}</a>'
    evil.raw_page("foo", body.encode(), "text/html")
    refused(install(world, venv, evil.index, "foo", "--dry-run"), "refusing file name")
    encoded = "/files/..%2F..%2F..%2Fescape-1.0-py3-none-any.whl"
    evil.raw_page("foo", f'<a href="{encoded}#sha256={digest}"></a>'.encode(), "text/html")
    refused(install(world, venv, evil.index, "foo"), "refusing file name")


@contextmanager
def proxy(tmp_path: Path, upstream: str) -> Iterator[str]:
    """``wn proxy`` in front of ``upstream``, its temporary files under ``tmp_path/tmp``."""
    temp = tmp_path / "tmp"
    with envs.proxy(
        "--upstream",
        upstream,
        "--properties",
        str(tmp_path / "profile.json"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "2",
        env={**os.environ, "TMPDIR": str(temp)},
    ) as url:
        yield url


def get(url: str, accept: str = JSON_TYPE) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_proxy_refuses_path_filenames_and_pip_gets_nothing(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path
) -> None:
    """Asking the proxy for the page must write nothing: not even the variant wheels it
    reads for their variant.json may land under a server-chosen path."""
    evil.page("foo", [{**foo, "filename": "foo-1.0-1/../../../../escape-py3-none-any-x.whl"}])
    with proxy(world, evil.base + "/simple") as url:
        inside = without_proxy_locks(snapshot(world))
        status, body = get(f"{url}/foo/")
        assert status == 502
        assert b"refusing file name" in body
        pip = client("pip", venv, "install", "--index-url", url, "foo")
        assert pip.returncode != 0
        assert without_proxy_locks(snapshot(world)) == inside


# ------------------------------------------------------------------ other projects' files


def test_entries_of_other_projects_are_ignored(
    evil: Hostile, foo: dict[str, Any], tmp_path: Path, venv: Path, built: Path
) -> None:
    bar = build_wheel(built, "bar", "9.0", module="foo")  # would shadow foo's module
    bar_entry = evil.add_file(bar)
    variants = {**bar_entry, "filename": "bar-9.0-variants.json"}
    evil.page("foo", [foo, bar_entry, variants])
    result = install(tmp_path, venv, evil.index, "foo", "-v")
    assert result.returncode == 0, result.stderr
    assert "ignoring bar-9.0-py3-none-any.whl, which is not a file of foo" in result.stderr
    assert "ignoring bar-9.0-variants.json" in result.stderr
    installed = sorted(p.name for p in site(venv).glob("*.dist-info"))
    assert installed == ["foo-1.0.dist-info"]
    assert "/files/bar-9.0-py3-none-any.whl" not in evil.requests
    assert refused(install(tmp_path, venv, evil.index, "foo==9.0"), "foo")


def test_the_proxy_does_not_pass_other_projects_files_to_pip(
    evil: Hostile, foo: dict[str, Any], tmp_path: Path, venv: Path, built: Path
) -> None:
    bar_entry = evil.add_file(build_wheel(built, "bar", "9.0", module="foo"))
    evil.page("foo", [foo, bar_entry])
    write_profile(tmp_path, ["v1"]).rename(tmp_path / "profile.json")
    (tmp_path / "tmp").mkdir()
    with proxy(tmp_path, evil.base + "/simple") as url:
        status, body = get(f"{url}/foo/")
        assert status == 200
        assert [f["filename"] for f in json.loads(body)["files"]] == [foo["filename"]]
        pip = client("pip", venv, "install", "--index-url", url, "foo==9.0")
        assert pip.returncode != 0
        assert not list(site(venv).glob("*.dist-info"))


# ------------------------------------------------------------------ URL schemes and redirects


def test_a_remote_page_cannot_point_to_local_files(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path, built: Path
) -> None:
    local = (built / "foo-1.0-py3-none-any.whl").as_uri()
    evil.page("foo", [{**foo, "url": local}])
    refused(install(world, venv, evil.index, "foo"), f"{evil.index}/foo/", "file URL")
    with proxy(world, evil.base + "/simple") as url:
        status, body = get(f"{url}/foo/")
        assert status == 502
        assert b"file URL" in body


@pytest.mark.parametrize("where", ["page", "file"])
def test_redirects_to_other_schemes_are_refused(  # noqa: PLR0917
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path, built: Path, where: str
) -> None:
    local = (built / "foo-1.0-py3-none-any.whl").as_uri()
    to_local = Reply(status=302, headers={"Location": local})
    if where == "page":
        evil.routes["/simple/foo/"] = to_local
    else:
        evil.page("foo", [foo])
        evil.routes["/files/foo-1.0-py3-none-any.whl"] = to_local
    refused(install(world, venv, evil.index, "foo"), "refusing a redirect to a file URL")


def test_redirects_between_http_urls_are_followed(
    evil: Hostile, foo: dict[str, Any], tmp_path: Path, venv: Path
) -> None:
    evil.page("foo", [foo])
    evil.routes["/moved/foo/"] = Reply(status=301, headers={"Location": "/simple/foo/"})
    result = install(tmp_path, venv, evil.base + "/moved", "foo")
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ hashes


@pytest.mark.parametrize("algorithm", ["sha512", "md5", "sha384"])
def test_every_checkable_hash_is_verified(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path, algorithm: str
) -> None:
    """A right sha256 next to a wrong hash of another algorithm: still refused."""
    wrong = hashlib.new(algorithm, b"other bytes").hexdigest()
    evil.page("foo", [{**foo, "hashes": {**foo["hashes"], algorithm: wrong}}])
    refused(install(world, venv, evil.index, "foo", "--dry-run"), f"{algorithm} mismatch")


def test_uncheckable_hashes_only_are_a_warning(
    evil: Hostile, foo: dict[str, Any], tmp_path: Path, venv: Path
) -> None:
    evil.page("foo", [{**foo, "hashes": {"blake3": "ab" * 32}}])
    result = install(tmp_path, venv, evil.index, "foo")
    assert result.returncode == 0, result.stderr
    assert "only hashes this installer cannot check (blake3)" in result.stderr


# ------------------------------------------------------------------ slow and huge answers


def test_a_dripping_page_ends_at_the_deadline(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path
) -> None:
    """One byte every 0.2 s keeps every read alive; the overall deadline (2 s) still ends
    it, long before the hostile server's own 20 s limit would."""
    evil.page("foo", [foo])
    evil.routes["/simple/foo/"].drip = 0.2
    refused(install(world, venv, evil.index, "foo"), "no complete answer within 2 seconds")


def test_a_dripping_download_ends_at_the_deadline(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path
) -> None:
    evil.page("foo", [foo])
    evil.routes["/files/foo-1.0-py3-none-any.whl"].drip = 0.2
    refused(install(world, venv, evil.index, "foo"), "bytes arrived in 2 seconds")


def test_a_huge_page_is_refused_before_it_is_read(
    evil: Hostile, foo: dict[str, Any], world: Path, venv: Path
) -> None:
    evil.routes["/simple/foo/"] = Reply(
        b"{", headers={"Content-Type": JSON_TYPE, "Content-Length": str(10**12)}, length=False
    )
    refused(install(world, venv, evil.index, "foo"), "exceeds the 67108864 limit")


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ([{"filename": 5, "url": "/x"}], "files[0].filename"),
        ([{"filename": "foo-1.0-py3-none-any.whl", "url": 5}], "files[0].url"),
        ([{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "hashes": []}], "hashes"),
        ([{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "size": "big"}], "size"),
        ([{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "yanked": 3}], "yanked"),
        (
            [{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "requires-python": 3}],
            "requires-python",
        ),
        (
            [{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "core-metadata": "x"}],
            "core-metadata",
        ),
        ({"0": 1}, "files has the wrong type"),
        ([7], "files[0] must be an object"),
        ([{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "hashes": {"sha256": 5}}], "hash"),
        (
            [{"filename": "foo-1.0-py3-none-any.whl", "url": "/x", "hashes": {"sha256": "../x"}}],
            "invalid hash",
        ),
    ],
)
def test_wrong_typed_page_fields_are_one_line(
    evil: Hostile, world: Path, venv: Path, files: Any, problem: str
) -> None:
    evil.page("foo", files)
    line = refused(install(world, venv, evil.index, "foo", "--dry-run"), f"{evil.index}/foo/")
    assert problem in line


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"name": 5, "files": []}', b'{"meta": [], "name": "foo", "files": []}'],
)
def test_deep_or_malformed_pages_are_one_line(
    evil: Hostile, world: Path, venv: Path, body: bytes
) -> None:
    evil.raw_page("foo", body)
    refused(install(world, venv, evil.index, "foo"), "not a valid Simple API JSON page")
