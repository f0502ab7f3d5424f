"""``wn``: one command assembled from every installed wheelnext distribution.

Subcommands come from the entry-point group ``wheelnext.commands`` (name -> a callable
``main(argv, prog) -> int``); core registers ``detect`` and ``select``, the installer
adds its own. Only the chosen subcommand's module is imported.
"""

from __future__ import annotations

import sys

from wheelnext.core.cli._common import EXIT_USAGE, warnings_as_lines

COMMAND_GROUP = "wheelnext.commands"
# core's own commands (also registered in COMMAND_GROUP): no entry-point scan (~45 ms) to run them
CORE_COMMANDS = {
    "detect": "wheelnext.core.cli.detect:main",
    "select": "wheelnext.core.cli.select:main",
}


def _commands(name: str | None = None) -> dict[str, str]:
    if name in CORE_COMMANDS:
        return {name: CORE_COMMANDS[name]}
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}


NO_SUMMARY = "(no description)"


def _summary(ref: str) -> str:
    """A command's one-line description: the first paragraph of its module's docstring,
    read from the source without running it (``wn --help`` stays cheap, and a broken
    third-party command cannot break it), less the ````wn NAME``:`` prefix."""
    import ast
    import importlib.util
    import re
    from pathlib import Path

    from wheelnext.core.errors import one_line

    try:
        spec = importlib.util.find_spec(ref.partition(":")[0])
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(".py"):
            return NO_SUMMARY
        with Path(origin).open("rb") as source:
            doc = ast.get_docstring(ast.parse(source.read(1_000_000)))
    except Exception:  # any package's import or source may be broken
        return NO_SUMMARY
    first = (doc or "").strip().split("\n\n", 1)[0]
    first = re.sub(r"^``[^`]*``:\s*", "", first).replace("``", "")
    return one_line(first, 100) or NO_SUMMARY


def _usage(commands: dict[str, str]) -> str:
    width = max(map(len, commands), default=0)
    names = (
        "\n".join(f"  {name:<{width}}  {_summary(commands[name])}" for name in sorted(commands))
        or "  (none installed)"
    )
    return (
        "usage: wn [-h] [--version] COMMAND [ARGS...]\n\n"
        "Hardware-aware wheel selection.\n\ncommands:\n"
        f"{names}\n\noptions:\n"
        "  -h, --help  show this help and exit\n"
        "  --version   print wn's version and exit\n\n"
        "Run 'wn COMMAND --help' for a command's options.\n"
    )


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before a command could handle it (start-up, imports)
        print("wn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        import contextlib
        from importlib.metadata import PackageNotFoundError, version

        from wheelnext.core import __version__

        parts = [f"wheelnext-core {__version__}"]
        # the installer's commands (install, proxy, ...) come from another distribution
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"wheelnext-installer {version('wheelnext-installer')}")
        print(f"wn ({', '.join(parts)})")
        return 0
    commands = _commands(argv[0] if argv else None)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_usage(commands))
        return 0 if argv else EXIT_USAGE
    name, rest = argv[0], argv[1:]
    if name not in commands:
        sys.stderr.write(_usage(commands))
        print(f"wn: error: unknown command {name!r}", file=sys.stderr)
        return EXIT_USAGE
    from wheelnext.core.discovery import load_object
    from wheelnext.core.errors import WheelnextError, one_line

    try:
        command = load_object(commands[name])
    except WheelnextError as exc:  # a broken third-party command: one line, no traceback
        print(f"wn: error: command {name!r}: {one_line(str(exc), 500)}", file=sys.stderr)
        return EXIT_USAGE
    if not callable(command):
        print(f"wn: error: command {name!r} is not callable", file=sys.stderr)
        return EXIT_USAGE
    try:
        with warnings_as_lines(f"wn {name}"):
            result = command(rest, prog=f"wn {name}")
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_left()
    return int(result or 0)


def _reader_left() -> int:
    """The reader of our output went away (``wn ... | head``): stop quietly, as ``cat``
    does, with stdout pointed at /dev/null so the interpreter's final flush stays silent."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


if __name__ == "__main__":
    sys.exit(main())
