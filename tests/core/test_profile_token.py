"""Profile tokens (spec/profile-token.md): round trips, stability, every way a hostile or
mistyped token is refused, the size bounds, and ``wn-detect --profile-url`` as users run it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import InstallProvider
from tests.helpers import FICTIONAL, wn_detect
from wheelnext.core.errors import WheelnextError
from wheelnext.core.profile_token import (
    MAX_PAYLOAD_BYTES,
    MAX_TOKEN_CHARS,
    ProfileTokenError,
    decode_profile,
    encode_profile,
)
from wheelnext.core.supported import ProviderResult, SupportedFeature, SupportedProperties

SPEC = Path(__file__).parents[2] / "spec" / "profile-token.md"
TOKEN_RE = re.compile(r"1\.[A-Za-z0-9_-]+")

names = st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True)
values = st.from_regex(r"[a-z0-9_.]{1,12}", fullmatch=True)
features = st.builds(
    SupportedFeature,
    name=names,
    values=st.lists(values, unique=True, max_size=6).map(tuple),
    multi_value=st.booleans(),
)
ok_results = st.builds(
    ProviderResult,
    namespace=names,
    status=st.just("ok"),
    features=st.lists(features, unique_by=lambda f: f.name, max_size=5).map(tuple),
)
profiles = st.lists(ok_results, unique_by=lambda r: r.namespace, max_size=5).map(
    lambda rs: SupportedProperties(tuple(rs))
)


def token_of(payload: bytes, *, check: bytes | None = None, tail: bytes = b"") -> str:
    """A token made by hand: ``payload`` deflated, with its right check unless given one."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(payload) + packer.flush() + tail
    check = hashlib.sha256(payload).digest()[:6] if check is None else check
    return "1." + base64.urlsafe_b64encode(check + packed).rstrip(b"=").decode()


def refused(token: object) -> str:
    """The reason ``decode_profile`` gives for ``token`` (it must refuse it, on one line)."""
    with pytest.raises(ProfileTokenError) as info:
        decode_profile(token)  # type: ignore[arg-type]
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, WheelnextError)
    assert message.startswith("invalid profile token: ")
    assert "\n" not in message
    assert "\r" not in message
    assert len(message) < 600
    return message


@given(profiles)
def test_round_trip(supported: SupportedProperties) -> None:
    token = encode_profile(supported)
    assert TOKEN_RE.fullmatch(token)
    assert len(token) <= MAX_TOKEN_CHARS
    assert decode_profile(token) == supported
    assert encode_profile(decode_profile(token)) == token


@given(profiles, st.data())
def test_only_ok_providers_travel(supported: SupportedProperties, data: st.DataObject) -> None:
    """Absent and failed results, provider names and versions are not carried."""
    noise = ProviderResult("zz_absent", "absent", (), "some-dist", "1.0", "no device")
    named = tuple(
        ProviderResult(r.namespace, r.status, r.features, "dist-" + r.namespace, "2.0")
        for r in supported.providers
    )
    at = data.draw(st.integers(0, len(named)))
    with_noise = SupportedProperties((*named[:at], noise, *named[at:]))
    assert encode_profile(with_noise) == encode_profile(supported)
    assert decode_profile(encode_profile(with_noise)) == supported


def test_stable_and_order_sensitive() -> None:
    """The same properties give the same token byte for byte; value order is priority."""
    a = SupportedProperties.from_features({"x86_64": {"level": ["v3", "v2", "v1"]}})
    b = SupportedProperties.from_features({"x86_64": {"level": ["v3", "v2", "v1"]}})
    swapped = SupportedProperties.from_features({"x86_64": {"level": ["v2", "v3", "v1"]}})
    assert encode_profile(a) == encode_profile(b)
    assert encode_profile(a) != encode_profile(swapped)
    assert decode_profile(encode_profile(swapped)).features("x86_64") == (
        SupportedFeature("level", ("v2", "v3", "v1")),
    )


