"""Calling providers, each on its own, and turning their answers into SupportedProperties.

By default (``isolation="process"``) every provider runs in its own child process, in its
own process group, under a hard deadline (``wheelnext.core.isolation``): a provider that
crashes, hangs in C code, exits, prints or forks affects only its own status. Answers of
the live machine are cached on disk (``wheelnext.core.detect_cache``) and per process.
``isolation="thread"`` runs providers in daemon threads of this process (embedding and
tests only: no protection from a provider that exits, holds the GIL or crashes).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wheelnext.core.discovery import ProviderSource, discover, load_object
from wheelnext.core.errors import ProviderError, WheelnextError, one_line
from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import Absent, DetectContext, DetectedFeature, ProviderDescription
from wheelnext.core.supported import ProviderResult, SupportedFeature, SupportedProperties

if TYPE_CHECKING:
    import pluggy

DEFAULT_TIMEOUT = 5.0
Isolation = Literal["process", "subprocess", "thread"]
ISOLATIONS: tuple[Isolation, ...] = ("process", "subprocess", "thread")

_cache: dict[tuple[Any, ...], SupportedProperties] = {}


def _plugin_manager(provider: object, name: str) -> pluggy.PluginManager:
    import pluggy

    from wheelnext.core import hookspecs

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
    """Load and call one provider in this process; never raises an ``Exception``."""
    namespace = source.name
    try:
        pm, description = _describe(provider_object(source), source.name)
        namespace = description.namespace
        answer = _detect(pm, description, context)
        if answer is None or isinstance(answer, Absent):
            reason = answer.reason if isinstance(answer, Absent) and answer.reason else None
            return ProviderResult(
                namespace,
                "absent",
                (),
                source.distribution,
                source.version,
                None if reason is None else one_line(str(reason)),
            )
        multi = {f.name: f.multi_value for f in description.features}
        features = tuple(
            SupportedFeature(f.name, tuple(f.values), multi[f.name]) for f in answer if f.values
        )
        return ProviderResult(namespace, "ok", features, source.distribution, source.version)
    except Exception as exc:  # a provider's failure is data, never fatal
        return failed(source, error_text(exc), namespace)


def error_text(exc: BaseException) -> str:
    """One sanitised line saying what a provider raised."""
    try:
        text = str(exc) if isinstance(exc, WheelnextError) else f"{type(exc).__name__}: {exc}"
    except Exception:  # a hostile __str__
        text = type(exc).__name__
    return one_line(text).removesuffix(":").strip() or type(exc).__name__


def warn(message: str) -> None:
    """``wheelnext: warning: MESSAGE`` on stderr, as one sanitised line."""
    try:
        sys.stderr.write(f"wheelnext: warning: {one_line(message, 400)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr must not stop detection
        pass


def failed(source: ProviderSource, reason: str, namespace: str | None = None) -> ProviderResult:
    """``source`` marked failed with ``reason`` (sanitised to one line)."""
    return ProviderResult(
        namespace or source.name,
        "failed",
        (),
        source.distribution,
        source.version,
        one_line(reason) or "failed",
    )


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


def _run_in_threads(
    sources: Sequence[ProviderSource], context: DetectContext, timeout: float
) -> list[ProviderResult]:
    """Opt-in thread mode: no protection from exits, crashes or the GIL."""
    import threading

    results: list[ProviderResult | None] = [None] * len(sources)

    def work(index: int, source: ProviderSource) -> None:
        results[index] = run_source(source, context)

    threads = [
        threading.Thread(target=work, args=(i, s), daemon=True, name=f"wheelnext-{s.name}")
        for i, s in enumerate(sources)
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        result if result is not None else failed(source, f"timed out after {timeout:g}s")
        for source, result in zip(sources, results, strict=True)
    ]


def _run(
    sources: Sequence[ProviderSource],
    context: DetectContext,
    timeout: float,
    isolation: Isolation,
) -> list[ProviderResult]:
    if not sources:
        return []
    if isolation == "thread":
        return _run_in_threads(sources, context, timeout)
    from wheelnext.core.isolation import run_isolated

    return run_isolated(sources, context, timeout, spawn=isolation == "subprocess")


def detect(
    sources: Sequence[ProviderSource] | None = None,
    *,
    context: DetectContext | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    isolation: Isolation = "process",
    use_cache: bool | None = None,
    warn_failures: bool = True,
) -> SupportedProperties:
    """Run every provider (discovered ones by default) concurrently, each isolated.

    ``use_cache`` (default: on for discovered providers on the live machine, off when
    ``WHEELNEXT_NO_DETECT_CACHE`` is set) reuses answers stored on disk by an earlier run;
    only ``ok`` and ``absent`` answers are stored, so a failed provider runs again.
    Each failed provider is reported on stderr (one line) unless ``warn_failures`` is
    False, so that no caller degrades to a baseline wheel without saying why.
    """
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}")
    memo_key = None
    if sources is None and context is None:
        memo_key = (timeout, isolation, use_cache)
        if memo_key in _cache:
            return _cache[memo_key]
    context = DetectContext() if context is None else context
    from wheelnext.core import detect_cache

    if use_cache is None:
        use_cache = sources is None and context.live and not detect_cache.disabled()
    if use_cache and sources is None:
        final = detect_cache.detect_cached(
            context, lambda todo: _run(todo, context, timeout, isolation), _resolve_conflicts
        )
    else:
        todo = discover() if sources is None else list(sources)
        final = _resolve_conflicts(_run(todo, context, timeout, isolation))
    if warn_failures:
        for result in final:
            if result.status == "failed":
                who = f"'{result.namespace}' ({result.distribution or 'unknown distribution'})"
                warn(f"provider {who} failed: {result.error}")
    supported = SupportedProperties(tuple(final))
    if memo_key is not None:
        _cache[memo_key] = supported
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
    """Ask the provider of ``prop``'s namespace to explain ``prop`` (None: no provider).

    This runs provider code in this process (``wn-detect --explain`` only).
    """
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
            return PropertyDescription(source, None, error_text(exc))
        if text is not None and not isinstance(text, str):
            return PropertyDescription(
                source, None, f"wheelnext_describe returned {type(text).__name__}"
            )
        return PropertyDescription(source, None if text is None else one_line(text))
    return None
