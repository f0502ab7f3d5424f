"""The ``wn install`` options users reach for first: ``-c/--constraint FILE`` (versions a
project may take if it is installed at all), ``--no-deps``, ``--force-reinstall``,
``--reinstall-variants`` (variant drift), and ``-U`` (accepted; wn always upgrades)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
        for wanted in read_requirements_file(path, "-c"):
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


@dataclass(frozen=True, slots=True)
class Reinstall:
    """What an install does to releases already installed at the planned version."""

    force: frozenset[str]  # canonical names reinstalled all the same
    drifted: frozenset[str]  # installed as another variant than the one selected now
    labels: Mapping[str, str | None] = field(default_factory=dict)  # drifted: installed label

    def unchanged(self, chosen: Chosen, *, dry: bool) -> str:
        """What a run says of a planned release it leaves installed: ``Kept NAME VERSION
        [variant L] (installed)`` (``Would keep`` in a dry run) when the installed variant
        is not the one selected now, even one this machine does not support; ``Already
        installed NAME VERSION`` only when it is."""
        from packaging.utils import canonicalize_name

        from wheelnext.core.errors import one_line
        from wheelnext.installer.cli_common import variant_suffix

        key = canonicalize_name(chosen.name)
        if key not in self.drifted:
            return f"Already installed {chosen.name} {chosen.version}"
        label = self.labels.get(key)
        label = one_line(label, 80) if label else None
        verb = "Would keep" if dry else "Kept"
        return f"{verb} {chosen.name} {chosen.version}{variant_suffix(label)} (installed)"


def selector_source(args: argparse.Namespace) -> str:
    """Who selects variants, for messages: ``the profile FILE`` with ``--properties``,
    else this machine."""
    from wheelnext.core.errors import one_line

    path = getattr(args, "properties", None)
    return f"the profile {one_line(str(path), 200)}" if path is not None else "this machine"


def decide(
    args: argparse.Namespace, plan: Sequence[Chosen], target: Target, prog: str
) -> Reinstall:
    """Say which planned releases are installed as another variant (drift, on stderr,
    unless a flag reinstalls them) and which to reinstall at the same version
    (``--force-reinstall``, ``--reinstall-variants``). Index and lock installs, real and
    dry runs, all decide here."""
    from packaging.utils import canonicalize_name

    from wheelnext.installer import drift
    from wheelnext.installer.transaction import installed

    present = installed(target)
    drifted = drift.drifted_in_plan(plan, present, selector_source(args))
    labels = {key: drift.installed_label(present[key])[1] for key in drifted}
    if args.force_reinstall:
        everything = frozenset(canonicalize_name(c.name) for c in plan)
        return Reinstall(everything, frozenset(drifted), labels)
    if args.reinstall_variants:
        return Reinstall(frozenset(drifted), frozenset(drifted), labels)
    for line in drifted.values():
        print(f"{prog}: {line}; --reinstall-variants switches it", file=sys.stderr)
    return Reinstall(frozenset(), frozenset(drifted), labels)


def prepare_install(
    args: argparse.Namespace, finder: Finder, plan: Sequence[Chosen], target: Target, prog: str
) -> Reinstall:
    """Before installing a resolved plan: note each wheel's variant record, say which
    releases are installed as another variant (drift), and return the decision: the
    projects to reinstall at the same version (``--force-reinstall``,
    ``--reinstall-variants``) and the drifted ones kept."""
    from wheelnext.installer import drift

    drift.remember_plan(finder, plan)
    return decide(args, plan, target, prog)


def dry_run(
    plan: Sequence[Chosen], target: Target, reinstall: Reinstall, describe: Callable[[Chosen], str]
) -> None:
    """``--dry-run``: per planned release, in plan order, what the real run would do:
    ``Would install …``, ``Would keep NAME VERSION [variant L] (installed)`` for a
    drifted release left as it is, ``Already installed NAME VERSION`` for the rest."""
    from packaging.utils import canonicalize_name

    from wheelnext.installer.drift import same_release
    from wheelnext.installer.transaction import installed

    present = installed(target)
    for chosen in plan:
        key = canonicalize_name(chosen.name)
        dist = present.get(key)
        if dist is None or not same_release(dist, chosen) or key in reinstall.force:
            print(f"Would install {describe(chosen)}")
        else:
            print(reinstall.unchanged(chosen, dry=True))
