"""The ``amd`` variant provider: ROCm version and GPU gfx architectures (from KFD sysfs)."""
