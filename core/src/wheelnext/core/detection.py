"""Calling providers, each on its own, and turning their answers into SupportedProperties.

Every provider gets its own ``pluggy.PluginManager`` and runs under a time limit, in a
daemon thread (default) or a subprocess (``isolation="subprocess"``, which can also stop
a provider that hangs in C code). Anything a provider does wrong marks that provider
``failed`` with the reason; the others are unaffected. Results are cached per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pluggy

from wheelnext.core import hookspecs
from wheelnext.core.discovery import ProviderSource, discover, load_object
from wheelnext.core.errors import ProviderError, WheelnextError
from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import Absent, DetectContext, DetectedFeature, ProviderDescription
from wheelnext.core.supported import ProviderResult, SupportedFeature, SupportedProperties

DEFAULT_TIMEOUT = 5.0
Isolation = Literal["thread", "subprocess"]

_cache: dict[tuple[Any, ...], SupportedProperties] = {}


def _plugin_manager(provider: object, name: str) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(provider, name=name)
    except pluggy.PluginValidationError as exc:
        raise ProviderError(f"hook signature does not match the contract: {exc}") from None
    return pm


def _check_detection(
    description: ProviderDescription, answer: object
) -> Sequence[DetectedFeature] | Absent | None:
    """Hold a detection answer to the contract and to the provider's own declarations."""
    if answer is None or isinstance(answer, Absent):
        return answer
    if not isinstance(answer, list | tuple) or not all(
        isinstance(item, DetectedFeature) for item in answer
    ):
        raise ProviderError(
            f"wheelnext_detect returned {type(answer).__name__}, expected a list of "
            "DetectedFeature or Absent"
        )
    seen: set[str] = set()
    for item in answer:
        declared = description.feature(item.name)
        if declared is None:
            raise ProviderError(
                f"detected undeclared feature '{description.namespace} :: {item.name}'"
            )
        if item.name in seen:
            raise ProviderError(f"detected feature {item.name!r} twice")
        seen.add(item.name)
        if not isinstance(item.values, tuple | list) or not all(
            isinstance(v, str) for v in item.values
        ):
            raise ProviderError(f"feature {item.name!r}: values must be strings")
        if len(set(item.values)) != len(item.values):
            raise ProviderError(f"feature {item.name!r}: a value is repeated")
        for value in item.values:
            if value not in declared.values:
                raise ProviderError(
                    f"detected undeclared value '{description.namespace} :: {item.name} :: {value}'"
                )
    return answer


def _describe(provider: object, name: str) -> tuple[pluggy.PluginManager, ProviderDescription]:
    pm = _plugin_manager(provider, name)
    for hook in ("wheelnext_provider", "wheelnext_detect"):
        if not getattr(pm.hook, hook).get_hookimpls():
            raise ProviderError(f"does not implement the required hook {hook}")
    description = pm.hook.wheelnext_provider()
    if not isinstance(description, ProviderDescription):
        raise ProviderError(
            f"wheelnext_provider returned {type(description).__name__}, "
            "expected ProviderDescription"
        )
    return pm, description


def _detect(
    pm: pluggy.PluginManager, description: ProviderDescription, context: DetectContext
) -> Sequence[DetectedFeature] | Absent | None:
    return _check_detection(description, pm.hook.wheelnext_detect(context=context))


def call_provider(
    provider: object, name: str, context: DetectContext
) -> tuple[ProviderDescription, Sequence[DetectedFeature] | Absent | None]:
    """Ask one provider object for its description and detection, validating both."""
    pm, description = _describe(provider, name)
    return description, _detect(pm, description, context)


def provider_object(source: ProviderSource) -> object:
    """Load the object behind a source (adapting standard plugin-API objects)."""
    if source.kind == "plugin-api":
        from wheelnext.core.plugin_api import load_plugin_api

        return load_plugin_api(source.ref, source.name)
    return load_object(source.ref)


def describe_source(source: ProviderSource) -> ProviderDescription:
    """The declarations of one installed provider (no detection is run)."""
    return _describe(provider_object(source), source.name)[1]


def run_source(source: ProviderSource, context: DetectContext) -> ProviderResult:
    """Load and call one provider in this process; never raises."""
    namespace = source.name
    try:
        pm, description = _describe(provider_object(source), source.name)
        namespace = description.namespace
        answer = _detect(pm, description, context)
        if answer is None or isinstance(answer, Absent):
            reason = answer.reason if isinstance(answer, Absent) and answer.reason else None
            return ProviderResult(
                namespace, "absent", (), source.distribution, source.version, reason
            )
        multi = {f.name: f.multi_value for f in description.features}
        features = tuple(
            SupportedFeature(f.name, tuple(f.values), multi[f.name]) for f in answer if f.values
        )
        return ProviderResult(namespace, "ok", features, source.distribution, source.version)
    except Exception as exc:  # a provider's failure is data, never fatal
        reason = str(exc) if isinstance(exc, WheelnextError) else f"{type(exc).__name__}: {exc}"
        return ProviderResult(namespace, "failed", (), source.distribution, source.version, reason)


