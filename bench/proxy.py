"""Load on the variant-aware proxy: ``wn proxy`` (uvicorn, 1 and 2 workers) against
pypiserver (gunicorn + gevent, as its Docker image runs it) serving the same wheels.

A static PEP 503/691 index on 127.0.0.1 (the test suite's server, in its own process) is
the proxy's upstream: ``accel`` 1.0 as x86_64 level variants v1..v4, a null variant, a
non-variant wheel and its variants.json (plus a plain 0.9), and five plain projects; a few
MB of incompressible wheels. pypiserver serves the same wheels from a directory.

Clients: ``--concurrency`` httpx async clients (default 64) in this process, one
connection each, each taking the next request of a seeded list. Per server, after an
untimed check and warm-up, two timed phases of ``--requests`` (default 10,000) each:

- pages: project pages only, JSON and HTML Accept headers, for five profiles: the proxy's
  default (``/simple/``) and four ``wn-detect --profile-url`` tokens (``/p/TOKEN/simple/``);
  pypiserver answers its one plain ``/simple/`` page for every profile;
- mixed: the same with ``--file-share`` of the requests downloading a wheel listed on that
  profile's page.

All servers run at once; each phase is cut into ``--rounds`` and the servers take turns
(alternating order) on new connections, so changes in the machine's load fall on all.
Every answer is checked (status 200; pages byte-identical to the first one served; wheel
bytes against the page's sha256), and before timing each profile's page must offer the
variant that profile should get. Reports req/s, p50/p99 latency, errors (count and the
first distinct ones), the RSS of the server's process tree at the start, middle and end
of each phase (``/proc``), its CPU time per request, and proxy / pypiserver page
throughput (above 1: the proxy serves more). Exits non-zero, saying why, when any proxy
request failed or a profile got the wrong wheel. Servers are always stopped.
``--py-spy DIR`` samples the proxy during the timed phases and prints where time goes.

    .venv/bin/python bench/proxy.py [--requests 10000] [--concurrency 64] [--workers 1,2]
        [--pypiserver-workers 1,2] [--rounds 5] [--warmup 1000] [--file-share 0.25]
        [--phases pages,mixed] [--seed 15] [--py-spy DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urljoin

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.installer.envs import write_profile
from tests.installer.index import StaticIndex
from tests.installer.wheels import build_wheel, variants_json

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CACHE = ROOT / "bench" / ".cache"
PYPISERVER_VENV = CACHE / "pypiserver-venv"
# pypiserver as its Docker image runs it: gunicorn with gevent workers (docker/gunicorn.conf.py)
PY_SPY = "py-spy==0.4.3"
PYPISERVER_REQS = ["pypiserver[cache]==2.4.2", "gunicorn==27.0.1", "gevent==26.9.0"]
JSON_ACCEPT = (  # what pip 26 sends
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
HTML_ACCEPT = "text/html"
LEVELS = ["v1", "v2", "v3", "v4"]
PLAIN = {"numlib": 3, "webtool": 3, "utilpkg": 2, "clikit": 2, "datafmt": 2}  # name: versions
PROJECTS = ["accel", *PLAIN]
START_TIMEOUT = 60.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failed check or a server that would not start: one line for the user."""


# ---------------------------------------------------------------- the index


@dataclass(frozen=True)
class Profile:
    """One client population: the levels its machine supports and the variant it must get."""

    name: str
    levels: list[str] | None  # None: no x86_64 provider at all
    expect: str  # the label of accel 1.0 its page must offer
    token: str | None = None  # None: the proxy's default profile (/simple/)


PROFILES = [
    Profile("default (v1)", ["v1"], "v1"),
    Profile("v4", ["v4", "v3", "v2", "v1"], "v4"),
    Profile("v3", ["v3", "v2", "v1"], "v3"),
    Profile("v2", ["v2", "v1"], "v2"),
    Profile("no x86_64", None, "null"),
]


