"""Index priority groups (PEP 766): the reference digest's twelve cases, against real
indexes served on 127.0.0.1. G1 = [corp-a, corp-b] (mirrors), G2 = [pytorch], G3 = [pypi]."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import pytest

from tests.installer.index import Server, StaticIndex
from tests.installer.run import groups, resolve_with
from tests.installer.wheels import build_wheel, variants_json
from wheelnext.installer.errors import IndexUnavailable, InstallerError, ResolutionImpossible
from wheelnext.installer.indexes import Index, IndexConfig, IndexGroup


def config(
    server: Server,
    mirror_mismatch: Literal["warn", "error"] = "warn",
    fallthrough_on_error: bool = False,
) -> IndexConfig:
    return IndexConfig(
        groups(
            ("G1", [("corp-a", server.url("corp-a")), ("corp-b", server.url("corp-b"))]),
            ("G2", [("pytorch", server.url("pytorch"))]),
            ("G3", [("pypi", server.url("pypi"))]),
        ),
        fallthrough_on_error=fallthrough_on_error,
        mirror_mismatch=mirror_mismatch,
    )


@pytest.fixture
def indexes(server: Server) -> dict[str, StaticIndex]:
    return {name: server.index(name) for name in ("corp-a", "corp-b", "pytorch", "pypi")}


def asked(server: Server, prefix: str, project: str) -> bool:
    return f"/{prefix}/simple/{project}/" in server.requests


def test_1_dependency_confusion_is_blocked(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["corp-a"].add(build_wheel(built / "a", "acme-utils", "1.0"))
    indexes["pypi"].add(build_wheel(built / "evil", "acme-utils", "99.0"))
    chosen = resolve_with(config(server), ["acme-utils"]).chosen["acme-utils"]
    assert (str(chosen.version), chosen.located.index.name) == ("1.0", "corp-a")
    assert not asked(server, "pypi", "acme-utils")


def test_1_a_dependency_is_not_named_to_a_lower_group(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    """Pages read ahead for a candidate's dependencies come from the first group only:
    a private dependency's name never reaches a lower (public) index."""
    indexes["corp-a"].add(
        build_wheel(built / "a", "acme-app", "1.0", requires=["acme-internal"]),
        build_wheel(built / "a", "acme-internal", "1.0"),
    )
    indexes["pypi"].add(build_wheel(built / "evil", "acme-internal", "99.0"))
    chosen = resolve_with(config(server), ["acme-app"]).chosen["acme-internal"]
    assert (str(chosen.version), chosen.located.index.name) == ("1.0", "corp-a")
    assert asked(server, "corp-a", "acme-internal")
    assert not asked(server, "pypi", "acme-internal")
    assert not asked(server, "pytorch", "acme-internal")


