"""The ``aarch64`` variant provider: Arm architecture versions and ISA extensions."""
