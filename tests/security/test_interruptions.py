"""Attacker: a crash or a kill. ``wn install`` upgrading a 2,000-file wheel is killed
(SIGKILL) at many points of its transaction, interrupted (SIGTERM, SIGINT), or killed
at a moment the test picks by the clock. After the next ``wn`` that touches the
environment, the whole venv equals the tree before the upgrade or the tree after it,
byte for byte, and the package imports.

The kill points are chosen through the installer's test hook (``WHEELNEXT_TEST_CRASH_AT``:
the process sends itself the signal at journal step N or at a named step), so every
point is reached for certain: each killed run must end by that signal."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.installer.envs import make_venv, site, write_profile
from tests.installer.index import Server
from tests.installer.wheels import build_wheel
from tests.security.crashes import (
    CRASH_AT,
    CRASH_SIGNAL,
    Snapshot,
    build_big,
    restore,
    snapshot,
    start_wn,
    wn_env,
)


@dataclass
class World:
    venv: Path
    saved: Path  # a copy of the venv with big 1.0 installed
    args: list[str]  # --no-index --find-links ... --python ...
    before: Snapshot
    after: Snapshot

    def upgrade(self, **env: str) -> subprocess.CompletedProcess[str]:
        return wn_env("install", "big==2.0", *self.args, **env)

    def touch(self, **env: str) -> subprocess.CompletedProcess[str]:
        """The next ``wn`` on the environment: a dry run, which changes nothing itself."""
        return wn_env("install", "--dry-run", "big==2.0", *self.args, **env)

    def version(self) -> str:
        return subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", "import big; print(big.VERSION)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("kills")
    wheels = tmp / "wheels"
    build_big(wheels, "big", "1.0", spread=20)
    build_big(wheels, "big", "2.0", spread=25)
    venv = make_venv(tmp / "venv")
    args = [
        "--no-index", "--find-links", str(wheels), "--python", str(venv / "bin" / "python"),
        "--no-cache", "--properties", str(write_profile(tmp, ["v3"])),
    ]  # fmt: skip
    proc = wn_env("install", "big==1.0", *args)
    assert proc.returncode == 0, proc.stderr
    saved = tmp / "saved"
    restore(venv, saved)
    before = snapshot(venv)
    proc = wn_env("install", "big==2.0", *args)
    assert proc.returncode == 0, proc.stderr
    after = snapshot(venv)
    assert after != before
    assert not any(name.startswith(".wn-") for name in (p.name for p in site(venv).iterdir()))
    return World(venv, saved, args, before, after)


# journal steps of this upgrade: ~3 to begin, ~6,000 to move 2,006 old files aside
# (each recorded, then renamed), ~4,100 to create the new paths, then the commit
ROLLED_BACK = ["begun", "moved", "5000", "9000"]  # before, among the renames, among creates
COMPLETED = ["committed"]  # decided: the next run finishes it


@pytest.mark.parametrize("point", ROLLED_BACK + COMPLETED)
def test_a_kill_at_any_step_is_repaired_by_the_next_run(world: World, point: str) -> None:
    restore(world.saved, world.venv)
    killed = world.upgrade(**{CRASH_AT: point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    proc = world.touch()
    assert proc.returncode == 0, proc.stderr
    repaired = [line for line in proc.stderr.splitlines() if "repaired" in line]
    assert len(repaired) == 1, proc.stderr
    if point in COMPLETED:
        assert "completed an interrupted install" in repaired[0]
        assert snapshot(world.venv) == world.after
        assert world.version() == "2.0"
    else:
        assert "rolled back an interrupted install" in repaired[0]
        assert snapshot(world.venv) == world.before
        assert world.version() == "1.0"


def test_a_kill_during_the_repair_is_repaired_again(world: World) -> None:
    restore(world.saved, world.venv)
    assert world.upgrade(**{CRASH_AT: "5000"}).returncode == -signal.SIGKILL
    # the repair itself is killed part way through putting the old files back
    assert world.touch(**{CRASH_AT: "300"}).returncode == -signal.SIGKILL
    proc = world.touch()
    assert proc.returncode == 0, proc.stderr
    assert "rolled back an interrupted install" in proc.stderr
    assert snapshot(world.venv) == world.before
    assert world.version() == "1.0"
    assert "repaired" not in world.touch().stderr  # repaired once: nothing more to say


@pytest.mark.parametrize(
    ("name", "point", "status"), [("TERM", "7000", 143), ("TERM", "committed", 0)]
)
def test_sigterm_rolls_back_at_once(world: World, name: str, point: str, status: int) -> None:
    """SIGTERM is handled like SIGINT: the transaction rolls back before wn exits, with
    status 143 (130 for SIGINT). Once the commit is decided, the signal waits for it."""
    restore(world.saved, world.venv)
    proc = world.upgrade(**{CRASH_AT: point, CRASH_SIGNAL: name})
    assert proc.returncode == status, proc.stderr
    if status:
        assert proc.stderr.strip().splitlines() == ["wn install: interrupted; nothing was changed"]
        assert snapshot(world.venv) == world.before
    else:
        assert snapshot(world.venv) == world.after
    assert "repaired" not in world.touch().stderr  # nothing was left to repair


def test_a_kill_at_a_moment_chosen_by_the_clock(world: World, tmp_path: Path) -> None:
    """Killed from outside once the transaction has begun (when its journal appears),
    and 0.3 seconds more: the repaired tree is the before or the after tree."""
    restore(world.saved, world.venv)
    journal = site(world.venv) / ".wn-journal"
    proc = start_wn("install", "big==2.0", *world.args, stderr=tmp_path / "err")
    deadline = time.monotonic() + 120
    while not journal.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    repair = world.touch()
    assert repair.returncode == 0, repair.stderr
    tree = snapshot(world.venv)
    assert tree in (world.before, world.after)
    assert world.version() == ("1.0" if tree == world.before else "2.0")


def test_a_target_directory_is_locked_and_repaired_too(tmp_path: Path, built: Path) -> None:
    """``--target DIR``: the journal and lock live in DIR; a kill is repaired there."""
    build_wheel(built, "tiny", "1.0", files={"tiny/a.py": b"A = 1\n"})
    build_wheel(built, "tiny", "2.0", files={"tiny/a.py": b"A = 2\n", "tiny/b.py": b""})
    target = tmp_path / "t"
    args = ["--no-index", "--find-links", str(built), "--target", str(target), "--no-cache"]
    assert wn_env("install", "tiny==1.0", *args).returncode == 0
    before = snapshot(target)
    for point in ("moved", "12"):
        proc = wn_env("install", "tiny==2.0", *args, **{CRASH_AT: point})
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert (target / ".wn-journal").exists()
        proc = wn_env("install", "--dry-run", "tiny==2.0", *args)
        assert proc.returncode == 0, proc.stderr
        assert f"wn install: repaired {target}: rolled back" in proc.stderr
        assert snapshot(target) == before


def test_ctrl_c_while_an_index_holds_a_page_back_ends_the_run_at_once(
    tmp_path: Path, server: Server
) -> None:
    """The index answers a page only after 30 s: Ctrl-C meanwhile says "interrupted" and
    the process ends then, not once the page read that nobody waits for ends."""
    server.index("slow")
    server.stalling["slow"] = 30.0
    args = ["install", "x", "--index-url", server.url("slow"), "--target", str(tmp_path / "t")]
    proc = start_wn(*args, "--no-cache", "--timeout", "120", stderr=tmp_path / "err")
    deadline = time.monotonic() + 60
    while "/slow/simple/x/" not in server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 130  # the held read is dropped within a fraction of that
    assert "interrupted" in (tmp_path / "err").read_text()
    assert not (tmp_path / "t").exists()
