"""The ``nvidia`` variant provider: CUDA driver capability and GPU SM architectures."""
