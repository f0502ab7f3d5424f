"""``WHEELNEXT_NVIDIA_SM=9.0,8.0``: an H100 beside an A100. Per CUDA's rules (spec/namespaces/
nvidia.md) no native code runs on both (a cubin runs only within its major), and PTX for
compute_XY runs on every capability >= X.Y, so the answer is no ``_real`` value and PTX
from ``80_virtual`` down. ``79_virtual`` … ``71_virtual`` are in the list because the
catalogue (the public provider's spelling) declares every minor 0–9 and 7.9 <= 8.0; no
compiler emits them, so they select nothing, and they cost nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, PEP825, metadata_doc
from tests.providers.running import run_installed, values


def ptx_down_from(major: int, minor: int) -> tuple[str, ...]:
    """Every declared ``_virtual`` value at or below ``major.minor``, newest first."""
    return tuple(
        f"{m}{n}_virtual"
        for m in range(12, 4, -1)
        for n in range(9, -1, -1)
        if (m, n) <= (major, minor)
    )


@pytest.mark.parametrize("gpus", ["9.0,8.0", "8.0,9.0", "sm_90, sm_80", "90,80,80"])
def test_hopper_and_ampere_share_only_ptx_up_to_8_0(gpus: str) -> None:
    found = values(run_installed("nvidia", environ={"WHEELNEXT_NVIDIA_SM": gpus}))
    assert found == {"sm_arch": ptx_down_from(8, 0)}  # no driver reading: no CUDA bounds
    assert found["sm_arch"][:2] == ("80_virtual", "79_virtual")
    assert len(found["sm_arch"]) == 31  # 8.0, 7.9 … 7.0, 6.9 … 5.0


def test_each_gpu_alone_runs_its_own_native_code() -> None:
    """The intersection is what makes the mixed answer PTX-only: each GPU alone keeps its
    native code, its major's older minors, then PTX up to itself."""
    hopper = values(run_installed("nvidia", environ={"WHEELNEXT_NVIDIA_SM": "9.0"}))
    ampere = values(run_installed("nvidia", environ={"WHEELNEXT_NVIDIA_SM": "8.0"}))
    assert hopper["sm_arch"] == ("90_real", *ptx_down_from(9, 0))
    assert ampere["sm_arch"] == ("80_real", *ptx_down_from(8, 0))


def test_selection_on_the_mixed_box_installs_only_code_both_gpus_run(tmp_path: Path) -> None:
    """Through ``wn select`` on the detected profile: Hopper-only and Ampere-only wheels are
    rejected; the fat wheel with ``80_virtual`` is chosen. A fat wheel of native code only
    (``80_real`` + ``90_real``) is rejected too, although each GPU has its cubin: one flat
    list of supported values cannot say "each GPU runs one of them", and the provider keeps
    the sound side (never a wheel one visible GPU cannot run)."""
    variants = {
        "hopper": {"nvidia": {"sm_arch": ["90_real"]}},
        "ampere": {"nvidia": {"sm_arch": ["80_real"]}},
        "fatnative": {"nvidia": {"sm_arch": ["80_real", "90_real"]}},
        "fatptx": {"nvidia": {"sm_arch": ["80_real", "90_real", "80_virtual"]}},
    }
    path = tmp_path / "demo-1.0-variants.json"
    path.write_text(json.dumps(metadata_doc(["nvidia"], variants, PEP825)))
    done = subprocess.run(
        [str(BIN / "wn"), "select", "--variants-json", str(path), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "WHEELNEXT_NVIDIA_SM": "9.0,8.0"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    ranked = result["ranked"]
    assert ranked == ["demo-1.0-py3-none-any-fatptx.whl", "demo-1.0-py3-none-any.whl"]
    rejected = {entry["wheel"] for entry in result["rejected"]}
    assert rejected == {
        f"demo-1.0-py3-none-any-{label}.whl" for label in ("hopper", "ampere", "fatnative")
    }
