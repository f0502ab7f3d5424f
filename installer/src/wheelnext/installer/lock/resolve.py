"""Resolving for several machine profiles at once: the first profile resolves freely,
each later one must keep the versions already chosen (variant wheels, and dependencies
behind variant markers, may differ; versions may not)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelnext.core.selector import Selector
from wheelnext.installer.errors import ResolutionImpossible
from wheelnext.installer.finder import Finder
from wheelnext.installer.http import HttpClient
from wheelnext.installer.indexes import IndexSet
from wheelnext.installer.lock.write import ProfileRun
from wheelnext.installer.requirements import Wanted
from wheelnext.installer.resolver import Provider, resolve
from wheelnext.installer.target import Target


class PinnedFinder(Finder):
    """A finder that offers only the pinned version of a pinned project."""

    def __init__(
        self,
        indexes: IndexSet,
        selector: Selector,
        target: Target,
        http: HttpClient,
        work: Path,
        *,
        pins: Mapping[str, Version],
    ) -> None:
        super().__init__(indexes, selector, target, http, work)
        self.pins = dict(pins)

    def versions(self, project: str, specifier: SpecifierSet, prereleases: bool) -> list[Version]:
        pin = self.pins.get(canonicalize_name(project))
        if pin is None:
            return super().versions(project, specifier, prereleases)
        return [v for v in super().versions(project, specifier, True) if v == pin]


def resolve_profiles(
    roots: Sequence[Wanted],
    profiles: Sequence[tuple[str, Selector]],
    *,
    indexes: IndexSet,
    target: Target,
    http: HttpClient,
    work: Path,
    default_extras: bool,
) -> list[ProfileRun]:
    """One resolution per profile, all with the same versions."""
    runs: list[ProfileRun] = []
    pins: dict[str, Version] = {}
    for number, (name, selector) in enumerate(profiles):
        finder = PinnedFinder(indexes, selector, target, http, work / str(number), pins=pins)
        try:
            resolution = resolve(roots, Provider(finder, target.markers, default_extras))
        except ResolutionImpossible as exc:
            if not pins:
                raise
            raise ResolutionImpossible(
                f"profile {name}: {exc} (keeping the versions chosen for {runs[0].profile})"
            ) from None
        for project, chosen in resolution.chosen.items():
            pins.setdefault(project, chosen.version)
        runs.append(ProfileRun(name, finder, resolution))
    return runs
