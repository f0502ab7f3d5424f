"""The nvidia provider passes the provider contract suite (`wheelnext.core.testing`)."""

from __future__ import annotations

from wheelnext.core.testing import ProviderContract


class TestNvidiaContract(ProviderContract):
    namespace = "nvidia"
    present_environments = (
        {"WHEELNEXT_NVIDIA_CUDA_DRIVER": "12.8", "WHEELNEXT_NVIDIA_SM": "9.0"},
        {
            "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "11.8",
            "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "7.5,8.6",
        },
    )
    absent_environments = ({"CUDA_VISIBLE_DEVICES": ""},)