def test_spec_example_decodes_as_documented() -> None:
    """The example in spec/profile-token.md is a real token of the profile shown there."""
    text = SPEC.read_text()
    token = re.search(r"`(1\.[A-Za-z0-9_-]{8,})`", text)
    assert token is not None
    shown = re.search(r"```json\n(.*?)```", text, re.S)
    assert shown is not None
    assert decode_profile(token.group(1)) == SupportedProperties.from_json(
        json.loads(shown.group(1))
    )


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("2." + token_of(b"x86_64:level=v1")[2:], "unsupported version '2'"),
        ("v1-abc", "malformed (expected VERSION."),
        ("1.abc$def", "bad characters"),
        ("1.AAAA AAAA", "bad characters"),
        ("1.caf\u00e9", "bad characters"),
        (token_of(b"x86_64:level=v1") + "==", "bad characters"),
        ("", "malformed"),
        ("1", "malformed"),
        ("1.", "truncated"),
        ("1.AAAA", "truncated"),
        ("1.AAAAA", "undecodable (base64 length"),
        ("1.AAAAAAAAAB", "undecodable (non-canonical base64)"),  # trailing bits set
        (token_of(b"x86_64:level=v1", check=b"\0" * 6), "bad checksum"),
        (token_of(b"x86_64:level=v1", tail=b"!"), "undecodable (bytes after"),
        ("1.AAAAAAAA__8", "undecodable (bad compressed data"),
        (token_of(b"x86_64:level=v1")[:-3], "undecodable (the compressed data is truncated)"),
        (token_of(b"X86:level=v1"), "invalid properties"),
        (token_of(b"x86_64:level=v1,v1"), "invalid properties"),
        (token_of(b"x86_64:level=v1|x86_64:level=v2"), "invalid properties"),
        (token_of(b"x86_64:level=v1;level=v2"), "invalid properties"),
        (token_of(b"x86_64:level=v1,,v2"), "invalid properties"),
        (token_of(b"x86_64"), "invalid properties (provider 'x86_64' has no ':')"),
        (token_of(b"x86_64:level"), "invalid properties (feature 'level' has no '=')"),
        (token_of(b"x86_64:lev\nel=v1\x1b[2J"), "invalid properties"),
        (token_of("x86_64:level=v\u00e9".encode()), "invalid properties (payload is not ASCII)"),
    ],
)
def test_tampered_tokens_are_refused_with_one_line(token: str, reason: str) -> None:
    assert reason in refused(token)


def test_every_single_character_change_is_caught() -> None:
    """A typo anywhere in a real token never yields another profile silently."""
    supported = SupportedProperties.from_features(
        {"x86_64": {"level": ["v3", "v2", "v1"]}, "nvidia": {"sm_arch": ["90", "89", "80"]}}
    )
    token = encode_profile(supported)
    for at in range(len(token)):
        for char in "A_-0z":
            changed = token[:at] + char + token[at + 1 :]
            if changed != token:
                refused(changed)
        refused(token[:at])  # every truncation


def test_non_text_is_refused() -> None:
    assert "expected text, got bytes" in refused(b"1.AAAA")


def test_length_cap_comes_first() -> None:
    too_long = "1." + "A" * (MAX_TOKEN_CHARS - 1)
    assert "too long (2001 characters, at most 2000)" in refused(too_long)
    assert "too long" in refused("\u00e9" * (MAX_TOKEN_CHARS + 1))


def test_decompression_bomb_is_bounded() -> None:
    """A short token that inflates past the cap stops there, before its checksum is read."""
    bomb = token_of(b"a" * (MAX_PAYLOAD_BYTES * 16))
    assert len(bomb) < MAX_TOKEN_CHARS
    assert f"too large (the payload decompresses past {MAX_PAYLOAD_BYTES} bytes)" in refused(bomb)
    at_cap = token_of(b"x" * MAX_PAYLOAD_BYTES)  # exactly the cap: read, then judged
    assert "invalid properties" in refused(at_cap)


def test_a_profile_too_large_for_a_token_is_refused() -> None:
    rng = __import__("random").Random(7)
    tree = {f"ns{n}": {"f": [f"{rng.getrandbits(64):x}" for _ in range(40)]} for n in range(20)}
    with pytest.raises(ProfileTokenError, match=r"too large for a token \(\d+ characters"):
        encode_profile(SupportedProperties.from_features(tree))


