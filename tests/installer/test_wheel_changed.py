"""A wheel must stay the file its checks saw: one swapped or edited between the checks and
the unpack (or the cache's use) is refused with nothing written; the archive's members must
be exactly the inspected ones (none twice); the signature exemption covers only the
``.dist-info`` RECORD.jws / RECORD.p7s."""

from __future__ import annotations

import os
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers import snapshot
from tests.installer.envs import wn
from tests.installer.test_one_pass_install import target_at
from tests.installer.wheels import build_wheel
from wheelnext.installer.archive import inspect_archive
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.file_identity import identity
from wheelnext.installer.staging import unpack
from wheelnext.installer.transaction import transaction
from wheelnext.installer.unpacked_cache import UnpackedCache

FILES = {"pkgt/a.py": b"A = 1\n", "pkgt/b.py": b"B = 2\n"}


def rewritten(wheel: Path, extra: list[tuple[str, bytes]], after: str = "pkgt/__init__.py") -> None:
    """Rewrite ``wheel`` in place (a new file renamed over it), ``extra`` members added
    after ``after``; RECORD as it was."""
    new = wheel.with_suffix(".new")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(new, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
            if info.filename == after:
                for name, data in extra:
                    out.writestr(name, data)
    new.replace(wheel)


def test_a_wheel_swapped_after_its_checks_is_refused_and_nothing_escapes(
    built: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    info = inspect_archive(wheel)  # the checks' look
    outside = tmp_path / "ESCAPED"
    climb = "../" * (len(tmp_path.parts) + 4)
    with pytest.warns(UserWarning, match="Duplicate name"):
        rewritten(
            wheel,
            [
                ("pkgt/a.py", b"A = 'evil'\n"),  # a duplicate: would shift the numbering
                (f"{climb}{str(outside).lstrip('/')}/RECORD.jws", b"unverified\n"),
            ],
        )
    root = tmp_path / "env"
    with (
        pytest.raises(InstallerError, match=r"pkgt-1\.0-py3-none-any\.whl: changed while"),
        transaction(target_at(root)) as tx,
    ):
        tx.install(wheel, info)
    assert not outside.exists()
    assert not list(root.rglob("*.py"))


def test_a_duplicate_member_is_refused_by_the_unpack(built: Path, tmp_path: Path) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    info = inspect_archive(wheel)
    with pytest.warns(UserWarning, match="Duplicate name"):
        rewritten(wheel, [("pkgt/b.py", b"B = 2\n")])
    with pytest.raises(InstallerError, match="changed while being installed"):
        unpack(wheel, info, tmp_path / "tree")


def test_a_wheel_edited_in_place_with_size_and_mtime_kept_is_refused(
    built: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    checked = identity(wheel)
    info = inspect_archive(wheel)
    with wheel.open("r+b") as stream:  # the first local header's time: a valid zip with
        stream.seek(10)  # the same members, size and mtime; only its ctime tells
        stream.write(b"\xff\xff")
    os.utime(wheel, ns=(checked[3], checked[3]))
    assert wheel.stat().st_size == checked[2]
    for cache in (None, UnpackedCache(tmp_path / "cache")):
        root = tmp_path / f"env-{cache is None}"
        with (
            pytest.raises(InstallerError, match="changed while being installed"),
            transaction(target_at(root)) as tx,
        ):
            tx.install(wheel, info, unpacked=tx.stage(wheel, info, cache, checked))
        assert not list(root.rglob("*.py"))
    made = list((tmp_path / "cache").iterdir()) if (tmp_path / "cache").exists() else []
    assert not [p for p in made if not p.name.startswith(".")]  # no entry of other bytes


def test_a_cache_hit_for_a_wheel_changed_since_its_checks_is_refused(
    built: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    info = inspect_archive(wheel)
    cache = UnpackedCache(tmp_path / "cache")
    with transaction(target_at(tmp_path / "first")) as tx:  # the entry is built
        tx.install(wheel, info, unpacked=tx.stage(wheel, info, cache))
    checked = identity(wheel)
    wheel.with_suffix(".copy").write_bytes(wheel.read_bytes())
    wheel.with_suffix(".copy").replace(wheel)  # same bytes, another file: not the checked one
    root = tmp_path / "second"
    with (
        pytest.raises(InstallerError, match="changed while being installed"),
        transaction(target_at(root)) as tx,
    ):
        tx.install(wheel, info, unpacked=tx.stage(wheel, info, cache, checked))
    assert not list(root.rglob("*.py"))


def install_pkgt(built: Path, env: Path) -> subprocess.CompletedProcess[str]:
    """``wn install pkgt`` from the wheels in ``built`` into ``env``, without a cache."""
    return wn(
        "install", "pkgt", "--no-index", "--find-links", str(built), "--no-deps",
        "--target", str(env), "--no-cache",
    )  # fmt: skip


def test_a_signature_name_outside_the_dist_info_is_not_exempt(built: Path, tmp_path: Path) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    rewritten(wheel, [("pkgt/RECORD.jws", b"not hashed\n")])
    proc = install_pkgt(built, tmp_path / "env")
    assert proc.returncode != 0
    assert "pkgt/RECORD.jws is not mentioned in RECORD" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "env").rglob("*.py"))


def test_the_unpack_exempts_no_signature_name_outside_the_dist_info(
    built: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    info = inspect_archive(wheel)
    rewritten(wheel, [("pkgt/RECORD.p7s", b"not hashed\n")])
    info = replace(info, members=info.members | {"pkgt/RECORD.p7s"})
    with pytest.raises(InstallerError, match=r"'pkgt/RECORD\.p7s' is not hashed in RECORD"):
        unpack(wheel, info, tmp_path / "tree")


def test_a_signature_in_the_dist_info_is_installed_as_shipped(built: Path, tmp_path: Path) -> None:
    wheel = build_wheel(built, "pkgt", "1.0", files=FILES)
    rewritten(wheel, [("pkgt-1.0.dist-info/RECORD.jws", b"{}\n")])
    proc = install_pkgt(built, tmp_path / "env")
    assert proc.returncode == 0, proc.stderr
    tree = snapshot(tmp_path / "env")
    assert tree["pkgt-1.0.dist-info/RECORD.jws"][1] == b"{}\n"
