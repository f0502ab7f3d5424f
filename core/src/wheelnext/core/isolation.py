"""The parent side of provider isolation: one child process per provider, a hard deadline.

Each child runs in its own session (so its process group holds whatever it forks),
answers over a dedicated pipe, and has fds 1 and 2 on another pipe that is read as the
provider's output. When a child exits, or at the deadline, its whole process group is
killed with SIGKILL, so nothing it started outlives detection. Children are forked from
this process on Linux when it has no other thread (fast: no interpreter start, no
re-import) and spawned as fresh interpreters otherwise. What a child says is validated
like a profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wheelnext.core import safejson
from wheelnext.core.answers import result_from_json
from wheelnext.core.detection import failed, warn
from wheelnext.core.discovery import ProviderSource
from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.providers import DetectContext
from wheelnext.core.supported import ProviderResult

MAX_ANSWER = 1024 * 1024
MAX_OUTPUT = 64 * 1024
REAP_GRACE = 0.5  # seconds to wait for SIGKILLed children to be reaped
_CHUNK = 65536
_STOP = frozenset({signal.SIGINT, signal.SIGTERM})  # held back while children start


@dataclass
class _Child:
    source: ProviderSource
    pid: int
    answer_fd: int
    output_fd: int
    pidfd: int | None
    answer: bytearray = field(default_factory=bytearray)
    output: bytearray = field(default_factory=bytearray)
    status: int | None = None  # the wait status once reaped
    timed_out: bool = False


def _kill_group(pid: int) -> None:
    """SIGKILL the process group of ``pid`` (the child leads it until it is reaped)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _fork_child(
    source: ProviderSource,
    context: DetectContext,
    answer_w: int,
    output_w: int,
    *,
    close: list[int],
    mask: Iterable[int],
) -> int:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(OSError, ValueError):
            if stream is not None:
                stream.flush()  # or the child repeats what this process had buffered
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: its own session, fds 0-2 away from ours, nothing of the others
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        for fd in (null, output_w, *close):
            os.close(fd)
        for signum in _STOP:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        from wheelnext.core._isolated_child import serve

        serve(source, context, answer_w)
    finally:
        os._exit(70)


def _spawn_child(
    source: ProviderSource,
    context: DetectContext,
    answer_w: int,
    output_w: int,
    mask: Iterable[int],
) -> int:
    from wheelnext.core._isolated_child import ANSWER_FD

    request = json.dumps(
        {
            "name": source.name,
            "ref": source.ref,
            "kind": source.kind,
            "distribution": source.distribution,
            "version": source.version,
            "sysroot": str(context.sysroot),
            "environ": dict(context.environ),
        }
    ).encode()
    if hasattr(os, "memfd_create"):
        request_fd = os.memfd_create("wheelnext-request")
    else:
        import tempfile

        with tempfile.TemporaryFile() as file:
            request_fd = os.dup(file.fileno())
    try:
        os.write(request_fd, request)
        os.lseek(request_fd, 0, os.SEEK_SET)
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "wheelnext.core._isolated_child"],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, request_fd, 0),
                (os.POSIX_SPAWN_DUP2, output_w, 1),
                (os.POSIX_SPAWN_DUP2, output_w, 2),
                (os.POSIX_SPAWN_DUP2, answer_w, ANSWER_FD),
            ],
            setsid=True,
            setsigmask=mask,
        )
    finally:
        os.close(request_fd)


def _start(
    source: ProviderSource,
    context: DetectContext,
    spawn: bool,
    parent_fds: list[int],
    mask: Iterable[int],
) -> _Child | ProviderResult:
    answer_r, answer_w = os.pipe()
    output_r, output_w = os.pipe()
    try:
        if spawn:
            pid = _spawn_child(source, context, answer_w, output_w, mask)
        else:
            close = [answer_r, output_r, *parent_fds]
            pid = _fork_child(source, context, answer_w, output_w, close=close, mask=mask)
    except OSError as exc:
        for fd in (answer_r, output_r):
            os.close(fd)
        return failed(source, f"cannot start its process: {exc.strerror or exc}")
    finally:
        os.close(answer_w)
        os.close(output_w)
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    os.set_blocking(answer_r, False)
    os.set_blocking(output_r, False)
    parent_fds += [answer_r, output_r] + ([pidfd] if pidfd is not None else [])
    return _Child(source, pid, answer_r, output_r, pidfd)


def _read(fd: int, into: bytearray, cap: int) -> bool:
    """Read what ``fd`` has into ``into`` (beyond ``cap`` is dropped); False at EOF."""
    while True:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        if len(into) < cap:
            into += data[: cap - len(into)]


def _exited(child: _Child) -> bool:
    """Whether the child has ended (it stays a zombie, so its pid is not reused)."""
    try:
        return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _reap(child: _Child) -> None:
    """Kill the child's group (what it forked), then reap the child."""
    _kill_group(child.pid)  # before waitpid: the pid cannot be reused while a zombie
    try:
        child.status = os.waitpid(child.pid, 0)[1]
    except ChildProcessError:
        child.status = -1


