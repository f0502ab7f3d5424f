"""Resolution with ``resolvelib``: specifiers, markers (variant markers included), extras,
PEP 771 default extras, Requires-Python and backtracking.

Each project appears as up to three kinds of node, all bound to one version:

- ``name``: the distribution itself and its unconditional dependencies;
- ``name[x,y]``: the dependencies of explicitly named extras;
- ``name[@default]``: the dependencies of its ``Default-Extra`` (PEP 771), created by a
  *bare* requirement (no brackets). ``name[]`` creates only the first node.

So one bare occurrence anywhere in the graph turns the defaults on, naming any extra turns
them off for that occurrence, and self-references (``astro[recommended]; extra ==
"jupyter"``) work as ordinary requirements.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import resolvelib
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelnext.core.markers import VariantEnvironment
from wheelnext.installer.errors import InstallerError, ResolutionImpossible
from wheelnext.installer.finder import Chosen, Finder, iter_versions
from wheelnext.installer.requirements import Wanted

LOG = logging.getLogger("wheelnext.installer")
DEFAULT = "@default"


def node(name: str, extras: tuple[str, ...]) -> str:
    """A resolver node's identifier: ``name``, ``name[x,y]`` or ``name[@default]``."""
    return f"{name}[{','.join(extras)}]" if extras else name


@dataclass(frozen=True, slots=True)
class Need:
    """A requirement on one node: which node, the version range, and where it came from."""

    name: NormalizedName
    extras: tuple[str, ...]  # () base node; ("@default",) default extras; else named extras
    specifier: SpecifierSet
    parent: str | None
    text: str

    @property
    def identifier(self) -> str:
        return node(self.name, self.extras)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One version of one node, carrying the wheel chosen for that version."""

    chosen: Chosen
    extras: tuple[str, ...] = ()

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.chosen.name)

    @property
    def version(self) -> Version:
        return self.chosen.version

    @property
    def identifier(self) -> str:
        return node(self.name, self.extras)


def need_for(wanted: Wanted, parent: str | None, default_extras: bool) -> Need:
    """The node a written requirement targets (PEP 771: brackets decide the defaults)."""
    extras: tuple[str, ...]
    if wanted.extras:
        extras = tuple(sorted(wanted.extras))
    elif wanted.brackets or not default_extras:
        extras = ()
    else:
        extras = (DEFAULT,)
    return Need(wanted.name, extras, wanted.requirement.specifier, parent, wanted.text)


@dataclass
class Provider(resolvelib.AbstractProvider):  # type: ignore[type-arg]
    finder: Finder
    markers: Mapping[str, str]
    default_extras: bool = True
    active: dict[str, set[str]] = field(default_factory=dict)  # project → extras in effect
    direct: Mapping[str, str] = field(default_factory=dict)  # project → URL the user named

    def identify(self, requirement_or_candidate: Need | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[resolvelib.structs.RequirementInformation]],  # type: ignore[type-arg]
        backtrack_causes: Sequence[resolvelib.structs.RequirementInformation],  # type: ignore[type-arg]
    ) -> tuple[bool, bool, str]:
        pinned = any(
            any(s.operator in ("==", "===") for s in info.requirement.specifier)
            for info in information[identifier]
        )
        # pinned first; the base node before its extras; then by name, for stable output
        return (not pinned, "[" in identifier, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Need]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Iterable[Candidate]:
        needs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        specifier = SpecifierSet()
        for need in needs:
            specifier &= need.specifier
        name, extras = needs[0].name, needs[0].extras

        def matches() -> Iterator[Candidate]:
            for chosen in iter_versions(self.finder, name, specifier):
                if chosen.version not in bad:
                    yield Candidate(chosen, extras)

        return matches  # type: ignore[return-value]

    def is_satisfied_by(self, requirement: Need, candidate: Candidate) -> bool:
        return candidate.name == requirement.name and requirement.specifier.contains(
            candidate.version, prereleases=True
        )

    def _applies(self, wanted: Wanted, variant: VariantEnvironment, extra: str) -> bool:
        if wanted.marker is None:
            return True
        return wanted.marker.evaluate(variant, {**self.markers, "extra": extra})

    def _check_url(self, wanted: Wanted, parent: str) -> None:
        """A dependency's ``name @ URL`` is followed only when the user named that URL."""
        url = wanted.requirement.url
        if url is not None and self.direct.get(wanted.name) != url:
            from wheelnext.installer.direct import display

            raise InstallerError(
                f"{parent} requires {wanted.name} @ {display(url)}: direct references "
                "in dependencies are not followed (name the URL yourself to use it)"
            )

    def get_dependencies(self, candidate: Candidate) -> Iterable[Need]:
        meta, variant = self.finder.requirements_of(candidate.chosen)
        parent = f"{meta.display_name} {meta.version}"
        if not candidate.extras:
            self.active.setdefault(candidate.name, set())
            applying = [w for w in meta.requires_dist if self._applies(w, variant, "")]
            for wanted in applying:
                self._check_url(wanted, parent)
            needs = [need_for(w, parent, self.default_extras) for w in applying]
            self.finder.prefetch((n.name, n.specifier) for n in needs if n.name not in self.direct)
            return needs
        extras: list[str]
        if candidate.extras == (DEFAULT,):
            extras = sorted(meta.default_extra)
        else:
            extras = [e for e in candidate.extras if e in meta.provides_extra]
            for unknown in sorted(set(candidate.extras) - meta.provides_extra):
                LOG.warning("%s does not provide the extra %r; ignored", parent, unknown)
        self.active.setdefault(candidate.name, set()).update(extras)
        base = Need(candidate.name, (), SpecifierSet(f"=={candidate.version}"), parent, parent)
        needs = [base]
        for extra in extras:
            for wanted in meta.requires_dist:
                if self._applies(wanted, variant, extra) and not self._applies(wanted, variant, ""):
                    self._check_url(wanted, f"{parent} [{extra}]")
                    needs.append(need_for(wanted, f"{parent} [{extra}]", self.default_extras))
        return needs


