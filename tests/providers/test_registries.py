"""Each provider's namespace registry in spec/namespaces/ lists every declared name and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelnext.core.detection import call_provider, provider_object
from wheelnext.core.providers import DetectContext
from wheelnext.core.testing import installed_source

SPEC = Path(__file__).parents[2] / "spec" / "namespaces"
OURS = {
    "x86_64": "WHEELNEXT_X86_64_PIN",
    "aarch64": "WHEELNEXT_AARCH64_PIN",
    "nvidia": "WHEELNEXT_NVIDIA_SM",
    "amd": "WHEELNEXT_AMD_GFX_ARCH",
}


@pytest.mark.parametrize("namespace", sorted(OURS))
def test_registry_documents_every_declared_feature_value_and_override(namespace: str) -> None:
    source = installed_source(namespace)
    description, _ = call_provider(provider_object(source), namespace, DetectContext(environ={}))
    text = (SPEC / f"{namespace}.md").read_text()
    missing = [
        f"{feature.name} :: {value}"
        for feature in description.features
        for value in feature.values
        if f"`{feature.name}`" not in text or (value != "on" and f"`{value}`" not in text)
    ]
    assert missing == []
    assert f"`{OURS[namespace]}`" in text
