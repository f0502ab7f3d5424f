"""The ``wn install`` options users reach for first: ``-c/--constraint FILE`` (versions a
project may take if it is installed at all), ``--no-deps``, ``--force-reinstall``,
``--reinstall-variants`` (variant drift), and ``-U`` (accepted; wn always upgrades)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.requirements import read_requirements_file
from wheelnext.installer.resolver import Candidate, Need, Provider

if TYPE_CHECKING:
    from wheelnext.installer.finder import Chosen, Finder
    from wheelnext.installer.target import Target


def read_constraints(paths: Iterable[str]) -> dict[str, SpecifierSet]:
    """``-c FILE``: requirement lines without extras or URLs; the same project in several
    lines (or files) must satisfy all of them."""
    found: dict[str, SpecifierSet] = {}
    for path in paths:
        if not Path(path).is_file():
            raise InstallerError(f"-c {path}: no such file")
        for wanted in read_requirements_file(path):
            if wanted.extras or wanted.requirement.url:
                raise InstallerError(
                    f"{path}: constraint {wanted.text!r}: constraints take no extras or URLs"
                )
            if wanted.marker is not None and wanted.marker.uses_variants:
                raise InstallerError(
                    f"{path}: constraint {wanted.text!r}: variant markers apply to a wheel's "
                    "dependencies, not to constraints"
                )
            found[wanted.name] = found.get(wanted.name, SpecifierSet()) & (
                wanted.requirement.specifier
            )
    return found


@dataclass
class OptionsProvider(Provider):
    """The resolver's provider, with constraints applied and dependencies optional."""

    constraints: Mapping[str, SpecifierSet] = field(default_factory=dict)
    no_deps: bool = False

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Need]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Iterable[Candidate]:
        found: Any = super().find_matches(identifier, requirements, incompatibilities)
        spec = self.constraints.get(identifier.split("[", 1)[0])
        if spec is None:
            return found  # type: ignore[no-any-return]

        def matches() -> Iterator[Candidate]:
            for candidate in found() if callable(found) else found:
                if spec.contains(candidate.version, prereleases=True):
                    yield candidate

        return matches  # type: ignore[return-value]

    def get_dependencies(self, candidate: Candidate) -> Iterable[Need]:
        needs = list(super().get_dependencies(candidate))
        if not self.no_deps:
            return needs
        # an extras node keeps its tie to the base node's version; nothing else follows
        return needs[:1] if candidate.extras else []


def add_install_options(p: argparse.ArgumentParser) -> None:
    """The pip-like options ``wn install`` adds for users (spec/cli.md)."""
    p.add_argument(
        "--no-deps", action="store_true", help="install what was named, not its dependencies"
    )
    p.add_argument(
        "-c",
        "--constraint",
        action="append",
        default=[],
        metavar="FILE",
        help="versions a project must keep if it is installed (installs nothing itself)",
    )
    p.add_argument(
        "-U",
        "--upgrade",
        action="store_true",
        help="accepted for pip's sake: wn always installs the version resolution picks",
    )
    p.add_argument(
        "--force-reinstall", action="store_true", help="reinstall even at the same version"
    )
    p.add_argument(
        "--reinstall-variants",
        action="store_true",
        help="reinstall a distribution installed as another variant than the one selected now",
    )


def prepare_install(
    args: argparse.Namespace, finder: Finder, plan: Sequence[Chosen], target: Target, prog: str
) -> frozenset[str]:
    """Before installing a resolved plan: note each wheel's variant record, say which
    releases are installed as another variant (drift), and return the projects to
    reinstall at the same version (``--force-reinstall``, ``--reinstall-variants``)."""
    from packaging.utils import canonicalize_name

    from wheelnext.installer import drift
    from wheelnext.installer.transaction import installed

    drift.remember_plan(finder, plan)
    names = {canonicalize_name(c.name) for c in plan}
    if args.force_reinstall:
        return frozenset(names)
    drifted = drift.drifted_in_plan(plan, installed(target))
    if not args.reinstall_variants:
        for line in drifted.values():
            print(f"{prog}: {line}; --reinstall-variants switches it", file=sys.stderr)
        return frozenset()
    return frozenset(drifted)
