"""The installer's errors: one line each, naming the index, file or project at fault."""

from __future__ import annotations

from wheelnext.core.errors import WheelnextError


class InstallerError(WheelnextError):
    """Anything that stops an install before or while it writes (nothing is left half-done)."""


class IndexUnavailable(InstallerError):
    """An index (or a whole index group) could not be read."""


class ResolutionImpossible(InstallerError):
    """No set of versions satisfies the requirements."""


class TooLarge(InstallerError):
    """An answer (or a local file) is larger than the limit it was read with."""
