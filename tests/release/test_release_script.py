"""scripts/release.py: `make release` bumps, opens the changelog section and tags; `check` guards release.yml."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_release():
    spec = importlib.util.spec_from_file_location("release_script", REPO / "scripts" / "release.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


release = _load_release()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A repository with this checkout's pyproject.toml, CHANGELOG.md and copier.yml, committed."""
    root = tmp_path / "forge"
    root.mkdir()
    for name in ("pyproject.toml", "CHANGELOG.md", "copier.yml"):
        shutil.copy2(REPO / name, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "t")
    git(root, "config", "user.email", "t@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def _version(root: Path) -> str:
    return release.Checkout(root).version()


def _next(version: str, part: int) -> str:
    numbers = [int(p) for p in version.split(".")]
    numbers[part] += 1
    return ".".join(str(n) if i <= part else "0" for i, n in enumerate(numbers))


def test_prepare_bumps_opens_the_section_commits_and_tags(checkout, capsys):
    current = _version(checkout)
    # A minor bump: a breaking one while the major is 0, so it fits whatever [Unreleased] holds
    # (a destructive upgrade note needs it; a patch bump would be refused then).
    new = _next(current, 1)
    assert release.main(["--root", str(checkout), "prepare", new, "--date", "2026-12-24"]) == 0
    assert f"git push origin HEAD v{new}" in capsys.readouterr().out
    assert _version(checkout) == new
    text = (checkout / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n### Upgrade notes\n\n## [{new}] - 2026-12-24" in text
    assert f"[{new}]: https://github.com/mlops-forge/mlops-forge/compare/v{current}...v{new}" in text
    assert f"[Unreleased]: https://github.com/mlops-forge/mlops-forge/compare/v{new}...HEAD" in text
    assert git(checkout, "status", "--porcelain") == ""
    assert git(checkout, "rev-parse", f"v{new}^{{commit}}") == git(checkout, "rev-parse", "HEAD")
    assert git(checkout, "cat-file", "-t", f"v{new}").strip() == "tag", "annotated tag"
    # What release.yml then checks passes for the tag just made.
    assert release.main(["--root", str(checkout), "check", f"v{new}"]) == 0
    assert capsys.readouterr().out.strip() == f"version={new}"
    # A second release refuses: [Unreleased] now has no upgrade notes.
    assert release.main(["--root", str(checkout), "prepare", _next(new, 2)]) == 2
    assert "Upgrade notes" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "version", "message"),
    [
        (None, "0.0.1", "must be greater"),
        (None, "1.2", "is not a release version"),
        ("dirty", None, "uncommitted changes"),
        ("breaking", "patch", "is not a major version"),
    ],
)
def test_prepare_refuses_and_touches_nothing(checkout, capsys, change, version, message):
    current = _version(checkout)
    if change == "dirty":
        (checkout / "README.md").write_text("untracked\n")
        version = _next(current, 2)
    if change == "breaking":
        path = checkout / "CHANGELOG.md"
        path.write_text(
            path.read_text().replace("### Upgrade notes\n", "### Upgrade notes\n\n- **Breaking**: x\n", 1)
        )
        git(checkout, "commit", "-qam", "breaking")
        version = _next(current, 2)
    head = git(checkout, "rev-parse", "HEAD")
    assert release.main(["--root", str(checkout), "prepare", version]) == 2
    assert message in capsys.readouterr().err
    assert _version(checkout) == current
    assert git(checkout, "rev-parse", "HEAD") == head
    assert git(checkout, "tag") == ""


def test_a_breaking_release_may_be_a_major_one(checkout):
    current = _version(checkout)
    path = checkout / "CHANGELOG.md"
    path.write_text(
        path.read_text().replace("### Upgrade notes\n", "### Upgrade notes\n\n- **Breaking**: x\n", 1)
    )
    git(checkout, "commit", "-qam", "breaking")
    major = _next(current, 1) if current.startswith("0.") else _next(current, 0)
    assert release.main(["--root", str(checkout), "prepare", major]) == 0


@pytest.mark.parametrize(
    ("tag", "message"),
    [("v9.9.9", "pyproject.toml says"), ("9.9.9", "not a release tag"), ("v1.0", "not a release tag")],
)
def test_check_fails_unless_the_tag_pyproject_and_changelog_agree(tag, message, capsys):
    assert release.main(["check", tag]) == 2
    assert message in capsys.readouterr().err


def test_check_fails_when_the_changelog_lags_behind(checkout, capsys):
    new = _next(_version(checkout), 2)
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(release.PYPROJECT_VERSION.sub(f'version = "{new}"', pyproject.read_text(), count=1))
    assert release.main(["--root", str(checkout), "check", f"v{new}"]) == 2
    assert f"not {new}" in capsys.readouterr().err


def test_notes_prints_the_version_section(capsys):
    version = release.Checkout(REPO).version()
    assert release.main(["notes", version]) == 0
    assert capsys.readouterr().out.startswith("### Upgrade notes\n")


def test_breaking_bump_rule():
    assert release.is_breaking_bump("0.1.0", "0.2.0")
    assert not release.is_breaking_bump("0.1.0", "0.1.1")
    assert release.is_breaking_bump("1.4.2", "2.0.0")
    assert not release.is_breaking_bump("1.4.2", "1.5.0")
