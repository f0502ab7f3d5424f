"""User overrides of variant ordering, from a TOML file and the environment.

File (first found wins): ``$WHEELNEXT_CONFIG``; ``{sys.prefix}/wheelnext.toml``;
the user config dir (``platformdirs``: ``~/.config/wheelnext/config.toml`` on Linux);
the site config dir (``/etc/xdg/wheelnext/config.toml``)::

    [priorities]
    namespaces = ["nvidia", "x86_64"]
    features = ["x86_64 :: level"]
    properties = ["blas_lapack :: library :: mkl"]

    [providers]
    enable-optional = ["debug_build"]

Each environment variable replaces its key: ``WHEELNEXT_NAMESPACE_PRIORITIES``,
``WHEELNEXT_FEATURE_PRIORITIES``, ``WHEELNEXT_PROPERTY_PRIORITIES``,
``WHEELNEXT_ENABLE_OPTIONAL`` (comma-separated). Overrides only reorder or narrow the
compatible set; they never make an unsupported property compatible.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wheelnext.core.errors import ConfigError, WheelnextError
from wheelnext.core.files import read_user_text
from wheelnext.core.properties import VariantFeature, VariantProperty, validate_namespace

CONFIG_ENV = "WHEELNEXT_CONFIG"
APP_NAME = "wheelnext"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UserPriorities:
    """Promotions chosen by the user, applied before the package's and the provider's."""

    namespaces: tuple[str, ...] = ()
    features: tuple[VariantFeature, ...] = ()
    properties: tuple[VariantProperty, ...] = ()
    enable_optional: tuple[str, ...] = ()
    source: str | None = None


def config_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where the configuration file is looked for, in order."""
    import platformdirs

    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return [Path(environ[CONFIG_ENV])]
    return [
        Path(sys.prefix) / "wheelnext.toml",
        platformdirs.user_config_path(APP_NAME, appauthor=False, roaming=True) / "config.toml",
        platformdirs.site_config_path(APP_NAME, appauthor=False) / "config.toml",
    ]


def _parse_list(raw: object, parse: Callable[[str], _T], where: str) -> tuple[_T, ...]:
    if isinstance(raw, str):
        raw = [item for item in raw.split(",") if item.strip()]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    try:
        return tuple(parse(item.strip()) for item in raw)
    except WheelnextError as exc:
        raise ConfigError(f"{where}: {exc}") from None


_KEYS: Sequence[tuple[str, str, str, Callable[[str], Any]]] = (
    ("priorities", "namespaces", "WHEELNEXT_NAMESPACE_PRIORITIES", validate_namespace),
    ("priorities", "features", "WHEELNEXT_FEATURE_PRIORITIES", VariantFeature.parse),
    ("priorities", "properties", "WHEELNEXT_PROPERTY_PRIORITIES", VariantProperty.parse),
    ("providers", "enable-optional", "WHEELNEXT_ENABLE_OPTIONAL", validate_namespace),
)


def load_user_priorities(
    environ: Mapping[str, str] | None = None, paths: Sequence[Path] | None = None
) -> UserPriorities:
    """Read the first configuration file found, then apply environment overrides."""
    environ = os.environ if environ is None else environ
    paths = config_paths(environ) if paths is None else paths
    data: dict[str, Any] = {}
    source = None
    for path in paths:
        if path.is_file():
            try:
                data = tomllib.loads(read_user_text(path, ""))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: {exc}") from None
            except RecursionError:
                raise ConfigError(f"{path}: nested too deeply") from None
            source = str(path)
            break
    unknown = set(data) - {"priorities", "providers"}
    if unknown:
        raise ConfigError(f"{source}: unknown table {sorted(unknown)[0]!r}")

    values: dict[str, tuple[Any, ...]] = {}
    for table, key, env, parse in _KEYS:
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: [{table}] must be a table")
        if env in environ:
            values[key] = _parse_list(environ[env], parse, env)
        elif key in section:
            values[key] = _parse_list(section[key], parse, f"{source}: {table}.{key}")
    for table in ("priorities", "providers"):
        known = {k for t, k, _, _ in _KEYS if t == table}
        extra = set(data.get(table, {})) - known
        if extra:
            raise ConfigError(f"{source}: unknown key {table}.{sorted(extra)[0]}")
    return UserPriorities(
        namespaces=values.get("namespaces", ()),
        features=values.get("features", ()),
        properties=values.get("properties", ()),
        enable_optional=values.get("enable-optional", ()),
        source=source,
    )
