"""Cut and check releases of mlops-forge (docs/releasing.md).

    python scripts/release.py prepare X.Y.Z   # `make release VERSION=X.Y.Z`: bump, open the section, commit, tag
    python scripts/release.py check vX.Y.Z    # release.yml: the tag, pyproject.toml and CHANGELOG.md agree
    python scripts/release.py notes X.Y.Z     # release.yml: that version's GitHub release body

Runs from a bare checkout with only `packaging` installed, so release.yml needs no editable install.
"""

from __future__ import annotations

import argparse
import datetime
import re
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator import changelog  # noqa: E402
from generator.errors import UserError  # noqa: E402

RELEASE_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
PYPROJECT_VERSION = re.compile(r'^version = "(?P<version>[^"]+)"$', re.M)
REPOSITORY = "https://github.com/mlops-forge/mlops-forge"
UNRELEASED_HEADING = "## [Unreleased]"


@dataclass(frozen=True)
class Checkout:
    """The files a release touches, in one working tree."""

    root: Path

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def changelog(self) -> Path:
        return self.root / "CHANGELOG.md"

    def version(self) -> str:
        return tomllib.loads(self.pyproject.read_text(encoding="utf-8"))["project"]["version"]

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
        )


def check(checkout: Checkout, tag: str) -> str:
    """The version the tag releases; UserError unless tag, pyproject.toml and changelog agree."""
    if not re.fullmatch(r"v\d+\.\d+\.\d+", tag):
        raise UserError(f"tag '{tag}' is not a release tag vX.Y.Z")
    version = tag.removeprefix("v")
    declared = checkout.version()
    if declared != version:
        raise UserError(f'tag {tag} releases {version} but pyproject.toml says version = "{declared}"')
    text = checkout.changelog.read_text(encoding="utf-8")
    newest = changelog.newest_release(text)
    if newest is None or newest.name != version:
        found = newest.name if newest else "none"
        raise UserError(f"CHANGELOG.md's newest release section is {found}, not {version}")
    first = next((s for s in changelog.sections(text) if s.version is not None), None)
    if first is None or first.name != version:
        raise UserError(f"CHANGELOG.md: the section of {version} must come first (newest first)")
    if not newest.upgrade_notes:
        raise UserError(f"CHANGELOG.md: {version} has no '### Upgrade notes' (write '- None.' if so)")
    return version


def is_breaking_bump(current: str, new: str) -> bool:
    """A major bump; while the major is 0, a minor bump plays that role (SemVer §4)."""
    old = tuple(int(p) for p in current.split(".")[:3])
    nxt = tuple(int(p) for p in new.split(".")[:3])
    if old[0] == 0 and nxt[0] == 0:
        return nxt[1] > old[1]
    return nxt[0] > old[0]


def needs_breaking_bump(unreleased: changelog.Section, copier_yml: str, version: str) -> bool:
    """Upgrade notes marked **Breaking** or **Destructive**, or a copier migration at this version."""
    flagged = re.search(r"\*\*(breaking|destructive)\*\*", unreleased.upgrade_notes, re.I)
    migration = re.search(rf"^\s*-?\s*version:\s*[\"']?v?{re.escape(version)}[\"']?\s*$", copier_yml, re.M)
    return bool(flagged or migration)


def open_section(text: str, version: str, previous: str, today: str) -> str:
    """Turn `[Unreleased]` into `[version] - today`, start an empty `[Unreleased]`, fix the links."""
    if UNRELEASED_HEADING not in text:
        raise UserError(f"CHANGELOG.md has no '{UNRELEASED_HEADING}' section to release")
    fresh = f"{UNRELEASED_HEADING}\n\n### Upgrade notes\n\n## [{version}] - {today}"
    text = text.replace(UNRELEASED_HEADING, fresh, 1)
    unreleased_link = re.compile(r"^\[Unreleased\]: .*$", re.M)
    links = f"[Unreleased]: {REPOSITORY}/compare/v{version}...HEAD\n[{version}]: {REPOSITORY}/compare/v{previous}...v{version}"
    if unreleased_link.search(text):
        return unreleased_link.sub(links, text, count=1)
    return text.rstrip("\n") + "\n\n" + links + "\n"


def prepare(checkout: Checkout, version: str, today: str) -> str:
    """Bump pyproject.toml, open the changelog section, commit and tag; return the tag."""
    if not RELEASE_VERSION.fullmatch(version):
        raise UserError(f"VERSION={version!r} is not a release version X.Y.Z")
    status = checkout.git("status", "--porcelain")
    if status.returncode != 0:
        raise UserError(f"{checkout.root} is not a git working tree")
    if status.stdout.strip():
        raise UserError("the working tree has uncommitted changes; commit or stash them first")
    tag = f"v{version}"
    if checkout.git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0:
        raise UserError(f"tag {tag} already exists")
    current = checkout.version()
    if changelog.parse_version(version) <= changelog.parse_version(current):
        raise UserError(f"VERSION={version} must be greater than the current version {current}")
    text = checkout.changelog.read_text(encoding="utf-8")
    unreleased = next((s for s in changelog.sections(text) if s.name == "Unreleased"), None)
    if unreleased is None or not unreleased.upgrade_notes:
        raise UserError(
            "CHANGELOG.md: write the '### Upgrade notes' of [Unreleased] first ('- None.' if nothing to do)"
        )
    copier_yml = (checkout.root / "copier.yml").read_text(encoding="utf-8")
    if needs_breaking_bump(unreleased, copier_yml, version) and not is_breaking_bump(current, version):
        raise UserError(
            f"[Unreleased] is breaking (see docs/releasing.md) but {current} -> {version} is not a major "
            "version (a minor one while the major is 0)"
        )
    pyproject = checkout.pyproject.read_text(encoding="utf-8")
    checkout.pyproject.write_text(PYPROJECT_VERSION.sub(f'version = "{version}"', pyproject, count=1))
    checkout.changelog.write_text(open_section(text, version, current, today), encoding="utf-8")
    for args in (
        ("add", "pyproject.toml", "CHANGELOG.md"),
        ("commit", "-q", "-m", f"Release {version}"),
        ("tag", "-a", tag, "-m", f"mlops-forge {version}"),
    ):
        result = checkout.git(*args)
        if result.returncode != 0:
            raise UserError(f"git {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return tag


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="release", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="bump the version, open its changelog section, commit, tag")
    prep.add_argument("version", metavar="X.Y.Z")
    prep.add_argument("--date", default=None, help="release date (default: today, UTC)")
    chk = commands.add_parser("check", help="fail unless the tag, pyproject.toml and CHANGELOG.md agree")
    chk.add_argument("tag", metavar="vX.Y.Z")
    notes = commands.add_parser("notes", help="print a version's GitHub release body")
    notes.add_argument("version", metavar="X.Y.Z")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    checkout = Checkout(args.root)
    try:
        if args.command == "prepare":
            today = args.date or datetime.datetime.now(datetime.UTC).date().isoformat()
            tag = prepare(checkout, args.version, today)
            print(f"Tagged {tag}. Publish it with: git push origin HEAD {tag}")
        elif args.command == "check":
            print(f"version={check(checkout, args.tag)}")
        else:
            text = checkout.changelog.read_text(encoding="utf-8")
            print(changelog.release_body(changelog.section(text, args.version)), end="")
    except UserError as exc:
        print(f"release {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
