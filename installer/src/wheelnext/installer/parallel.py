"""Independent calls on a few threads (downloads, unpacking): results in order, the first
failure raised at once, and nothing left running behind the caller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from wheelnext.installer.interrupts import deferred_signals

T = TypeVar("T")


def run_all(
    calls: Sequence[Callable[[], T]],
    workers: int,
    stop: threading.Event | None = None,
    name: str = "wn-worker",
    stopped: tuple[type[BaseException], ...] = (),
) -> list[T]:
    """Each call's result, in order, from up to ``workers`` threads. When a call fails (or
    the waiting thread is interrupted) ``stop`` is set for the calls that watch it, calls
    not yet started never start, the running ones are waited for, and the failure is
    raised: the first in order among the calls that had failed by then. A failure of a
    ``stopped`` type is a call giving up because ``stop`` was set: once every call has
    ended, another call's failure, if any, is raised instead."""
    if workers <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(min(workers, len(calls)), thread_name_prefix=name) as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                error = future.exception() if future.done() and not future.cancelled() else None
                if error is not None:
                    raise error
            return [future.result() for future in futures]
        except BaseException as failure:
            if stop is not None:
                stop.set()
            for future in futures:
                future.cancel()
            # the running calls end before the caller rolls back what they write to; a
            # second Ctrl-C meanwhile waits for them instead of cutting the wait short
            with deferred_signals():
                wait(futures)
            if isinstance(failure, stopped):  # a call told to stop: report what stopped it
                for future in futures:
                    error = future.exception() if not future.cancelled() else None
                    if error is not None and not isinstance(error, stopped):
                        raise error from None
            raise
