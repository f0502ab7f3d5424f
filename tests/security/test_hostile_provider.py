"""Buggy and hostile providers, installed for real, affect only their own status.

Each provider below is a real distribution (a ``.dist-info`` with ``entry_points.txt`` and
its module) in the site-packages of a fresh virtual environment, which sees
wheelnext-core and the real x86_64 provider through a ``.pth`` line. ``wn-detect`` runs
there as users run it; every run must still print valid JSON with the healthy providers'
answers, end soon after ``--timeout``, leave no process behind, and describe each hostile
provider in one sanitised line. The detection cache is attacked through its file.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sysconfig
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import BIN, FICTIONAL
from tests.installer.envs import make_venv, site, wn
from tests.installer.index import Server
from tests.installer.wheels import build_wheel, variants_json

TIMEOUT = 3.0
SLACK = 2.5  # the command ends within TIMEOUT + SLACK (generous: a busy 2-core machine)
ON_X86 = platform.machine() in ("x86_64", "AMD64")

PROVIDER = """
import os, re, signal, sys, time
from wheelnext.core.hookspecs import hookimpl
from wheelnext.core.providers import DetectedFeature, FeatureDeclaration, ProviderDescription

NS = "{ns}"

@hookimpl
def wheelnext_provider():
    return ProviderDescription(NS, "hostile", (FeatureDeclaration("f", ("a",)),))

def record(context, pid):
    with open(os.path.join(context.environ["HOSTILE_PID_DIR"], f"{{NS}}-{{pid}}"), "w") as f:
        f.write(str(pid))

@hookimpl
def wheelnext_detect(context):
{body}
    return [DetectedFeature("f", ("a",))]
