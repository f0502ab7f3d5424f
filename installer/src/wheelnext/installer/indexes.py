"""Where a project's files come from: indexes, index groups, and index priority (PEP 766).

Indexes are arranged in ordered **groups**. Inside a group, members are mirrors or equally
trusted, and their files are merged (version priority, as pip does for all indexes).
Between groups, priority decides, in one of three strategies:

- ``project`` (default): the first group that lists the project owns it; lower groups are
  never consulted for it, which is what blocks dependency confusion;
- ``candidates``: fall through to the next group when a group has no viable file;
- ``merge-all``: every group merged into one (pip's behaviour).

A project pinned to a named index is looked up there alone; ``explicit`` indexes are used
only for projects pinned to them. Without groups, ``--index-url`` and ``--extra-index-url``
form one group, exactly like pip.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from wheelnext.core.filenames import (
    WheelFilename,
    is_variants_json_filename,
    parse_variants_json_filename,
)
from wheelnext.installer.errors import IndexUnavailable, InstallerError
from wheelnext.installer.http import MAX_PAGE_BYTES, HttpClient, cancellable, local_path
from wheelnext.installer.simple_api import ACCEPT, JSON_TYPE, FileEntry, ProjectPage, parse_page

LOG = logging.getLogger("wheelnext.installer")
Strategy = Literal["project", "candidates", "merge-all"]
STRATEGIES: tuple[Strategy, ...] = ("project", "candidates", "merge-all")
AHEAD_WORKERS = 4  # threads reading files ahead for resolution (``prefetch``)


@dataclass(frozen=True, slots=True)
class Index:
    """One source: a Simple API root URL, or a flat directory of files (``--find-links``)."""

    name: str
    url: str
    explicit: bool = False

    @property
    def flat(self) -> bool:
        return not self.url.startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class IndexGroup:
    name: str
    members: tuple[Index, ...]


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """Groups in priority order, the strategy between them, and per-project pins."""

    groups: tuple[IndexGroup, ...]
    strategy: Strategy = "project"
    pins: Mapping[str, str] = field(default_factory=dict)  # canonical project → index name
    fallthrough_on_error: bool = False
    mirror_mismatch: Literal["warn", "error"] = "warn"

    def pinned_group(self, name: str) -> IndexGroup:
        """What ``--pin PKG=NAME`` names: a whole group, or one index as a group of one."""
        for group in self.groups:
            if group.name == name:
                return IndexGroup(f"pin:{name}", group.members)
            for member in group.members:
                if member.name == name:
                    return IndexGroup(f"pin:{name}", (member,))
        raise InstallerError(f"no index or index group named {name!r} (known: {self.names()})")

    def names(self) -> list[str]:
        return list(
            dict.fromkeys(n for g in self.groups for n in (g.name, *(m.name for m in g.members)))
        )


@dataclass(frozen=True, slots=True)
class Located:
    """A file and where it was found."""

    file: FileEntry
    index: Index
    group: str


@dataclass(frozen=True, slots=True)
class ProjectFiles:
    """The files of one project that a request may use, and which group supplied them."""

    project: str
    files: tuple[Located, ...]
    group: str | None  # None: no group lists the project


class _Absent:
    pass


ABSENT = _Absent()


def project_of(filename: str) -> str | None:
    """The canonical project name a distribution filename belongs to (None: not a dist)."""
    try:
        if filename.endswith(".whl"):
            return canonicalize_name(WheelFilename.parse(filename).name)
        if is_variants_json_filename(filename):
            return canonicalize_name(parse_variants_json_filename(filename)[0])
        if filename.endswith((".tar.gz", ".zip")):
            stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
            return canonicalize_name(stem.rpartition("-")[0])
    except ValueError:
        return None
    return None


def _own_files(page: ProjectPage, project: str, url: str) -> ProjectPage:
    """``page`` without the entries that are not ``project``'s (another project's wheels
    or ``-variants.json``): an index may not deliver files of other projects through
    this page, whatever its priority."""
    own = tuple(entry for entry in page.files if project_of(entry.filename) == project)
    if len(own) != len(page.files):
        for entry in page.files:
            if project_of(entry.filename) != project:
                LOG.info("%s: ignoring %s, which is not a file of %s", url, entry.filename, project)
        return replace(page, files=own)
    return page


def _tree_page(root: Path, project: str) -> ProjectPage | None:
    """``project``'s page when ``root`` is a Simple API tree (``root/<project>/index.json``
    or ``index.html``, as pip reads a local ``--index-url``); None when it has no such
    page (a flat folder of files). The page, in a directory the user named, may point to
    local files; it is read as any page is, and at most ``MAX_PAGE_BYTES``."""
    from wheelnext.core.files import UserFileError, read_user_file

    for name, content_type in (("index.json", JSON_TYPE), ("index.html", "text/html")):
        path = root / project / name
        if not path.is_file():
            continue
        try:
            body = read_user_file(path, "index page", MAX_PAGE_BYTES)
        except UserFileError as exc:
            raise IndexUnavailable(str(exc)) from None
        url = path.resolve().as_uri()
        return _own_files(parse_page(body, content_type, url, project), project, url)
    return None


class IndexSet:
    """Reads project pages (concurrently, once per run) and applies index priority."""

    def __init__(self, config: IndexConfig, http: HttpClient, workers: int = 8) -> None:
        self.config = config
        self.http = http
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wheelnext-index")
        # reading ahead (``prefetch``'s ``then``) has threads of its own: pages never wait
        # behind files that resolution may not need
        self._ahead = ThreadPoolExecutor(AHEAD_WORKERS, thread_name_prefix="wheelnext-ahead")
        self._stop = threading.Event()  # set by ``close``: reads in flight end soon after
        self._pages: dict[tuple[str, str], Future[ProjectPage | _Absent]] = {}
        self._lock = threading.Lock()
        self.log: list[str] = []  # what -v shows: each decision once, in order

    def _note(self, line: str) -> None:
        """Log a decision about a project (asked for again later: said once)."""
        if line not in self.log:
            self.log.append(line)

    def close(self) -> None:
        """Drop the reads not begun and end those in flight (within ``STOP_POLL``): no
        page or file nobody waits for keeps the process from exiting."""
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._ahead.shutdown(wait=False, cancel_futures=True)

    # -- pages ----------------------------------------------------------------------

    def _fetch(self, index: Index, project: str) -> ProjectPage | _Absent:
        with cancellable(self._stop):
            return self._read_page(index, project)

    def _read_page(self, index: Index, project: str) -> ProjectPage | _Absent:
        if index.flat:
            return self._flat(index, project)
        url = f"{index.url.rstrip('/')}/{project}/"
        response = self.http.get_page(url, ACCEPT)
        if response.status in (404, 410):
            return ABSENT
        if response.status != 200:
            raise IndexUnavailable(f"index {index.name} ({url}): HTTP {response.status}")
        page = parse_page(response.body, response.content_type, response.url, project)
        return _own_files(page, project, url)

    def _flat(self, index: Index, project: str) -> ProjectPage | _Absent:
        root = local_path(index.url) if index.url.startswith("file:") else Path(index.url)
        if not root.is_dir():
            raise IndexUnavailable(f"find-links {index.url}: not a directory")
        tree = _tree_page(root, project)
        if tree is not None:
            return tree
        files = tuple(
            FileEntry(path.name, path.resolve().as_uri())
            for path in sorted(root.iterdir())
            if path.is_file() and project_of(path.name) == project
        )
        return ProjectPage(project, files) if files else ABSENT

    def page(self, index: Index, project: str) -> Future[ProjectPage | _Absent]:
        """The (possibly still running) fetch of ``project``'s page on ``index``."""
        with self._lock:
            key = (index.url, project)
            if key not in self._pages:
                self._pages[key] = self._pool.submit(self._fetch, index, project)
            return self._pages[key]

    def forget(self, project: str) -> None:
        """Drop the pages read for ``project`` so the next lookup asks the indexes again."""
        canonical = canonicalize_name(project)
        with self._lock:
            for key in [k for k in self._pages if k[1] == canonical]:
                del self._pages[key]

    def prefetch(
        self,
        projects: Sequence[str],
        then: Callable[[str, ProjectPage], object] | None = None,
    ) -> None:
        """Start fetching pages that will likely be needed (the requirements, a candidate's
        dependencies), from the project's first index group only: a lower group is asked
        about a project only once the lookup falls through to it (a project of a private
        group is never named to a public index). ``then(project, page)``, given, runs on
        this set's threads for each Simple API page read that is not quarantined; whatever
        it raises is ignored (the lookup reports what is wrong)."""
        for project in projects:
            canonical = canonicalize_name(project)
            for index in self._first_indexes(canonical):
                future = self.page(index, canonical)
                if then is not None and not index.flat:
                    future.add_done_callback(functools.partial(self._then, then, canonical))

    def _then(
        self,
        then: Callable[[str, ProjectPage], object],
        project: str,
        future: Future[ProjectPage | _Absent],
    ) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        page = future.result()
        if isinstance(page, ProjectPage) and page.status != "quarantined":
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nothing to start
                self._ahead.submit(self._run_ahead, then, project, page)

    def _run_ahead(
        self, then: Callable[[str, ProjectPage], object], project: str, page: ProjectPage
    ) -> None:
        if not self._stop.is_set():
            with cancellable(self._stop):
                then(project, page)

    def _first_indexes(self, project: str) -> list[Index]:
        """The indexes a lookup of ``project`` reads first: its pinned group, else the
        first group with an index that is not explicit."""
        pinned = self.config.pins.get(project)
        if pinned is not None:
            return list(self.config.pinned_group(pinned).members)
        for group in self.config.groups:
            members = [m for m in group.members if not m.explicit]
            if members:
                return members
        return []

    # -- priority -------------------------------------------------------------------

    def lookup(self, project: str, viable: Callable[[FileEntry], bool]) -> ProjectFiles:
        """The files ``project`` may come from, by the configured index priority.

        ``viable`` says whether a file could satisfy the current request; the
        ``candidates`` strategy falls through groups whose files are all unviable.
        """
        project = canonicalize_name(project)
        pinned = self.config.pins.get(project)
        if pinned is not None:
            group = self.config.pinned_group(pinned)
            return self._from_group(project, group, required=True) or ProjectFiles(
                project, (), None
            )
        groups = [
            IndexGroup(g.name, tuple(m for m in g.members if not m.explicit))
            for g in self.config.groups
        ]
        groups = [g for g in groups if g.members]
        if self.config.strategy == "merge-all":
            merged = IndexGroup("all", tuple(m for g in groups for m in g.members))
            groups = [merged] if merged.members else []
        for group in groups:
            found = self._from_group(project, group)
            if found is None:
                continue
            if self.config.strategy != "candidates" or any(viable(f.file) for f in found.files):
                self._note(f"{project}: from group {group.name}")
                return found
            self._note(f"{project}: group {group.name} has no viable file, falling through")
        return ProjectFiles(project, (), None)

    def _from_group(
        self, project: str, group: IndexGroup, required: bool = False
    ) -> ProjectFiles | None:
        """The merged files of ``project`` in ``group``; None when no member lists it."""
        results: list[tuple[Index, ProjectPage | _Absent | IndexUnavailable]] = []
        for member in group.members:
            try:
                results.append((member, self.page(member, project).result()))
            except IndexUnavailable as exc:
                results.append((member, exc))
        errors = [r for _, r in results if isinstance(r, IndexUnavailable)]
        if errors and len(errors) == len(results):
            if not self.config.fallthrough_on_error or required:
                raise IndexUnavailable(
                    f"index group {group.name} is unreachable: " + "; ".join(str(e) for e in errors)
                )
            self._note(f"{project}: group {group.name} unreachable, falling through")
            return None
        for error in errors:
            LOG.warning("%s (continuing with the rest of group %s)", error, group.name)
        pages = [(i, r) for i, r in results if isinstance(r, ProjectPage)]
        if not pages:
            return None
        for index, page in pages:
            if page.status == "quarantined":
                reason = f": {page.status_reason}" if page.status_reason else ""
                raise InstallerError(
                    f"{project} is quarantined on index {index.name}{reason}; "
                    "not looking for it elsewhere"
                )
        for index, page in pages:
            if page.status in ("archived", "deprecated"):
                reason = f": {page.status_reason}" if page.status_reason else ""
                LOG.warning("%s is %s on index %s%s", project, page.status, index.name, reason)
        pool: dict[str, Located] = {}
        for index, page in pages:
            for entry in page.files:
                earlier = pool.get(entry.filename)
                if earlier is None:
                    pool[entry.filename] = Located(entry, index, group.name)
                    continue
                a, b = earlier.file.hashes.get("sha256"), entry.hashes.get("sha256")
                if a and b and a != b:
                    detail = (
                        f"{entry.filename} differs between index {earlier.index.name} and "
                        f"index {index.name} (sha256 {a} vs {b})"
                    )
                    if self.config.mirror_mismatch == "error":
                        raise InstallerError(f"{detail}; refusing to choose")
                    LOG.warning("%s; using %s's", detail, earlier.index.name)
        return ProjectFiles(project, tuple(pool.values()), group.name)
