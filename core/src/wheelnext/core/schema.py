"""Emit the JSON Schemas of every format this library reads into a directory.

``python -m wheelnext.core.schema spec/schema`` regenerates ``spec/schema/``; a test
checks the committed files equal what the models produce, so they cannot drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema document."""
    from wheelnext.core import metadata_models as m
    from wheelnext.core.profile_model import Profile
    from wheelnext.core.schema_versions import (
        PEP825_V0_1_1,
        PROVIDERS_V0_2_0,
        VARIANTLIB_V0_0_3,
    )

    return {
        "variant-metadata-0.1.1.schema.json": m.json_schema(
            m.Pep825Metadata, PEP825_V0_1_1.url, "Variant metadata, PEP 825 format 0.1.1"
        ),
        "variant-metadata-0.2.0.schema.json": m.json_schema(
            m.ProvidersMetadataV02,
            PROVIDERS_V0_2_0.url,
            "Variant metadata, providers draft format 0.2.x (variantlib 0.2.2)",
        ),
        "variant-metadata-0.0.3.schema.json": m.json_schema(
            m.VariantlibMetadataV00,
            VARIANTLIB_V0_0_3.url,
            "Variant metadata, variantlib 0.0.x / PEP 817 format",
        ),
        "properties-profile.schema.json": m.json_schema(
            Profile,
            "https://wheelnext.invalid/schema/properties-profile.json",
            "Supported-properties profile (wn-detect --json)",
        ),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m wheelnext.core.schema OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (out / name).write_text(render(schema), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
