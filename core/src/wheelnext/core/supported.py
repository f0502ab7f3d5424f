"""``SupportedProperties``: what a machine supports, per provider, best first.

Detection produces it; ``wn-detect --json`` prints it; a saved copy (a *profile*) loads
back into the same value, so ranking for another machine is the same code path.
"""

from __future__ import annotations

from wheelnext.core import safejson
from wheelnext.core._frozen import Frozen
from wheelnext.core.errors import MetadataError

TYPE_CHECKING = False  # not typing's, nor pathlib at the top: wn-detect's start-up
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path
    from typing import Any, Literal

    Status = Literal["ok", "absent", "failed"]

_set = object.__setattr__  # the records' own __setattr__ refuses every assignment


class SupportedFeature(Frozen):
    """A supported feature: its values best first, and whether wheels may list several."""

    __slots__ = __match_args__ = ("name", "values", "multi_value")
    name: str
    values: tuple[str, ...]
    multi_value: bool

    def __init__(self, name: str, values: tuple[str, ...], multi_value: bool = False) -> None:
        _set(self, "name", name)
        _set(self, "values", values)
        _set(self, "multi_value", multi_value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.name, self.values, self.multi_value) == (
            other.name,
            other.values,
            other.multi_value,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.values, self.multi_value))


class ProviderResult(Frozen):
    """One provider's answer: its status, where it came from, and its features."""

    __slots__ = __match_args__ = (
        "namespace",
        "status",
        "features",
        "distribution",
        "version",
        "error",
    )
    namespace: str
    status: Status
    features: tuple[SupportedFeature, ...]
    distribution: str
    version: str
    error: str | None

    def __init__(  # noqa: PLR0917 -- the record's six fields, as the dataclass had
        self,
        namespace: str,
        status: Status,
        features: tuple[SupportedFeature, ...] = (),
        distribution: str = "",
        version: str = "",
        error: str | None = None,
    ) -> None:
        _set(self, "namespace", namespace)
        _set(self, "status", status)
        _set(self, "features", features)
        _set(self, "distribution", distribution)
        _set(self, "version", version)
        _set(self, "error", error)

    def _key(self) -> tuple[object, ...]:
        return (
            self.namespace,
            self.status,
            self.features,
            self.distribution,
            self.version,
            self.error,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "status": self.status,
            "distribution": self.distribution,
            "version": self.version,
            "error": self.error,
            "features": [
                {"name": f.name, "values": list(f.values), "multi_value": f.multi_value}
                for f in self.features
            ],
        }


class SupportedProperties(Frozen):
    """Every provider's result; only ``ok`` results contribute supported properties."""

    __slots__ = __match_args__ = ("providers",)
    providers: tuple[ProviderResult, ...]

    def __init__(self, providers: tuple[ProviderResult, ...] = ()) -> None:
        _set(self, "providers", providers)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.providers == other.providers

    def __hash__(self) -> int:
        return hash((self.providers,))

    @classmethod
    def from_features(cls, tree: Mapping[str, Mapping[str, Iterable[str]]]) -> SupportedProperties:
        """Build from ``{namespace: {feature: [values best first]}}`` (for tests/APIs)."""
        return cls(
            tuple(
                ProviderResult(
                    ns,
                    "ok",
                    tuple(SupportedFeature(f, tuple(vs)) for f, vs in feats.items()),
                )
                for ns, feats in tree.items()
            )
        )

    def features(self, namespace: str) -> tuple[SupportedFeature, ...] | None:
        """The supported features of ``namespace`` in provider order; None if none ok."""
        for result in self.providers:
            if result.namespace == namespace and result.status == "ok":
                return result.features
        return None

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(r.namespace for r in self.providers if r.status == "ok")

    def only(self, namespaces: Iterable[str]) -> SupportedProperties:
        """The results of the given namespaces only (``--namespace``)."""
        wanted = set(namespaces)
        return SupportedProperties(tuple(r for r in self.providers if r.namespace in wanted))

    def to_json(self) -> dict[str, Any]:
        """The ``wn-detect --json`` document."""
        return {"providers": [r.to_json() for r in self.providers]}

    @classmethod
    def from_json(cls, data: Any, *, source: str | None = None) -> SupportedProperties:
        """Load a profile; only ``namespace``, ``features``, ``name``, ``values`` are required."""
        fast = _read_profile(data)
        if fast is not None:
            return fast
        from pydantic import ValidationError  # to word the error (or judge odd input)

        from wheelnext.core.metadata import _first_error
        from wheelnext.core.profile_model import Profile

        try:
            profile = Profile.model_validate(data)
        except ValidationError as exc:
            raise MetadataError(
                f"invalid properties profile: {_first_error(exc)}", source
            ) from None
        return cls(
            tuple(
                ProviderResult(
                    p.namespace,
                    p.status,
                    tuple(
                        SupportedFeature(f.name, tuple(f.values), f.multi_value) for f in p.features
                    ),
                    p.distribution,
                    p.version,
                    p.error,
                )
                for p in profile.providers
            )
        )

    @classmethod
    def load(cls, path: str | Path) -> SupportedProperties:
        """Read a profile file written by ``wn-detect --json``."""
        from pathlib import Path

        from wheelnext.core.files import UserFileError, read_user_file

        path = Path(path)
        try:
            raw = read_user_file(path, "", safejson.MAX_BYTES)
        except UserFileError as exc:
            raise MetadataError(f"cannot read: {exc.problem}", str(path)) from None
        data = safejson.loads(raw, str(path))
        return cls.from_json(data, source=str(path))


def _read_profile(data: Any) -> SupportedProperties | None:
    """The ``profile_model.Profile`` rules for plain JSON values, without pydantic (~100 ms
    to import); None for anything else, which the model then judges and words."""
    import re

    from wheelnext.core.properties import FEATURE_PATTERN, NAMESPACE_PATTERN, VALUE_PATTERN

    ns_re, name_re = re.compile(NAMESPACE_PATTERN), re.compile(FEATURE_PATTERN)  # cached
    value_re = re.compile(VALUE_PATTERN)
    optional_text = ("distribution", "version", "error")
    if type(data) is not dict or type(data.get("providers")) is not list:
        return None
    results, ok = [], set()
    for p in data["providers"]:
        if type(p) is not dict or type(p.get("features")) is not list:
            return None
        namespace, status = p.get("namespace"), p.get("status", "ok")
        if type(namespace) is not str or not ns_re.fullmatch(namespace):
            return None
        if status not in ("ok", "absent", "failed") or type(status) is not str:
            return None
        texts = [p.get(key, "" if key != "error" else None) for key in optional_text]
        if None in texts[:2] or not all(t is None or _plain_text(t) for t in texts):
            return None
        features = []
        for f in p["features"]:
            if type(f) is not dict or type(f.get("values")) is not list:
                return None
            name, values, multi = f.get("name"), tuple(f["values"]), f.get("multi_value", False)
            if type(name) is not str or not name_re.fullmatch(name) or type(multi) is not bool:
                return None
            if not all(type(v) is str and value_re.fullmatch(v) for v in values):
                return None
            if len(set(values)) != len(values):
                return None
            features.append(SupportedFeature(name, values, multi))
        if len({f.name for f in features}) != len(features) or (status == "ok" and namespace in ok):
            return None
        if status == "ok":
            ok.add(namespace)
        results.append(ProviderResult(namespace, status, tuple(features), *texts))  # type: ignore[arg-type]
    return SupportedProperties(tuple(results))


def _plain_text(text: object) -> bool:
    return type(text) is str and text.isascii()  # the model judges lone surrogates
