"""The provider hook contract: every hook a provider may implement, in one place.

A provider is a module or object with functions marked ``@hookimpl``, published through
the entry-point group ``wheelnext.providers``::

    [project.entry-points."wheelnext.providers"]
    fpga = "acme_fpga_provider.plugin"

Core gives every provider its own ``pluggy.PluginManager`` and calls it alone, under a
time limit, in its own process (``wheelnext.core.isolation``). Whatever it does wrong,
raising, returning the wrong type, answering a feature or value it did not declare, or
taking too long, marks only that provider *failed* with a reason; the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from wheelnext.core.properties import VariantProperty
from wheelnext.core.providers import Absent, DetectContext, DetectedFeature, ProviderDescription

PROJECT_NAME = "wheelnext"
ENTRY_POINT_GROUP = "wheelnext.providers"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def wheelnext_provider() -> ProviderDescription:  # type: ignore[empty-body]
    """Describe the provider: its namespace and every feature it declares.

    Required. Called once per process, before detection. The declarations list every
    valid value (best first); core checks detection results and wheels against them, so
    a value may be added in a later release but never removed.

    If it raises or returns anything but a ``ProviderDescription``, the provider is
    marked failed and never asked to detect.
    """


@hookspec(firstresult=True)
def wheelnext_detect(context: DetectContext) -> Sequence[DetectedFeature] | Absent | None:
    """Say which declared features and values this machine supports, best first.

    Required. Return the supported features in the provider's preference order, each
    with its supported values best first; a feature with no supported value may be
    left out or given an empty tuple. Return ``Absent(reason)`` (or ``None``) when the
    hardware is not there: that is a normal answer, shown as status ``absent``.

    ``context.environ`` carries the environment (for overrides) and ``context.path()``
    maps ``/proc`` and ``/sys`` paths under the system root. Keep stdout clean.

    Called once per process; the result is cached. Exceptions, time-outs, other
    return types, undeclared features or values, and duplicates mark the provider
    failed with the reason.
    """


@hookspec(firstresult=True)
def wheelnext_describe(prop: VariantProperty) -> str | None:
    """Explain one declared property in a line for people (``wn-detect``).

    Optional. ``prop`` is always in the provider's namespace. Return None when there is
    nothing to say. Failures here are reported but never affect detection.
    """
