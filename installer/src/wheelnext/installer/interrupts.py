"""SIGINT and SIGTERM: both stop ``wn`` through KeyboardInterrupt (so a transaction rolls
back), and neither may stop a journal replay half-way."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

HELD = (signal.SIGINT, signal.SIGTERM)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does; the yielded list notes each
    SIGTERM, so the caller can exit 143 (128 + SIGTERM) rather than 130."""
    came: list[int] = []
    if not _main_thread():
        yield came
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        came.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_signals(*, deliver: bool = True) -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block; afterwards deliver the first that came to
    its usual handler (``deliver``), or drop it (the work it would stop is done)."""
    if not _main_thread():
        yield
        return
    came: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        came.append(signum)

    previous = {s: signal.signal(s, note) for s in HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if came and deliver:
        signal.raise_signal(came[0])
