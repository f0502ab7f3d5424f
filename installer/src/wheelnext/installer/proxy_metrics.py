"""The proxy's Prometheus metrics (``/metrics``), with label values from bounded sets.

Label values never carry a client's raw bytes: routes and cache kinds are fixed words,
statuses are the few the proxy answers, a profile is ``default`` or a short hash of its
token, and variant labels come from checked wheel filenames. Profiles and variant labels
are each capped (``MAX_PROFILES``, ``MAX_VARIANTS`` distinct values per process); later
ones are counted as ``other``, so a client inventing tokens cannot grow the metrics.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``wn proxy --workers N`` sets it to a private
directory; set it yourself under gunicorn), every worker writes its values there and
``/metrics`` sums all workers (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

MAX_PROFILES = 32
MAX_VARIANTS = 64
ROUTES = ("simple", "files", "metadata", "healthz", "metrics", "other")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Bounded:
    """At most ``limit`` distinct label values; the rest are ``other``."""

    def __init__(self, limit: int, *fixed: str) -> None:
        self.limit = limit
        self.seen: set[str] = set(fixed)
        self.lock = threading.Lock()

    def __call__(self, value: str) -> str:
        with self.lock:
            if value in self.seen:
                return value
            if len(self.seen) >= self.limit:
                return "other"
            self.seen.add(value)
            return value


def profile_label(token: str | None) -> str:
    """``default``, or the first 12 hex digits of the token's sha256 (logs and metrics)."""
    if token is None:
        return "default"
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class Metrics:
    """Counters and the upstream latency histogram of one process."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # multiprocess mode: values live in the directory; /metrics reads them all
        self.registry = None if self.multiprocess else CollectorRegistry(auto_describe=True)
        reg: Any = self.registry
        self.requests = Counter(
            "wheelnext_proxy_requests",
            "Requests answered, by route and status.",
            ["route", "status"],
            registry=reg,
        )
        self.cache_hits = Counter(
            "wheelnext_proxy_cache_hits",
            "Answers from the cache, by kind (project, page, file, metadata).",
            ["kind"],
            registry=reg,
        )
        self.cache_misses = Counter(
            "wheelnext_proxy_cache_misses",
            "Answers that needed the upstream or a computation, by kind.",
            ["kind"],
            registry=reg,
        )
        self.upstream_seconds = Histogram(
            "wheelnext_proxy_upstream_seconds",
            "Time of upstream requests (project lookups, file downloads, metadata).",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=reg,
        )
        self.upstream_errors = Counter(
            "wheelnext_proxy_upstream_errors",
            "Upstream failures answered 502 (error) or 504 (timeout).",
            ["kind"],
            registry=reg,
        )
        self.selections = Counter(
            "wheelnext_proxy_selections",
            "Variant wheels offered in served pages, by profile and variant label.",
            ["profile", "variant"],
            registry=reg,
        )
        self.profiles = Bounded(MAX_PROFILES, "default")
        self.variants = Bounded(MAX_VARIANTS, "null", "none")

    def selected(self, token: str | None, labels: dict[str, int]) -> None:
        """Count the variant labels of one served page (``none``: a non-variant wheel
        stood in for a variant release)."""
        profile = self.profiles(profile_label(token))
        for label, count in labels.items():
            self.selections.labels(profile, self.variants(label)).inc(count)

    def exposition(self) -> tuple[bytes, str]:
        """The text format of every metric (all workers' in multiprocess mode)."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.registry is not None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
