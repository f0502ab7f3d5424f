"""Direct references (``name @ URL``) that the user wrote, honoured for wheels only.

A ``name @ https://…/name-1.0-py3-none-any.whl`` (or ``file:``) requirement on the command
line or in a ``-r`` file makes that one wheel the only candidate for ``name``: it is
downloaded, its ``#sha256=`` (or other hashlib) fragment verified, and then it goes
through the same archive check, resolution and install as a wheel from an index. The
URL's last segment must be a valid wheel filename for ``name``; it is never used as a
path (the file is stored under a name rebuilt from the parsed filename, in a folder named
by the URL's hash). Source distributions, VCS URLs and other files are refused. A bare path
to a wheel arrives here as a ``file:`` URL (``requirements.py``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelnext.core.errors import WheelnextError, one_line
from wheelnext.core.filenames import WheelFilename
from wheelnext.core.metadata import VariantMetadata
from wheelnext.core.selector import Selector
from wheelnext.installer.distmeta import DistMetadata
from wheelnext.installer.errors import InstallerError
from wheelnext.installer.finder import Chosen, Finder, release_metadata
from wheelnext.installer.http import HttpClient, local_path
from wheelnext.installer.indexes import Index, IndexSet, Located, ProjectFiles
from wheelnext.installer.requirements import Wanted
from wheelnext.installer.simple_api import FileEntry
from wheelnext.installer.target import Target

DIRECT = "direct"
_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*\.whl")
_HASHES = frozenset(
    a for a in hashlib.algorithms_guaranteed if not a.startswith("shake_")
)  # shake digests have no fixed length, so a fragment cannot name one
_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)


def display(url: str) -> str:
    """``url`` safe to print: credentials replaced, control characters removed."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])
    return one_line(urlunsplit(parts), 300)


@dataclass(frozen=True, slots=True)
class DirectWheel:
    """One user-named wheel URL, checked: where it is, what it must be, its hashes."""

    name: NormalizedName
    requested: str  # the URL exactly as written (dependencies may repeat it)
    url: str  # without the fragment
    wheel: WheelFilename
    hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return str(self.wheel)

    @property
    def located(self) -> Located:
        entry = FileEntry(self.filename, self.url, dict(self.hashes))
        return Located(entry, Index(DIRECT, self.url), DIRECT)

    def where(self) -> str:
        return f"{self.name} @ {display(self.requested)}"


def _hashes(fragment: str, where: str) -> dict[str, str]:
    """``sha256=…`` (``&``-separated) → {algorithm: hex digest}; anything else refused."""
    hashes: dict[str, str] = {}
    for part in filter(None, fragment.split("&")):
        algorithm, sep, digest = part.partition("=")
        algorithm = algorithm.lower()
        if not sep or algorithm not in _HASHES:
            raise InstallerError(
                f"{where}: unsupported URL fragment {one_line(part, 80)!r} "
                f"(expected a hash such as sha256=HEX)"
            )
        size = hashlib.new(algorithm).digest_size * 2
        digest = digest.lower()
        if len(digest) != size or not all(c in "0123456789abcdef" for c in digest):
            raise InstallerError(f"{where}: {algorithm} digest is not {size} hex digits")
        hashes[algorithm] = digest
    return hashes


def parse_direct(wanted: Wanted) -> DirectWheel:
    """Check a ``name @ URL`` requirement the user wrote; one-line error when refused."""
    written = wanted.requirement.url
    if written is None:
        raise ValueError("not a direct reference")
    where = f"{wanted.name} @ {display(written)}"
    if _VCS.match(written):
        raise InstallerError(f"{where}: only wheel URLs are supported")
    parts = urlsplit(written)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InstallerError(f"{where}: the URL names no host")
    elif scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InstallerError(f"{where}: file: URLs must name a local path")
    elif not scheme:  # ``name @ ./dist/x.whl``: PEP 508 wants a URL here
        raise InstallerError(f"{where}: use a path without 'name @', or a file: URL")
    else:
        raise InstallerError(f"{where}: only http, https and file: URLs are supported")
    filename = unquote(parts.path.rpartition("/")[2])
    if not filename.endswith(".whl"):
        raise InstallerError(f"{where}: only wheel URLs are supported")
    if not _SAFE_FILENAME.fullmatch(filename):
        raise InstallerError(f"{where}: {one_line(filename, 120)!r} is not a wheel filename")
    try:
        wheel = WheelFilename.parse(filename)
    except (WheelnextError, ValueError) as exc:
        raise InstallerError(f"{where}: {exc}") from None
    if canonicalize_name(wheel.name) != wanted.name:
        raise InstallerError(f"{where}: the URL is a wheel of {wheel.name}, not {wanted.name}")
    hashes = _hashes(parts.fragment, where)
    url = urlunsplit(parts._replace(fragment=""))
    if scheme == "file" and not local_path(url).is_file():
        raise InstallerError(f"{where}: no such file")
    return DirectWheel(wanted.name, written, url, wheel, hashes)


