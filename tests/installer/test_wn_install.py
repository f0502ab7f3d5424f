"""``wn install`` end to end: real wheels, a real index on 127.0.0.1, fresh virtual
environments, and what is importable afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.installer.envs import wn, write_profile
from tests.installer.forge import forge
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import build_wheel, variants_json

LEVELS = {
    "v4": {"x86_64": {"level": ["v4"]}},
    "v3": {"x86_64": {"level": ["v3"]}},
}
FAST = '"x86_64 :: level :: v4" in variant_properties'


def install(server: Server, venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wn install ARGS`` from the test index into ``venv``, without a cache."""
    python = str(venv / "bin" / "python")
    return wn("install", *args, "--index-url", server.url("pypi"), "--python", python, "--no-cache")


def run_in(venv: Path, code: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def site(venv: Path) -> Path:
    return Path(run_in(venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if "__pycache__" not in p.parts)


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """demo 1.0 (plain) and 2.0 (v4, v3, null, non-variant) plus its dependencies."""
    index = server.index("pypi")
    index.add(
        build_wheel(built, "demo", "1.0", requires=["helper>=1"]),
        *(
            build_wheel(
                built,
                "demo",
                "2.0",
                label=label,
                properties=p,
                requires=["helper>=1", f"fastpath; {FAST}"],
                scripts={"demo-cli": "demo.cli:main"},
                files={"demo/cli.py": b"def main():\n    print('demo ok')\n"},
            )
            for label, p in LEVELS.items()
        ),
        build_wheel(
            built, "demo", "2.0", label="null", namespaces=["x86_64"], requires=["helper>=1"]
        ),
        build_wheel(built, "demo", "2.0", requires=["helper>=1"]),
        variants_json(built, "demo", "2.0", {**LEVELS, "null": {}}, ["x86_64"]),
        build_wheel(built, "helper", "1.5"),
        build_wheel(built, "fastpath", "1.0"),
    )
    return index


@pytest.mark.parametrize(
    ("levels", "variant", "fastpath"),
    [
        (["v4", "v3", "v2", "v1"], "v4", True),  # variant markers see the chosen wheel's properties
        (["v3", "v2", "v1"], "v3", False),
        (None, "null", False),  # no x86_64 provider: the null variant
    ],
)
def test_installs_the_selected_variant_and_its_dependencies(  # noqa: PLR0917
    tmp_path: Path,
    server: Server,
    demo: StaticIndex,
    venv: Path,
    levels: list[str] | None,
    variant: str,
    fastpath: bool,
) -> None:
    proc = install(server, venv, "demo", "--properties", str(write_profile(tmp_path, levels)))
    assert proc.returncode == 0, proc.stderr
    hardware = f"x86_64 :: level :: {variant}" if variant != "null" else "no properties"
    assert proc.stdout.splitlines()[0] == (  # the first line: no blank line before it
        f"Installed demo 2.0 [{variant}: {hardware}] from {server.url('pypi')}"
    )
    assert (
        run_in(venv, "import demo, helper; print(demo.VERSION, demo.VARIANT)") == f"2.0 {variant}"
    )
    assert (
        "fastpath" in run_in(venv, "import importlib.util as u; print(u.find_spec('fastpath'))")
    ) is fastpath
    info = site(venv) / "demo-2.0.dist-info"
    assert (info / "INSTALLER").read_text() == "wheelnext\n"
    assert "demo/__init__.py," in (info / "RECORD").read_text()
    if variant != "null":
        out = subprocess.run(
            [str(venv / "bin" / "demo-cli")], capture_output=True, text=True, check=False
        )
        assert (out.returncode, out.stdout) == (0, "demo ok\n")


def test_without_null_the_non_variant_wheel_is_used(
    tmp_path: Path, server: Server, built: Path, venv: Path
) -> None:
    server.index("pypi").add(
        build_wheel(built, "solo", "1.0", label="v4", properties=LEVELS["v4"]),
        build_wheel(built, "solo", "1.0"),
        variants_json(built, "solo", "1.0", {"v4": LEVELS["v4"]}, ["x86_64"]),
    )
    proc = install(
        server, venv, "solo", "--properties", str(write_profile(tmp_path, ["v3", "v2", "v1"]))
    )
    assert proc.returncode == 0, proc.stderr
    assert run_in(venv, "import solo; print(solo.VARIANT)") == "None"


def test_live_detection_picks_what_wn_select_picks(
    tmp_path: Path, server: Server, demo: StaticIndex, venv: Path
) -> None:
    select = wn("select", "--variants-json", str(demo.files_dir / "demo-2.0-variants.json"))
    expected = select.stdout.splitlines()[0].removesuffix(".whl").rsplit("-", 1)[-1]
    proc = install(server, venv, "demo")
    assert proc.returncode == 0, proc.stderr
    assert run_in(venv, "import demo; print(demo.VARIANT)") == expected


def test_report_is_pips_format_plus_the_variant(
    tmp_path: Path, server: Server, demo: StaticIndex, venv: Path
) -> None:
    report = tmp_path / "report.json"
    proc = install(
        server,
        venv,
        "demo",
        "--properties",
        str(write_profile(tmp_path, ["v3", "v2", "v1"])),
        "--report",
        str(report),
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Would install demo 2.0 [v3: x86_64 :: level :: v3] from {server.url('pypi')}",
        f"Would install helper 1.5 from {server.url('pypi')}",
    ]
    assert not (site(venv) / "demo").exists()  # dry run: nothing written
    quiet = install(server, venv, "demo", "--dry-run", "-q")  # -q: no result lines at all
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    doc = json.loads(report.read_text())
    assert doc["version"] == "1"
    items = {i["metadata"]["name"]: i for i in doc["install"]}
    demo_item = items["demo"]
    assert demo_item["download_info"]["url"].endswith("/pypi/files/demo-2.0-py3-none-any-v3.whl")
    assert set(demo_item["download_info"]["archive_info"]["hashes"]) == {"sha256"}
    assert (demo_item["requested"], demo_item["requested_extras"]) == (True, [])
    assert items["helper"]["requested"] is False
    assert demo_item["metadata"]["version"] == "2.0"
    assert demo_item["variant"] == {
        "label": "v3",
        "filename": "demo-2.0-py3-none-any-v3.whl",
        "index": server.url("pypi"),
        "index_url": server.url("pypi"),
        "group": server.url("pypi"),
        "extras": [],
        "why": "variant 'v3': x86_64 :: level :: v3",
    }
    assert doc["environment"]["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_default_extras_added_when_a_bare_request_follows_a_minimal_one(
    tmp_path: Path, server: Server, built: Path, venv: Path
) -> None:
    server.index("pypi").add(
        build_wheel(
            built, "astro", "1.0", extras={"recommended": ["scipy"]}, default_extras=["recommended"]
        ),
        build_wheel(built, "scipy", "1.0"),
    )
    common = [
        "--index-url",
        server.url("pypi"),
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
    ]
    assert wn("install", "astro[]", *common).returncode == 0
    assert not (site(venv) / "scipy").exists()
    again = wn("install", "astro", *common)
    assert again.returncode == 0, again.stderr
    assert f"Installed scipy 1.0 from {server.url('pypi')}" in again.stdout
    assert "Already installed astro 1.0" in again.stdout


def test_target_dir_and_requirements_file(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\ndemo==1.0  # the old one\n\n")
    proc = wn(
        "install", "-r", str(requirements), "--index-url", server.url("pypi"),
        "--target", str(tmp_path / "t"), "--no-cache",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    installed = {p.name for p in (tmp_path / "t").iterdir()}
    assert {"demo", "helper", "demo-1.0.dist-info", "helper-1.5.dist-info"} <= installed


def test_hash_mismatch_leaves_the_environment_untouched(
    tmp_path: Path, server: Server, demo: StaticIndex, venv: Path
) -> None:
    before = tree(site(venv))
    (demo.files_dir / "helper-1.5-py3-none-any.whl").write_bytes(
        build_wheel(tmp_path / "evil", "helper", "1.5", files={"helper/evil.py": b"1"}).read_bytes()
    )
    proc = install(server, venv, "demo==1.0")
    assert proc.returncode == 1
    assert "helper-1.5-py3-none-any.whl: " in proc.stderr
    # the evil file is longer than the page's PEP 700 size: cut off there, else its hash
    assert "sha256 mismatch" in proc.stderr or "bytes declared" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert tree(site(venv)) == before


def test_a_failure_midway_rolls_everything_back(
    tmp_path: Path, server: Server, built: Path, venv: Path
) -> None:
    common = [
        "--index-url",
        server.url("pypi"),
        "--python",
        str(venv / "bin" / "python"),
        "--no-cache",
    ]
    index = server.index("pypi")
    index.add(
        build_wheel(built, "aaa", "1.0"),
        build_wheel(built, "squatter", "1.0", files={"zzz/__init__.py": b""}),
    )
    assert wn("install", "aaa==1.0", "squatter", *common).returncode == 0
    before = tree(site(venv))
    # aaa 2.0 installs first (sorted), then zzz 1.0 collides with squatter's zzz/__init__.py
    index.add(build_wheel(built, "aaa", "2.0"), build_wheel(built, "zzz", "1.0"))
    proc = wn("install", "aaa==2.0", "zzz", *common)
    assert proc.returncode == 1
    assert "zzz/__init__.py: already exists and belongs to another distribution" in proc.stderr
    assert tree(site(venv)) == before  # aaa 1.0 is back, nothing of aaa 2.0 or zzz remains
    assert run_in(venv, "import aaa; print(aaa.VERSION)") == "1.0"


def test_an_interrupt_rolls_back(tmp_path: Path, server: Server, built: Path) -> None:
    from tests.installer.run import groups, installer
    from wheelnext.installer.finder import Chosen
    from wheelnext.installer.indexes import IndexConfig
    from wheelnext.installer.requirements import Wanted
    from wheelnext.installer.resolver import resolve
    from wheelnext.installer.target import probe
    from wheelnext.installer.transaction import install_all

    server.index("pypi").add(build_wheel(built, "one", "1.0"), build_wheel(built, "two", "1.0"))
    target = probe(target_dir=tmp_path / "t")
    config = IndexConfig(groups(("default", [("pypi", server.url("pypi"))])))
    with installer(config, target=target) as provider:
        resolution = resolve([Wanted.parse("one"), Wanted.parse("two")], provider)
        plan = [resolution.chosen["one"], resolution.chosen["two"]]
        wheels = {c.filename: provider.finder.fetch(c.located) for c in plan}

        def interrupt(chosen: Chosen) -> None:
            if chosen.name == "one":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            install_all(plan, wheels, target, on_install=interrupt)
    assert not any((tmp_path / "t").rglob("*.py"))


def test_usage_errors() -> None:
    assert wn("install").returncode == 2
    proc = wn("install", "x", "--pin", "x=nowhere", "--index-url", "http://127.0.0.1:9/simple")
    assert proc.returncode == 1
    assert (
        "no index or index group named 'nowhere' (known: http://127.0.0.1:9/simple)" in proc.stderr
    )


def test_a_newer_wheel_format_is_skipped(server: Server, built: Path, venv: Path) -> None:
    """PEP 777: a release whose wheel says Wheel-Version 3.0 (in its PEP 658 metadata) is
    skipped with a warning, and resolution falls back to the older release."""
    server.index("pypi").add(
        forge(
            built / "new", "fmt", "2.0", wheel_version="3.0", metadata_extra="Wheel-Version: 3.0\n"
        ),
        build_wheel(built, "fmt", "1.0"),
    )
    proc = install(server, venv, "fmt")
    assert proc.returncode == 0, proc.stderr
    assert "fmt-2.0-py3-none-any.whl: Wheel-Version 3.0 is newer than this installer reads" in (
        proc.stderr
    )
    assert run_in(venv, "import fmt; print(fmt.VERSION)") == "1.0"


def test_output_names_sources_by_url_or_path_and_variants_by_hardware(
    tmp_path: Path, server: Server, demo: StaticIndex, built: Path, venv: Path
) -> None:
    """Issue 16: no internal names (``index-url``, ``find-links-1``) in what users read;
    stdout holds only the result lines (no blank line left by a progress bar)."""
    links = tmp_path / "links"
    build_wheel(links, "solo", "1.0")
    profile = write_profile(tmp_path, ["v4", "v3", "v2", "v1"])
    proc = install(
        server, venv, "demo", "solo", "--find-links", str(links), "--properties", str(profile),
        "-v",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pypi = server.url("pypi")
    assert proc.stdout.splitlines() == [
        f"Installed demo 2.0 [v4: x86_64 :: level :: v4] from {pypi}",
        f"Installed fastpath 1.0 from {pypi}",
        f"Installed helper 1.5 from {pypi}",
        f"Installed solo 1.0 from {links}",
    ]
    assert f"wn install: solo: from group {pypi}, {links}\n" in proc.stderr
    verbose = [line for line in proc.stderr.splitlines() if ": from group " in line]
    assert len(verbose) == len(set(verbose)) == 4  # each project's decision said once
    assert "index-url" not in proc.stderr
    assert "find-links-" not in proc.stderr


def test_an_unreachable_default_index_is_named_by_its_url(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/simple"
    proc = wn(
        "install", "x", "--index-url", dead, "--target", str(tmp_path / "t"), "--no-cache",
        "--timeout", "5",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"wn install: error: index group {dead} is unreachable: {dead}/x/: "
    ), proc.stderr
    assert not (tmp_path / "t").exists()


def test_wheels_download_side_by_side_and_a_bad_one_stops_the_run(
    tmp_path: Path, server: Server, built: Path
) -> None:
    """Several wheels are fetched at once (the server sees them held back together); when
    one of them does not match its index hash the run fails naming it, installs nothing
    and leaves no partial download in the cache."""
    names = [f"part{i}" for i in range(6)]
    index = server.index("pypi")
    index.add(*(build_wheel(built, name, "1.0") for name in names))
    server.file_delay = 0.5
    common = ["--index-url", server.url("pypi"), "-q"]
    good = wn("install", *names, "--target", str(tmp_path / "good"), *common, "--no-cache")
    assert good.returncode == 0, good.stderr
    assert {f"{n}-1.0.dist-info" for n in names} <= {p.name for p in (tmp_path / "good").iterdir()}
    assert server.most_in_flight > 1

    (index.files_dir / "part3-1.0-py3-none-any.whl").write_bytes(
        build_wheel(tmp_path / "evil", "part3", "1.0").read_bytes() + b"\0"
    )
    cache = ["--cache-dir", str(tmp_path / "cache")]
    server.file_delay = 0.0
    # the plan's first wheel is held back (for up to 60 s, under a 100 s timeout): the bad
    # one is reported, and wn exits, while the server still holds that download
    server.held["part0-1.0-py3-none-any.whl"] = release = threading.Event()
    target = ["--target", str(tmp_path / "bad"), "--timeout", "100"]
    try:
        bad = wn("install", *names, *target, *common, *cache)
        assert server.in_flight == 1
    finally:
        release.set()
    assert bad.returncode == 1
    assert "part3-1.0-py3-none-any.whl" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    assert [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".part")] == []


def test_a_local_simple_api_tree_is_an_index(tmp_path: Path, server: Server, built: Path) -> None:
    """``--index-url DIR`` reads a Simple API tree on disk (``DIR/<project>/index.html``,
    as pip does) with its hashes and PEP 658 files; a folder of wheels is read flat."""
    index = server.index("tree")
    index.add(build_wheel(built, "app", "1.0", requires=["lib"]), build_wheel(built, "lib", "2.0"))
    tree = server.root / "tree" / "simple"  # read from disk: no request reaches the server
    target = tmp_path / "t"
    proc = wn("install", "app", "--index-url", str(tree), "--target", str(target), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in target.glob("*.dist-info")} == {
        "app-1.0.dist-info",
        "lib-2.0.dist-info",
    }
    assert server.requests == []
    (index.files_dir / "lib-2.0-py3-none-any.whl").write_bytes(b"not the wheel the page hashed")
    again = wn(
        "install", "app", "--index-url", str(tree), "--target", str(tmp_path / "u"), "--no-cache"
    )
    assert again.returncode == 1
    assert "lib-2.0-py3-none-any.whl" in again.stderr
    assert "sha256" in again.stderr


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_local_trees_metadata_file_is_read_as_a_user_file(
    tmp_path: Path, server: Server, built: Path, kind: str
) -> None:
    """A PEP 658 file in a local tree is read as any file the user names: a FIFO is
    refused, not waited on, and a file past the limit is refused unread."""
    index = server.index("tree")
    index.add(build_wheel(built, "app", "1.0"))
    metadata = index.files_dir / "app-1.0-py3-none-any.whl.metadata"
    metadata.unlink()
    if kind == "fifo":
        os.mkfifo(metadata)
    else:
        with metadata.open("wb") as sparse:
            sparse.truncate(65 * 2**20)  # over the 64 MiB limit, without writing it
    tree = server.root / "tree" / "simple"
    target = ["--target", str(tmp_path / "t"), "--no-cache"]
    proc = wn("install", "app", "--index-url", str(tree), *target)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("wn install: error: file://")
    assert ("not a regular file" if kind == "fifo" else "larger than 64 MiB") in lines[0]