def build_index(work: Path, rnd: random.Random) -> tuple[list[Path], dict[str, str]]:
    """Write the wheels; return them (and accel's variants.json) and accel 1.0's sha256 by
    label ("" for the non-variant wheel)."""
    built = work / "built"

    def payload(name: str) -> dict[str, bytes]:
        return {f"{name}/_data.bin": rnd.randbytes(rnd.randrange(100_000, 400_000))}

    paths: list[Path] = []
    accel: dict[str, Path] = {}
    for level in LEVELS:
        props = {"x86_64": {"level": [level]}}
        accel[level] = build_wheel(
            built, "accel", "1.0", label=level, properties=props, files=payload("accel")
        )
    accel["null"] = build_wheel(
        built, "accel", "1.0", label="null", namespaces=["x86_64"], files=payload("accel")
    )
    accel[""] = build_wheel(built, "accel", "1.0", files=payload("accel"))
    paths += accel.values()
    variants: dict[str, Any] = {lv: {"x86_64": {"level": [lv]}} for lv in LEVELS}
    paths.append(variants_json(built, "accel", "1.0", {**variants, "null": {}}, ["x86_64"]))
    paths.append(build_wheel(built, "accel", "0.9", files=payload("accel")))
    for name, count in PLAIN.items():
        for minor in range(count):
            paths.append(build_wheel(built, name, f"1.{minor}", files=payload(name)))
    shas = {label: hashlib.sha256(p.read_bytes()).hexdigest() for label, p in accel.items()}
    return paths, shas


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(name: str, command: list[str], ready_url: str, log: Path) -> Iterator[int]:
    """Start ``command`` in its own process group, wait until ``ready_url`` answers 200,
    yield its pid; always stop the whole group (SIGTERM, then SIGKILL)."""
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=log.parent,
            )
        except OSError as exc:
            raise BenchError(f"cannot start {name}: {command[0]}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited ({proc.returncode}) at start: {tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer {ready_url} in time: {tail(log)}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
        os.killpg(proc.pid, signal.SIGKILL)


def tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()
    return " | ".join(lines[-5:]) or "(no output)"


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from ``/proc/*/stat``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def tree_usage(root: int) -> tuple[float, float]:
    """RSS (MiB) and CPU seconds (user + system) of ``root``'s live process tree."""
    rss = cpu = 0.0
    for pid in process_tree(root):
        try:
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        rss += pages * PAGE_SIZE / 2**20
        cpu += (int(fields[11]) + int(fields[12])) / TICKS
    return rss, cpu


def ensure_pypiserver() -> Path:
    """pypiserver, gunicorn and gevent in their own venv under bench/.cache (made once)."""
    gunicorn = PYPISERVER_VENV / "bin" / "gunicorn"
    if not gunicorn.exists():
        print(f"installing {', '.join(PYPISERVER_REQS)} into {PYPISERVER_VENV}", flush=True)
        shutil.rmtree(PYPISERVER_VENV, ignore_errors=True)
        install(PYPISERVER_VENV, PYPISERVER_REQS)
    if not gunicorn.exists():
        raise BenchError(f"could not install {', '.join(PYPISERVER_REQS)} into {PYPISERVER_VENV}")
    return gunicorn


def install(venv: Path, requirements: list[str]) -> None:
    """A venv of the base interpreter with ``requirements`` (the caller checks the result)."""
    base = getattr(sys, "_base_executable", sys.executable)
    if subprocess.run([base, "-m", "venv", str(venv)], check=False).returncode == 0:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *requirements]
        subprocess.run(pip, check=False)


def ensure_py_spy() -> Path:
    """py-spy in its own venv under bench/.cache (made once), for ``--py-spy``."""
    venv = CACHE / "tools-venv"
    py_spy = venv / "bin" / "py-spy"
    if not py_spy.exists():
        print(f"installing {PY_SPY} into {venv}", flush=True)
        install(venv, [PY_SPY])
    if not py_spy.exists():
        raise BenchError(f"could not install {PY_SPY} into {venv}")
    return py_spy


@contextlib.contextmanager
def spying(pid: int, out: Path) -> Iterator[None]:
    """Sample ``pid`` and its children with py-spy while the block runs (raw stacks)."""
    command = [str(ensure_py_spy()), "record", "--pid", str(pid), "--subprocesses"]
    command += ["--rate", "200", "--format", "raw", "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


OURS = re.compile(r" \((wheelnext/)?(core|installer)/")  # how py-spy names our files
# leaf frames of threads and processes that wait (py-spy counts some of them as active)
IDLE = (
    "Condition.wait ",
    "EpollSelector.select ",
    "Queue.get ",
    "Event.wait ",
    "_worker (concurrent/futures/thread.py",
    "WorkerThread.run ",
    "Connection._recv ",
)
ENTRY = ("main ", "main.<locals>", "_serve ", "serve ", "run_command ")  # below every stack


def hot_spots(raw: Path, top: int = 12) -> list[str]:
    """Where a py-spy raw profile's busy samples go: the functions that spend them
    (self), and wheelnext's own functions with everything they call (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";")[1:] if " (" in f]
        if not frames or not count.isdigit() or frames[-1].startswith(IDLE):
            continue
        n = int(count)
        busy += n
        own[frames[-1].rsplit(":", 1)[0] + ")"] += n
        ours = {f.rsplit(":", 1)[0] + ")" for f in frames if OURS.search(f)}
        for name in {f for f in ours if not f.startswith(ENTRY)}:
            inclusive[name] += n
    if not busy:
        return ["  (no busy samples)"]
    lines = [f"  {busy} busy samples; self time:"]
    lines += [f"    {n / busy:6.1%}  {name}" for name, n in own.most_common(top)]
    lines.append("  wheelnext functions, inclusive:")
    lines += [f"    {n / busy:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return lines


UPSTREAM = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from tests.installer.index import serve
with serve(Path(sys.argv[2])) as state:
    print(state.port, flush=True)
    while True:
        time.sleep(3600)
"""


@contextlib.contextmanager
def upstream(www: Path, log: Path) -> Iterator[str]:
    """The static index in its own process (the test suite's server); yields its URL."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM, str(ROOT), str(www)],
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.isdigit():
            raise BenchError(f"the upstream index did not start: {tail(log)}")
        yield f"http://127.0.0.1:{line}/bench/simple"
    finally:
        stop(proc)


# ---------------------------------------------------------------- targets


@dataclass
class Target:
    """A server under load: how to start it and how its URLs look."""

    name: str
    kind: str  # "proxy" or "pypiserver"
    workers: int
    base: str = ""
    pid: int = 0

    @property
    def slug(self) -> str:
        return self.name.replace(" (", "-").replace(" ", "-").rstrip(")")

    def page(self, profile: Profile, project: str) -> str:
        if self.kind == "proxy" and profile.token is not None:
            return f"{self.base}/p/{profile.token}/simple/{project}/"
        return f"{self.base}/simple/{project}/"

    @contextlib.contextmanager
    def running(self, work: Path, upstream_url: str, default: Path) -> Iterator[Target]:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        if self.kind == "proxy":
            command = [
                str(BIN / "wn"),
                "proxy",
                "--upstream",
                upstream_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(self.workers),
                "--properties",
                str(default),
                "--cache-dir",
                str(work / f"cache-{self.slug}"),
            ]
            ready = f"{self.base}/healthz"
        else:
            app = f"pypiserver:app(roots=[{str(work / 'packages')!r}])"
            command = [
                str(ensure_pypiserver()),
                "-k",
                "gevent",
                "-w",
                str(self.workers),
                "--preload",
                "-b",
                f"127.0.0.1:{port}",
                app,
            ]
            ready = f"{self.base}/simple/"
        with server(self.name, command, ready, work / f"{self.slug}.log") as pid:
            self.pid = pid
            yield self


# ---------------------------------------------------------------- pages


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((self._href, data.strip()))
            self._href = None


@dataclass(frozen=True, order=True)
class Listed:
    """A file as a page offers it: its name, absolute URL and sha256."""

    filename: str
    url: str
    sha256: str


def parse_page(url: str, response: httpx.Response) -> list[Listed]:
    """The files of a Simple API page, JSON (PEP 691) or HTML (PEP 503)."""
    if "json" in response.headers.get("content-type", ""):
        doc = response.json()
        return sorted(
            Listed(f["filename"], urljoin(url, f["url"]), f["hashes"].get("sha256", ""))
            for f in doc["files"]
        )
    parser = _Links()
    parser.feed(response.text)
    listed = []
    for href, text in parser.links:
        plain, fragment = urldefrag(urljoin(url, href))
        sha = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else ""
        listed.append(Listed(text, plain, sha))
    return sorted(listed)


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Op:
    """One request of the load, the same for every target: a page or a file on it."""

    profile: int
    project: str
    json: bool
    file: int | None  # index into the page's wheels; None: the page itself


def make_ops(rnd: random.Random, count: int, file_share: float) -> list[Op]:
    return [
        Op(
            rnd.randrange(len(PROFILES)),
            rnd.choice(PROJECTS),
            rnd.random() < 0.5,
            rnd.randrange(1000) if rnd.random() < file_share else None,
        )
        for _ in range(count)
    ]


@dataclass
class Expected:
    """What the untimed pass saw: page digests and the wheels each page lists."""

    pages: dict[tuple[int, str, bool], str] = field(default_factory=dict)
    files: dict[tuple[int, str], list[Listed]] = field(default_factory=dict)


@dataclass
class Phase:
    """One timed phase on one target, summed over its rounds."""

    name: str
    total: int  # requests planned
    done: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    kinds: list[bool] = field(default_factory=list)  # True: a page
    errors: Counter[str] = field(default_factory=Counter)
    rss: list[float] = field(default_factory=list)  # MiB at start, middle, end
    server_cpu: float = 0.0  # CPU seconds of the server's process tree
    client_cpu: float = 0.0  # CPU seconds of this process

    def rate(self, pages: bool | None = None) -> float:
        n = len(self.kinds) if pages is None else sum(k == pages for k in self.kinds)
        return n / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def fetch(client: httpx.AsyncClient, url: str, accept: str) -> httpx.Response:
    response = await client.get(url, headers={"Accept": accept})
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:120].strip()!r}")
    return response


async def discover(client: httpx.AsyncClient, target: Target, shas: dict[str, str]) -> Expected:
    """Fetch every page and wheel once (untimed): record what later answers must equal,
    check the wheels' bytes and, on the proxy, that each profile gets its variant."""
    expected = Expected()
    for p, profile in enumerate(PROFILES):
        for project in PROJECTS:
            url = target.page(profile, project)
            seen: dict[bool, list[Listed]] = {}
            for as_json in (True, False):
                response = await fetch(client, url, JSON_ACCEPT if as_json else HTML_ACCEPT)
                expected.pages[p, project, as_json] = hashlib.sha256(response.content).hexdigest()
                seen[as_json] = parse_page(url, response)
            if target.kind == "proxy":
                if [(f.filename, f.sha256) for f in seen[True]] != [
                    (f.filename, f.sha256) for f in seen[False]
                ]:
                    raise BenchError(f"{target.name}: {url}: JSON and HTML list different files")
                if project == "accel":
                    check_selection(target, profile=profile, url=url, listed=seen[True], shas=shas)
            wheels = [f for f in seen[True] if f.filename.endswith(".whl")]
            if not wheels:
                raise BenchError(f"{target.name}: {url} lists no wheel")
            expected.files[p, project] = wheels
            for listed in wheels:
                body = (await fetch(client, listed.url, "*/*")).content
                if hashlib.sha256(body).hexdigest() != listed.sha256:
                    raise BenchError(f"{target.name}: {listed.url}: bytes differ from the page")
    return expected


def check_selection(
    target: Target,
    *,
    profile: Profile,
    url: str,
    listed: list[Listed],
    shas: dict[str, str],
) -> None:
    """The profile's accel page offers exactly accel 1.0's ``profile.expect`` wheel."""
    offered = [f.sha256 for f in listed if f.sha256 in shas.values()]
    if offered != [shas[profile.expect]]:
        labels = {sha: label or "non-variant" for label, sha in shas.items()}
        got = ", ".join(labels[s] for s in offered) or "no accel 1.0 wheel"
        raise BenchError(
            f"{target.name}: profile {profile.name} ({url}) offers {got}, expected {profile.expect}"
        )


@contextlib.asynccontextmanager
async def connected(count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` fresh clients of one connection each (as separate machines are; httpx's
    pool also scans every connection of a pool per request). Fresh for every round: a
    connection left idle while other targets take their turn would meet the server's
    keep-alive timeout, a race no server can avoid (clients such as pip retry it)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(limits=limits, timeout=60.0, verify=False)
            )
            for _ in range(count)
        ]


async def load(
    clients: list[httpx.AsyncClient],
    *,
    target: Target,
    expected: Expected,
    ops: list[Op],
    phase: Phase,
) -> None:
    """Run ``ops``, one task per client; record into ``phase``."""
    queue = iter(ops)

    async def one(client: httpx.AsyncClient, op: Op) -> None:
        if op.file is None:
            url = target.page(PROFILES[op.profile], op.project)
            accept = JSON_ACCEPT if op.json else HTML_ACCEPT
        else:
            wheels = expected.files[op.profile, op.project]
            listed = wheels[op.file % len(wheels)]
            url, accept = listed.url, "*/*"
        start = time.perf_counter()
        try:
            response = await fetch(client, url, accept)
            digest = hashlib.sha256(response.content).hexdigest()
            if op.file is None and digest != expected.pages[op.profile, op.project, op.json]:
                raise BenchError(f"page differs from the first answer: {url}")
            if op.file is not None and digest != listed.sha256:
                raise BenchError(f"wheel bytes differ from the page's sha256: {url}")
        except (httpx.HTTPError, BenchError) as exc:
            kind = "page" if op.file is None else "file"
            phase.errors[f"{kind}: {type(exc).__name__}: {str(exc)[:160]}"] += 1
        phase.latencies.append(time.perf_counter() - start)
        phase.kinds.append(op.file is None)
        phase.done += 1
        if phase.done == phase.total // 2:
            phase.rss.append(tree_usage(target.pid)[0])

    async def worker(client: httpx.AsyncClient) -> None:
        for op in queue:
            await one(client, op)

    await asyncio.gather(*(worker(client) for client in clients))


async def timed(
    target: Target,
    *,
    expected: Expected,
    concurrency: int,
    ops: list[Op],
    phase: Phase,
) -> None:
    """One round of ``phase``: ``ops`` under load, with its wall and CPU time."""
    async with connected(concurrency) as clients:
        cpu = tree_usage(target.pid)[1]
        own = os.times()
        start = time.perf_counter()
        await load(clients, target=target, expected=expected, ops=ops, phase=phase)
        phase.elapsed += time.perf_counter() - start
        phase.server_cpu += tree_usage(target.pid)[1] - cpu
        after = os.times()
        phase.client_cpu += after.user + after.system - own.user - own.system


@dataclass
class Loaded:
    """A running target and what its answers must be."""

    target: Target
    expected: Expected


async def bench_all(
    targets: list[Target], shas: dict[str, str], args: argparse.Namespace
) -> dict[str, list[Phase]]:
    """Check and warm up every target, then run each phase in rounds, the targets taking
    turns (alternating order), so that load from elsewhere on the machine falls on all."""
    # httpcore tries ``import sniffio`` on every request when it is not installed (a failed
    # import searches sys.path each time: most of the client's CPU); answer it at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    rnd = random.Random(args.seed)
    warm_ops = make_ops(rnd, args.warmup, args.file_share)
    async with contextlib.AsyncExitStack() as stack:
        loaded = []
        for target in targets:
            async with connected(args.concurrency) as clients:
                expected = await discover(clients[0], target, shas)
                warm = Phase("warm-up", len(warm_ops))
                await load(clients, target=target, expected=expected, ops=warm_ops, phase=warm)
            if warm.errors:
                first = next(iter(warm.errors))
                count = sum(warm.errors.values())
                raise BenchError(f"{target.name}: {count} errors in warm-up: {first}")
            loaded.append(Loaded(target, expected))
            print(f"{target.name}: answers checked, warmed up", flush=True)
        results: dict[str, list[Phase]] = {t.name: [] for t in targets}
        if args.py_spy is not None:
            args.py_spy.mkdir(parents=True, exist_ok=True)
            for target in targets:
                if target.kind == "proxy":
                    out = args.py_spy / f"{target.slug}.raw"
                    stack.enter_context(spying(target.pid, out))
        shares = {"pages": 0.0, "mixed": args.file_share}
        for name in args.phases:
            share = shares[name]
            ops = make_ops(rnd, args.requests, share)
            phases = {t.name: Phase(name, len(ops)) for t in targets}
            for item in loaded:
                phases[item.target.name].rss.append(tree_usage(item.target.pid)[0])
            step = -(-len(ops) // args.rounds)
            for r in range(args.rounds):
                chunk = ops[r * step : (r + 1) * step]
                for item in loaded if r % 2 == 0 else loaded[::-1]:
                    await timed(
                        item.target,
                        expected=item.expected,
                        concurrency=args.concurrency,
                        ops=chunk,
                        phase=phases[item.target.name],
                    )
                print(f"{name}: round {r + 1}/{args.rounds} done", flush=True)
            for item in loaded:
                phases[item.target.name].rss.append(tree_usage(item.target.pid)[0])
                results[item.target.name].append(phases[item.target.name])
    return results


# ---------------------------------------------------------------- report


def report(results: dict[str, list[Phase]], out: IO[str]) -> None:
    header = (
        f"{'target':<22} {'phase':<6} {'req/s':>7} {'pages/s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'RSS MiB start/mid/end':>22} {'srv CPU':>7} "
        f"{'srv ms/req':>10} {'cli CPU':>7}"
    )
    print(header, file=out)
    for name, phases in results.items():
        for ph in phases:
            rss = "/".join(f"{r:.0f}" for r in ph.rss)
            print(
                f"{name:<22} {ph.name:<6} {ph.rate():7.0f} {ph.rate(True):8.0f} "
                f"{ph.percentile(0.5):7.1f} {ph.percentile(0.99):7.1f} "
                f"{sum(ph.errors.values()):6d} {rss:>22} "
                f"{ph.server_cpu / ph.elapsed:7.0%} {ph.server_cpu / ph.done * 1000:10.2f} "
                f"{ph.client_cpu / ph.elapsed:7.0%}",
                file=out,
            )
    for name, phases in results.items():
        for ph in phases:
            for error, count in list(ph.errors.items())[:5]:
                print(f"  {name} {ph.name}: {count} x {error}", file=out)
    peers = {n: ph for n, ph in results.items() if n.startswith("pypiserver")}
    for name, phases in results.items():
        if not name.startswith("proxy") or not peers:
            continue
        workers = name.split("(")[1]
        peer_name = next((p for p in peers if p.endswith("(" + workers)), next(iter(peers)))
        peer = peers[peer_name]
        ratios = "  ".join(
            f"{ph.name} {ph.rate(True) / pr.rate(True):.2f}"
            for ph, pr in zip(phases, peer, strict=True)
            if pr.rate(True)
        )
        print(f"page throughput {name} / {peer_name}: {ratios}", file=out)


def check(results: dict[str, list[Phase]]) -> list[str]:
    """Why the run fails (proxy errors), plus warnings for memory still growing."""
    problems = []
    for name, phases in results.items():
        for ph in phases:
            errors = sum(ph.errors.values())
            if errors and name.startswith("proxy"):
                problems.append(f"{name}: {errors} failed requests in phase {ph.name}")
            start, middle, end = ph.rss
            if end > middle * 1.10 + 8 and end > start * 1.10 + 8:
                print(
                    f"warning: {name} {ph.name}: RSS grew {start:.0f} -> {middle:.0f} -> "
                    f"{end:.0f} MiB",
                    file=sys.stderr,
                )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="per timed phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1000, help="untimed requests first")
    parser.add_argument("--file-share", type=float, default=0.25, help="downloads in 'mixed'")
    parser.add_argument("--workers", default="1,2", help="proxy worker counts ('' for none)")
    parser.add_argument("--pypiserver-workers", default="1,2", help="('' for none)")
    parser.add_argument("--phases", default="pages,mixed", help="timed phases, in order")
    parser.add_argument("--rounds", type=int, default=5, help="turns each target takes")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the proxy with py-spy during the timed phases; raw profiles into DIR",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.requests < 2 * args.rounds or args.concurrency < 1:
        parser.error("--rounds at least 1, --requests at least twice that, --concurrency >= 1")
    args.phases = args.phases.split(",")
    if not args.phases or not set(args.phases) <= {"pages", "mixed"}:
        parser.error("--phases takes pages, mixed or both, comma-separated")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if not 0.0 <= args.file_share <= 1.0:
        parser.error("--file-share must be between 0 and 1")
    try:
        targets = [
            Target(f"proxy ({n} worker{'s' * (n > 1)})", "proxy", n)
            for n in map(int, filter(None, args.workers.split(",")))
        ] + [
            Target(f"pypiserver ({n} worker{'s' * (n > 1)})", "pypiserver", n)
            for n in map(int, filter(None, args.pypiserver_workers.split(",")))
        ]
    except ValueError:
        parser.error("--workers and --pypiserver-workers take comma-separated integers")

    def interrupted(signum: int, frame: object) -> None:
        signal.raise_signal(signal.SIGINT)  # asyncio.run cancels its tasks on SIGINT

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started ignoring it
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return run(targets, args)
    except BenchError as exc:
        print(f"bench/proxy.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/proxy.py: interrupted; servers stopped", file=sys.stderr)
        return 130


def with_token(profile: Profile, path: Path) -> Profile:
    """``profile`` with the token ``wn-detect --profile-url`` gives for its saved file."""
    try:
        proc = subprocess.run(
            [str(BIN / "wn-detect"), "--profile-url", "--properties", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise BenchError(f"cannot run wn-detect: {exc.strerror}") from None
    token = proc.stdout.strip()
    if proc.returncode != 0 or not token:
        raise BenchError(f"wn-detect --profile-url failed: {proc.stderr.strip()[:300]}")
    return Profile(profile.name, profile.levels, profile.expect, token)


def run(targets: list[Target], args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="wn-bench-proxy-") as tmp:
        work = Path(tmp)
        wheels, shas = build_index(work, random.Random(args.seed))
        StaticIndex(work / "www", "bench", core_metadata=True).add(*wheels)
        (work / "packages").mkdir()
        for path in wheels:
            if path.suffix == ".whl":
                shutil.copy(path, work / "packages")
        size = sum(p.stat().st_size for p in wheels) / 2**20
        print(f"index: {len(wheels)} files, {size:.1f} MiB; {len(PROFILES)} profiles", flush=True)
        default = write_profile(work, PROFILES[0].levels)
        if any(t.kind == "proxy" for t in targets):
            PROFILES[1:] = [with_token(p, write_profile(work, p.levels)) for p in PROFILES[1:]]
        with contextlib.ExitStack() as servers:
            upstream_url = servers.enter_context(upstream(work / "www", work / "upstream.log"))
            for target in targets:
                print(f"{target.name}: starting", flush=True)
                servers.enter_context(target.running(work, upstream_url, default))
            results = asyncio.run(bench_all(targets, shas, args))
            if args.py_spy is not None:
                for target in targets:
                    raw = args.py_spy / f"{target.slug}.raw"
                    if raw.is_file():
                        print(f"\n{target.name}, py-spy ({raw}):")
                        print("\n".join(hot_spots(raw)))
    print(
        f"\n{args.requests} requests per phase in {args.rounds} rounds, {args.concurrency} "
        f"concurrent clients, {args.warmup} untimed first; mixed: {args.file_share:.0%} "
        "wheel downloads"
    )
    report(results, sys.stdout)
    problems = check(results)
    for problem in problems:
        print(f"bench/proxy.py: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
