"""The template, fetched once per run and shared by every repository's update.

A run keeps one bare mirror per template source in its own directory. Worker processes ask
`TemplateCache.get`; the first one fetches under a file lock, the others wait and reuse it.
Copier still reads `_src_path` from each project's answers file and clones it (three times per
update); `TemplateMirror.git_env` redirects those clones to the mirror with git's own
`url.<mirror>.insteadOf=<_src_path>`, so nothing goes back to the network and the answers file
keeps its original `_src_path`.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.fleet.git import GitError, clone, commit_of, config_env, git


class TemplateError(Exception):
    """The template cannot be fetched, or the requested version does not exist in it."""


@dataclass(frozen=True)
class TemplateVersion:
    label: str  # the tag, or `git describe` of a commit that is not tagged
    commit: str


def _parse(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


# copier's documented shortcuts for `_src_path` (https://copier.readthedocs.io, "Templates on
# GitHub/GitLab"). Written here rather than imported: only copier's public API is used, so a
# copier release that reorganises its internals cannot change what the fleet does unnoticed.
_ALIASES = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
_GIT_PREFIXES = ("git@", "git://", "git+", "https://github.com/", "https://gitlab.com/")


def copier_url(src_path: str) -> str:
    """The URL copier hands to git for `src_path`: `gh:`/`gl:` expanded, `.git` added on the
    GitHub/GitLab https forms, `git+` dropped; a local path as it is."""
    url = src_path
    for alias, base in _ALIASES.items():
        if url.startswith(alias):
            rest = url.removeprefix(alias).lstrip("/")
            url = base + (rest if rest.endswith(".git") else f"{rest}.git")
    if url.endswith(".git") or url.startswith(_GIT_PREFIXES):
        if url.startswith("git+"):
            return url[4:]
        if url.startswith("https://") and not url.endswith(".git"):
            return f"{url}.git"
    return url


def _instead_of() -> list[tuple[str, str]]:
    """git's `url.<base>.insteadOf` rules, as (prefix, base), longest prefix first."""
    try:
        listing = git(".", "config", "--get-regexp", r"^url\..*\.insteadof$")
    except GitError:  # exit 1: no rule
        return []
    rules = []
    for line in listing.splitlines():
        key, _, prefix = line.partition(" ")
        rules.append((prefix, key[len("url.") : -len(".insteadof")]))
    return sorted(rules, key=lambda rule: -len(rule[0]))


def canonical_source(src_path: str) -> str:
    """One spelling per template: copier's URL, after git's `insteadOf`, without credentials,
    trailing `/` or `.git`; a local path resolved. Two sources are the same template exactly
    when these are equal."""
    url = copier_url(src_path)
    for prefix, base in _instead_of():
        if url.startswith(prefix):
            url = base + url[len(prefix) :]
            break
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        parts = urllib.parse.urlsplit(url) if "://" in url else None
        if parts is not None:
            host = parts.hostname or ""
            netloc = host.lower() + (f":{parts.port}" if parts.port else "")
            url = urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))
        return url.rstrip("/").removesuffix(".git")
    return str(Path(url).expanduser().resolve()).removesuffix(".git")


@dataclass(frozen=True)
class TemplateMirror:
    """A bare mirror of one template source."""

    source: str
    path: Path

    def tags(self) -> list[tuple[Version, str]]:
        """Release tags that are PEP 440 versions, oldest first."""
        versions = ((_parse(tag), tag) for tag in git(self.path, "tag", "--list").split())
        return sorted((v, tag) for v, tag in versions if v is not None and not v.is_prerelease)

    def latest(self) -> TemplateVersion:
        tags = self.tags()
        if not tags:
            raise TemplateError(f"template {self.source} has no version tags (like v1.0.0)")
        tag = tags[-1][1]
        return TemplateVersion(tag, self.commit(tag))

    def commit(self, ref: str) -> str:
        sha = commit_of(self.path, ref)
        if sha is None:
            raise TemplateError(f"template {self.source} has no version or commit {ref!r}")
        return sha

    def resolve(self, ref: str | None) -> TemplateVersion:
        """`ref` (a tag, branch or commit), or the latest release when None."""
        if ref is None:
            return self.latest()
        sha = self.commit(ref)
        try:
            label = git(self.path, "describe", "--tags", "--always", sha).strip()
        except GitError:
            label = ref
        return TemplateVersion(label, sha)

    def git_env(self, *src_paths: str, also: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
        """Environment that makes git fetch each of `src_paths` from this mirror instead (and
        sets the settings in `also`)."""
        urls = dict.fromkeys(url for src in src_paths for url in (src, copier_url(src)))
        return config_env([*((f"url.{self.path}.insteadOf", url) for url in urls), *also])


class TemplateCache:
    """One mirror per template source per run, shared across processes through `root`.

    With `override` (the `--template` flag), every project's template is fetched from there.
    """

    def __init__(self, root: Path, override: str | None = None, timeout: float | None = None) -> None:
        self.root = root
        self.override = override
        self.timeout = timeout

    def get(self, src_path: str) -> TemplateMirror:
        source = self.override or src_path
        key = hashlib.sha256(source.encode()).hexdigest()[:16]
        self.root.mkdir(parents=True, exist_ok=True)
        mirror = self.root / f"{key}.git"
        failure = self.root / f"{key}.error"
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if failure.exists():
                raise TemplateError(failure.read_text())
            if not mirror.exists():
                staging = self.root / f"{key}.staging.git"
                try:
                    clone(copier_url(source), staging, "--mirror", timeout=self.timeout)
                except GitError as exc:
                    message = f"cannot fetch template {source}: {exc}"
                    failure.write_text(message)
                    raise TemplateError(message) from exc
                staging.rename(mirror)
        return TemplateMirror(source, mirror)
