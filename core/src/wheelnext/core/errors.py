"""Exception types of wheelnext-core; each message is one line that names the bad input."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
MAX_LINE = 500
# the user-info part of any URL in a text: "scheme://user:secret@" (up to the host)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: ``https://***@host/``.
    Every message that may carry a URL (errors, warnings) goes through this."""
    return _USERINFO.sub(r"\1***@", text)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` from outside (a provider, a server, an archive) made safe to print: control
    and bidi characters become spaces, whitespace collapses, URL credentials are masked
    (``redact_urls``), and it is cut at ``limit``."""
    flat = redact_urls(" ".join(_CONTROL.sub(" ", text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class WheelnextError(Exception):
    """Base class of every error wheelnext raises on purpose."""


class InvalidPropertyError(WheelnextError, ValueError):
    """A namespace, feature, value or property string breaks the standard's grammar."""


class InvalidLabelError(WheelnextError, ValueError):
    """A variant label breaks the standard's grammar or the null-label rules."""


class InvalidFilenameError(WheelnextError, ValueError):
    """A wheel or ``*-variants.json`` filename cannot be parsed."""


class MarkerError(WheelnextError, ValueError):
    """A dependency marker cannot be parsed or uses a variant marker wrongly."""


class ConfigError(WheelnextError):
    """The user configuration file or an environment override is invalid."""


class MetadataError(WheelnextError):
    """Variant metadata (``variant.json``, ``*-variants.json``, a profile) is invalid.

    ``source`` names the file (or other origin) so the one-line message says where.
    """

    def __init__(self, problem: str, source: str | None = None) -> None:
        self.problem = problem
        self.source = source
        super().__init__(f"{source}: {problem}" if source else problem)

    def with_source(self, source: str) -> MetadataError:
        """Return the same error attributed to ``source`` (keeps the subclass)."""
        return type(self)(self.problem, source)


class UnknownSchemaVersionError(MetadataError):
    """The ``$schema`` names a metadata format version this library does not support."""


class InconsistentMetadataError(MetadataError):
    """Two metadata documents cannot be combined under the standard's merge rules."""


class ProviderError(WheelnextError):
    """A provider could not be loaded, or answered outside its contract."""