def _finish(child: _Child) -> None:
    """Collect the last bytes a reaped child left in its pipes, then close them."""
    _read(child.answer_fd, child.answer, MAX_ANSWER + 1)
    _read(child.output_fd, child.output, MAX_OUTPUT)
    for fd in (child.answer_fd, child.output_fd, child.pidfd):
        if fd is not None:
            os.close(fd)


def _wait(children: list[_Child], deadline: float) -> None:
    """Read every child's pipes until it exits or the deadline passes; reap them all."""
    selector = selectors.DefaultSelector()
    for child in children:
        selector.register(child.answer_fd, selectors.EVENT_READ, (child, "answer"))
        selector.register(child.output_fd, selectors.EVENT_READ, (child, "output"))
        if child.pidfd is not None:
            selector.register(child.pidfd, selectors.EVENT_READ, (child, "exit"))
    polling = any(child.pidfd is None for child in children)
    running = list(children)
    while running:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for key, _ in selector.select(min(remaining, 0.01) if polling else remaining):
            child, what = key.data
            if what == "answer" and not _read(child.answer_fd, child.answer, MAX_ANSWER + 1):
                selector.unregister(child.answer_fd)
            elif what == "output" and not _read(child.output_fd, child.output, MAX_OUTPUT):
                selector.unregister(child.output_fd)
        for child in [c for c in running if _exited(c)]:
            running.remove(child)
            for fd in (child.answer_fd, child.output_fd, child.pidfd):
                if fd is not None and fd in selector.get_map():
                    selector.unregister(fd)
            _reap(child)
            _finish(child)
    selector.close()
    for child in running:  # past the deadline
        child.timed_out = True
        _kill_group(child.pid)
    grace = time.monotonic() + REAP_GRACE
    for child in running:
        while not _exited(child) and time.monotonic() < grace:
            time.sleep(0.005)
        if _exited(child):
            _reap(child)
        _finish(child)


def _describe_exit(status: int | None) -> str:
    if status is None or status < 0:
        return "vanished without answering"
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"crashed: killed by {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"exited with status {code} without answering"


def _output_text(child: _Child) -> str:
    """The provider's own output as one sanitised line (its end, where errors are)."""
    text = one_line(child.output.decode("utf-8", "replace"), 10 * MAX_OUTPUT)
    return text if len(text) <= 300 else "…" + text[-299:]


def _result(child: _Child, timeout: float) -> ProviderResult:
    source = child.source
    output = _output_text(child)
    if child.timed_out:
        reason = f"timed out after {timeout:g}s (process killed)"
    elif len(child.answer) > MAX_ANSWER:
        reason = f"answer exceeds {MAX_ANSWER} bytes"
    elif child.answer:
        try:
            doc = safejson.loads(bytes(child.answer), "answer", max_bytes=MAX_ANSWER, max_depth=8)
            result = result_from_json(doc, source.distribution, source.version)
        except WheelnextError as exc:
            reason = f"answered garbage: {one_line(str(exc), 200)}"
        else:
            if output:
                warn(f"provider {_who(source, result.namespace)} wrote: {output}")
            return result
    else:
        reason = _describe_exit(child.status)
    if output:
        reason += f"; its output ends: {output}"
    return failed(source, reason)


def _who(source: ProviderSource, namespace: str) -> str:
    return f"'{namespace}' ({source.distribution or source.ref})"


def run_isolated(
    sources: Sequence[ProviderSource],
    context: DetectContext,
    timeout: float,
    *,
    spawn: bool = False,
) -> list[ProviderResult]:
    """Run each source in its own child process, all at once, each until ``timeout``."""
    if not hasattr(os, "posix_spawn"):  # no fork, no posix_spawn: no isolation possible
        from wheelnext.core.detection import _run_in_threads

        return _run_in_threads(sources, context, timeout)
    # fork only where it is safe: Linux (no Objective-C runtime), and no other thread
    spawn = spawn or sys.platform != "linux" or threading.active_count() > 1
    if not spawn:
        import pluggy  # noqa: F401 - imported once here rather than in every child

        import wheelnext.core._isolated_child  # noqa: F401
    deadline = time.monotonic() + timeout
    parent_fds: list[int] = []
    started: list[_Child | ProviderResult] = []
    try:
        # Ctrl-C waits until every child is known, so that none escapes the kill below
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
        try:
            for source in sources:
                started.append(_start(source, context, spawn, parent_fds, mask))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _wait([c for c in started if isinstance(c, _Child)], deadline)
    except BaseException:  # Ctrl-C in the caller: no provider process outlives it
        for child in started:
            if isinstance(child, _Child) and child.status is None:
                _kill_group(child.pid)
        raise
    return [c if isinstance(c, ProviderResult) else _result(c, timeout) for c in started]
