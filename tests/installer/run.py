"""Running the installer in-process against test indexes (the same objects ``wn install``
builds), for tests that look at resolution rather than at an installed environment."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from wheelnext.core.selector import Selector
from wheelnext.core.supported import SupportedProperties
from wheelnext.installer.finder import Finder
from wheelnext.installer.http import HttpClient
from wheelnext.installer.indexes import Index, IndexConfig, IndexGroup, IndexSet, Strategy
from wheelnext.installer.requirements import Wanted
from wheelnext.installer.resolver import Provider, Resolution, resolve
from wheelnext.installer.target import Target, probe

PROFILE = {
    "providers": [
        {
            "namespace": "x86_64",
            "status": "ok",
            "features": [{"name": "level", "values": ["v3", "v2", "v1"], "multi_value": False}],
        }
    ]
}


@cache
def this_interpreter() -> Target:
    """The test interpreter as a target (probed once per session)."""
    return probe()


def groups(*spec: tuple[str, Sequence[tuple[str, str]]]) -> tuple[IndexGroup, ...]:
    """``groups(("G1", [("corp-a", url), ...]), ...)``."""
    return tuple(IndexGroup(name, tuple(Index(n, u) for n, u in members)) for name, members in spec)


@contextmanager
def installer(
    config: IndexConfig,
    *,
    profile: Mapping[str, object] = PROFILE,
    target: Target | None = None,
    default_extras: bool = True,
) -> Iterator[Provider]:
    with tempfile.TemporaryDirectory() as work:
        http = HttpClient(None, timeout=2.0, retries=0)
        indexes = IndexSet(config, http)
        target = target or this_interpreter()
        selector = Selector(SupportedProperties.from_json(profile), tags=target.tags)
        try:
            yield Provider(
                Finder(indexes, selector, target, http, Path(work)), target.markers, default_extras
            )
        finally:
            indexes.close()
            http.close()


def resolve_with(
    config: IndexConfig,
    requirements: Sequence[str],
    strategy: Strategy | None = None,
    **options: object,
) -> Resolution:
    if strategy is not None:
        config = IndexConfig(
            config.groups,
            strategy,
            config.pins,
            config.fallthrough_on_error,
            config.mirror_mismatch,
        )
    with installer(config, **options) as provider:  # type: ignore[arg-type]
        return resolve([Wanted.parse(r) for r in requirements], provider)