def collect(
    roots: Iterable[Wanted], applies: Callable[[Wanted], bool] = lambda _: True
) -> dict[str, DirectWheel]:
    """The direct references among the user's requirements whose markers ``applies`` to
    the target, at most one URL per project; every one written is checked."""
    found: dict[str, DirectWheel] = {}
    for wanted in roots:
        if wanted.requirement.url is None:
            continue
        direct = parse_direct(wanted)
        if not applies(wanted):
            continue
        earlier = found.get(direct.name)
        if earlier is not None and earlier.url != direct.url:
            raise InstallerError(
                f"{direct.name}: two different URLs requested "
                f"({display(earlier.requested)} and {display(direct.requested)})"
            )
        found.setdefault(direct.name, direct)
    return found


class DirectFinder(Finder):
    """A Finder for which a directly referenced project has exactly one file: its URL's."""

    def __init__(
        self,
        indexes: IndexSet,
        selector: Selector,
        target: Target,
        http: HttpClient,
        work: Path,
        *,
        direct: Mapping[str, DirectWheel],
    ) -> None:
        super().__init__(indexes, selector, target, http, work)
        self.direct = dict(direct)

    def files(self, project: str, specifier: SpecifierSet) -> ProjectFiles:
        direct = self.direct.get(canonicalize_name(project))
        if direct is None:
            return super().files(project, specifier)
        if not direct.wheel.tags & set(self.target.tags):
            w = direct.wheel
            raise InstallerError(
                f"{direct.where()}: its tags {w.python_tag}-{w.abi_tag}-{w.platform_tag} "
                f"do not fit this Python (best tag here: {self.target.tags[0]})"
            )
        return ProjectFiles(direct.name, (direct.located,), DIRECT)

    def choose(self, project: str, version: Version, specifier: SpecifierSet) -> Chosen | None:
        """The named wheel, or an error saying why it cannot be installed here: it is the
        only candidate, so there is nothing to backtrack to."""
        chosen = super().choose(project, version, specifier)
        direct = self.direct.get(canonicalize_name(project))
        if chosen is None and direct is not None:
            raise InstallerError(f"{direct.where()}: {self._why_not(direct)}")
        return chosen

    def _why_not(self, direct: DirectWheel) -> str:
        """Why the selector (or the wheel's METADATA) refuses the named wheel here."""
        label = direct.wheel.label
        metadata = (
            None if label is None else release_metadata(self.http, self.fetch, [], [direct.located])
        )
        selection = self.selector.rank([direct.wheel], metadata)
        if not selection.ranked:
            properties = (
                metadata.properties(label)
                if label is not None and isinstance(metadata, VariantMetadata)
                else None
            )
            if label is None or properties is None:
                reason = selection.rejected[0].reason if selection.rejected else "not installable"
                return one_line(reason, 300)
            shown = "; ".join(sorted(str(p) for p in properties))
            return (
                f"variant {label} ({shown}) is not supported on this machine "
                "(wn-detect; --properties FILE selects for another)"
            )
        meta = self.metadata_of(direct)
        if meta.requires_python is not None and not meta.requires_python.contains(
            self.target.python_version, prereleases=True
        ):
            return f"it requires Python {meta.requires_python}, not {self.target.python_version}"
        return f"its Wheel-Version {meta.wheel_version} is newer than this installer reads"

    def metadata_of(self, direct: DirectWheel) -> DistMetadata:
        """The named wheel's METADATA, read from the downloaded file."""
        return self._wheel_metadata(self.fetch(direct.located), direct.filename)

    def fetch(
        self, located: Located, progress: Callable[[int, int | None], None] | None = None
    ) -> Path:
        if located.group != DIRECT:
            return super().fetch(located, progress)
        direct = self.direct[canonicalize_name(WheelFilename.parse(located.file.filename).name)]
        found = self._fetched.get(direct.url)
        if found is not None:
            return found
        folder = hashlib.sha256(direct.url.encode()).hexdigest()[:24]
        try:  # a file: wheel is checked and read where it lies (never copied, never deleted)
            found = self.http.download(
                direct.url,
                None,
                self.work / "direct" / folder / direct.filename,
                progress,
                hashes=direct.hashes,
                in_place=True,
                source="URL",
            )
        except InstallerError as exc:
            raise InstallerError(f"{direct.where()}: {_without(str(exc), direct.url)}") from None
        self._fetched[direct.url] = found
        return found


def _without(message: str, url: str) -> str:
    """The download error without its leading URL (the caller names it already)."""
    return message.removeprefix(f"{url}: ")