@dataclass(frozen=True, slots=True)
class Resolution:
    """The chosen wheel per project, extras in effect, and which projects were asked for."""

    chosen: dict[str, Chosen]
    extras: dict[str, set[str]]
    requested: dict[str, set[str]]


def resolve(roots: Sequence[Wanted], provider: Provider, max_rounds: int = 2000) -> Resolution:
    """Resolve ``roots`` (their markers evaluated for the target) to one wheel per project."""
    needs = []
    requested: dict[str, set[str]] = {}
    for wanted in roots:
        if wanted.marker is not None and not wanted.marker.evaluate(
            VariantEnvironment.for_wheel(None), {**provider.markers, "extra": ""}
        ):
            continue
        needs.append(need_for(wanted, None, provider.default_extras))
        requested.setdefault(wanted.name, set()).update(wanted.extras)
    # every requirement's page and likely metadata, read while the first is resolved
    provider.finder.prefetch((n.name, n.specifier) for n in needs if n.name not in provider.direct)
    resolver = resolvelib.Resolver(provider, resolvelib.BaseReporter())
    try:
        result = resolver.resolve(needs, max_rounds=max_rounds)
    except resolvelib.ResolutionImpossible as exc:
        raise ResolutionImpossible(_explain(exc, provider)) from None
    except resolvelib.ResolutionTooDeep:
        raise ResolutionImpossible(f"gave up after {max_rounds} rounds of backtracking") from None
    chosen: dict[str, Chosen] = {c.name: c.chosen for c in result.mapping.values() if not c.extras}
    extras = {name: provider.active.get(name, set()) for name in chosen}
    return Resolution(chosen, extras, requested)


def _explain(exc: resolvelib.ResolutionImpossible, provider: Provider) -> str:  # type: ignore[type-arg]
    lines = []
    for cause in exc.causes:
        need: Need = cause.requirement
        where = (
            f" (required by {cause.parent.chosen.name} {cause.parent.version})"
            if cause.parent
            else ""
        )
        found = provider.finder.files(need.name, need.specifier)
        if need.name in provider.direct:
            from wheelnext.installer.direct import display

            url = display(provider.direct[need.name])
            lines.append(f"{need.text}{where}: not satisfied by the wheel you named ({url})")
        elif found.group is None:
            lines.append(f"{need.text}{where}: no index lists {need.name}")
        elif found.files and not any(f.file.filename.endswith(".whl") for f in found.files):
            lines.append(  # wheels only, as pip --only-binary :all:
                f"{need.text}{where}: index group {found.group} offers only source "
                f"distributions of {need.name}; wn installs wheels only"
            )
        else:
            strategy = provider.finder.indexes.config.strategy
            lines.append(
                f"{need.text}{where}: no installable version in index group {found.group}"
                + (
                    f" (strategy {strategy!r}: lower groups are not consulted)"
                    if strategy == "project"
                    else ""
                )
            )
    return "cannot resolve: " + "; ".join(dict.fromkeys(lines))
