"""What every command shares: the one-line error and exit-code conventions."""

from __future__ import annotations

import sys

from wheelnext.core.errors import one_line

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` on one line to stderr; return the bad-input status."""
    print(f"{prog}: error: {one_line(str(message), 2000)}", file=sys.stderr)
    return EXIT_BAD_INPUT
