"""``wn lock`` and ``wn install -r pylock.toml`` end to end: real wheels on a real index on
127.0.0.1, locks for two machine profiles, installs into fresh environments, and refusals
of tampered locks that leave the environment byte-identical."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.helpers import snapshot
from tests.installer.envs import make_venv, wn, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import LEVELS, build_wheel, variants_json

BLAS = {"ob": {"blas_lapack": {"library": ["openblas"]}}}
FAST = '"x86_64 :: level :: v4" in variant_properties'
UPLOADED = "2026-05-04T03:02:01.123456Z"
HELPER = 'name = "helper"\nversion = "1.5"\n\n[[packages.wheels]]'  # helper's own entry


def stamp_uploads(index: StaticIndex) -> None:
    """Add PEP 700 ``upload-time`` to every file of the index's JSON pages."""
    for page in (index.root / index.prefix / "simple").glob("*/index.json"):
        doc = json.loads(page.read_text())
        for entry in doc["files"]:
            entry["upload-time"] = UPLOADED
        page.write_text(json.dumps(doc))


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """demo 2.0: v4 (needs fastpath through a variant marker), v3, a blas_lapack variant,
    null and non-variant wheels; helper and fastpath."""
    index = server.index("pypi")
    requires = ["helper>=1", f"fastpath; {FAST}"]
    index.add(
        *(
            build_wheel(built, "demo", "2.0", label=label, properties=p, requires=requires)
            for label, p in {**LEVELS, **BLAS}.items()
        ),
        build_wheel(
            built, "demo", "2.0", label="null", namespaces=["x86_64"], requires=["helper>=1"]
        ),
        build_wheel(built, "demo", "2.0", requires=["helper>=1"]),
        variants_json(
            built, "demo", "2.0", {**LEVELS, **BLAS, "null": {}}, ["x86_64", "blas_lapack"]
        ),
        build_wheel(built, "helper", "1.5"),
        build_wheel(built, "fastpath", "1.0"),
    )
    stamp_uploads(index)
    return index


