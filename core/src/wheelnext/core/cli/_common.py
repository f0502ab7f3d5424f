"""What every command shares: the one-line error, warning and exit-code conventions."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from wheelnext.core.errors import one_line

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import TextIO

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` on one line to stderr; return the bad-input status."""
    print(f"{prog}: error: {one_line(str(message), 2000)}", file=sys.stderr)
    return EXIT_BAD_INPUT


@contextlib.contextmanager
def warnings_as_lines(prog: str) -> Iterator[None]:
    """While a command runs, print each Python warning it raises (``MetadataWarning``...)
    as one ``prog: warning: message`` line on stderr, as errors are printed, instead of
    Python's two lines naming a source file and line the user never wrote."""
    import warnings

    def show(  # noqa: PLR0917 -- warnings.showwarning's own signature
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"{prog}: warning: {one_line(str(message), 2000)}", file=file or sys.stderr)

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
