"""Profile tokens: a machine's supported properties as one URL-safe path segment.

``wn-detect --profile-url`` prints one; the variant-aware proxy serves
``/p/{token}/simple/...`` for the profile it carries. The format (spec/profile-token.md)::

    token   = "1." body
    body    = base64url, no padding, of: check (6 bytes) || raw DEFLATE of payload
    check   = first 6 bytes of SHA-256(payload)
    payload = [ provider *( "|" provider ) ]            (ASCII)
    provider = namespace ":" [ feature *( ";" feature ) ]
    feature = name [ "+" ] "=" [ value *( "," value ) ]  ("+": multi_value)

Only the providers that answered ``ok`` are carried (namespaces, features and values in
their order: the order is priority); provider names, versions and the ``absent`` /
``failed`` results are not. The check catches typos and truncation; it is no signature:
anyone can make a token for any profile (integrity, not authenticity). Every token from
outside is hostile: its length, alphabet, encoding, compressed and decompressed sizes
are bounded before anything else, and its properties pass the rules of a profile file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib

from wheelnext.core.errors import MetadataError, WheelnextError, one_line

TYPE_CHECKING = False  # not typing's: wn-detect --profile-url's start-up
if TYPE_CHECKING:
    from wheelnext.core.supported import SupportedProperties

VERSION = "1"
PREFIX = VERSION + "."
MAX_TOKEN_CHARS = 2000  # fits a URL path segment behind every common server and proxy
MAX_PAYLOAD_BYTES = 64 * 1024  # decompressed; a detected machine's payload is ~1-3 KiB
CHECK_BYTES = 6  # 48 bits: 8 base64 characters
_LEVEL = 9  # fixed, so that the same properties give the same token
_TOKEN_RE = re.compile(r"([0-9]{1,4})\.([A-Za-z0-9_-]*)")
_NAME_RE = re.compile(r"[a-z0-9_]+")
_VALUE_RE = re.compile(r"[a-z0-9_.]+")


class ProfileTokenError(WheelnextError, ValueError):
    """A profile token cannot be made or read; the message gives the reason on one line."""

    def __init__(self, problem: str) -> None:
        self.problem = one_line(problem)
        super().__init__(f"invalid profile token: {self.problem}")


def _payload(supported: SupportedProperties) -> bytes:
    """The canonical payload of the ``ok`` providers (refusing what the grammar cannot hold)."""
    providers = []
    for result in supported.providers:
        if result.status != "ok":
            continue
        if not _NAME_RE.fullmatch(result.namespace):
            raise ProfileTokenError(f"cannot encode namespace {result.namespace!r}")
        features = []
        for feature in result.features:
            if not _NAME_RE.fullmatch(feature.name):
                raise ProfileTokenError(f"cannot encode feature name {feature.name!r}")
            bad = next((v for v in feature.values if not _VALUE_RE.fullmatch(v)), None)
            if bad is not None:
                raise ProfileTokenError(f"cannot encode value {bad!r}")
            mark = "+" if feature.multi_value else ""
            features.append(f"{feature.name}{mark}={','.join(feature.values)}")
        providers.append(f"{result.namespace}:{';'.join(features)}")
    return "|".join(providers).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_profile(supported: SupportedProperties) -> str:
    """The token of ``supported``: the same properties always give the same token."""
    payload = _payload(supported)
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY)
    packed = compressor.compress(payload) + compressor.flush()
    token = PREFIX + _b64(hashlib.sha256(payload).digest()[:CHECK_BYTES] + packed)
    if len(token) > MAX_TOKEN_CHARS:
        raise ProfileTokenError(
            f"the profile is too large for a token ({len(token)} characters, "
            f"at most {MAX_TOKEN_CHARS})"
        )
    return token


def decode_profile(token: str) -> SupportedProperties:
    """The properties a token carries; ProfileTokenError (one line) for any bad token."""
    if not isinstance(token, str):
        raise ProfileTokenError(f"expected text, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_CHARS:
        raise ProfileTokenError(f"too long ({len(token)} characters, at most {MAX_TOKEN_CHARS})")
    match = _TOKEN_RE.fullmatch(token) if token.isascii() else None
    if match is None:
        if not token.isascii() or re.search(r"[^A-Za-z0-9_.-]", token):
            raise ProfileTokenError("bad characters (expected VERSION.[A-Za-z0-9_-]*)")
        raise ProfileTokenError("malformed (expected VERSION.[A-Za-z0-9_-]*)")
    version, body = match.groups()
    if version != VERSION:
        raise ProfileTokenError(f"unsupported version {version!r} (this wheelnext reads {VERSION})")
    raw = _unbase64(body)
    if len(raw) <= CHECK_BYTES:
        raise ProfileTokenError("truncated (no compressed payload)")
    check, packed = raw[:CHECK_BYTES], raw[CHECK_BYTES:]
    payload = _inflate(packed)
    if hashlib.sha256(payload).digest()[:CHECK_BYTES] != check:
        raise ProfileTokenError("bad checksum (the token was altered or mistyped)")
    supported = _parse(payload)
    if _payload(supported) != payload:  # one payload per profile: no second spelling
        raise ProfileTokenError("payload is not in canonical form")
    return supported


def _unbase64(body: str) -> bytes:
    """The bytes of unpadded base64url ``body``, refusing a length or trailing bits that no
    encoder writes (so that one profile has one token)."""
    if len(body) % 4 == 1:
        raise ProfileTokenError("undecodable (base64 length is impossible)")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise ProfileTokenError("undecodable (bad base64)") from None
    if _b64(raw) != body:
        raise ProfileTokenError("undecodable (non-canonical base64)")
    return raw


def _inflate(packed: bytes) -> bytes:
    """Raw DEFLATE ``packed``, at most MAX_PAYLOAD_BYTES out (decompression bombs stop
    there), with nothing after the stream's end."""
    inflater = zlib.decompressobj(-15)
    try:
        payload = inflater.decompress(packed, MAX_PAYLOAD_BYTES + 1)
    except zlib.error as exc:
        raise ProfileTokenError(f"undecodable (bad compressed data: {exc})") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProfileTokenError(
            f"too large (the payload decompresses past {MAX_PAYLOAD_BYTES} bytes)"
        )
    if not inflater.eof:
        raise ProfileTokenError("undecodable (the compressed data is truncated)")
    if inflater.unused_data:
        raise ProfileTokenError("undecodable (bytes after the compressed data)")
    return payload


def _parse(payload: bytes) -> SupportedProperties:
    """The profile in ``payload``, judged by the rules of a profile file."""
    from wheelnext.core.supported import SupportedProperties

    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise ProfileTokenError("invalid properties (payload is not ASCII)") from None
    providers = []
    for entry in text.split("|") if text else ():
        namespace, colon, rest = entry.partition(":")
        if not colon:
            raise ProfileTokenError(f"invalid properties (provider {namespace[:40]!r} has no ':')")
        features = []
        for item in rest.split(";") if rest else ():
            name, equals, values = item.partition("=")
            if not equals:
                raise ProfileTokenError(f"invalid properties (feature {name[:40]!r} has no '=')")
            multi = name.endswith("+")
            features.append(
                {
                    "name": name[:-1] if multi else name,
                    "values": values.split(",") if values else [],
                    "multi_value": multi,
                }
            )
        providers.append({"namespace": namespace, "features": features})
    try:
        return SupportedProperties.from_json({"providers": providers})
    except MetadataError as exc:
        raise ProfileTokenError(f"invalid properties ({exc.problem})") from None
