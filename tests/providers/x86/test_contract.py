"""The x86_64 provider passes the provider contract suite (`wheelnext.core.testing`)."""

from __future__ import annotations

from wheelnext.core.testing import ProviderContract


class TestX86Contract(ProviderContract):
    namespace = "x86_64"
    present_environments = (
        {"WHEELNEXT_X86_64_PIN": "v3,sha_ni"},
        {"WHEELNEXT_X86_64_PIN": "v1"},
    )
    absent_environments = ({"WHEELNEXT_X86_64_PIN": "none"},)