def _run_in_subprocess(
    source: ProviderSource, context: DetectContext, timeout: float
) -> ProviderResult:
    request = {
        "name": source.name,
        "ref": source.ref,
        "kind": source.kind,
        "distribution": source.distribution,
        "version": source.version,
        "sysroot": str(context.sysroot),
        "environ": dict(context.environ),
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wheelnext.core._isolated_child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(source, f"timed out after {timeout:g}s (subprocess killed)")
    if proc.stderr:  # a provider's own diagnostics stay visible, as in thread mode
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return _failed(source, f"provider subprocess failed: {last}")
    try:
        (result,) = SupportedProperties.from_json(
            {"providers": [json.loads(proc.stdout)]}
        ).providers
    except (ValueError, WheelnextError) as exc:
        return _failed(source, f"provider subprocess answered garbage: {exc}")
    return result


def _failed(source: ProviderSource, reason: str) -> ProviderResult:
    return ProviderResult(source.name, "failed", (), source.distribution, source.version, reason)


def _resolve_conflicts(results: list[ProviderResult]) -> list[ProviderResult]:
    """Two providers answering for one namespace: neither is trusted (standard: fatal)."""
    owners: dict[str, list[ProviderResult]] = {}
    for result in results:
        if result.status != "failed":
            owners.setdefault(result.namespace, []).append(result)
    out = []
    for original in results:
        result = original
        rivals = owners.get(result.namespace, [])
        if result.status != "failed" and len(rivals) > 1:
            names = " and ".join(sorted(r.distribution or "?" for r in rivals))
            result = ProviderResult(
                result.namespace,
                "failed",
                (),
                result.distribution,
                result.version,
                f"namespace '{result.namespace}' is provided by both {names}",
            )
        out.append(result)
    return out


def detect(
    sources: Sequence[ProviderSource] | None = None,
    *,
    context: DetectContext | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    isolation: Isolation = "thread",
) -> SupportedProperties:
    """Run every provider (discovered ones by default) concurrently, each isolated."""
    cache_key = None
    if sources is None and context is None:
        cache_key = (timeout, isolation)
        if cache_key in _cache:
            return _cache[cache_key]
    sources = discover() if sources is None else list(sources)
    context = DetectContext() if context is None else context
    results: list[ProviderResult | None] = [None] * len(sources)

    def work(index: int, source: ProviderSource) -> None:
        if isolation == "subprocess":
            results[index] = _run_in_subprocess(source, context, timeout)
        else:
            results[index] = run_source(source, context)

    threads = [
        threading.Thread(target=work, args=(i, s), daemon=True, name=f"wheelnext-{s.name}")
        for i, s in enumerate(sources)
    ]
    deadline = time.monotonic() + timeout + (5.0 if isolation == "subprocess" else 0.0)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    final = [
        result if result is not None else _failed(source, f"timed out after {timeout:g}s")
        for source, result in zip(sources, results, strict=True)
    ]
    supported = SupportedProperties(tuple(_resolve_conflicts(final)))
    if cache_key is not None:
        _cache[cache_key] = supported
    return supported


@dataclass(frozen=True, slots=True)
class PropertyDescription:
    """Which provider answers for a property, and what it says about it."""

    source: ProviderSource
    text: str | None
    error: str | None = None


def describe_property(
    prop: VariantProperty, sources: Sequence[ProviderSource] | None = None
) -> PropertyDescription | None:
    """Ask the provider of ``prop``'s namespace to explain ``prop`` (None: no provider)."""
    for source in discover() if sources is None else sources:
        try:
            pm = _plugin_manager(provider_object(source), source.name)
            description = pm.hook.wheelnext_provider()
        except Exception:  # a provider that cannot even describe itself answers nothing
            continue
        if (
            not isinstance(description, ProviderDescription)
            or description.namespace != prop.namespace
        ):
            continue
        try:
            text = pm.hook.wheelnext_describe(prop=prop)
        except Exception as exc:
            return PropertyDescription(source, None, f"{type(exc).__name__}: {exc}")
        if text is not None and not isinstance(text, str):
            return PropertyDescription(
                source, None, f"wheelnext_describe returned {type(text).__name__}"
            )
        return PropertyDescription(source, text)
    return None