def test_2_mirrors_merge_and_shadow_lower_groups(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["corp-a"].add(build_wheel(built / "a", "foo", "1.0"))
    indexes["corp-b"].add(build_wheel(built / "b", "foo", "1.2"))
    indexes["pypi"].add(build_wheel(built / "p", "foo", "2.0"))
    chosen = resolve_with(config(server), ["foo"]).chosen["foo"]
    assert (str(chosen.version), chosen.located.index.name) == ("1.2", "corp-b")


def test_3_same_file_different_hash_on_mirrors(
    server: Server, built: Path, indexes: dict[str, StaticIndex], caplog: pytest.LogCaptureFixture
) -> None:
    indexes["corp-a"].add(build_wheel(built / "a", "foo", "1.2"))
    indexes["corp-b"].add(
        build_wheel(built / "b", "foo", "1.2", files={"foo/extra.py": b"x = 1\n"})
    )
    with caplog.at_level(logging.WARNING, logger="wheelnext.installer"):
        chosen = resolve_with(config(server), ["foo==1.2"]).chosen["foo"]
    assert chosen.located.index.name == "corp-a"
    assert any(
        "differs between index corp-a and index corp-b" in r.getMessage() for r in caplog.records
    )
    with pytest.raises(
        InstallerError, match=r"differs between index corp-a and index corp-b .*refusing to choose"
    ):
        resolve_with(config(server, mirror_mismatch="error"), ["foo==1.2"])


def test_4_stale_copy_in_a_higher_group(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["pytorch"].add(build_wheel(built / "t", "certifi", "2022.12.7"))
    indexes["pypi"].add(build_wheel(built / "p", "certifi", "2026.7.22"))
    with pytest.raises(ResolutionImpossible, match="no installable version in index group G2"):
        resolve_with(config(server), ["certifi>=2024"])
    for strategy in ("candidates", "merge-all"):
        chosen = resolve_with(config(server), ["certifi>=2024"], strategy=strategy).chosen[
            "certifi"
        ]
        assert (str(chosen.version), chosen.located.index.name) == ("2026.7.22", "pypi")


def test_5_absent_everywhere_but_the_last_group(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["pypi"].add(build_wheel(built / "p", "bar", "1.0"))
    chosen = resolve_with(config(server), ["bar"]).chosen["bar"]
    assert chosen.located.index.name == "pypi"
    assert all(asked(server, p, "bar") for p in ("corp-a", "corp-b", "pytorch"))


def test_6_one_mirror_down(
    server: Server, built: Path, indexes: dict[str, StaticIndex], caplog: pytest.LogCaptureFixture
) -> None:
    indexes["corp-b"].add(build_wheel(built / "b", "foo", "1.0"))
    server.stalling["corp-a"] = 3.0  # longer than the client's 2 s timeout
    with caplog.at_level(logging.WARNING, logger="wheelnext.installer"):
        chosen = resolve_with(config(server), ["foo"]).chosen["foo"]
    assert chosen.located.index.name == "corp-b"
    assert any(
        "corp-a" in r.getMessage() and "continuing with the rest of group G1" in r.getMessage()
        for r in caplog.records
    )


def test_7_whole_group_unreachable(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["pypi"].add(build_wheel(built / "p", "foo", "1.0"))
    server.failing["corp-a"] = server.failing["corp-b"] = 503
    with pytest.raises(
        IndexUnavailable, match=r"index group G1 is unreachable: index corp-a .*HTTP 503"
    ):
        resolve_with(config(server), ["foo"])
    chosen = resolve_with(config(server, fallthrough_on_error=True), ["foo"]).chosen["foo"]
    assert chosen.located.index.name == "pypi"


def test_8_pinned_explicit_index(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    indexes["pytorch"].add(build_wheel(built / "t", "torch", "2.13.0"))
    indexes["pypi"].add(
        build_wheel(built / "p", "torch", "2.14.0"), build_wheel(built / "p", "numpy", "2.0")
    )
    pytorch = Index("pytorch", server.url("pytorch"), explicit=True)
    cfg = IndexConfig(
        (IndexGroup("G2", (pytorch,)), IndexGroup("G3", (Index("pypi", server.url("pypi")),))),
        pins={"torch": "pytorch"},
    )
    chosen = resolve_with(cfg, ["torch", "numpy"]).chosen
    assert (str(chosen["torch"].version), chosen["torch"].located.index.name) == (
        "2.13.0",
        "pytorch",
    )
    assert chosen["numpy"].located.index.name == "pypi"
    assert not asked(server, "pytorch", "numpy")
    assert not asked(server, "pypi", "torch")


def test_9_yanked(server: Server, built: Path, indexes: dict[str, StaticIndex]) -> None:
    corp = server.index("corp-a", yanked={"baz-1.0-py3-none-any.whl": "broken"})
    corp.add(build_wheel(built / "a", "baz", "1.0"))
    indexes["pypi"].add(build_wheel(built / "p", "baz", "2.0"))
    exact = resolve_with(config(server), ["baz==1.0"]).chosen["baz"]
    assert (str(exact.version), exact.located.file.yanked) == ("1.0", "broken")
    with pytest.raises(ResolutionImpossible, match="index group G1"):
        resolve_with(config(server), ["baz>=1"])
    fallen = resolve_with(config(server), ["baz>=1"], strategy="candidates").chosen["baz"]
    assert (str(fallen.version), fallen.located.index.name) == ("2.0", "pypi")


def test_10_variants_chosen_with_the_groups_own_metadata(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    t = built / "t"
    props = {"cpu_v3": {"x86_64": {"level": ["v3"]}}, "cpu_v4": {"x86_64": {"level": ["v4"]}}}
    indexes["pytorch"].add(
        *(
            build_wheel(t, "torch", "2.13.0", label=label, properties=p)
            for label, p in props.items()
        ),
        build_wheel(t, "torch", "2.13.0"),
        variants_json(t, "torch", "2.13.0", props, ["x86_64"]),
    )
    indexes["pypi"].add(build_wheel(built / "p", "torch", "2.14.0"))
    chosen = resolve_with(config(server), ["torch"]).chosen["torch"]
    # the test profile supports v3, not v4
    assert (str(chosen.version), chosen.wheel.label, chosen.located.index.name) == (
        "2.13.0",
        "cpu_v3",
        "pytorch",
    )


def test_11_quarantined_project_stops_the_search(
    server: Server, built: Path, indexes: dict[str, StaticIndex]
) -> None:
    corp = server.index("corp-a", status={"evil": "quarantined"})
    corp.add(build_wheel(built / "a", "evil", "0.1"))
    indexes["pypi"].add(build_wheel(built / "p", "evil", "1.0"))
    with pytest.raises(
        InstallerError, match="evil is quarantined on index corp-a; not looking for it elsewhere"
    ):
        resolve_with(config(server), ["evil"])


def test_12_no_groups_is_pip(server: Server, built: Path, indexes: dict[str, StaticIndex]) -> None:
    indexes["corp-a"].add(build_wheel(built / "a", "foo", "1.0"))
    indexes["pypi"].add(build_wheel(built / "p", "foo", "2.0"))
    one = IndexConfig(
        groups(("default", [("index-url", server.url("corp-a")), ("extra", server.url("pypi"))]))
    )
    chosen = resolve_with(one, ["foo"]).chosen["foo"]
    assert (str(chosen.version), chosen.located.index.name) == ("2.0", "extra")


def test_html_only_index_and_find_links_directory(
    server: Server, built: Path, tmp_path: Path
) -> None:
    server.index("legacy").add(build_wheel(built / "l", "old", "1.0"))
    server.html_only.add("legacy")
    links = tmp_path / "links"
    build_wheel(links, "local", "3.0")
    cfg = IndexConfig(
        groups(("default", [("legacy", server.url("legacy")), ("links", str(links))]))
    )
    chosen = resolve_with(cfg, ["old", "local"]).chosen
    assert chosen["old"].located.index.name == "legacy"
    assert chosen["local"].located.file.url.startswith("file://")
