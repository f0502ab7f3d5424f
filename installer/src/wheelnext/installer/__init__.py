"""wheelnext-installer: index priority, default extras, variant-aware resolution, ``wn install``."""