def lock(server: Server, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return wn("lock", *args, "--index-url", server.url("pypi"), "--no-cache", "-o", str(out))


def install(venv: Path, lock_file: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    python = str(venv / "bin" / "python")
    return wn("install", "-r", str(lock_file), "--python", python, "--properties", str(profile))


def imported(venv: Path) -> tuple[str | None, bool]:
    code = (
        "import demo, importlib.util as u; "
        "print(repr(demo.VARIANT), u.find_spec('fastpath') is not None)"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return ast.literal_eval(out[0]), out[1] == "True"


def package(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["packages"] if p["name"] == name)


def test_lock_for_two_profiles_installs_each_variant(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    done = lock(server, out, "demo", "--properties", str(v4), "--properties", str(v3))
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads(out.read_text())
    assert doc["lock-version"] == "1.0"
    assert doc["created-by"] == "wheelnext-installer"
    assert sorted(p["name"] for p in doc["packages"]) == ["demo", "fastpath", "helper"]
    entry = package(doc, "demo")
    assert entry["index"] == server.url("pypi")
    names = [w["name"] for w in entry["wheels"]]
    assert names == sorted(names)
    assert names == [
        "demo-2.0-py3-none-any-null.whl",
        "demo-2.0-py3-none-any-ob.whl",
        "demo-2.0-py3-none-any-v3.whl",
        "demo-2.0-py3-none-any-v4.whl",
        "demo-2.0-py3-none-any.whl",
    ]
    wheels_dir = demo.files_dir
    for wheel in entry["wheels"]:
        data = (wheels_dir / wheel["name"]).read_bytes()
        assert wheel["size"] == len(data)
        assert wheel["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert wheel["url"].startswith(server.url("pypi").removesuffix("/simple"))
        assert wheel["upload-time"].isoformat() == "2026-05-04T03:02:01.123456+00:00"
    # PEP 825: $schema kept, every listed label kept whole, namespaces in order
    table = entry["variants-json"]
    assert table["$schema"].endswith("/peps/825/v0.1.1.json")
    assert table["default-priorities"]["namespace"] == ["x86_64", "blas_lapack"]
    assert table["variants"] == {**LEVELS, **BLAS, "null": {}}
    # the variant-gated dependency: condition on the edge, never in packages.marker
    assert {"name": "fastpath", "version": "1.0", "marker": FAST} in entry["dependencies"]
    assert {"name": "helper", "version": "1.5"} in entry["dependencies"]
    assert all("marker" not in p for p in doc["packages"])
    assert all("variant" not in e for e in doc["environments"])

    # the same lock on both machines: each gets its own variant, fastpath only with v4
    fast, slow = make_venv(tmp_path / "fast"), make_venv(tmp_path / "slow")
    done = install(fast, out, v4)
    assert done.returncode == 0, done.stderr
    assert "Installed demo 2.0 [v4: x86_64 :: level :: v4] from " in done.stdout
    assert imported(fast) == ("v4", True)
    done = install(slow, out, v3)
    assert done.returncode == 0, done.stderr
    assert imported(slow) == ("v3", False)

    # re-locking unchanged input gives the same bytes
    again = tmp_path / "again" / "pylock.toml"
    again.parent.mkdir()
    done = lock(server, again, "demo", "--properties", str(v4), "--properties", str(v3))
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == out.read_bytes()
    # ... and the profile order does not matter either
    done = lock(server, again, "demo", "--properties", str(v3), "--properties", str(v4))
    assert again.read_bytes() == out.read_bytes()


def test_only_selected_prunes_wheels_labels_and_namespaces(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    done = lock(server, out, "demo", "--properties", str(v3), "--only-selected")
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads(out.read_text())
    entry = package(doc, "demo")
    assert [w["name"] for w in entry["wheels"]] == ["demo-2.0-py3-none-any-v3.whl"]
    assert entry["variants-json"]["variants"] == {"v3": LEVELS["v3"]}
    assert entry["variants-json"]["default-priorities"]["namespace"] == ["x86_64"]
    assert entry["variants-json"]["$schema"].endswith("/peps/825/v0.1.1.json")
    assert sorted(p["name"] for p in doc["packages"]) == ["demo", "helper"]


def test_lock_to_stdout_and_bad_output_name(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "lock", "demo", "--index-url", server.url("pypi"), "--no-cache", "-o", "-",
        "--properties", str(v3),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(done.stdout)["lock-version"] == "1.0"
    done = lock(server, tmp_path / "locked.toml", "demo", "--properties", str(v3))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "pylock.toml" in done.stderr
    assert not (tmp_path / "locked.toml").exists()


@pytest.fixture
def locked(server: Server, demo: StaticIndex, tmp_path: Path) -> Path:
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    out = tmp_path / "lock" / "pylock.toml"
    out.parent.mkdir()
    done = lock(server, out, "demo", "--properties", str(v4), "--properties", str(v3))
    assert done.returncode == 0, done.stderr
    return out


def refused(tmp_path: Path, lock_file: Path, profile: Path, *words: str) -> str:
    """Install ``lock_file`` into a fresh venv: exit 1, one line naming ``words``, and the
    environment byte-identical."""
    venv = make_venv(tmp_path / "victim")
    before = snapshot(venv)
    done = install(venv, lock_file, profile)
    assert done.returncode == 1, done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("wn install: error: ")
    for word in words:
        assert word in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(venv) == before
    return done.stderr


def test_hash_tampering_is_refused(locked: Path, tmp_path: Path) -> None:
    text = locked.read_text()
    doc = tomllib.loads(text)
    digest = next(
        w["hashes"]["sha256"]
        for w in package(doc, "demo")["wheels"]
        if w["name"].endswith("-v4.whl")
    )
    locked.write_text(text.replace(digest, "0" * 64))
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    refused(tmp_path, locked, v4, "demo", "demo-2.0-py3-none-any-v4.whl", "sha256")


def test_variants_json_disagreeing_with_the_wheel_is_refused(locked: Path, tmp_path: Path) -> None:
    """The lock says label v4 means level v3 or v4; the v4 wheel's variant.json says v4
    only. The v4 wheel is still the one selected, and the disagreement refuses it."""
    doc = tomllib.loads(locked.read_text())
    package(doc, "demo")["variants-json"]["variants"]["v4"]["x86_64"]["level"] = ["v3", "v4"]
    locked.write_text(tomli_w.dumps(doc))
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    refused(tmp_path, locked, v4, "demo", "demo-2.0-py3-none-any-v4.whl", "variant.json", "'v4'")


def test_no_listed_wheel_fits_is_one_line(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    assert lock(server, out, "demo", "--properties", str(v4), "--only-selected").returncode == 0
    none = write_profile(tmp_path, None)  # no x86_64 provider at all
    refused(tmp_path, out, none, "demo 2.0", "no listed wheel fits")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (
            lambda t: t.replace(HELPER, "marker = \"'x86_64' in variant_namespaces\"\n" + HELPER),
            ("variant markers", "packages.marker"),
        ),
        (lambda t: t.replace("http://127.0.0.1", "file:///127.0.0.1", 1), ("http(s)",)),
        (
            lambda t: t.replace(
                'name = "helper-1.5-py3-none-any.whl"', 'name = "../helper-1.5-py3-none-any.whl"'
            ),
            ("refusing wheel name",),
        ),
        (lambda t: t.replace('lock-version = "1.0"', 'lock-version = "2.0"'), ("lock-version",)),
        (lambda t: t + "\n[[[", ("not valid TOML",)),
        (
            lambda t: t.replace(
                '"$schema" = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"',
                '"$schema" = "https://example.org/x.json"',
            ),
            ("variants-json",),
        ),
    ],
    ids=["variant-marker", "file-url", "path-name", "lock-version", "toml", "schema"],
)
def test_hostile_locks_are_refused(
    locked: Path, tmp_path: Path, edit: Any, words: tuple[str, ...]
) -> None:
    text = locked.read_text()
    changed = edit(text)
    assert changed != text
    locked.write_text(changed)
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    refused(tmp_path, locked, v3, str(locked), *words)


def test_sdist_only_entry_is_named(locked: Path, tmp_path: Path) -> None:
    doc = tomllib.loads(locked.read_text())
    helper = package(doc, "helper")
    del helper["wheels"]
    helper["sdist"] = {
        "name": "helper-1.5.tar.gz",
        "url": "http://127.0.0.1/helper-1.5.tar.gz",
        "hashes": {"sha256": "a" * 64},
    }
    locked.write_text(tomli_w.dumps(doc))
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    refused(tmp_path, locked, v3, "helper 1.5", "source distribution", "wheels only")


def test_default_extras_and_index_groups_apply_while_locking(
    server: Server, built: Path, tmp_path: Path
) -> None:
    """PEP 771 default extras are locked (and not with --no-default-extras); each package
    records the index its wheels came from, by index priority."""
    corp = server.index("corp")
    corp.add(
        build_wheel(built, "app", "1.0", extras={"recommended": ["plugin"]},
                    default_extras=["recommended"]),
        build_wheel(built, "plugin", "1.0"),
    )  # fmt: skip
    pypi = server.index("pypi")
    pypi.add(build_wheel(built, "plugin", "9.0"), build_wheel(built, "app", "9.0"))
    out = tmp_path / "pylock.toml"
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])

    def run(*extra: str) -> dict[str, Any]:
        done = wn(
            "lock", "app", "--index", f"corp={server.url('corp')}", "--index-url",
            server.url("pypi"), "--no-cache", "-o", str(out), "--properties", str(profile),
            *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return tomllib.loads(out.read_text())

    doc = run()
    assert {p["name"]: p["version"] for p in doc["packages"]} == {"app": "1.0", "plugin": "1.0"}
    assert {p["name"]: p["index"] for p in doc["packages"]} == {
        "app": server.url("corp"),
        "plugin": server.url("corp"),
    }
    assert package(doc, "app")["tool"]["wheelnext"]["extras"] == ["recommended"]
    assert package(doc, "app")["dependencies"] == [{"name": "plugin", "version": "1.0"}]
    venv = make_venv(tmp_path / "venv")
    done = install(venv, out, profile)
    assert done.returncode == 0, done.stderr
    assert "Installed plugin 1.0" in done.stdout

    doc = run("--no-default-extras")
    assert [p["name"] for p in doc["packages"]] == ["app"]


def test_find_links_files_are_locked_by_relative_path(built: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "project" / "wheels"
    build_wheel(wheels, "solo", "1.0", label="v3", properties=LEVELS["v3"])
    build_wheel(wheels, "solo", "1.0")
    out = tmp_path / "project" / "pylock.toml"
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    done = wn(
        "lock", "solo", "--no-index", "--find-links", str(wheels), "-o", str(out),
        "--properties", str(profile),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = tomllib.loads(out.read_text())
    entry = package(doc, "solo")
    assert [w["path"] for w in entry["wheels"]] == [
        "wheels/solo-1.0-py3-none-any-v3.whl",
        "wheels/solo-1.0-py3-none-any.whl",
    ]
    assert "index" not in entry
    venv = make_venv(tmp_path / "venv")
    done = install(venv, out, profile)
    assert done.returncode == 0, done.stderr
    assert "Installed solo 1.0 [v3: x86_64 :: level :: v3] from " in done.stdout
    # a path leaving the lock's directory is refused
    out.write_text(out.read_text().replace('"wheels/solo-1.0-py3-none-any-v3.whl"',
                                           '"../solo-1.0-py3-none-any-v3.whl"'))  # fmt: skip
    refused(tmp_path, out, profile, "'path' must be relative and inside")
