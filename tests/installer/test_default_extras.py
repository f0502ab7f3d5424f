"""PEP 771 default extras: the reference digest's case table, resolved against a real index."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.installer.index import Server
from tests.installer.run import groups, resolve_with
from tests.installer.wheels import build_wheel
from wheelnext.installer.indexes import IndexConfig
from wheelnext.installer.resolver import Resolution

ASTRO = {
    "recommended": ["scipy", 'pywin32; sys_platform == "win32"'],
    "jupyter": ["astro[recommended]", "ipywidgets"],
    "all": ["matplotlib"],
}


@pytest.fixture
def config(server: Server, built: Path) -> IndexConfig:
    index = server.index("pypi")
    wheels = [
        build_wheel(
            built, "astro", "1.0", requires=["numpy"], extras=ASTRO, default_extras=["recommended"]
        ),
        build_wheel(
            built,
            "napari",
            "1.0",
            extras={"pyqt5": ["pyqt5"], "pyside6": ["pyside6"]},
            default_extras=["pyqt5"],
        ),
        build_wheel(built, "plain", "1.0", extras={"x": ["xdep"]}),
        build_wheel(built, "bad", "1.0", extras={"cpu": ["cpudep"]}, default_extras=["gpu"]),
        build_wheel(
            built,
            "app",
            "1.0",
            requires=["napari[]"],
            extras={"full": ["astro"]},
            default_extras=["full"],
        ),
        build_wheel(built, "d", "1.0", requires=["astro"]),
        build_wheel(built, "d-old", "1.0", requires=['astro; python_version < "3"']),
        build_wheel(built, "d-dev", "1.0", extras={"dev": ["astro"]}),
        build_wheel(
            built,
            "p",
            "1.0",
            extras={"recommended-stuff": ["scipy"]},
            default_extras=["Recommended_Stuff"],
        ),
    ]
    wheels += [
        build_wheel(built, n, "1.0")
        for n in (
            "numpy",
            "scipy",
            "pywin32",
            "ipywidgets",
            "matplotlib",
            "pyqt5",
            "pyside6",
            "xdep",
            "cpudep",
        )
    ]
    index.add(*wheels)
    return IndexConfig(groups(("default", [("pypi", server.url("pypi"))])))


def installed(resolution: Resolution) -> set[str]:
    return set(resolution.chosen)


CASES = [
    # (number, requirements, project → active extras, packages that must / must not be installed)
    (1, ["astro"], {"astro": {"recommended"}}, {"numpy", "scipy"}, {"pywin32", "ipywidgets"}),
    (2, ["astro[]"], {"astro": set()}, {"numpy"}, {"scipy"}),
    (3, ["astro[jupyter]"], {"astro": {"jupyter", "recommended"}}, {"scipy", "ipywidgets"}, set()),
    (4, ["astro[all]"], {"astro": {"all"}}, {"matplotlib"}, {"scipy"}),
    (5, ["astro[bogus]"], {"astro": set()}, {"numpy"}, {"scipy"}),
    (
        6,
        ["astro[jupyter,bogus]"],
        {"astro": {"jupyter", "recommended"}},
        {"scipy", "ipywidgets"},
        set(),
    ),
    (7, ["astro[]", "d"], {"astro": {"recommended"}}, {"scipy"}, set()),
    (8, ["astro[]", "d-old"], {"astro": set()}, set(), {"scipy"}),
    (9, ["astro[]", "d-dev[dev]"], {"astro": {"recommended"}}, {"scipy"}, set()),
    (9, ["astro[]", "d-dev"], {"astro": set()}, set(), {"scipy"}),
    (
        10,
        ["app"],
        {"app": {"full"}, "astro": {"recommended"}, "napari": set()},
        {"astro", "scipy"},
        {"pyqt5"},
    ),
    (11, ["app[]"], {"app": set(), "napari": set()}, set(), {"astro", "pyqt5"}),
    (12, ["napari[pyside6]", "app-napari"], {}, set(), set()),  # replaced below
    (13, ["plain"], {"plain": set()}, set(), {"xdep"}),
    (13, ["plain[]"], {"plain": set()}, set(), {"xdep"}),
    (14, ["bad"], {"bad": set()}, set(), {"cpudep"}),
    (15, ["p"], {"p": {"recommended-stuff"}}, {"scipy"}, set()),
]


@pytest.mark.parametrize(
    ("number", "requirements", "extras", "present", "absent"),
    [c for c in CASES if c[0] != 12],
    ids=[f"{c[0]}:{' '.join(c[1])}" for c in CASES if c[0] != 12],
)
def test_case_table(  # noqa: PLR0917
    config: IndexConfig,
    number: int,
    requirements: list[str],
    extras: dict[str, set[str]],
    present: set[str],
    absent: set[str],
) -> None:
    resolution = resolve_with(config, requirements)
    for project, active in extras.items():
        assert resolution.extras[project] == active, project
    assert present <= installed(resolution)
    assert not absent & installed(resolution)


def test_case_12_both_backends(config: IndexConfig, server: Server, built: Path) -> None:
    server.index("pypi").add(build_wheel(built, "viewer", "1.0", requires=["napari"]))
    resolution = resolve_with(config, ["napari[pyside6]", "viewer"])
    assert resolution.extras["napari"] == {"pyside6", "pyqt5"}
    assert {"pyqt5", "pyside6"} <= installed(resolution)


def test_unknown_extras_and_bad_defaults_warn(
    config: IndexConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="wheelnext.installer"):
        resolve_with(config, ["astro[jupyter,bogus]", "bad"])
    messages = [r.getMessage() for r in caplog.records]
    assert "astro 1.0 does not provide the extra 'bogus'; ignored" in messages
    assert any("Default-Extra gpu not in Provides-Extra; ignored" in m for m in messages)


def test_case_17_no_default_extras_option(config: IndexConfig) -> None:
    resolution = resolve_with(config, ["astro"], default_extras=False)
    assert resolution.extras["astro"] == set()
    assert "scipy" not in installed(resolution)