"""

# name: (body of wheelnext_detect, expected status, text its status must contain)
HOSTILE: dict[str, tuple[str, str, str]] = {
    "exits": ("os._exit(3)", "failed", "exited with status 3 without answering"),
    "segfaults": ("os.kill(os.getpid(), signal.SIGSEGV); time.sleep(60)", "failed", "SIGSEGV"),
    "self_kills": ("os.kill(os.getpid(), signal.SIGKILL); time.sleep(60)", "failed", "SIGKILL"),
    "holds_gil": (  # a catastrophic regex: hours in C, never releasing the GIL
        're.match(r"(a+)+$", "a" * 64 + "b")',
        "failed",
        f"timed out after {TIMEOUT:g}s",
    ),
    "prints": (
        'os.write(1, b"\\x1b[2J\\x1b[31m{\\"providers\\": []}\\x07\\r\\n")\n'
        'os.write(2, b"\\x1b]0;owned\\x07\\r\\x1b[1A\\n")\n'
        'sys.__stdout__.write("\\x1b[5mblink\\u202e\\n"); sys.__stdout__.flush()\n'
        'print("noise on stdout"); print("noise on stderr", file=sys.stderr)',
        "ok",
        "",
    ),
    "replaces_modules": (
        'for name in ("json", "wheelnext.core.detection", "wheelnext.core.supported", "os"):\n'
        "    sys.modules[name] = None",
        "ok",
        "",
    ),
    "system_exit": ("raise SystemExit(3)", "failed", "SystemExit: 3"),
    "keyboard_interrupt": ("raise KeyboardInterrupt", "failed", "KeyboardInterrupt"),
    "forks_lingering": (
        "pid = os.fork()\nif pid == 0:\n    time.sleep(1000)\n    os._exit(0)\n"
        "record(context, pid)",
        "ok",
        "",
    ),
    "forks_and_hangs": (
        "pid = os.fork()\nif pid == 0:\n    time.sleep(1000)\n    os._exit(0)\n"
        "record(context, pid)\ntime.sleep(1000)",
        "failed",
        f"timed out after {TIMEOUT:g}s",
    ),
    "ugly_error": (
        'raise RuntimeError("line one\\n\\x1b[31mline two\\u202e\\r" + "x" * 5000)',
        "failed",
        "RuntimeError: line one [31mline two xxx",  # ESC, CR, LF and bidi are gone
    ),
    "scribbles_fds": (
        "for fd in range(3, 64):\n"
        "    try:\n"
        '        os.write(fd, b"\\x1b[31m{]]")\n'
        "    except OSError:\n"
        "        pass",
        "failed",
        "answered garbage",
    ),
}


def install(site_packages: Path, module: str, source: str, dist: str, entry: str = "") -> None:
    """A distribution with one module and a ``wheelnext.providers`` entry point."""
    (site_packages / f"{module}.py").write_text(source)
    info = site_packages / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wheelnext.providers]\n{entry or module} = {module}\n")


def provider_source(ns: str, body: str) -> str:
    return PROVIDER.format(ns=ns, body=textwrap.indent(body, "    "))


@pytest.fixture(scope="module")
def hostile_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding every hostile provider and a healthy fictional one."""
    venv = make_venv(tmp_path_factory.mktemp("hostile") / "venv")
    packages = site(venv)
    ours = sysconfig.get_paths()["purelib"]  # wheelnext-core and the real providers
    (packages / "wheelnext_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for name, (body, _, _) in HOSTILE.items():
        install(packages, f"hostile_{name}", provider_source(name, body), f"hostile-{name}", name)
    install(packages, "fictional_provider", textwrap.dedent(FICTIONAL), "fictional-hw-provider")
    return venv


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    elapsed: float
    pid_dir: Path
    marker: str
    lingering: list[int]

    def doc(self) -> dict[str, Any]:
        return json.loads(self.proc.stdout)  # type: ignore[no-any-return]

    def result(self, namespace: str) -> dict[str, Any]:
        (found,) = [p for p in self.doc()["providers"] if p["namespace"] == namespace]
        return found  # type: ignore[no-any-return]


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ and _state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def leftovers(marker: str, pid_dir: Path) -> list[int]:
    """Processes of a finished run still alive; SIGKILL takes a moment to land, so wait
    up to 3 s for them to go (the hostile ones would sleep for 1000 s)."""
    recorded = [int(p.read_text()) for p in pid_dir.iterdir() if p.read_text().isdigit()]
    give_up = time.monotonic() + 3
    while True:
        alive = sorted(set(_marked(marker)) | {p for p in recorded if _state(p) not in (None, "Z")})
        if not alive or time.monotonic() > give_up:
            return alive
        time.sleep(0.05)


def detect_in(venv: Path, tmp: Path, *args: str, **environ: str) -> Run:
    """``python -m wheelnext.core.cli.detect ARGS`` in ``venv``, timed and watched (the
    environment is the same for every run in ``tmp``, so runs there share a cache key)."""
    pid_dir = tmp / "pids"
    pid_dir.mkdir(exist_ok=True)
    marker_file = tmp / "marker"
    if not marker_file.exists():
        marker_file.write_text(f"hostile-run-{uuid.uuid4().hex}")
    marker = marker_file.read_text()
    cwd = tmp / "cwd"  # on sys.path (python -m): kept unchanged, as it is part of the key
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        HOSTILE_PID_DIR=str(pid_dir),
        HOSTILE_RUN=marker,
        FICTIONAL_HW_GEN="gen2",
        XDG_CACHE_HOME=str(tmp / "cache"),
    )
    env.update(environ)
    start = time.monotonic()
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "wheelnext.core.cli.detect", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - start
    return Run(proc, elapsed, pid_dir, marker, leftovers(marker, pid_dir))


