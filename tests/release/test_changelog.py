"""generator.changelog: sections, release notes between versions, truncation; the real CHANGELOG.md."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from generator import changelog
from generator.changelog import ChangelogError, notes_between

REPO = Path(__file__).resolve().parents[2]

SAMPLE = """\
# Changelog

## [Unreleased]

### Upgrade notes

- Not released yet: must never show up.

## [1.2.0] - 2026-12-01

### Upgrade notes

- **Breaking**: the question `owner` is now `team`; the migration carries your answer over.

### Added

- Private endpoints for the registry.

## [1.1.0] - 2026-11-28

### Upgrade notes

- None.

### Fixed

- Budget alerts fire at 80%.

## [1.0.0] - 2026-11-25

### Upgrade notes

- **Destructive**: `pulumi up` replaces the storage account of every environment.

### Changed

- Storage accounts use zone-redundant storage.

[Unreleased]: https://github.com/mlops-forge/mlops-forge/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/mlops-forge/mlops-forge/compare/v1.1.0...v1.2.0
"""


def test_sections_split_upgrade_notes_from_changes():
    found = {s.name: s for s in changelog.sections(SAMPLE)}
    assert list(found) == ["Unreleased", "1.2.0", "1.1.0", "1.0.0"]
    assert found["1.2.0"].date == "2026-12-01"
    assert found["1.2.0"].upgrade_notes.startswith("- **Breaking**")
    assert "Private endpoints" in found["1.2.0"].changes
    assert "Upgrade notes" not in found["1.2.0"].changes
    assert "compare/" not in found["1.0.0"].changes, "link definitions belong to no section"
    assert found["Unreleased"].version is None


def test_notes_between_takes_the_half_open_range_newest_first_upgrade_notes_first():
    notes = notes_between(SAMPLE, "v1.0.0", "v1.2.0")
    assert "Destructive" not in notes, "1.0.0 is the project's version: already applied"
    assert "Not released yet" not in notes
    upgrade = notes.index("### Upgrade notes")
    changes = notes.index("### Changes")
    assert upgrade < notes.index("**Breaking**") < changes
    assert notes.index("#### 1.2.0") < notes.index("#### 1.1.0")
    assert notes.index("Private endpoints") > changes
    assert "**Added**" in notes and "### Added" not in notes
    assert "1.0.0 → 1.2.0" in notes


def test_notes_between_reads_tags_and_git_describe_versions():
    assert "Budget alerts" in notes_between(SAMPLE, "v1.0.0-3-gabc1234", "1.1.0")
    assert notes_between(SAMPLE, "1.2.0", "v1.2.0") == ""
    assert "Destructive" in notes_between(SAMPLE, "0.9.0", "1.0.0")


def test_notes_between_without_upgrade_notes_says_so():
    notes = notes_between(SAMPLE, "1.0.0", "1.1.0")
    assert "None." in notes
    assert "#### 1.1.0 (2026-11-28)" in notes


def test_notes_are_truncated_at_a_line_with_a_link_to_the_full_changelog():
    big = SAMPLE.replace(
        "- Private endpoints for the registry.", "\n".join(f"- change {i}" for i in range(3000))
    )
    full = notes_between(big, "1.0.0", "1.2.0", limit=10**6)
    assert len(full) > 20000
    cut = notes_between(big, "1.0.0", "1.2.0", limit=2000, changelog_url="https://example.test/CHANGELOG.md")
    assert len(cut) <= 2000
    assert cut.rstrip().endswith("https://example.test/CHANGELOG.md")
    assert "**Breaking**" in cut, "upgrade notes come first, so they survive truncation"
    body = cut[: cut.index("\n… truncated")]
    assert full.startswith(body) and full[len(body)] == "\n", "cut at a line boundary"


@pytest.mark.parametrize("bad", ["main", "latest", "1.x"])
def test_a_version_that_is_not_one_is_a_clear_error(bad):
    with pytest.raises(ChangelogError, match=re.escape(bad)):
        notes_between(SAMPLE, bad, "1.2.0")


def test_section_of_a_missing_version_is_a_clear_error():
    with pytest.raises(ChangelogError, match=r"no section '## \[3\.0\.0\]"):
        changelog.section(SAMPLE, "3.0.0")


def test_release_body_puts_upgrade_notes_first():
    body = changelog.release_body(changelog.section(SAMPLE, "1.0.0"))
    assert body.index("### Upgrade notes") < body.index("Destructive") < body.index("### Changed")


def test_notes_for_update_reads_the_changelog_at_the_target_tag(tmp_path):
    template = tmp_path / "template"
    template.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(template), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (template / "CHANGELOG.md").write_text(SAMPLE)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "1.2.0")
    git("tag", "v1.2.0")
    (template / "CHANGELOG.md").write_text(
        SAMPLE.replace("## [1.2.0]", "## [1.3.0] - 2027-01-01\n\n### Upgrade notes\n\n- later\n\n## [1.2.0]")
    )
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "1.3.0")
    notes = changelog.notes_for_update(template, "v1.1.0", "v1.2.0")
    assert "**Breaking**" in notes and "later" not in notes, "as of the target tag, not HEAD"
    assert changelog.notes_for_update(template, "0123abcd" * 5, "v1.2.0") == "", "a SHA: no notes, no error"
    assert changelog.notes_for_update(template, "v1.1.0", "v9.9.9") == "", "no such tag"
    assert changelog.notes_for_update(tmp_path, "v1.1.0", "v1.2.0") == "", "not a repository"


# The real changelog -----------------------------------------------------------------------------


def test_the_current_version_has_a_changelog_section_with_upgrade_notes():
    """Fails as soon as pyproject.toml's version changes without a CHANGELOG.md section for it."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    text = (REPO / "CHANGELOG.md").read_text()
    entry = changelog.section(text, version)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.date or ""), f"{version}: date as YYYY-MM-DD"
    newest = changelog.newest_release(text)
    assert newest is not None and newest.name == version, "the current version is the newest section"


def test_every_release_section_has_upgrade_notes_and_a_date():
    text = (REPO / "CHANGELOG.md").read_text()
    released = [s for s in changelog.sections(text) if s.version is not None]
    assert released
    assert [s.name for s in released if not s.upgrade_notes] == []
    assert [s.name for s in released if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.date or "")] == []
    versions = [s.version for s in released]
    assert versions == sorted(versions, reverse=True), "newest first"
    assert changelog.sections(text)[0].name == "Unreleased"
