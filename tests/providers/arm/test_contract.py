"""The aarch64 provider passes the provider contract suite (`wheelnext.core.testing`)."""

from __future__ import annotations

from wheelnext.core.testing import ProviderContract


class TestArmContract(ProviderContract):
    namespace = "aarch64"
    present_environments = (
        {"WHEELNEXT_AARCH64_PIN": "9.0a,sve"},
        {"WHEELNEXT_AARCH64_PIN": "8a"},
    )
    absent_environments = ({"WHEELNEXT_AARCH64_PIN": "none"},)
