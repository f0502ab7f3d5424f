"""The child side of provider isolation: run one provider, write its answer to a pipe.

``serve`` runs in a forked child (``isolation="process"``) or, through ``main``, in a
fresh interpreter (``python -m wheelnext.core._isolated_child FD`` with the request as
JSON on stdin, ``isolation="subprocess"``). fds 1 and 2 go to a pipe the parent reads as
the provider's output; only the answer pipe carries the JSON answer, so nothing a
provider prints can corrupt it. The child always ends with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from wheelnext.core.detection import error_text, failed, run_source
from wheelnext.core.discovery import ProviderSource
from wheelnext.core.providers import DetectContext

ANSWER_FD = 3  # where a spawned child finds its answer pipe


def serve(source: ProviderSource, context: DetectContext, answer_fd: int) -> NoReturn:
    """Run ``source``, write its result as JSON to ``answer_fd``, and ``os._exit``."""
    dumps, write, close, exit_now = json.dumps, os.write, os.close, os._exit  # bound before
    streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)  # the provider runs
    try:
        doc = run_source(source, context).to_json()
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: this provider's status
        doc = failed(source, error_text(exc)).to_json()
    try:
        data = memoryview(dumps(doc).encode("utf-8"))
        while data:
            data = data[write(answer_fd, data) :]
        close(answer_fd)
    except BaseException:  # the parent reports a missing answer
        pass
    for stream in streams:
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # a hostile provider's output may be lost
            pass
    exit_now(0)


def main() -> NoReturn:
    """Entry of a spawned child: the request is JSON on stdin, the answer pipe is fd 3."""
    request = json.load(sys.stdin)
    source = ProviderSource(
        request["name"],
        request["ref"],
        request["kind"],
        request["distribution"],
        request["version"],
    )
    context = DetectContext(environ=request["environ"], sysroot=Path(request["sysroot"]))
    sys.stdout = sys.stderr  # a chatty provider's print goes with its other output
    serve(source, context, ANSWER_FD)


if __name__ == "__main__":
    main()
