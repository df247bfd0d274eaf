"""Git for the fleet: always `git -C <repo>`, never a change of the caller's directory.

Every failure is a `GitError` whose message is git's own last line of complaint, so a
repository's result can say why it failed without a traceback.
"""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path

ANSWERS_FILE = ".copier-answers.yml"
FALLBACK_NAME = "mlops-forge"
FALLBACK_EMAIL = "mlops-forge@users.noreply.invalid"


class GitError(Exception):
    """A git command failed; the message is what git said."""


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # Never wait for a password on an unreachable or private https remote: fail and say so.
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


def git(repo: Path | str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run `git -C repo args...` and return its stdout; raise `GitError` on failure."""
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_env(env),
        check=False,
    )
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        # git's first `fatal:`/`error:` line says what went wrong; later ones are advice.
        marked = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
        reason = (marked or lines or [f"exit status {proc.returncode}"])[0]
        raise GitError(f"git {args[0]}: {reason}")
    return proc.stdout


def git_ok(repo: Path | str, *args: str) -> bool:
    """Whether `git -C repo args...` succeeds (for questions git answers with its exit code)."""
    try:
        git(repo, *args)
    except GitError:
        return False
    return True


def clone(source: str, dest: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
    """`git clone [args] -- source dest`, run from dest's parent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    git(dest.parent, "clone", "--quiet", *args, "--", source, str(dest), env=env)


def is_repository(path: Path) -> bool:
    return path.is_dir() and git_ok(path, "rev-parse", "--git-dir")


def commit_of(repo: Path | str, rev: str) -> str | None:
    """The commit `rev` names in `repo`, or None when it names none."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").strip()
    except GitError:
        return None


def show_file(repo: Path | str, rev: str, path: str) -> str | None:
    """The content of `path` at `rev`, or None when it is not there."""
    try:
        return git(repo, "show", f"{rev}:{path}")
    except GitError:
        return None


def is_dirty(repo: Path | str) -> bool:
    """Uncommitted changes or untracked files, as copier's own check sees them."""
    return bool(git(repo, "status", "--porcelain").strip())


def current_branch(repo: Path | str) -> str | None:
    try:
        return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
    except GitError:
        return None


def default_branch(repo: Path | str, remote: str) -> str | None:
    """The remote's default branch (`<remote>/HEAD`), else the branch checked out."""
    try:
        head = git(repo, "symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD").strip()
    except GitError:
        return current_branch(repo)
    return head.removeprefix(f"{remote}/")


def branch_exists(repo: Path | str, ref: str) -> bool:
    return git_ok(repo, "show-ref", "--verify", "--quiet", ref)


def identity(repo: Path | str) -> tuple[str, str]:
    """The committer configured for `repo`, or a neutral bot identity when none is."""

    def config(key: str, fallback: str) -> str:
        try:
            return git(repo, "config", "--get", key).strip() or fallback
        except GitError:
            return fallback

    return config("user.name", FALLBACK_NAME), config("user.email", FALLBACK_EMAIL)


def remote_url(repo: Path | str, remote: str) -> str | None:
    try:
        return git(repo, "remote", "get-url", remote).strip() or None
    except GitError:
        return None


def config_env(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Git configuration for one command, passed in the environment (not on the command line,
    where other users could read it), after any the caller's environment already passes."""
    env: dict[str, str] = {}
    count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    for key, value in pairs:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def token_env(repo: Path | str, url: str | None, token: str, hosts: Iterable[str]) -> dict[str, str]:
    """Authenticate git's https requests to `url` with `token`, as actions/checkout does.

    Only for https URLs on one of `hosts` (the token's own GitHub), only for that host, and not
    when the checkout already carries its own credentials header (two would be refused).
    """
    if not token or not url or not url.startswith("https://"):
        return {}
    host = urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1]
    if host not in set(hosts):
        return {}
    try:
        if git(repo, "config", "--get-regexp", r"^http\..*\.extraheader$").strip():
            return {}
    except GitError:  # exit 1: no such setting
        pass
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return config_env([(f"http.https://{host}/.extraheader", f"AUTHORIZATION: basic {basic}")])
