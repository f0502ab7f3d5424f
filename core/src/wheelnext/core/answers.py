"""Provider answers as JSON, checked like a profile before they are believed.

Two kinds of documents carry a ``ProviderResult`` as JSON: the answer a provider's
child process writes (``wheelnext.core.isolation``) and the detection cache
(``wheelnext.core.detect_cache``). Both come from outside this process, so both pass the
property grammar, type, size and no-repeat checks here. Kept free of pluggy and of the
provider machinery so that a cache hit imports little.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wheelnext.core.errors import ProviderError, WheelnextError, one_line
from wheelnext.core.properties import validate_feature_name, validate_namespace, validate_value
from wheelnext.core.supported import ProviderResult, SupportedFeature

MAX_FEATURES = 256
MAX_VALUES = 4096
MAX_TEXT = 500


def result_from_json(data: object, distribution: str, version: str) -> ProviderResult:
    """The ``ProviderResult`` in ``data``, attributed to ``distribution`` ``version`` (the
    caller's own knowledge, never the document's); raises ProviderError when invalid.
    Error text is sanitised to one line."""
    if not isinstance(data, Mapping):
        raise ProviderError("answer is not a JSON object")
    status = data.get("status")
    if status not in ("ok", "absent", "failed"):
        raise ProviderError("answer has no valid status")
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        raise ProviderError("answer has a non-text error")
    namespace = data.get("namespace")
    if not isinstance(namespace, str):
        raise ProviderError("answer has no namespace")
    if status == "failed":
        reason = one_line(error or "", MAX_TEXT) or "failed"
        return ProviderResult(one_line(namespace, 100), "failed", (), distribution, version, reason)
    try:
        validate_namespace(namespace)
        features = data.get("features")
        if not isinstance(features, list) or len(features) > MAX_FEATURES:
            raise ProviderError(f"features are not a list of at most {MAX_FEATURES}")
        if status == "absent" and features:
            raise ProviderError("an absent provider answered features")
        out = tuple(_feature(feature) for feature in features)
        if len({f.name for f in out}) != len(out):
            raise ProviderError("a feature is repeated")
    except WheelnextError as exc:
        raise ProviderError(one_line(str(exc), 200)) from None
    text = None if error is None else one_line(error, MAX_TEXT)
    return ProviderResult(namespace, status, out, distribution, version, text)


def _feature(feature: object) -> SupportedFeature:
    if not isinstance(feature, Mapping):
        raise ProviderError("a feature is not a JSON object")
    name = validate_feature_name(feature.get("name"))
    values = feature.get("values")
    multi = feature.get("multi_value", False)
    if not isinstance(values, list) or not values or len(values) > MAX_VALUES:
        raise ProviderError(f"feature {name!r}: values are not a non-empty list")
    if not isinstance(multi, bool):
        raise ProviderError(f"feature {name!r}: multi_value is not a boolean")
    for value in values:
        validate_value(value)
    if len(set(values)) != len(values):
        raise ProviderError(f"feature {name!r}: a value is repeated")
    return SupportedFeature(name, tuple(values), multi)


def check_unique_namespaces(results: Iterable[ProviderResult]) -> None:
    """Refuse two ``ok`` results for one namespace (as a profile does)."""
    ok = [r.namespace for r in results if r.status == "ok"]
    if len(set(ok)) != len(ok):
        raise ProviderError("a namespace appears twice with status 'ok'")
