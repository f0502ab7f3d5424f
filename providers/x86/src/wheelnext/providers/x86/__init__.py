"""The ``x86_64`` variant provider: x86-64 micro-architecture levels and ISA extensions."""
