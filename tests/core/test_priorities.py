from __future__ import annotations

from pathlib import Path

import pytest

from wheelnext.core.errors import ConfigError
from wheelnext.core.priorities import config_paths, load_user_priorities
from wheelnext.core.properties import VariantFeature, VariantProperty

CONFIG = """
[priorities]
namespaces = ["nvidia", "x86_64"]
features = ["x86_64 :: level"]
properties = ["blas_lapack::library::mkl"]

[providers]
enable-optional = ["debug_build"]
"""


def test_reads_first_existing_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    second.write_text(CONFIG)
    prio = load_user_priorities({}, [first, second])
    assert prio.namespaces == ("nvidia", "x86_64")
    assert prio.features == (VariantFeature("x86_64", "level"),)
    assert prio.properties == (VariantProperty("blas_lapack", "library", "mkl"),)
    assert prio.enable_optional == ("debug_build",)
    assert prio.source == str(second)


def test_environment_overrides_each_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    env = {"WHEELNEXT_NAMESPACE_PRIORITIES": "x86_64, aarch64", "WHEELNEXT_ENABLE_OPTIONAL": ""}
    prio = load_user_priorities(env, [path])
    assert prio.namespaces == ("x86_64", "aarch64")
    assert prio.enable_optional == ()
    assert prio.features == (VariantFeature("x86_64", "level"),)


def test_environment_alone_and_config_env_path(tmp_path: Path) -> None:
    assert load_user_priorities({"WHEELNEXT_PROPERTY_PRIORITIES": "a::b::c"}, []).properties == (
        VariantProperty("a", "b", "c"),
    )
    path = tmp_path / "mine.toml"
    path.write_text(CONFIG)
    assert config_paths({"WHEELNEXT_CONFIG": str(path)}) == [path]
    assert load_user_priorities({"WHEELNEXT_CONFIG": str(path)}).source == str(path)


def test_default_locations_include_platformdirs_user_dir() -> None:
    paths = config_paths({})
    assert paths[0].name == "wheelnext.toml"
    assert any("wheelnext" in str(p.parent) and p.name == "config.toml" for p in paths[1:])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[priorities\n", "bad.toml"),
        ('[priorities]\nnamespaces = "x"\n', None),
        ("[priorities]\nnamespaces = [1]\n", "expected a list of strings"),
        ('[priorities]\nproperties = ["a::b"]\n', "invalid variant property 'a::b'"),
        ('[priorities]\nbogus = ["a"]\n', "unknown key priorities.bogus"),
        ("[other]\nx = 1\n", "unknown table 'other'"),
        ("priorities = 3\n", r"\[priorities\] must be a table"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str | None) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    if message is None:  # a bare string is read as a comma-separated list
        assert load_user_priorities({}, [path]).namespaces == ("x",)
        return
    with pytest.raises(ConfigError, match=message):
        load_user_priorities({}, [path])


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="WHEELNEXT_FEATURE_PRIORITIES"):
        load_user_priorities({"WHEELNEXT_FEATURE_PRIORITIES": "nope"}, [])
