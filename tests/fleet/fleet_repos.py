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


def write_tree(root: Path, files: dict[str, str | None]) -> None:
    for path, content in files.items():
        target = root / path
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def commit_all(repo: Path, message: str) -> str:
    run_git(repo, "add", "--all")
    run_git(repo, "commit", "--quiet", "-m", message)
    return run_git(repo, "rev-parse", "HEAD").strip()


def answers(repo: Path, rev: str) -> dict:
    return yaml.safe_load(run_git(repo, "show", f"{rev}:.copier-answers.yml"))


def branches(repo: Path) -> list[str]:
    return run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
