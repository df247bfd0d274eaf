"""Helpers for the fleet tests: a two-version template as files, git on real repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

V1 = {
    "copier.yml": "project_name:\n  type: str\n  help: Name\n  default: demo\n",
    "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
    "README.md.jinja": "# {{ project_name }}\n\nGenerated project.\n",
    "config.yaml": "name: demo\nretries: 2\ntimeout: 30\nregion: westeurope\n",
    "src/app.py": "def main():\n    return 1\n\n\n# user code below\n",
    "obsolete.txt": "removed in v2\n",
    "docs/guide.md": "# Guide\n",
}
V2 = {
    **V1,
    "config.yaml": "name: demo\nretries: 5\ntimeout: 30\nregion: westeurope\n",
    "src/app.py": "def main():\n    return 2\n\n\n# user code below\n",
    "added.txt": "new in v2\n",
    "obsolete.txt": None,
}


def run_git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def write_tree(root: Path, files: dict[str, str | bytes | None]) -> None:
    """Write `files` under `root`: text as is (no newline translation), bytes as bytes, None deletes."""
    for path, content in files.items():
        target = root / path
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_bytes(content.encode())


# A second template for the adversarial cases: a binary file, an executable, a symlink, a CRLF
# file, a path git quotes, files the next version deletes, and a validator the next version adds.
RICH_V1: dict[str, str | bytes | None] = {
    "copier.yml": "_preserve_symlinks: true\nproject_name:\n  type: str\n  help: Name\n  default: demo\n",
    "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
    "README.md.jinja": "# {{ project_name }}\n",
    "logo.bin": b"\x89PNG\x00\x01template-v1\x00",
    "run.sh": "#!/bin/sh\necho v1\n# one\n# two\n# three\n# four\n# five\n# six\n",
    "crlf.txt": "alpha\r\nbeta\r\ngamma\r\ndelta\r\nepsilon\r\nzeta\r\n",
    "données.yaml": "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n",
    "notes.md": "template notes\n",
    "plain.txt": "unchanged by anyone\n",
    "target-a.txt": "a\n",
    "target-b.txt": "b\n",
    "target-c.txt": "c\n",
}
RICH_V2: dict[str, str | bytes | None] = {
    **RICH_V1,
    "copier.yml": RICH_V1["copier.yml"]  # type: ignore[operator]
    + "  validator: \"{% if project_name | select('in', '0123456789') | list %}Use letters and dashes only, no digits.{% endif %}\"\n",
    "logo.bin": b"\x89PNG\x00\x01template-v2\x00",
    "run.sh": "#!/bin/sh\necho v2\n# one\n# two\n# three\n# four\n# five\n# six\n",
    "crlf.txt": "alpha\r\nBETA-TEMPLATE\r\ngamma\r\ndelta\r\nepsilon\r\nzeta\r\n",
    "données.yaml": "a: 1\nb: 20\nc: 3\nd: 4\ne: 5\n",
    "notes.md": None,
    "plain.txt": None,
}


def commit_all(repo: Path, message: str) -> str:
    run_git(repo, "add", "--all")
    run_git(repo, "commit", "--quiet", "-m", message)
    return run_git(repo, "rev-parse", "HEAD").strip()


def tagged_template(root: Path, versions: dict[str, dict[str, str | bytes | None]]) -> Path:
    """A template repository at `root` with one commit and tag per version (`{"v1.0.0": files}`)."""
    root.mkdir(parents=True)
    run_git(root, "init", "--quiet", "-b", "main")
    for tag, files in versions.items():
        write_tree(root, files)
        commit_all(root, tag)
        run_git(root, "tag", tag)
    return root


def answers(repo: Path, rev: str) -> dict:
    return yaml.safe_load(run_git(repo, "show", f"{rev}:.copier-answers.yml"))


def branches(repo: Path) -> list[str]:
    return run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def with_remote(repo: Path, bare: Path) -> Path:
    """Give `repo` an `origin` that is a bare clone at `bare`, with `origin/HEAD` set."""
    bare.parent.mkdir(parents=True, exist_ok=True)
    run_git(repo.parent, "clone", "--quiet", "--bare", str(repo), str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "remote", "set-head", "origin", "main")
    return bare


def remote_branches(bare: Path) -> list[str]:
    return run_git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
