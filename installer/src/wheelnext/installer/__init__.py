"""wheelnext-installer: index priority, default extras, variant-aware resolution, ``wn install``."""

import sys

# httpx imports its own command-line client (click, pygments, rich's syntax highlighting:
# ~70 ms and 5 MiB) whenever click is installed, as it is beside uvicorn; nothing here
# runs that client, so its module is marked absent and httpx keeps its stub ``main``.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
