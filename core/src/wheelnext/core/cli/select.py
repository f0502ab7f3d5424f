"""``wn select``: rank wheel filenames of one release for this (or another) machine."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from wheelnext.core.cli._common import fail

if TYPE_CHECKING:
    from wheelnext.core.metadata import VariantMetadata


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "wn select",
        description=(
            "Rank the wheels of one release, best first. Without --wheel, ranks every "
            "label of the variants file as {name}-{version}-py3-none-any-{label}.whl "
            "plus the non-variant wheel, as if the release had them (a note on stderr "
            "says so)."
        ),
    )
    parser.add_argument(
        "--variants-json",
        required=True,
        type=Path,
        metavar="FILE",
        help="the release's {name}-{version}-variants.json",
    )
    parser.add_argument(
        "--properties",
        type=Path,
        metavar="FILE",
        help="supported properties (wn-detect --json output; default: detect this machine)",
    )
    parser.add_argument(
        "--wheel",
        action="append",
        metavar="FILENAME",
        help="a wheel filename, or a path whose file name is taken (the file need not "
        "exist), to rank (repeatable; default: the variants file's labels, see above)",
    )
    parser.add_argument("--json", action="store_true", help="print ranked and rejected as JSON")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    prog = parser.prog

    from wheelnext.core.errors import WheelnextError
    from wheelnext.core.filenames import escape_name, parse_variants_json_filename
    from wheelnext.core.labels import NULL_LABEL
    from wheelnext.core.metadata import load_metadata
    from wheelnext.core.priorities import load_user_priorities
    from wheelnext.core.selector import select
    from wheelnext.core.supported import SupportedProperties

    try:
        metadata = load_metadata(args.variants_json)
        if args.properties is not None:
            supported = SupportedProperties.load(args.properties)
        else:
            from wheelnext.core.detection import detect

            with contextlib.redirect_stdout(sys.stderr):
                supported = detect()
        priorities = load_user_priorities()
        note = None
        if args.wheel:
            wheels = _check_one_release(args.variants_json, args.wheel)
        else:
            name, version = parse_variants_json_filename(args.variants_json.name)
            base = f"{escape_name(name)}-{version}-py3-none-any"
            labels = sorted(metadata.labels, key=lambda label: label == NULL_LABEL)
            wheels = [f"{base}-{label}.whl" for label in labels] + [f"{base}.whl"]
            note = (
                f"{prog}: note: no --wheel given: ranking each label of "
                f"{args.variants_json.name} as {base}-LABEL.whl, and the non-variant "
                f"{base}.whl, as if the release had them (--wheel FILENAME ranks real wheels)"
            )
    except WheelnextError as exc:
        return fail(prog, str(exc))
    if note is not None:  # the names are made up: say so, where a pipe of stdout cannot see
        from wheelnext.core.errors import one_line

        print(one_line(note, 2000), file=sys.stderr)

    selection = select(wheels, metadata, supported, priorities=priorities)
    if args.json:
        json.dump(selection.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        # on a terminal, each variant wheel's properties beside it; a pipe gets filenames
        about = _about(metadata) if sys.stdout.isatty() else (lambda label: "")
        lines = (f"{r.wheel}{about(r.wheel.label)}\n" for r in selection.ranked)
        _write(sys.stdout, lines)
        _write(sys.stderr, (f"rejected {r.wheel}: {r.reason}\n" for r in selection.rejected))
    return 0


def _about(metadata: VariantMetadata) -> Callable[[str | None], str]:
    """``  [LABEL: NS :: F :: V; ...]`` for a wheel's label (nothing for a plain wheel)."""

    def about(label: str | None) -> str:
        if label is None:
            return ""
        props = metadata.properties(label) or frozenset()
        return f"  [{label}: {'; '.join(sorted(map(str, props))) or 'no properties'}]"

    return about


def _file_name(wheel: str) -> str:
    """A ``--wheel`` given as a path (``dist/x.whl``, ``C:\\dist\\x.whl``): its file name,
    which is all a ranking reads; the file need not exist."""
    return wheel.replace("\\", "/").rsplit("/", 1)[-1]


def _check_one_release(variants_json: Path, wheels: list[str]) -> list[str]:
    """Every ``--wheel`` must be a wheel filename, of the release ``variants_json`` is
    named for or, when its name is not ``{name}-{version}-variants.json``, of the first
    wheel's release: a typo is an error, not a quiet rejection. Returns their file names."""
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from wheelnext.core.errors import InvalidFilenameError
    from wheelnext.core.filenames import WheelFilename, parse_variants_json_filename

    release: tuple[NormalizedName, Version] | None
    try:
        release, source = parse_variants_json_filename(variants_json.name), variants_json.name
    except InvalidFilenameError:
        release, source = None, "the first --wheel"
    names = [_file_name(wheel) for wheel in wheels]
    for wheel, name in zip(wheels, names, strict=True):
        try:
            this = WheelFilename.parse(name).release
        except InvalidFilenameError as exc:
            raise InvalidFilenameError(f"--wheel {wheel}: {exc}") from None
        if release is None:
            release = this
        elif this != release:
            raise InvalidFilenameError(
                f"--wheel {wheel}: not a wheel of {release[0]} {release[1]} (from {source})"
            )
    return names


def _write(stream: TextIO, lines: Iterable[str], batch: int = 2048) -> None:
    """Write in batches: stderr is line-buffered (a write per line), and one joined string
    of 100,000 lines would be the largest object of the process."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == batch:
            stream.write("".join(chunk))
            chunk.clear()
    stream.write("".join(chunk))


if __name__ == "__main__":
    sys.exit(main())
