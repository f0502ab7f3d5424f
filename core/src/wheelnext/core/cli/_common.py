"""What every command shares: the one-line error and exit-code conventions."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` on one line to stderr; return the bad-input status."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_BAD_INPUT
