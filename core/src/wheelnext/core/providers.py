"""Values that providers return to core through the hooks in ``hookspecs``.

A provider *declares* every feature it knows with every valid value (``ProviderDescription``)
and *detects* what this machine supports (a sequence of ``DetectedFeature``, best first,
or ``Absent`` when its hardware is not there).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wheelnext.core.errors import ProviderError
from wheelnext.core.properties import validate_feature_name, validate_namespace, validate_value


@dataclass(frozen=True, slots=True)
class FeatureDeclaration:
    """One feature a provider knows: every valid value, and whether wheels may list several.

    ``values`` is in the provider's preference order, best first; ``multi_value`` says
    whether a single wheel may list more than one value of this feature.
    """

    name: str
    values: tuple[str, ...]
    multi_value: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        validate_feature_name(self.name)
        if not self.values:
            raise ProviderError(f"feature {self.name!r} declares no values")
        for value in self.values:
            validate_value(value)
        if len(set(self.values)) != len(self.values):
            raise ProviderError(f"feature {self.name!r} declares a value twice")


@dataclass(frozen=True, slots=True)
class ProviderDescription:
    """What ``wheelnext_provider()`` returns: the namespace and its declared features."""

    namespace: str
    description: str
    features: tuple[FeatureDeclaration, ...]

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ProviderError(f"namespace {self.namespace!r} declares a feature twice")

    def feature(self, name: str) -> FeatureDeclaration | None:
        """The declaration of feature ``name``, or None if it is not declared."""
        return next((f for f in self.features if f.name == name), None)


@dataclass(frozen=True, slots=True)
class DetectedFeature:
    """A supported feature and its supported values on this machine, best first."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Absent:
    """The provider's hardware is not present: a normal answer, not a failure."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class DetectContext:
    """What a provider may consult besides the hardware itself.

    ``environ`` holds the environment (read overrides from it, not from ``os.environ``);
    ``sysroot`` prefixes ``/proc`` and ``/sys`` paths so recorded trees can stand in for
    the live machine through the same code.
    """

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    sysroot: Path = Path("/")

    def path(self, absolute: str) -> Path:
        """``absolute`` (e.g. ``/proc/cpuinfo``) resolved under ``sysroot``."""
        return self.sysroot / absolute.lstrip("/")

    @property
    def live(self) -> bool:
        """True when reading this machine itself, not a recorded tree under ``sysroot``."""
        return self.sysroot == Path("/")

    def setting(self, *variables: str) -> tuple[str, str] | None:
        """The first of ``variables`` set to a non-blank value: (name, stripped value).

        Overrides often have our name and a public provider's alias; the first one wins.
        """
        for name in variables:
            value = self.environ.get(name, "").strip()
            if value:
                return name, value
        return None

    def tokens(self, variable: str) -> list[str] | None:
        """Environment variable ``variable`` split on commas, semicolons and spaces; None if
        unset or blank. The common shape of overrides (``WHEELNEXT_X86_64_PIN="v3,sha_ni"``).
        """
        return split_tokens(self.environ.get(variable, "")) or None


def split_tokens(text: str) -> list[str]:
    """``text`` split on commas, semicolons and whitespace, empty pieces dropped."""
    return [t for t in re.split(r"[\s,;]+", text) if t]
