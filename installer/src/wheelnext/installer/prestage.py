"""Unpacking downloaded wheels into the cache while the rest of the plan downloads.

Each wheel, once downloaded and its hash verified, is inspected
(``archive.inspect_archive``) and unpacked into the unpacked-wheel cache
(``unpacked_cache``) by a few threads of its own, so the install that follows finds every
entry built. This only adds cache entries, built as always (whole or absent, every member
checked against RECORD): nothing becomes visible in an environment, and the install still
makes all of its checks. A failure is not reported here: the install meets the same wheel
again and reports it in its own order, as it would have.
"""

from __future__ import annotations

import heapq
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType

from wheelnext.installer.archive import inspect_archive
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import FileIdentity, verified_identity
from wheelnext.installer.interrupts import deferred_signals
from wheelnext.installer.staging import Stopped, expected_members
from wheelnext.installer.unpacked_cache import UnpackedCache

WORKERS = 4  # wheels unpacked at once (as ``transaction.STAGERS``)


class Prestager:
    """Builds cache entries for wheels handed to ``add`` (from any thread) until
    ``finish`` (every entry begun is ended) or ``cancel`` (queued ones dropped, running
    ones stopped); used as a context manager, an exception cancels."""

    def __init__(self, cache: Path, workers: int = WORKERS) -> None:
        self.cache = UnpackedCache(cache)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="wn-prestage")
        self._futures: list[Future[None]] = []
        self._queue: list[tuple[int, int, Path, FileIdentity]] = []  # a heap, largest first
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def add(self, wheel: Path) -> None:
        """Queue ``wheel`` (downloaded and verified, as it is now) for the cache; the
        largest queued wheel is the next begun (downloads end smallest first, and a large
        wheel begun last would unpack alone while the rest of the install waits)."""
        try:
            expect = verified_identity(wheel)  # as its hash was checked
        except InstallerError:
            return  # the install will say what is wrong with it
        with self._lock:
            if not self._stop.is_set():
                size = expect[2]  # st_size
                heapq.heappush(self._queue, (-size, len(self._futures), wheel, expect))
                self._futures.append(self._pool.submit(self._next))

    def _next(self) -> None:
        """Build the largest wheel queued (each ``add`` submits one call of this)."""
        with self._lock:
            if self._stop.is_set() or not self._queue:
                return
            _, _, wheel, expect = heapq.heappop(self._queue)
        try:
            info = inspect_archive(wheel)
            self.cache.get(wheel, info, expected_members(info), expect, self._stop)
        except (InstallerError, Stopped):
            pass  # reported by the install, which unpacks it again

    def finish(self) -> None:
        """Wait for every wheel added so far; interrupted meanwhile, ``cancel``."""
        try:
            with self._lock:
                futures = list(self._futures)
            wait(futures)
        except BaseException:
            self.cancel()
            raise
        self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Drop the wheels not begun, stop the ones being unpacked and wait for them (a
        second Ctrl-C meanwhile waits too: their temporary trees are removed first)."""
        with self._lock:
            self._stop.set()
            for future in self._futures:
                future.cancel()
        with deferred_signals():
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Prestager:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.cancel()
