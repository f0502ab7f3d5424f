"""The proxy's settings as one JSON document, so every worker process builds the same app.

``wn proxy --workers N`` writes it to a private file and names it in
``WHEELNEXT_PROXY_CONFIG``; each worker's ``proxy_app.create_app()`` reads it back.
``wn proxy --write-config FILE`` writes it for gunicorn (spec/proxy.md). The document
is checked as any user file is: one bad field is one line naming the file and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelnext.installer.errors import InstallerError
from wheelnext.installer.indexes import STRATEGIES, Index, IndexConfig, IndexGroup

ENV = "WHEELNEXT_PROXY_CONFIG"
FORMAT = "wheelnext-proxy-config/1"
MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything a worker needs: indexes, the default profile, the cache and limits."""

    indexes: IndexConfig
    profile: dict[str, Any]  # the default profile (a wn-detect --json document)
    cache_dir: str
    ttl: float = 60.0
    timeout: float = 15.0
    max_upstream_concurrency: int = 32
    verbose: bool = False

    def to_json(self) -> dict[str, Any]:
        groups = [
            {
                "name": g.name,
                "members": [
                    {"name": m.name, "url": m.url, "explicit": m.explicit} for m in g.members
                ],
            }
            for g in self.indexes.groups
        ]
        return {
            "format": FORMAT,
            "indexes": {
                "groups": groups,
                "strategy": self.indexes.strategy,
                "pins": dict(self.indexes.pins),
                "fallthrough_on_error": self.indexes.fallthrough_on_error,
                "mirror_mismatch": self.indexes.mirror_mismatch,
            },
            "profile": self.profile,
            "cache_dir": self.cache_dir,
            "ttl": self.ttl,
            "timeout": self.timeout,
            "max_upstream_concurrency": self.max_upstream_concurrency,
            "verbose": self.verbose,
        }

    def upstreams_digest(self) -> str:
        """A short name for the index configuration (the store keeps project lists per
        configuration: the same project on other upstreams is another list)."""
        import hashlib

        text = json.dumps(self.to_json()["indexes"], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def write(self, path: Path) -> None:
        from wheelnext.core.files import atomic_write

        atomic_write(path, (json.dumps(self.to_json(), indent=2) + "\n").encode())


class _Reader:
    """Typed access to the document's fields; a wrong one raises naming file and field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> InstallerError:
        return InstallerError(f"{self.source}: {field}: {problem}")

    def get(self, data: dict[str, Any], key: str, kind: type | tuple[type, ...], field: str) -> Any:
        value = data.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
            raise self.fail(f"{field}{key}", "missing or of the wrong type")
        return value

    def seconds(self, data: dict[str, Any], key: str) -> float:
        value = float(self.get(data, key, (int, float), ""))
        if not math.isfinite(value) or not 0 < value <= 86400:
            raise self.fail(key, "expected seconds between 0 and 86400")
        return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def config_from_json(data: Any, source: str) -> ProxyConfig:
    """A ProxyConfig from its JSON document (InstallerError: one line naming the field)."""
    from wheelnext.installer.cli_common import check_index_url

    read = _Reader(source)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise read.fail("format", f"expected a JSON object with format {FORMAT!r}")
    idx = read.get(data, "indexes", dict, "")
    groups = []
    for i, group in enumerate(read.get(idx, "groups", list, "indexes.")):
        where = f"indexes.groups[{i}]."
        if not isinstance(group, dict):
            raise read.fail(where.rstrip("."), "expected an object")
        members = []
        for j, member in enumerate(read.get(group, "members", list, where)):
            if not isinstance(member, dict):
                raise read.fail(f"{where}members[{j}]", "expected an object")
            url = read.get(member, "url", str, f"{where}members[{j}].")
            try:
                check_index_url(url, f"{where}members[{j}].url")
            except InstallerError as exc:
                raise InstallerError(f"{source}: {exc}") from None
            members.append(
                Index(
                    read.get(member, "name", str, f"{where}members[{j}]."),
                    url,
                    bool(member.get("explicit", False)),
                )
            )
        groups.append(IndexGroup(read.get(group, "name", str, where), tuple(members)))
    if not groups:
        raise read.fail("indexes.groups", "no index given")
    strategy = read.get(idx, "strategy", str, "indexes.")
    if strategy not in STRATEGIES:
        raise read.fail("indexes.strategy", f"expected one of {', '.join(STRATEGIES)}")
    pins = read.get(idx, "pins", dict, "indexes.")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pins.items()):
        raise read.fail("indexes.pins", "expected a map of project to index name")
    mismatch = read.get(idx, "mirror_mismatch", str, "indexes.")
    if mismatch not in ("warn", "error"):
        raise read.fail("indexes.mirror_mismatch", "expected warn or error")
    indexes = IndexConfig(
        tuple(groups),
        strategy,
        dict(pins),
        bool(idx.get("fallthrough_on_error", False)),
        mismatch,
    )
    profile = read.get(data, "profile", dict, "")
    from wheelnext.core.errors import MetadataError
    from wheelnext.core.supported import SupportedProperties

    try:
        SupportedProperties.from_json(profile, source=f"{source}: profile")
    except MetadataError as exc:
        raise InstallerError(str(exc)) from None
    limit = read.get(data, "max_upstream_concurrency", int, "")
    if not 1 <= limit <= 1024:
        raise read.fail("max_upstream_concurrency", "expected 1 to 1024")
    return ProxyConfig(
        indexes,
        profile,
        read.get(data, "cache_dir", str, ""),
        read.seconds(data, "ttl"),
        read.seconds(data, "timeout"),
        limit,
        bool(data.get("verbose", False)),
    )


def load_config(path: Path) -> ProxyConfig:
    """Read and check a config file (InstallerError: one line naming it)."""
    from wheelnext.core import safejson
    from wheelnext.core.errors import MetadataError
    from wheelnext.core.files import UserFileError, read_user_file

    try:
        raw = read_user_file(path, "", MAX_CONFIG_BYTES)
    except UserFileError as exc:
        raise InstallerError(f"{path}: cannot read: {exc.problem}") from None
    try:
        data = safejson.loads(raw, str(path))
    except MetadataError as exc:
        raise InstallerError(str(exc)) from None
    return config_from_json(data, str(path))
