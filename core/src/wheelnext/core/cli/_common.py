"""What every command shares: the one-line error, warning and exit-code conventions."""

from __future__ import annotations

import sys

from wheelnext.core.errors import one_line

TYPE_CHECKING = False  # not typing's: wn-detect's start-up must not import typing
if TYPE_CHECKING:
    from types import TracebackType
    from typing import TextIO

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` on one line to stderr; return the bad-input status."""
    print(f"{prog}: error: {one_line(str(message), 2000)}", file=sys.stderr)
    return EXIT_BAD_INPUT


class warnings_as_lines:  # lower case: used like the function it was, ``with ...(prog):``
    """While a command runs, print each Python warning it raises (``MetadataWarning``...)
    as one ``prog: warning: message`` line on stderr, as errors are printed, instead of
    Python's two lines naming a source file and line the user never wrote. A class, not
    ``contextlib.contextmanager``: this module stays free of imports at its top."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    def _show(  # noqa: PLR0917 -- warnings.showwarning's own signature
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"{self.prog}: warning: {one_line(str(message), 2000)}", file=file or sys.stderr)

    def __enter__(self) -> None:
        import warnings

        self._previous = warnings.showwarning
        warnings.showwarning = self._show

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import warnings

        warnings.showwarning = self._previous
