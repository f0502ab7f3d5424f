"""Subprocess side of ``isolation="subprocess"``: run one provider, print its result as JSON.

Reads the request (the provider source, its environment and system root) from stdin;
the parent enforces the time limit by killing this process. stdout carries only the
JSON answer.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from wheelnext.core.detection import run_source
from wheelnext.core.discovery import ProviderSource
from wheelnext.core.providers import DetectContext


def main() -> int:
    request = json.load(sys.stdin)
    source = ProviderSource(
        request["name"],
        request["ref"],
        request["kind"],
        request["distribution"],
        request["version"],
    )
    context = DetectContext(environ=request["environ"], sysroot=Path(request["sysroot"]))
    with contextlib.redirect_stdout(sys.stderr):  # a chatty provider must not corrupt the answer
        result = run_source(source, context)
    json.dump(result.to_json(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
