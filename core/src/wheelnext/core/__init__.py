"""wheelnext-core: variant properties, wheel-variant formats, provider hooks, the selector.

Submodules are imported on demand so that ``wn-detect`` and ``wn --help`` start fast;
import what you need from them (``wheelnext.core.properties``, ``.selector``, ...).
"""

__version__ = "0.1.0"
