"""Read CHANGELOG.md (Keep a Changelog form): one version's section, and the notes between two versions.

A fleet update's pull request carries `notes_between(...)`: what changed in the template between the
project's version and the target, with every version's "Upgrade notes" (what the team must do by
hand) first, because that is what a reviewer needs before merging.

Standard library, git and `packaging` only: release.yml runs this from a bare checkout.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.errors import UserError

CHANGELOG_URL = "https://github.com/mlops-forge/mlops-forge/blob/main/CHANGELOG.md"
UPGRADE_NOTES = "Upgrade notes"
# GitHub refuses a pull request body over 65,536 characters; leave room for conflicts and files.
DEFAULT_LIMIT = 60000

_VERSION_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?:\s+-\s+(?P<date>\S+))?\s*$")
_SUBHEADING = re.compile(r"^### (?P<title>.+?)\s*$")
# `git describe` output (v1.2.3-4-gabc1234): a project rendered between tags is past v1.2.3.
_DESCRIBE_SUFFIX = re.compile(r"-\d+-g[0-9a-f]+$")
_LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s+\S+")


class ChangelogError(UserError):
    """The changelog or a version given to read it is malformed."""


@dataclass(frozen=True)
class Section:
    """One `## [X.Y.Z] - date` section: its upgrade notes and the other subsections, as Markdown."""

    name: str
    date: str | None
    upgrade_notes: str
    changes: str

    @property
    def version(self) -> Version | None:
        """The release's version; None for `[Unreleased]`."""
        try:
            return Version(self.name)
        except InvalidVersion:
            return None


def parse_version(text: str) -> Version:
    """A version as tags and answers files spell it: `1.2.3`, `v1.2.3`, `v1.2.3-4-gabc1234`."""
    cleaned = _DESCRIBE_SUFFIX.sub("", text.strip()).removeprefix("v")
    try:
        return Version(cleaned)
    except InvalidVersion:
        raise ChangelogError(f"'{text}' is not a release version such as 1.2.3 or v1.2.3") from None


def sections(changelog_md: str) -> list[Section]:
    """Every `## [...]` section in file order (newest first in Keep a Changelog form)."""
    found: list[Section] = []
    heading: re.Match[str] | None = None
    body: list[str] = []
    for line in [*changelog_md.splitlines(), "## [end]"]:
        match = _VERSION_HEADING.match(line)
        if match is None:
            if heading is not None and not _LINK_DEFINITION.match(line):
                body.append(line)
            continue
        if heading is not None:
            found.append(_section(heading["name"], heading["date"], body))
        heading, body = match, []
    return found


def _section(name: str, date: str | None, body: list[str]) -> Section:
    """Split a section body into its "Upgrade notes" subsection and everything else."""
    notes: list[str] = []
    changes: list[str] = []
    target = changes
    for line in body:
        sub = _SUBHEADING.match(line)
        if sub is not None:
            target = notes if sub["title"].lower() == UPGRADE_NOTES.lower() else changes
            if target is notes:
                continue
        target.append(line)
    return Section(name, date, "\n".join(notes).strip(), "\n".join(changes).strip())


def section(changelog_md: str, version: str) -> Section:
    """The section of one release; ChangelogError if the changelog has none."""
    wanted = parse_version(version)
    for candidate in sections(changelog_md):
        if candidate.version == wanted:
            return candidate
    raise ChangelogError(f"CHANGELOG.md has no section '## [{wanted}] - YYYY-MM-DD'; add one")


def newest_release(changelog_md: str) -> Section | None:
    """The highest released version's section (ignores `[Unreleased]`)."""
    released = [s for s in sections(changelog_md) if s.version is not None]
    return max(released, key=lambda s: s.version, default=None)


def release_body(entry: Section) -> str:
    """One version's notes as a GitHub release shows them: upgrade notes first."""
    parts = []
    if entry.upgrade_notes:
        parts.append(f"### {UPGRADE_NOTES}\n\n{entry.upgrade_notes}")
    if entry.changes:
        parts.append(entry.changes)
    return "\n\n".join(parts) + "\n"


def notes_between(
    changelog_md: str,
    from_version: str,
    to_version: str,
    *,
    limit: int = DEFAULT_LIMIT,
    changelog_url: str = CHANGELOG_URL,
) -> str:
    """The sections of versions in (from_version, to_version], newest first, upgrade notes first.

    Returns "" when no release lies in between. The result is at most `limit` characters: past
    that it is cut at a line and ends with a link to the full changelog.
    """
    low, high = parse_version(from_version), parse_version(to_version)
    between = sorted(
        (s for s in sections(changelog_md) if s.version is not None and low < s.version <= high),
        key=lambda s: s.version,
        reverse=True,
    )
    if not between:
        return ""
    lines = [f"## Release notes: {low} → {high}", "", f"### {UPGRADE_NOTES}", ""]
    with_notes = [s for s in between if s.upgrade_notes]
    for entry in with_notes:
        lines += [f"**{entry.name}**", "", entry.upgrade_notes, ""]
    if not with_notes:
        lines += ["None: no release in this range needs action by hand.", ""]
    lines += ["### Changes", ""]
    for entry in between:
        dated = f" ({entry.date})" if entry.date else ""
        lines += [f"#### {entry.name}{dated}", "", _demote(entry.changes) or "No other changes.", ""]
    return _truncate("\n".join(lines).rstrip() + "\n", limit, changelog_url)


def notes_for_update(template: Path, from_ref: str, to_ref: str, *, limit: int = DEFAULT_LIMIT) -> str:
    """Release notes for a project moving from_ref -> to_ref of a template clone; "" if none apply.

    Reads CHANGELOG.md as of `to_ref` in the template's git repository. Lenient where a pull
    request body is concerned: a ref that is no version (a commit SHA, a branch) or a template
    without a changelog gives "" instead of an error, so an update never fails for want of notes.
    """
    shown = subprocess.run(
        ["git", "-C", str(template), "show", f"{to_ref}:CHANGELOG.md"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        return ""
    try:
        return notes_between(shown.stdout, from_ref, to_ref, limit=limit)
    except ChangelogError:
        return ""


def _demote(markdown: str) -> str:
    """Keep a Changelog's `### Added` become bold labels under the version's `####` heading."""
    return re.sub(r"^### (.+?)\s*$", r"**\1**", markdown, flags=re.M)


def _truncate(text: str, limit: int, changelog_url: str) -> str:
    if len(text) <= limit:
        return text
    tail = f"\n… truncated to fit a pull request; the full release notes are in {changelog_url}\n"
    if len(tail) >= limit:
        raise ChangelogError(f"limit {limit} is too small to hold even the truncation notice")
    cut = text[: limit - len(tail)]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return cut + tail
