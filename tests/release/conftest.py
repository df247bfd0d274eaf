"""Session fixtures of the release tests: this checkout as a git repository with its history."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IDENTITY = ("-c", "user.name=mlops-forge tests", "-c", "user.email=tests@mlops-forge.invalid")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *IDENTITY, *args], check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class Checkout:
    """A clone of this repository whose newest commit is the working tree as it is now."""

    path: Path
    head: str

    @property
    def version(self) -> str:
        return tomllib.loads((self.path / "pyproject.toml").read_text())["project"]["version"]


def clone_working_tree(dest: Path) -> Checkout:
    """Clone REPO with its history and commit the working tree (tracked and new files) on top."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest)], check=True)
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    present = {name for name in listed if name and (REPO / name).is_file()}
    for name in git(dest, "ls-files", "-z").split("\0"):
        if name and name not in present:
            (dest / name).unlink(missing_ok=True)
    for name in present:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--allow-empty", "--no-verify", "-m", "the working tree under test")
    return Checkout(dest, git(dest, "rev-parse", "HEAD").strip())


def canonical_url_to(template: Path) -> dict[str, str]:
    """Git config (as environment) that serves the template's canonical URL from a local clone.

    A project's answers file may record the canonical repository URL as `_src_path` even when it
    was rendered from a checkout; `copier update` then clones that URL, which git rewrites here.
    """
    url = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    env = {"GIT_CONFIG_COUNT": "2"}
    for i, prefix in enumerate((f"{url}.git", url)):  # git takes the longest matching prefix
        env[f"GIT_CONFIG_KEY_{i}"] = f"url.{template}.insteadOf"
        env[f"GIT_CONFIG_VALUE_{i}"] = prefix
    return env


@contextlib.contextmanager
def serving_canonical_url(template: Path) -> Iterator[dict[str, str]]:
    """`canonical_url_to` for copier in this process (plumbum keeps its own environment copy)."""
    from plumbum import local

    rewrite = canonical_url_to(template)
    with local.env(**rewrite):
        yield {**os.environ, **rewrite}


@pytest.fixture(scope="module")
def working_tree(tmp_path_factory) -> Checkout:
    """One clone per test module: modules tag it differently."""
    return clone_working_tree(tmp_path_factory.mktemp("forge") / "mlops-forge")
