"""Attackers: a second ``wn`` at the same time, and a planted distribution or journal.

Two ``wn install`` runs on one environment never interleave: the second waits, saying
so, or gives up after ``--lock-timeout`` with one line. An installed RECORD, and a
journal found in the environment, are followed only inside the environment's scheme
directories: a line that resolves outside is refused and the outside file is untouched.
The first ``wn`` is held mid-transaction by the installer's test hook (it sends itself
SIGSTOP after moving the old files aside), so the overlap is certain, not timed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.installer.envs import site
from tests.installer.wheels import build_wheel
from tests.security.crashes import (
    CRASH_AT,
    CRASH_SIGNAL,
    build_big,
    snapshot,
    start_wn,
    wn_env,
)


def common(venv: Path, wheels: Path) -> list[str]:
    return [
        "--no-index", "--find-links", str(wheels), "--python", str(venv / "bin" / "python"),
        "--no-cache",
    ]  # fmt: skip


def python(venv: Path, code: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def stopped_mid_upgrade(venv: Path, built: Path, tmp_path: Path) -> subprocess.Popen[str]:
    """A real ``wn`` upgrading tiny 1.0 to 2.0, stopped with its old files moved aside
    (holding the environment's lock)."""
    build_wheel(built, "tiny", "1.0", files={"tiny/a.py": b"A = 1\n"})
    build_wheel(built, "tiny", "2.0", files={"tiny/a.py": b"A = 2\n"})
    build_wheel(built, "other", "1.0")
    assert wn_env("install", "tiny==1.0", *common(venv, built)).returncode == 0
    first = start_wn(
        "install", "tiny==2.0", *common(venv, built), stderr=tmp_path / "first.err",
        **{CRASH_AT: "moved", CRASH_SIGNAL: "STOP"},
    )  # fmt: skip
    _, status = os.waitpid(first.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), (tmp_path / "first.err").read_text()
    return first


def wait_for(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while text not in path.read_text():
        assert proc.poll() is None, path.read_text()
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.02)


def test_a_second_wn_waits_for_the_first(tmp_path: Path, built: Path, venv: Path) -> None:
    first = stopped_mid_upgrade(venv, built, tmp_path)
    try:
        during = snapshot(venv)
        second = start_wn("install", "other", *common(venv, built), stderr=tmp_path / "err")
        wait_for(tmp_path / "err", f"wn install: waiting for another wn on {site(venv)}", second)
        assert snapshot(venv) == during  # the second changed nothing, repaired nothing
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, (tmp_path / "first.err").read_text()
    assert second.wait(timeout=300) == 0, (tmp_path / "err").read_text()
    assert "repaired" not in (tmp_path / "err").read_text()
    assert python(venv, "import tiny.a, other; print(tiny.a.A, other.VERSION)") == "2 1.0"
    assert not [p.name for p in site(venv).iterdir() if p.name.startswith(".wn-")]


def test_lock_timeout_gives_up_with_one_line(tmp_path: Path, built: Path, venv: Path) -> None:
    first = stopped_mid_upgrade(venv, built, tmp_path)
    try:
        during = snapshot(venv)
        error = (
            f"wn install: error: {site(venv)}: another wn is still installing into it; "
            "gave up after {} seconds (--lock-timeout)"
        )
        proc = wn_env("install", "other", "--lock-timeout", "0", *common(venv, built))
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [error.format("0")]
        proc = wn_env("install", "other", "--lock-timeout", "0.5", *common(venv, built))
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            f"wn install: waiting for another wn on {site(venv)}",
            error.format("0.5"),
        ]
        assert snapshot(venv) == during
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0
    wrong = wn_env("install", "x", "--lock-timeout", "-1")  # a wrong value: one line, exit 1
    assert (wrong.returncode, wrong.stderr.count("\n")) == (1, 1), wrong.stderr
    assert wrong.stderr.startswith("wn install: error: --lock-timeout: "), wrong.stderr


