"""The Arm knowledge in ``data/arch.toml``: architecture versions and hwcap features.

Versions are computed from features (hwcaps), never from the core's model name, so an
unknown or newer core still gets the version its features prove; a newer version
includes the older ones it is built on (9.2a includes 9.1a, 9.0a, 8.7a … 8a).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from wheelnext.core.errors import ProviderError
from wheelnext.core.providers import DetectedFeature


@dataclass(frozen=True, slots=True)
class Version:
    """An architecture version: the versions it includes and the hwcaps that witness it."""

    name: str
    includes: tuple[str, ...]
    witness: frozenset[str]


@dataclass(frozen=True, slots=True)
class ArchTable:
    """Versions best first and published features in preference order."""

    versions: tuple[Version, ...]
    features: tuple[str, ...]

    @property
    def version_values(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.versions)

    def _by_name(self) -> dict[str, Version]:
        return {v.name: v for v in self.versions}

    def closure(self, name: str) -> list[str]:
        """``name`` and every version it includes, directly or not."""
        by_name, seen, todo = self._by_name(), [], [name]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.append(current)
                todo.extend(by_name[current].includes)
        return seen

    def supported_versions(self, hwcaps: frozenset[str]) -> tuple[str, ...]:
        """Every version whose witnesses, and its included versions' witnesses, are present."""
        by_name = self._by_name()
        return tuple(
            v.name
            for v in self.versions
            if all(by_name[n].witness <= hwcaps for n in self.closure(v.name))
        )

    def detected(self, hwcaps: frozenset[str]) -> list[DetectedFeature]:
        """``version`` best first, then each published hwcap present, ``on``."""
        answer = [DetectedFeature("version", self.supported_versions(hwcaps))]
        answer += [DetectedFeature(name, ("on",)) for name in self.features if name in hwcaps]
        return answer

    def pinned(self, tokens: Iterable[str], variable: str) -> frozenset[str]:
        """The hwcaps an override names: a version brings its witnesses, a feature adds itself.

        Raises ``ProviderError`` naming ``variable`` for an unknown token.
        """
        by_name, known = self._by_name(), set(self.features)
        hwcaps: set[str] = set()
        for token in tokens:
            if token in by_name:
                for name in self.closure(token):
                    hwcaps |= by_name[name].witness
            elif token in known:
                hwcaps.add(token)
            else:
                raise ProviderError(
                    f"{variable}: unknown token {token!r} "
                    "(expected a version such as 8.2a or an aarch64 feature)"
                )
        return frozenset(hwcaps)


@cache
def arch_table() -> ArchTable:
    """The table in ``data/arch.toml`` (read once)."""
    raw = tomllib.loads((Path(__file__).parent / "data" / "arch.toml").read_text("utf-8"))
    versions = tuple(
        Version(v["name"], tuple(v["includes"]), frozenset(v["witness"])) for v in raw["version"]
    )
    return ArchTable(versions, tuple(raw["features"]["names"]))
