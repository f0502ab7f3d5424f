"""``wn variant``: make a variant wheel, show one, index a directory of them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wheelnext.installer.cli_common import VERBOSE_HELP, check_dir, check_wheel_file, run_command

if TYPE_CHECKING:
    from wheelnext.core.metadata import VariantMetadata

_PLUGIN_API = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog or "wn variant", description="Variant wheels (PEP 825).")
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    about = "turn a built wheel into a variant wheel"
    make = sub.add_parser(
        "make",
        help=about,
        description=f"{about.capitalize()}: a copy named WHEEL-LABEL.whl with the variant.json "
        "that says which hardware it is for.",
    )
    make.add_argument("wheel", type=Path, metavar="WHEEL", help="the built (non-variant) wheel")
    kind = make.add_mutually_exclusive_group(required=True)
    kind.add_argument(
        "--property",
        "-p",
        action="append",
        default=[],
        metavar="'NS :: F :: V'",
        help="a property the wheel needs, e.g. 'x86_64 :: level :: v3' (repeatable)",
    )
    kind.add_argument("--null", action="store_true", help="the null variant (no properties)")
    make.add_argument(
        "--label", help="the label (default: variantlib's hash of the properties, 8 hex characters)"
    )
    make.add_argument(
        "--default-priorities",
        metavar="NS[,NS...]",
        help="namespace order, best first (default: the order --property names them; for "
        "--null, that of the release's other variant wheels in the output directory)",
    )
    make.add_argument(
        "--format",
        choices=("pep825", "variantlib"),
        default=None,
        help="variant.json format: PEP 825's 0.1.1 (what uv's variant build reads) or "
        "variantlib's 0.2 with provider requirements (read by variantlib 0.2.2 "
        "and wn) (default: pep825; with --null, the format of the release's other variants)",
    )
    make.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="NS=REQUIREMENT",
        help="the provider to require for NS (default: the one installed here)",
    )
    make.add_argument(
        "--plugin-api",
        action="append",
        default=[],
        metavar="NS=MODULE:ATTR",
        help="the provider's plugin object for NS, with --format variantlib (default: none)",
    )
    make.add_argument(
        "--no-validate", action="store_true", help="allow values installed providers do not declare"
    )
    make.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write the variant wheel to DIR (default: beside WHEEL)",
    )

    about = "print a wheel's label and properties"
    show = sub.add_parser("show", help=about, description=f"{about.capitalize()}.")
    show.add_argument("wheel", type=Path, metavar="WHEEL", help="a variant (or plain) wheel")
    show.add_argument("--json", action="store_true", help="print its variant.json document")

    about = "write {name}-{version}-variants.json for DIR"
    index = sub.add_parser(
        "index",
        help=about,
        description=f"{about.capitalize()}: the index-level file that lists every variant "
        "wheel of each release in DIR with its properties, for installers to read before "
        "downloading.",
    )
    index.add_argument(
        "directory", type=Path, metavar="DIR", help="a directory of a release's variant wheels"
    )
    return p


def _pairs(values: list[str], option: str, parser: argparse.ArgumentParser) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip() or not rest.strip():
            parser.error(f"{option}: expected NS=VALUE, got {value!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


def _check_wheel(path: Path) -> None:
    check_wheel_file(path, "WHEEL")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    actions = {"make": _make, "show": _show, "index": _index}
    return run_command(parser.prog, args.verbose, lambda: actions[args.action](args, parser))


def _make(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from packaging.requirements import InvalidRequirement, Requirement

    from wheelnext.core.errors import WheelnextError
    from wheelnext.core.labels import NULL_LABEL
    from wheelnext.core.metadata import ProviderInfo
    from wheelnext.core.properties import VariantProperty
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.variant_wheels import (
        DEFAULT_FORMAT,
        FORMATS,
        build_metadata,
        check_declared,
        format_name,
        make_variant,
    )

    if args.null and args.label not in (None, NULL_LABEL):
        parser.error("--null makes the 'null' variant; --label cannot change that")
    try:
        properties = [VariantProperty.parse(text) for text in args.property]
    except WheelnextError as exc:
        raise InstallerError(f"--property: {exc}") from None
    plugin_apis = _pairs(args.plugin_api, "--plugin-api", parser)
    for ns, api in plugin_apis.items():
        if not _PLUGIN_API.fullmatch(api):
            raise InstallerError(f"--plugin-api {ns}={api}: expected MODULE:ATTR")
    for ns, req in _pairs(args.provider, "--provider", parser).items():
        try:
            Requirement(req)
        except InvalidRequirement as exc:
            reason = (str(exc).splitlines() or ["invalid"])[0]
            raise InstallerError(f"--provider {ns}={req}: invalid requirement: {reason}") from None
    providers = {
        ns: ProviderInfo(requires=(req,), plugin_api=plugin_apis.get(ns))
        for ns, req in _pairs(args.provider, "--provider", parser).items()
    }
    if not args.no_validate:
        check_declared(properties)
    namespaces = [n.strip() for n in (args.default_priorities or "").split(",") if n.strip()]
    fmt = args.format
    if args.null and not namespaces:
        siblings = _release_variants(args)
        namespaces = list(siblings.namespace_priorities)
        providers = {**siblings.providers, **providers}
        fmt = fmt or format_name(siblings.schema)
    fmt = fmt or DEFAULT_FORMAT
    if (args.provider or args.plugin_api) and not FORMATS[fmt].has_providers:
        given = "--provider" if args.provider else "--plugin-api"
        raise InstallerError(f"{given}: only --format variantlib records providers")
    metadata = build_metadata(
        NULL_LABEL if args.null else args.label, properties, namespaces, fmt, providers
    )
    _check_wheel(args.wheel)
    if args.output_dir is not None:
        check_dir(args.output_dir, "-o")
    path = make_variant(args.wheel, metadata, args.output_dir)
    print(path)
    return 0


def _release_variants(args: argparse.Namespace) -> VariantMetadata:
    """``--null`` without ``--default-priorities``: the release's other variant wheels in
    the output directory (default: the input's) say the namespaces."""
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.variant_wheels import release_variants

    _check_wheel(args.wheel)
    out = args.output_dir if args.output_dir is not None else args.wheel.parent
    found = release_variants(out, args.wheel)
    if found is None:
        raise InstallerError(
            "give the release's namespaces (--default-priorities) for a null variant: "
            f"no variant wheel of {args.wheel.name}'s release in {out}"
        )
    return found


def _show(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelnext.core.metadata import metadata_to_json
    from wheelnext.installer.variant_wheels import label_text, read_variant

    _check_wheel(args.wheel)
    wheel = read_variant(args.wheel)
    if args.json:
        doc = None if wheel.metadata is None else metadata_to_json(wheel.metadata)
        json.dump(
            {"wheel": args.wheel.name, "label": wheel.filename.label, "variant": doc},
            sys.stdout,
            indent=2,
        )
        print()
        return 0
    if wheel.metadata is None:
        print(f"{args.wheel.name}: not a variant wheel")
        return 0
    md = wheel.metadata
    (label,) = md.labels
    print(f"{args.wheel.name}")
    null = " (null variant)" if not md.variants[label] else ""
    print(f"  label:      {label_text(label, md.variants[label])}{null}")
    print(f"  format:     {md.schema} ({md.schema.url})")
    print(f"  namespaces: {', '.join(md.namespace_priorities)}")
    for prop in sorted(md.variants[label], key=str):
        print(f"  property:   {prop}")
    for ns, info in md.providers.items():
        where = ", ".join(info.requires) or (
            "static" if info.static_properties else info.builtin or ""
        )
        api = f" ({info.plugin_api})" if info.plugin_api else ""
        print(f"  provider:   {ns}: {where}{api}")
    return 0


def _index(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelnext.installer.errors import InstallerError
    from wheelnext.installer.variant_wheels import index_directory

    check_dir(args.directory, "DIR", create=False)
    written = index_directory(args.directory)
    if not written:
        found = sum(1 for _ in args.directory.glob("*.whl"))
        raise InstallerError(
            f"{args.directory}: no variant wheels to index"
            + (f" ({found} wheel{'s' if found > 1 else ''} without a label)" if found else "")
        )
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
