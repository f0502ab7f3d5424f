"""``parallel.run_all``: results in order; the first failure raised at once, the calls
that watch ``stop`` stopped, calls not yet started never started."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wheelnext.installer.parallel import run_all


def test_results_come_in_the_order_of_the_calls() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(30)
        return "first"

    def fast() -> str:
        release.set()
        return "second"

    assert run_all([slow, fast], workers=2) == ["first", "second"]


def test_a_failure_is_raised_while_an_earlier_call_still_runs_and_stops_the_rest() -> None:
    stop = threading.Event()
    started: list[int] = []

    def held() -> int:
        started.append(0)
        if not stop.wait(30):  # run_all must stop it: the failure does not wait for it
            raise AssertionError("never stopped")
        return 0

    def bad() -> int:
        started.append(1)
        raise ValueError("member 7 does not match RECORD")

    def later(n: int) -> Callable[[], int]:
        def call() -> int:
            started.append(n)
            stop.wait(30)  # holds its thread, so the calls queued behind it wait
            return n

        return call

    calls = [held, bad, *(later(n) for n in range(2, 40))]
    with pytest.raises(ValueError, match="member 7"):
        run_all(calls, workers=2, stop=stop)
    assert stop.is_set()
    assert started[:2] in ([0, 1], [1, 0])
    assert len(started) <= 3  # at most one queued call began; the rest were cancelled


def test_one_worker_runs_the_calls_in_this_thread() -> None:
    here = threading.get_ident()
    assert run_all([threading.get_ident, threading.get_ident], workers=1) == [here, here]


def test_an_interrupt_after_a_failure_waits_for_the_running_calls() -> None:
    """After a failure, a Ctrl-C while the running calls finish does not cut the wait
    short (the caller then removes what they write to): it comes once they are done."""
    import os
    import signal
    import time

    finished = threading.Event()

    def bad() -> None:
        raise ValueError("bad wheel")

    def busy() -> None:
        time.sleep(1.0)
        finished.set()

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_all([busy, bad], workers=2)
    finally:
        timer.cancel()
    assert finished.is_set()


def test_the_journal_begins_once_when_threads_stage_together(tmp_path: Path) -> None:
    """Several unpacking threads ask for the staging directory at once: one journal."""
    from wheelnext.installer.journal import Journal
    from wheelnext.installer.target import probe

    for attempt in range(20):
        journal = Journal(probe(None, tmp_path / str(attempt)))
        barrier = threading.Barrier(8)

        def ask(journal: Journal = journal, barrier: threading.Barrier = barrier) -> Path:
            barrier.wait()
            return journal.staging()

        assert set(run_all([ask] * 8, workers=8)) == {journal.staging_root}
        journal.rollback()
        assert list((tmp_path / str(attempt)).iterdir()) == []


def test_a_call_that_gave_up_because_of_another_reports_the_other() -> None:
    """A call that ends first with a ``stopped`` failure (it saw the stop another call's
    failure set) is not what is reported: once every call has ended, the failure that
    stopped it is."""

    class GaveUp(Exception):
        pass

    stop = threading.Event()
    real_failure_set_stop = threading.Event()

    def real() -> str:
        stop.set()  # as a failing call's own ``except`` does, before it is raised
        real_failure_set_stop.set()
        time.sleep(0.3)  # ... and its future is marked failed only later
        raise ValueError("the real failure")

    def gives_up() -> str:
        real_failure_set_stop.wait(5)
        raise GaveUp

    with pytest.raises(ValueError, match="the real failure"):
        run_all([gives_up, real], workers=2, stop=stop, stopped=(GaveUp,))
    stop.clear()
    real_failure_set_stop.clear()
    with pytest.raises(GaveUp):  # without ``stopped``: the first failure seen, as before
        run_all([gives_up, real], workers=2, stop=stop)
