"""The LINKS file and the dedupe plan, unit by unit (the end-to-end checks are in
test_wheel_tools.py and test_archive_safety.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wheelnext.installer.dedupe import set_wheel_version
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.links import check_links, format_links, parse_links, plan_dedupe
from wheelnext.installer.paths import unsafe_reason

SAME = ("sha256=abc", 100)


def test_chains_per_directory_and_library() -> None:
    contents = {
        "a/libfoo.so": SAME,
        "a/libfoo.so.1": SAME,
        "a/libfoo.so.1.2.3": SAME,
        "b/libfoo.so.1": SAME,  # another directory: its own group (a single file)
        "a/libz.dylib": ("sha256=z", 7),
        "a/libz.1.dylib": ("sha256=z", 7),
        "a/libfoo.so.2": ("sha256=other", 100),  # same library, other bytes: kept
        "a/readme.txt": SAME,
        "a/empty.so": ("sha256=e", 0),
        "a/empty.so.1": ("sha256=e", 0),  # empty files are never linked
    }
    assert plan_dedupe(contents) == [
        ("a/libfoo.so", "a/libfoo.so.1"),
        ("a/libfoo.so.1", "a/libfoo.so.1.2.3"),
        ("a/libz.dylib", "a/libz.1.dylib"),
    ]


def test_links_round_trip_through_csv() -> None:
    links = [("pkg/a, b.so", "pkg/c.so"), ("pkg/d.so", "pkg/a, b.so")]
    assert parse_links(format_links(links), "LINKS") == links
    with pytest.raises(InstallerError, match="LINKS: line 2: expected 'link_path,target_path'"):
        parse_links("a,b\na,b,c\n", "LINKS")


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ([("p/x", "p/y"), ("p/y", "p/z"), ("p/z", "p/x")], "link cycle p/x -> p/y -> p/z -> p/x"),
        ([(f"p/l{i}", f"p/l{i + 1}") for i in range(41)] + [("p/l41", "p/f")], "longer than 40"),
        ([("p/x", "C:/windows/x")], "absolute path"),
        ([("p/x/", "p/f")], "directory links are not supported"),
        ([("p/x", "p/f"), ("p/x", "p/f")], "listed twice"),
        ([("p", "p/f")], "would replace a file of the wheel"),
    ],
)
def test_refused_link_sets(links: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(InstallerError, match=message):
        check_links(links, {"p/f"}, "p-1.0.dist-info", "LINKS")


def test_a_long_chain_within_the_limit_is_fine() -> None:
    links = [(f"p/l{i}", f"p/l{i + 1}") for i in range(39)] + [("p/l39", "p/f")]
    check_links(links, {"p/f"}, "p-1.0.dist-info", "LINKS")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a/../../b", "'..' segment"),
        ("/etc/passwd", "absolute path"),
        ("c:/x", "absolute path"),
        ("a\\b", "backslash"),
        ("a/./b", "empty or '.' segment"),
        ("a//b", "empty or '.' segment"),
        ("a\x00b", "NUL"),
        ("pkg/dir/", None),
        ("pkg/mod.py", None),
    ],
)
def test_member_path_rule(name: str, reason: str | None) -> None:
    found = unsafe_reason(name)
    assert (found is None) if reason is None else (found is not None and reason in found)


def test_set_wheel_version_keeps_the_body() -> None:
    metadata = b"Metadata-Version: 2.4\nName: x\nVersion: 1\n\nDescription\nWheel-Version: 9\n"
    assert set_wheel_version(metadata, "2.0", b"Version:") == (
        b"Metadata-Version: 2.4\nName: x\nVersion: 1\nWheel-Version: 2.0\n\n"
        b"Description\nWheel-Version: 9\n"
    )
    wheel = b"Wheel-Version: 1.0\nGenerator: x\n"
    assert set_wheel_version(wheel, "2.0") == b"Wheel-Version: 2.0\nGenerator: x\n"


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 7)), max_size=8, unique_by=lambda e: e[0])
)
def test_accepted_exactly_when_every_chain_ends_at_a_file(edges: list[tuple[int, int]]) -> None:
    """Random link graphs over names n0..n7 where n7 is the only file: check_links accepts
    the set exactly when following links from every link reaches n7 (no cycle, no dangling)."""
    links = [(f"p/n{a}", f"p/n{b}") for a, b in edges]
    targets = dict(edges)

    def reaches_file(start: int) -> bool:
        seen, node = set(), start
        while node in targets:
            if node in seen:
                return False
            seen.add(node)
            node = targets[node]
        return node == 7

    expected = all(reaches_file(a) for a in targets)
    try:
        check_links(links, {"p/n7"}, "p-1.0.dist-info", "LINKS")
    except InstallerError:
        assert not expected
    else:
        assert expected
