"""Installing from a lock as ``wn install`` installs from an index: the same drift line
and ``--reinstall-variants``/``--force-reinstall``; ``--dry-run`` making every check of
the real run and saying its decision (``Already installed``, ``Would keep``); options a
lock install cannot honour refused; ``wn lock`` saying what it locked; ``wn list``
repairing first and refusing a missing ``--target``. Real ``wn`` against 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers import snapshot
from tests.installer.envs import make_venv, site, wn, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.test_lock import lock
from tests.installer.wheels import build_wheel, fastpath_release
from tests.security.crashes import CRASH_AT, CRASH_SIGNAL, wn_env

V4_LINE = "Installed demo 2.0 [v4: x86_64 :: level :: v4] from "


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """demo 2.0 as v3, v4 and non-variant wheels; only v4 turns on fastpath."""
    index = server.index("pypi")
    index.add(*fastpath_release(built))
    return index


def install(
    venv: Path, lock_file: Path, profile: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    python = str(venv / "bin" / "python")
    return wn(
        "install", "-r", str(lock_file), "--python", python, "--properties", str(profile), *args
    )  # fmt: skip


def drift_line(installed: str, selects: str, profile: Path) -> str:
    return (
        f"wn install: demo 2.0: installed as variant {installed}, the profile {profile} now "
        f"selects variant {selects}; --reinstall-variants switches it\n"
    )


def variant_of(venv: Path) -> str:
    return (site(venv) / "demo" / "__init__.py").read_text().splitlines()[1]


def test_lock_install_names_drift_and_takes_the_reinstall_flags(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    done = lock(server, out, "demo", "--properties", str(v3), "--properties", str(v4))
    assert done.returncode == 0, done.stderr
    venv = make_venv(tmp_path / "venv")
    assert install(venv, out, v3).returncode == 0
    assert variant_of(venv) == "VARIANT = 'v3'"

    before = snapshot(venv, ignore="__pycache__")
    dry = install(venv, out, v4, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "Would keep demo 2.0 [variant v3] (installed)",
        "Already installed helper 1.5",
    ]  # the kept v3's dependencies: no fastpath, which only v4 turns on
    assert dry.stderr == drift_line("v3", "v4", v4)
    assert snapshot(venv, ignore="__pycache__") == before

    kept = install(venv, out, v4)
    assert kept.returncode == 0, kept.stderr
    assert kept.stderr == drift_line("v3", "v4", v4)
    assert kept.stdout.splitlines() == [
        "Kept demo 2.0 [variant v3] (installed)",
        "Already installed helper 1.5",
    ]
    assert variant_of(venv) == "VARIANT = 'v3'"
    assert not (site(venv) / "fastpath").exists()

    dry = install(venv, out, v4, "--reinstall-variants", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0].startswith("Would install demo 2.0 [v4: ")
    assert dry.stdout.splitlines()[1].startswith("Would install fastpath 1.0 from ")
    assert dry.stdout.splitlines()[2:] == ["Already installed helper 1.5"]
    assert dry.stderr == ""

    switched = install(venv, out, v4, "--reinstall-variants")
    assert switched.returncode == 0, switched.stderr
    assert V4_LINE in switched.stdout
    assert "Installed fastpath 1.0 from " in switched.stdout
    assert "Already installed helper 1.5" in switched.stdout
    assert switched.stderr == ""
    assert variant_of(venv) == "VARIANT = 'v4'"

    forced = install(venv, out, v4, "--force-reinstall")
    assert forced.returncode == 0, forced.stderr
    assert "Installed helper 1.5 from " in forced.stdout
    assert "Already installed" not in forced.stdout


def test_lock_dry_run_fails_where_the_real_run_fails(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """Locked for v3 only: on a v4 machine the v4 wheel needs fastpath, which the lock
    does not provide; a tampered hash: the dry run refuses both, as the real run does."""
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    assert lock(server, out, "demo", "--properties", str(v3)).returncode == 0
    venv = make_venv(tmp_path / "venv")
    before = snapshot(venv)
    dry = install(venv, out, v4, "--dry-run")
    real = install(venv, out, v4)
    for done in (dry, real):
        assert done.returncode == 1, done.stdout
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert "demo-2.0-py3-none-any-v4.whl: requires fastpath" in done.stderr
        assert "which the lock does not provide" in done.stderr
    assert dry.stderr == real.stderr
    assert snapshot(venv) == before

    doc = tomllib.loads(out.read_text())
    helper = next(p for p in doc["packages"] if p["name"] == "helper")
    digest = helper["wheels"][0]["hashes"]["sha256"]
    out.write_text(out.read_text().replace(digest, "0" * 64))
    for args in (("--dry-run",), ()):
        done = install(venv, out, v3, *args)
        assert done.returncode == 1, done.stdout
        assert done.stderr.count("\n") == 1, done.stderr
        assert "helper-1.5-py3-none-any.whl: sha256 mismatch (the lock says " + "0" * 64 in (
            done.stderr
        )
        assert f", got {digest})" in done.stderr
    assert snapshot(venv) == before


def test_index_dry_run_says_already_installed_and_drift(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    venv = make_venv(tmp_path / "venv")
    python = str(venv / "bin" / "python")
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])

    def run(*args: str, profile: Path = v3) -> subprocess.CompletedProcess[str]:
        return wn(
            "install", *args, "--index-url", server.url("pypi"), "--no-cache",
            "--python", python, "--properties", str(profile),
        )  # fmt: skip

    assert run("helper").returncode == 0
    before = snapshot(venv, ignore="__pycache__")
    dry = run("helper", "--dry-run")
    assert (dry.returncode, dry.stdout, dry.stderr) == (0, "Already installed helper 1.5\n", "")
    real = run("helper")
    assert real.stdout == "Already installed helper 1.5\n"
    forced = run("helper", "--dry-run", "--force-reinstall")
    assert forced.stdout.startswith("Would install helper 1.5 from ")

    assert run("demo").returncode == 0  # as v3
    before = snapshot(venv, ignore="__pycache__")
    dry = run("demo", "--dry-run", profile=v4)
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr == drift_line("v3", "v4", v4)
    assert dry.stdout.splitlines()[0] == "Would keep demo 2.0 [variant v3] (installed)"
    assert "Already installed helper 1.5" in dry.stdout.splitlines()
    assert snapshot(venv, ignore="__pycache__") == before


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--index-url", "http://127.0.0.1:9/simple"], "--index-url"),
        (["--index", "corp=http://127.0.0.1:9/simple"], "--index"),
        (["--no-deps"], "--no-deps"),
        (["-c", "constraints.txt"], "--constraint"),
        (["--no-default-extras"], "--no-default-extras"),
        (["--report", "report.json"], "--report"),
        (["--refresh"], "--refresh"),  # a lock reads no index page
        (["demo"], "'demo'"),
        (["-r", "requirements.txt"], "-r requirements.txt"),
    ],
)
def test_lock_install_refuses_options_that_do_not_apply(
    tmp_path: Path, extra: list[str], named: str
) -> None:
    lock_file = tmp_path / "pylock.toml"
    lock_file.write_text('lock-version = "1.0"\ncreated-by = "x"\n')
    before = snapshot(tmp_path)
    done = wn("install", "-r", str(lock_file), "--target", str(tmp_path / "t"), *extra)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"wn install: error: {named}")
    assert str(lock_file) in last
    assert snapshot(tmp_path) == before


def test_a_lock_under_another_name_is_named(tmp_path: Path) -> None:
    misnamed = tmp_path / "lock.toml"
    misnamed.write_text('# a lock\n\nlock-version = "1.0"\n[[packages]]\nname = "x"\n')
    table = tmp_path / "reqs.txt"
    table.write_text("[[packages]]\n")
    for path in (misnamed, table):
        for command in ("install", "lock"):
            done = wn(command, "-r", str(path), "--no-index")
            assert done.returncode == 1, done.stderr
            assert done.stderr == (
                f"wn {command}: error: {path}: looks like a lock file; name it pylock.toml or "
                "pylock.NAME.toml (PEP 751)\n"
            )
    proper = tmp_path / "pylock.toml"
    proper.write_text(misnamed.read_text())
    done = wn("lock", "-r", str(proper), "--no-index")
    assert (done.returncode, done.stderr) == (
        1,
        f"wn lock: error: {proper}: a lock file, not a requirements file\n",
    )
    broken = tmp_path / "requirements.txt"
    broken.write_text("not a requirement at all\n")
    done = wn("install", "-r", str(broken), "--no-index")
    assert done.returncode == 1
    assert "looks like a lock file" not in done.stderr
    assert f"{broken}:1: invalid requirement" in done.stderr


def test_wn_lock_says_what_it_locked(server: Server, demo: StaticIndex, tmp_path: Path) -> None:
    v3 = write_profile(tmp_path, ["v3", "v2", "v1"])
    v4 = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    out = tmp_path / "pylock.toml"
    done = lock(server, out, "demo", "--properties", str(v3), "--properties", str(v4))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Locked 3 packages (5 wheels) for 2 profiles to {out}\n"
    assert done.stderr == ""
    done = wn(
        "lock", "helper", "--index-url", server.url("pypi"), "--no-cache", "-o", "-",
        "--properties", str(v3),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(done.stdout)["packages"][0]["name"] == "helper"
    assert done.stderr == "Locked 1 package (1 wheel) for 1 profile to stdout\n"

    (tmp_path / "file").write_text("")
    for args, code, words in (
        (["--timeout", "0"], 1, "--timeout"),
        (["--timeout", "nan"], 1, "--timeout"),
        (["--cache-dir", str(tmp_path / "file" / "c")], 1, "--cache-dir"),
    ):
        done = wn("lock", "helper", "--index-url", server.url("pypi"), "-o", str(out), *args)
        assert done.returncode == code, done.stderr
        assert words in done.stderr.splitlines()[-1]


def test_wn_list_repairs_first_and_refuses_a_missing_target(
    built: Path, venv: Path, tmp_path: Path
) -> None:
    build_wheel(built, "tiny", "1.0", files={"tiny/a.py": b"A = 1\n"})
    build_wheel(built, "tiny", "2.0", files={"tiny/a.py": b"A = 2\n"})
    common = [
        "--no-index", "--find-links", str(built), "--python", str(venv / "bin" / "python"),
        "--no-cache",
    ]  # fmt: skip
    assert wn("install", "tiny==1.0", *common).returncode == 0
    killed = wn_env("install", "tiny==2.0", *common, **{CRASH_AT: "moved", CRASH_SIGNAL: "KILL"})
    assert killed.returncode != 0
    assert (site(venv) / ".wn-journal").exists()
    profile = write_profile(tmp_path, ["v3", "v2", "v1"])
    listed = wn("list", "--python", str(venv / "bin" / "python"), "--properties", str(profile),
                "--json")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.startswith(f"wn list: repaired {site(venv)}: rolled back")
    assert listed.stderr.count("\n") == 1
    doc = json.loads(listed.stdout)
    assert [(d["name"], d["version"]) for d in doc] == [("tiny", "1.0")]
    assert doc[0]["best-here"] is None  # a non-variant wheel: null, as spec/cli.md says
    assert doc[0]["variant"] is None
    assert not (site(venv) / ".wn-journal").exists()
    assert (site(venv) / "tiny" / "a.py").read_text() == "A = 1\n"

    for missing in (tmp_path / "nosuchdir", tmp_path / "file"):
        (tmp_path / "file").write_text("")
        done = wn("list", "--target", str(missing))
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith(f"wn list: error: --target {missing}: ")


def test_lock_timeout_of_one_second_says_second(built: Path, venv: Path) -> None:
    build_wheel(built, "other", "1.0")
    held = FileLock(site(venv) / ".wn-lock")
    with held:
        done = wn(
            "install", "other", "--no-index", "--find-links", str(built), "--no-cache",
            "--python", str(venv / "bin" / "python"), "--lock-timeout", "1",
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].endswith("gave up after 1 second (--lock-timeout)")


def test_index_dry_run_fails_where_the_real_run_fails(
    server: Server, demo: StaticIndex, tmp_path: Path
) -> None:
    """A wheel whose bytes no longer match the index's hash: resolution reads only its
    PEP 658 metadata, so only the download finds it; the dry run downloads too."""
    wheel = demo.files_dir / "helper-1.5-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    venv = make_venv(tmp_path / "venv")
    before = snapshot(venv)
    python = str(venv / "bin" / "python")
    common = ["--index-url", server.url("pypi"), "--no-cache", "--python", python]
    runs = [wn("install", "helper", *common, *args) for args in (["--dry-run"], [])]
    for done in runs:
        assert done.returncode == 1, done.stdout
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert "helper-1.5-py3-none-any.whl" in done.stderr
    assert runs[0].stderr == runs[1].stderr
    assert snapshot(venv) == before