def test_two_concurrent_upgrades_never_interleave(tmp_path: Path, built: Path, venv: Path) -> None:
    """big 1.0 upgraded to 2.0 and to 3.0 at the same time (2,000 files each): one wins
    whole, and its RECORD names exactly the files on disk."""
    for version, spread in (("1.0", 20), ("2.0", 25), ("3.0", 30)):
        build_big(built, "big", version, spread)
    assert wn_env("install", "big==1.0", *common(venv, built)).returncode == 0
    runs = [
        start_wn("install", f"big=={v}", *common(venv, built), stderr=tmp_path / f"{v}.err")
        for v in ("2.0", "3.0")
    ]
    for run, v in zip(runs, ("2.0", "3.0"), strict=True):
        assert run.wait(timeout=300) == 0, (tmp_path / f"{v}.err").read_text()
    lib = site(venv)
    infos = sorted(p.name for p in lib.glob("big-*.dist-info"))
    assert len(infos) == 1, infos
    record = (lib / infos[0] / "RECORD").read_text().splitlines()
    recorded = {os.path.normpath(lib / line.rsplit(",", 2)[0]) for line in record}
    on_disk = {
        str(p)
        for p in (*(lib / "big").rglob("*"), *(lib / infos[0]).iterdir(), venv / "bin" / "big-cli")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert on_disk == recorded
    assert python(venv, "import big; print(big.VERSION)") == infos[0][4:7]
    assert not [p.name for p in lib.iterdir() if p.name.startswith(".wn-")]


@pytest.mark.parametrize("how", ["dotdot", "absolute", "through-a-link"])
def test_a_record_line_outside_the_environment_is_refused(
    tmp_path: Path, built: Path, venv: Path, how: str
) -> None:
    build_wheel(built, "planted", "1.0")
    build_wheel(built, "planted", "2.0")
    assert wn_env("install", "planted==1.0", *common(venv, built)).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_bytes(b"precious\n")
    lib = site(venv)
    if how == "dotdot":
        line = os.path.relpath(outside / "victim.txt", lib)
    elif how == "absolute":
        line = str(outside / "victim.txt")
    else:
        (lib / "planted" / "door").symlink_to(outside)
        line = "planted/door/victim.txt"
    with (lib / "planted-1.0.dist-info" / "RECORD").open("a") as record:
        record.write(f"{line},,\n")
    before, outside_before = snapshot(venv), snapshot(outside)
    proc = wn_env("install", "planted==2.0", *common(venv, built))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"wn install: error: planted 1.0: its RECORD names {line!r}, outside the "
        "environment; refusing to remove it"
    ]
    assert snapshot(venv) == before
    assert snapshot(outside) == outside_before


def test_a_planted_journal_is_not_followed_outside(tmp_path: Path, built: Path, venv: Path) -> None:
    """A journal naming a path outside the environment (planted, or from a wheel) is
    refused with one line; the outside file is untouched."""
    build_wheel(built, "small", "1.0")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    lib = site(venv)
    (lib / ".wn-journal").write_text(f'["begin", "1"]\n["create", "{victim}"]\n')
    before = snapshot(venv)
    proc = wn_env("install", "small", *common(venv, built))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"wn install: error: {lib / '.wn-journal'}: line 2: names a path outside the "
        "environment; not following it"
    ]
    assert victim.read_bytes() == b"precious\n"
    assert snapshot(venv) == before


def test_a_wheel_cannot_install_the_journal(built: Path, venv: Path) -> None:
    build_wheel(built, "sneaky", "1.0", files={".wn-journal": b'["commit"]\n'})
    before = snapshot(venv)
    proc = wn_env("install", "sneaky", *common(venv, built))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "wn install: error: .wn-journal: a name wn keeps for its own journal and lock"
    ]
    assert snapshot(venv) == before


def test_a_target_made_by_a_failed_first_install_serves_the_wn_waiting_on_it(
    tmp_path: Path, built: Path
) -> None:
    """The first ``wn`` into a new ``--target`` is interrupted while a second waits for
    its lock: the first removes the directory it made (it is empty again), and the
    second makes it again and installs, instead of failing on the vanished directory."""
    build_wheel(built, "tiny", "1.0", files={"tiny/a.py": b"A = 1\n"})
    target = tmp_path / "new" / "target"
    args = ["install", "tiny", "--no-index", "--find-links", str(built), "--no-cache"]
    first = start_wn(
        *args, "--target", str(target), stderr=tmp_path / "first.err",
        **{CRASH_AT: "begun", CRASH_SIGNAL: "STOP"},
    )  # fmt: skip
    _, status = os.waitpid(first.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), (tmp_path / "first.err").read_text()
    second = start_wn(*args, "--target", str(target), stderr=tmp_path / "err")
    try:
        wait_for(tmp_path / "err", "wn install: waiting for another wn on", second)
    finally:
        first.send_signal(signal.SIGINT)
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 130, (tmp_path / "first.err").read_text()
    assert "interrupted" in (tmp_path / "first.err").read_text()
    assert second.wait(timeout=300) == 0, (tmp_path / "err").read_text()
    assert (target / "tiny" / "a.py").read_bytes() == b"A = 1\n"
