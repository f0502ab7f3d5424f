"""``wn proxy`` with real clients: unmodified pip and uv install, through the proxy, the
variant wheel the selector picks, from a real index on 127.0.0.1 with index groups."""

from __future__ import annotations

import hashlib
import json
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.helpers import BIN
from tests.installer.envs import client, proxy, write_profile
from tests.installer.index import Server, StaticIndex
from tests.installer.wheels import build_wheel, variants_json

LEVELS = {lvl: {"x86_64": {"level": [lvl]}} for lvl in ("v4", "v3")}
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def pypi_proxy(
    tmp_path: Path, server: Server, levels: list[str] | None
) -> AbstractContextManager[str]:
    """The proxy in front of the test index "pypi", selecting for a profile of ``levels``."""
    return proxy(
        "--upstream", server.url("pypi"), "--properties", str(write_profile(tmp_path, levels))
    )


def imported(venv: Path, module: str) -> str:
    code = f"import {module}; print({module}.VERSION, {module}.VARIANT)"
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def pip_install(venv: Path, index: str, *reqs: str) -> subprocess.CompletedProcess[str]:
    return client("pip", venv, "install", "--index-url", index, *reqs)


def uv_install(venv: Path, index: str, *reqs: str) -> subprocess.CompletedProcess[str]:
    return client("uv", venv, "install", "--index-url", index, *reqs)


