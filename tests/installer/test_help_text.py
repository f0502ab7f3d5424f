"""Help a newcomer can act on: ``wn --help`` describes every command in one line, and every
option of every ``wn`` command (and subcommand) has help text that states its default, as
``(default: X)``.

The parsers are built the way ``wn`` reaches them: each command of the entry-point group
``wheelnext.commands``, its module's ``_parser(prog)``."""

from __future__ import annotations

import argparse
import importlib
import re
from importlib.metadata import entry_points

import pytest

from tests.installer.envs import wn

COMMANDS = {ep.name: ep.value for ep in entry_points(group="wheelnext.commands")}
# values a reader need not be told: nothing set, a flag off, an empty repeatable list
UNSTATED: tuple[object, ...] = (None, False, [], argparse.SUPPRESS)
# "default" stated otherwise than "(default: X)" or "(...; default: X)" (not "--default-x",
# "%(default)s", "(default)")
FORM = "default not stated as '(default: X)'"
OTHER_FORM = re.compile(r"(?<![-\w])(?<!%\()default(?![-\w):])|(?<![(\w])(?<!; )default:")


def _parser(name: str) -> argparse.ArgumentParser:
    """The parser ``wn NAME`` parses its arguments with."""
    module = importlib.import_module(COMMANDS[name].partition(":")[0])
    parser: argparse.ArgumentParser = module._parser(f"wn {name}")
    return parser


def _gaps(parser: argparse.ArgumentParser) -> list[str]:
    """Every missing description, option help or stated default, in ``parser`` and in its
    subcommands' parsers, each naming the command and the option."""
    where = parser.prog
    found = [] if parser.description else [f"{where}: no description"]
    parser.format_help()  # a bad %-placeholder in any help text raises here
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not summaries.get(name):
                    found.append(f"{where} {name}: no one-line summary in {where} --help")
                found += _gaps(sub)
            continue
        option = "/".join(action.option_strings) or action.metavar or action.dest
        text = action.help
        if not text or text == argparse.SUPPRESS:
            found.append(f"{where} {option}: no help")
            continue
        if OTHER_FORM.search(text):
            found.append(f"{where} {option}: {FORM}")
        if (
            action.option_strings
            and action.default not in UNSTATED
            and "%(default)" not in text
            and "default" not in text
        ):
            found.append(f"{where} {option}: default {action.default!r} not stated")
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_stating_its_default(name: str) -> None:
    assert [gap for gap in _gaps(_parser(name)) if not gap.endswith(FORM)] == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_default_is_stated_in_one_form(name: str) -> None:
    assert [gap for gap in _gaps(_parser(name)) if gap.endswith(FORM)] == []


def test_the_walk_finds_what_is_missing() -> None:
    """The checker itself: an option without help, one with an unstated default, and a
    subcommand without summary or description are each reported."""
    parser = argparse.ArgumentParser(prog="wn demo", description="A demo.")
    parser.add_argument("--bare")
    parser.add_argument("--level", type=int, default=3, help="how hard")
    parser.add_argument("--ok", default=3, help="how hard (default: %(default)s)")
    parser.add_argument("--loose", default=3, help="how hard (default 3)")
    parser.add_argument("--tail", default=3, help="how hard, default: %(default)s")
    parser.add_argument("--no-default-x", action="store_true", help="no (default: off)")
    sub = parser.add_subparsers(dest="action")
    sub.add_parser("make")
    assert _gaps(parser) == [
        "wn demo --bare: no help",
        "wn demo --level: default 3 not stated",
        "wn demo --loose: default not stated as '(default: X)'",
        "wn demo --tail: default not stated as '(default: X)'",
        "wn demo make: no one-line summary in wn demo --help",
        "wn demo make: no description",
    ]


def test_wn_help_describes_every_command_in_one_line() -> None:
    done = wn("--help")
    assert done.returncode == 0, done.stderr
    listed = {}
    lines = done.stdout.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    for line in lines:
        match = re.fullmatch(r"  (\S+) +(\S.*)", line)
        assert match, line
        listed[match[1]] = match[2]
    assert set(listed) == set(COMMANDS)
    for name, summary in listed.items():
        assert summary != "(no description)", name
        assert "``" not in summary, (name, summary)  # no reST markup from the docstring
    assert listed["install"].startswith("install requirements")


def test_wn_install_help_says_where_it_installs() -> None:
    """Without --python or --target, ``wn install`` installs into the environment of the
    interpreter ``wn`` runs under (target.probe: sys.executable), not an activated venv."""
    done = wn("install", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "installs into the environment of the Python interpreter wn itself runs under" in text
    assert "not an activated virtual environment" in text
    assert "(default: the interpreter wn runs under)" in text
    assert "(default: 15)" in text  # --timeout, filled in by argparse