@pytest.fixture(scope="module", params=["process", "subprocess"])
def hostile_run(
    request: pytest.FixtureRequest, hostile_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """One ``wn-detect --json`` with every hostile provider, per isolation mode."""
    tmp = tmp_path_factory.mktemp(f"run-{request.param}")
    return detect_in(
        hostile_venv,
        tmp,
        "--json",
        "--no-cache",
        "--timeout",
        f"{TIMEOUT:g}",
        "--isolation",
        request.param,
    )


def test_output_is_valid_json_and_healthy_providers_answer(hostile_run: Run) -> None:
    assert hostile_run.proc.returncode == 0, hostile_run.proc.stderr
    doc = hostile_run.doc()
    fictional = hostile_run.result("fictional_hw")
    assert (fictional["status"], fictional["features"][0]["values"]) == ("ok", ["gen2", "gen1"])
    if ON_X86:  # the real provider of this machine, next to a GIL-holding one
        x86 = hostile_run.result("x86_64")
        assert x86["status"] == "ok", x86["error"]
        assert x86["features"][0]["name"] == "level"
    assert {p["namespace"] for p in doc["providers"]} >= set(HOSTILE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_provider_gets_its_own_one_line_status(hostile_run: Run, name: str) -> None:
    _, status, text = HOSTILE[name]
    got = hostile_run.result(name)
    assert got["status"] == status, got
    assert text in (got["error"] or ""), got["error"]
    error = got["error"] or ""
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", error), error
    assert len(error) <= 500


def test_the_command_ends_soon_after_the_timeout(hostile_run: Run) -> None:
    assert hostile_run.elapsed < TIMEOUT + SLACK, hostile_run.elapsed


def test_no_process_outlives_the_command(hostile_run: Run) -> None:
    assert sorted(p.name.split("-")[0] for p in hostile_run.pid_dir.iterdir()) == [
        "forks_and_hangs",
        "forks_lingering",
    ]  # both forked a child that would sleep for 1000 s
    assert hostile_run.lingering == []


def test_provider_output_reaches_stderr_only_as_sanitised_warnings(hostile_run: Run) -> None:
    err = hostile_run.proc.stderr
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202a-\u202e]", err), repr(err)
    assert "Traceback" not in err
    noisy = [line for line in err.splitlines() if "'prints'" in line]
    assert len(noisy) == 1, err
    assert noisy[0].startswith("wheelnext: warning: provider 'prints' (hostile-prints) wrote: ")
    for text in ("noise on stdout", "noise on stderr", "blink"):
        assert text in noisy[0]


def test_ctrl_c_during_detection_leaves_no_process(hostile_venv: Path, tmp_path: Path) -> None:
    """Interrupted while providers run (one hangs, having forked a sleeper): it ends at
    once, quietly, and takes every provider process with it."""
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    marker = f"hostile-run-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HOSTILE_PID_DIR=str(pid_dir), HOSTILE_RUN=marker, FICTIONAL_HW_GEN="gen2")
    python = str(hostile_venv / "bin" / "python")
    proc = subprocess.Popen(
        [python, "-m", "wheelnext.core.cli.detect", "--json", "--no-cache", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    give_up = time.monotonic() + 30
    while not any(pid_dir.glob("forks_and_hangs-*")):  # early: other children may be starting
        assert time.monotonic() < give_up, "the hanging provider never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert leftovers(marker, pid_dir) == []


# ------------------------------------------------------------------ the detection cache


def cache_file(tmp: Path) -> Path:
    (found,) = (tmp / "cache" / "wheelnext" / "detect").glob("*.json")
    return found


@pytest.fixture(scope="module")
def healthy_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the healthy fictional provider (and the real ones)."""
    venv = make_venv(tmp_path_factory.mktemp("healthy") / "venv")
    packages = site(venv)
    ours = sysconfig.get_paths()["purelib"]
    (packages / "wheelnext_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    install(packages, "fictional_provider", textwrap.dedent(FICTIONAL), "fictional-hw-provider")
    return venv


def test_cache_is_used_then_a_planted_or_unsafe_file_is_ignored(
    healthy_venv: Path, tmp_path: Path
) -> None:
    fresh = detect_in(healthy_venv, tmp_path, "--json")
    assert fresh.proc.returncode == 0, fresh.proc.stderr
    assert fresh.result("fictional_hw")["features"][0]["values"] == ["gen2", "gen1"]
    path = cache_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    stored = path.read_text()
    assert "gen2" in stored
    assert "FICTIONAL_HW_GEN" not in stored  # the environment is hashed, never stored

    # the cache is what answers a second run: an edit to it shows
    path.write_text(stored.replace('["gen2","gen1"]', '["gen1"]'))
    cached = detect_in(healthy_venv, tmp_path, "--json")
    assert cached.result("fictional_hw")["features"][0]["values"] == ["gen1"]
    # ... unless bypassed
    for bypass in (("--no-cache",), ()):
        extra = {} if bypass else {"WHEELNEXT_NO_DETECT_CACHE": "1"}
        live = detect_in(healthy_venv, tmp_path, "--json", *bypass, **extra)
        assert live.result("fictional_hw")["features"][0]["values"] == ["gen2", "gen1"]
    # another environment is another key
    gen3 = detect_in(healthy_venv, tmp_path, "--json", FICTIONAL_HW_GEN="gen3")
    assert gen3.result("fictional_hw")["features"][0]["values"] == ["gen3", "gen2", "gen1"]

    name = path.name
    planted = stored.replace('["gen2","gen1"]', '["gen1"]')
    attacks = {
        "world-writable": (planted, 0o666),
        "invalid value": (stored.replace('"gen2"', '"GEN 2\\u001b[31m"'), 0o600),
        "failed answer kept": (stored.replace('"status":"ok"', '"status":"failed"'), 0o600),
        "not JSON": ("{" * 100000, 0o600),
        "wrong shape": ('{"format": 1, "entries": "x"}', 0o600),
    }
    for attack, (content, mode) in attacks.items():
        path = tmp_path / "cache" / "wheelnext" / "detect" / name
        path.unlink()
        path.write_text(content)
        path.chmod(mode)
        run = detect_in(healthy_venv, tmp_path, "--json")
        assert run.proc.returncode == 0, (attack, run.proc.stderr)
        assert run.result("fictional_hw")["features"][0]["values"] == ["gen2", "gen1"], attack
        assert run.proc.stderr == "", attack
    # a symbolic link in place of the file is not followed
    path = tmp_path / "cache" / "wheelnext" / "detect" / name
    decoy = tmp_path / "decoy.json"
    decoy.write_text(planted)
    decoy.chmod(0o600)
    path.unlink()
    path.symlink_to(decoy)
    run = detect_in(healthy_venv, tmp_path, "--json")
    assert run.result("fictional_hw")["features"][0]["values"] == ["gen2", "gen1"]


def test_closed_stdout_ends_quietly() -> None:
    """``wn-detect --json | head -c1``: the reader is gone before the answer is written."""
    proc = subprocess.Popen(
        [str(BIN / "wn-detect"), "--json", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert err == b""


# ------------------------------------------------------------------ wn install


@pytest.mark.skipif(not ON_X86, reason="the healthy provider here is the x86_64 one")
def test_wn_install_next_to_a_gil_holding_provider_still_gets_the_x86_64_variant(
    tmp_path: Path, server: Server, built: Path, venv: Path
) -> None:
    """Seen in thread mode: the GIL holder starved the x86_64 provider, so ``wn install``
    quietly installed the baseline wheel. Each provider in its own process: it cannot."""
    v1 = {"x86_64": {"level": ["v1"]}}
    server.index("pypi").add(
        build_wheel(built, "solo", "1.0", label="v1", properties=v1),
        build_wheel(built, "solo", "1.0"),
        variants_json(built, "solo", "1.0", {"v1": v1}, ["x86_64"]),
    )
    hostile = tmp_path / "hostile-site"
    hostile.mkdir()
    body, _, _ = HOSTILE["holds_gil"]
    source = provider_source("holds_gil", body)
    install(hostile, "hostile_holds_gil", source, "hostile-holds-gil", "holds_gil")
    python = str(venv / "bin" / "python")
    proc = wn(
        "install",
        "solo",
        "--index-url",
        server.url("pypi"),
        "--python",
        python,
        "--no-cache",
        PYTHONPATH=str(hostile),
        WHEELNEXT_NO_DETECT_CACHE="1",
    )
    assert proc.returncode == 0, proc.stderr
    installed = subprocess.run(
        [python, "-c", "import solo; print(solo.VARIANT)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.stdout.strip() == "v1", (installed.stdout, proc.stderr)
    assert (
        "wheelnext: warning: provider 'holds_gil' (hostile-holds-gil) failed: "
        "timed out after 5s (process killed)"
    ) in proc.stderr.splitlines()