@pytest.fixture
def demo(server: Server, built: Path) -> StaticIndex:
    """demo 2.0: v4, v3, null and non-variant wheels with variants.json; demo 1.0 plain;
    plainpkg (no variants at all); loner 1.0 (variant wheels, no variants.json)."""
    index = server.index("pypi")
    index.add(
        build_wheel(built, "demo", "1.0"),
        *(
            build_wheel(built, "demo", "2.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
        build_wheel(built, "demo", "2.0", label="null", namespaces=["x86_64"]),
        build_wheel(built, "demo", "2.0"),
        variants_json(built, "demo", "2.0", {**LEVELS, "null": {}}, ["x86_64"]),
        build_wheel(built, "plainpkg", "3.1"),
        *(
            build_wheel(built, "loner", "1.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
    )
    return index


@pytest.mark.parametrize(
    ("levels", "variant"),
    [(["v4", "v3", "v2", "v1"], "v4"), (["v3", "v2", "v1"], "v3"), (None, "null")],
)
def test_pip_installs_the_selected_variant(  # noqa: PLR0917
    tmp_path: Path,
    server: Server,
    demo: StaticIndex,
    venv: Path,
    levels: list[str] | None,
    variant: str,
) -> None:
    with pypi_proxy(tmp_path, server, levels) as url:
        proc = pip_install(venv, url, "demo", "plainpkg")
        assert proc.returncode == 0, proc.stderr
    assert imported(venv, "demo") == f"2.0 {variant}"
    assert imported(venv, "plainpkg") == "3.1 None"
    installed = venv.glob("lib/python*/site-packages/demo-2.0.dist-info/variant.json")
    assert [json.loads(p.read_text())["variants"] for p in installed] == [
        {variant: LEVELS.get(variant, {})}
    ]


def test_uv_installs_the_selected_variant(
    tmp_path: Path, server: Server, demo: StaticIndex, venv: Path
) -> None:
    with pypi_proxy(tmp_path, server, ["v3", "v2", "v1"]) as url:
        proc = uv_install(venv, url, "demo", "loner")
        assert proc.returncode == 0, proc.stderr
    assert imported(venv, "demo") == "2.0 v3"
    assert imported(venv, "loner") == "1.0 v3"  # metadata merged from the wheels' variant.json


def test_live_detection_through_pip(
    server: Server, demo: StaticIndex, venv: Path, tmp_path: Path
) -> None:
    """No --properties: the proxy detects this machine and agrees with ``wn select``."""
    variants = demo.files_dir / "demo-2.0-variants.json"
    picked = subprocess.run(
        [str(BIN / "wn"), "select", "--variants-json", str(variants)],
        capture_output=True,
        text=True,
        check=True,
    )
    best = picked.stdout.splitlines()[0].removesuffix(".whl").rsplit("-", 1)[-1]
    with proxy("--upstream", server.url("pypi")) as url:
        assert pip_install(venv, url, "demo").returncode == 0
    assert imported(venv, "demo") == f"2.0 {best}"


def test_pages_offer_one_wheel_per_build_with_upstream_bytes(
    tmp_path: Path, server: Server, demo: StaticIndex
) -> None:
    v3 = demo.files_dir / "demo-2.0-py3-none-any-v3.whl"
    with pypi_proxy(tmp_path, server, ["v3", "v2", "v1"]) as url:
        page = httpx.get(f"{url}/demo/", headers={"Accept": JSON_TYPE})
        assert page.headers["content-type"] == JSON_TYPE
        files = {f["filename"]: f for f in page.json()["files"]}
        assert sorted(files) == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]
        entry = files["demo-2.0-py3-none-any.whl"]
        assert entry["hashes"]["sha256"] == hashlib.sha256(v3.read_bytes()).hexdigest()
        body = httpx.get(httpx.URL(url).join(entry["url"])).content
        assert body == v3.read_bytes()
        metadata = httpx.get(httpx.URL(url).join(entry["url"] + ".metadata"))
        assert hashlib.sha256(metadata.content).hexdigest() == entry["core-metadata"]["sha256"]

        html_page = httpx.get(f"{url}/demo/", headers={"Accept": "text/html"})
        assert html_page.headers["content-type"].startswith("application/vnd.pypi.simple.v1+html")
        assert f"#sha256={entry['hashes']['sha256']}" in html_page.text
        assert "-v3.whl" not in html_page.text
        assert "variants.json" not in html_page.text

        plain = httpx.get(f"{url}/plainpkg/", headers={"Accept": JSON_TYPE}).json()
        upstream = httpx.get(
            server.url("pypi") + "/plainpkg/", headers={"Accept": JSON_TYPE}
        ).json()
        assert [(f["filename"], f["hashes"]) for f in plain["files"]] == [
            (f["filename"], f["hashes"]) for f in upstream["files"]
        ]
        redirect = httpx.get(f"{url}/Demo", follow_redirects=False)
        assert (redirect.status_code, redirect.headers["location"]) == (301, "/simple/demo/")
        assert httpx.get(f"{url}/nothing-here/").status_code == 404


def test_index_groups_stop_dependency_confusion(
    tmp_path: Path, server: Server, built: Path, venv: Path
) -> None:
    """corp lists demo; the public index has a higher 'demo' (an attacker's). Through the
    proxy, pip gets corp's variant and the public index is never asked for demo."""
    server.index("corp").add(
        *(
            build_wheel(built / "corp", "demo", "1.0", label=label, properties=p)
            for label, p in LEVELS.items()
        ),
        variants_json(built / "corp", "demo", "1.0", LEVELS, ["x86_64"]),
    )
    server.index("public").add(build_wheel(built / "public", "demo", "99.0"))
    with proxy(
        "--index",
        f"corp={server.url('corp')}",
        "--upstream",
        server.url("public"),
        "--properties",
        str(write_profile(tmp_path, ["v4", "v3"])),
    ) as url:
        proc = pip_install(venv, url, "demo")
        assert proc.returncode == 0, proc.stderr
    assert imported(venv, "demo") == "1.0 v4"
    assert not [r for r in server.requests if r.startswith("/public/simple/demo")]


def test_bad_upstream_and_usage(tmp_path: Path, server: Server) -> None:
    server.failing["down"] = 503
    with proxy(
        "--upstream", server.url("down"), "--properties", str(write_profile(tmp_path, None))
    ) as url:
        response = httpx.get(f"{url}/demo/")
        assert response.status_code == 502
        assert "unreachable" in response.text
    usage = subprocess.run([str(BIN / "wn"), "proxy"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "give at least one --upstream" in usage.stderr
