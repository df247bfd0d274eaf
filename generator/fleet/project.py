"""A generated project as the fleet sees it: its answers file on the default branch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.fleet.git import (
    branch_exists,
    commit_of,
    default_branch,
    git,
    is_ancestor,
    is_repository,
    remote_url,
    show_file,
)
from generator.fleet.targets import Target
from generator.scaffold import ANSWERS_FILE  # the name is written down once, where `new` writes it


class ProjectProblem(Exception):
    """The repository cannot be treated as a generated project; `not_a_project` when it simply isn't one."""

    def __init__(self, message: str, *, not_a_project: bool = False) -> None:
        super().__init__(message)
        self.not_a_project = not_a_project


@dataclass(frozen=True)
class Project:
    repo: Path
    base_branch: str  # the default branch updates start from
    base: str  # its commit
    src_path: str  # `_src_path` of the answers file
    version: str  # `_commit` of the answers file
    upstream: str | None = None  # the remote's default branch as just fetched, when it was
    stale_local: bool = False  # the local default branch is behind `upstream` (base is upstream)


def read_project(
    target: Target,
    repo: Path,
    remote: str,
    *,
    fetch_env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Project:
    """The project on `repo`'s default branch (see `git.default_branch`), never merely the
    branch checked out.

    With `fetch_env` (the run pushes) the remote's default branch is fetched first. A local
    target starts from its local default branch, or from the remote's when that is ahead of it
    (or there is no local one); a cloned URL target from the remote's.
    """
    if not target.is_url and not repo.is_dir():
        raise ProjectProblem(f"no such directory: {repo}")
    if not is_repository(repo):
        if (repo / ANSWERS_FILE).exists():
            raise ProjectProblem("not a git repository: copier updates only git-tracked projects")
        raise ProjectProblem(f"no {ANSWERS_FILE}", not_a_project=True)
    branch = default_branch(repo, remote, env=fetch_env, timeout=timeout)
    if branch is None:
        raise ProjectProblem(
            f"cannot tell the default branch: no {remote}/HEAD, no remote naming one, and not exactly "
            f"one of main/master; set it with `git remote set-head {remote} <branch>`"
        )
    upstream = None
    tracking = f"refs/remotes/{remote}/{branch}"
    if fetch_env is not None and remote_url(repo, remote):
        refspec = f"+refs/heads/{branch}:{tracking}"
        git(repo, "fetch", "--quiet", "--no-tags", remote, refspec, env=fetch_env, timeout=timeout)
        upstream = commit_of(repo, tracking)
    local_ref = f"refs/heads/{branch}"
    base_ref = local_ref if not target.is_url and branch_exists(repo, local_ref) else tracking
    base = commit_of(repo, base_ref)
    if base is None:
        raise ProjectProblem(f"default branch {branch} has no commits")
    stale_local = upstream is not None and base != upstream and is_ancestor(repo, base, upstream)
    if stale_local:
        base = upstream  # a stale local default branch: start from what the remote has
    text = show_file(repo, base, ANSWERS_FILE)
    if text is None:
        raise ProjectProblem(f"no {ANSWERS_FILE} on {branch}", not_a_project=True)
    try:
        answers = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectProblem(f"{ANSWERS_FILE} is not valid YAML: {exc}") from exc
    if not isinstance(answers, dict) or not answers.get("_src_path") or not answers.get("_commit"):
        raise ProjectProblem(f"{ANSWERS_FILE} has no _src_path or _commit: was it written by copier?")
    return Project(
        repo, branch, base, str(answers["_src_path"]), str(answers["_commit"]), upstream, stale_local
    )


def recorded_version(repo: Path, commit: str) -> str | None:
    """`_commit` of the answers file at `commit`, or None."""
    try:
        answers = yaml.safe_load(show_file(repo, commit, ANSWERS_FILE) or "")
    except yaml.YAMLError:
        return None
    version = answers.get("_commit") if isinstance(answers, dict) else None
    return str(version) if version else None