def test_encoding_refuses_what_the_grammar_cannot_hold() -> None:
    bad = SupportedProperties.from_features({"x86_64": {"level": ["v1,v2"]}})
    with pytest.raises(ProfileTokenError, match="cannot encode value 'v1,v2'"):
        encode_profile(bad)


def test_cli_profile_url_of_this_machine(install_provider: InstallProvider) -> None:
    install_provider("fictional_provider", FICTIONAL, dist="fictional-hw-provider", version="2.1")
    env = {"FICTIONAL_HW_GEN": "gen2"}
    proc = wn_detect("--profile-url", env=env)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert proc.stdout == token + "\n"
    assert TOKEN_RE.fullmatch(token)
    detected = SupportedProperties.from_json(json.loads(wn_detect("--json", env=env).stdout))
    ok = SupportedProperties(
        tuple(
            ProviderResult(r.namespace, "ok", r.features)
            for r in detected.providers
            if r.status == "ok"
        )
    )
    assert decode_profile(token) == ok
    assert decode_profile(token).features("fictional_hw") == (
        SupportedFeature("arch", ("gen2", "gen1"), multi_value=True),
        SupportedFeature("mode", ("safe",)),
    )
    only = wn_detect("--profile-url", "--namespace", "fictional_hw", env=env).stdout.strip()
    assert decode_profile(only).namespaces == ("fictional_hw",)


def test_cli_profile_url_of_a_saved_profile(tmp_path: Path) -> None:
    doc = {
        "providers": [
            {"namespace": "x86_64", "status": "ok", "features": [
                {"name": "level", "values": ["v3", "v2", "v1"]},
            ]},
            {"namespace": "nvidia", "status": "absent", "features": []},
        ]
    }  # fmt: skip
    profile = tmp_path / "gpu-node.json"
    profile.write_text(json.dumps(doc))
    proc = wn_detect("--profile-url", "--properties", str(profile))
    assert proc.returncode == 0, proc.stderr
    expected = SupportedProperties.from_features({"x86_64": {"level": ["v3", "v2", "v1"]}})
    assert proc.stdout == encode_profile(expected) + "\n"
    # the same file shown as JSON is the file's profile, not this machine's
    shown = json.loads(wn_detect("--json", "--properties", str(profile)).stdout)
    assert [p["namespace"] for p in shown["providers"]] == ["x86_64", "nvidia"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read"),
        ("{not json", ""),
        ('{"providers": 3}', "invalid properties profile"),
        ('{"providers": [{"namespace": "X", "features": []}]}', "invalid properties profile"),
    ],
)
def test_cli_bad_profile_file_is_one_line_exit_1(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    profile = tmp_path / "bad.json"
    if content is not None:
        profile.write_text(content)
    proc = wn_detect("--profile-url", "--properties", str(profile))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"wn-detect: error: --properties {profile}: {reason}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile-url", "--json"], "--profile-url prints a token; it cannot be combined"),
        (["--properties", "p.json", "--explain", "a :: b :: c"], "--properties reads a saved"),
        (["--properties", "p.json", "--sysroot", "/"], "--properties reads a saved profile"),
    ],
)
def test_cli_conflicting_options(args: list[str], message: str) -> None:
    proc = wn_detect(*args)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"wn-detect: error: {message}")
    assert proc.stderr.count("\n") == 1


def test_cli_namespace_of_a_saved_profile(tmp_path: Path) -> None:
    profile = tmp_path / "node.json"
    profile.write_text(
        json.dumps({"providers": [{"namespace": "x86_64", "features": [], "status": "ok"}]})
    )
    proc = wn_detect("--profile-url", "--properties", str(profile), "--namespace", "nvidia")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"wn-detect: error: --namespace nvidia: not in {profile} (its namespaces: x86_64)\n"
    )
    only = wn_detect("--profile-url", "--properties", str(profile), "--namespace", "x86_64")
    assert decode_profile(only.stdout.strip()).namespaces == ("x86_64",)
