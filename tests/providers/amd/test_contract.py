"""The amd provider passes the provider contract suite (`wheelnext.core.testing`)."""

from __future__ import annotations

from wheelnext.core.testing import ProviderContract


class TestAmdContract(ProviderContract):
    namespace = "amd"
    present_environments = (
        {"WHEELNEXT_AMD_GFX_ARCH": "gfx942", "WHEELNEXT_AMD_ROCM_VERSION": "6.4"},
    )
    absent_environments = ({"ROCR_VISIBLE_DEVICES": ""},)
