"""Git for the fleet: always `git -C <repo>`, never a change of the caller's directory.

Every failure is a `GitError` whose message is git's own last line of complaint, so a
repository's result can say why it failed without a traceback.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import re
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

LOCK_FILE = "mlops-forge-fleet.lock"
# Git's own http client gives up on a stalled transfer (below 1 KB/s for this long); the
# subprocess timeout below covers every other way a network command can hang (ssh, DNS).
LOW_SPEED_SECONDS = "60"
FALLBACK_NAME = "mlops-forge"
FALLBACK_EMAIL = "mlops-forge@users.noreply.invalid"


class GitError(Exception):
    """A git command failed; the message is what git said."""


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # Never wait for a password on an unreachable or private https remote: fail and say so.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
    env.setdefault("GIT_HTTP_LOW_SPEED_TIME", LOW_SPEED_SECONDS)
    if extra:
        env.update(extra)
    return env


_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with any password in a URL (`https://user:secret@host`) replaced by `***`."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def git(
    repo: Path | str,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    binary: bool = False,
    stdin: bytes | None = None,
) -> str:
    """Run `git -C repo args...` and return its stdout; raise `GitError` on failure.

    `timeout` (seconds) is for commands that talk to a remote: past it git is killed and the
    error says the remote did not answer. Output is text (UTF-8, undecodable bytes escaped),
    so paths read with `-z` are the paths as written.
    """
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            input=stdin if stdin is not None else b"",
            env=_env(env),
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]}: timed out after {timeout:g}s: the remote did not answer") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        # git's first `fatal:`/`error:` line says what went wrong; later ones are advice.
        marked = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
        reason = (marked or lines or [f"exit status {proc.returncode}"])[0]
        raise GitError(redact(f"git {args[0]}: {reason}"))
    return proc.stdout.decode("latin-1") if binary else proc.stdout.decode("utf-8", "surrogateescape")


def paths_z(output: str) -> list[str]:
    """Paths from a `-z` listing: NUL-separated, never quoted."""
    return [path for path in output.split("\0") if path]


def git_ok(repo: Path | str, *args: str) -> bool:
    """Whether `git -C repo args...` succeeds (for questions git answers with its exit code)."""
    try:
        git(repo, *args)
    except GitError:
        return False
    return True


def clone(
    source: str,
    dest: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> None:
    """`git clone [args] -- source dest`, run from dest's parent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    git(dest.parent, "clone", "--quiet", *args, "--", source, str(dest), env=env, timeout=timeout)


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
    """Uncommitted changes to tracked files. Untracked files do not count: an update is made
    in a separate clone and lands on a new branch, so it never touches them."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no").strip())


@contextlib.contextmanager
def repo_lock(repo: Path | str) -> Iterator[bool]:
    """Hold this repository's fleet lock (a file under its git directory) while the block runs.

    Yields False, holding nothing, when another run holds it. The lock is an `flock`: it goes
    away with the process that held it, however that process ends.
    """
    common = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    with open(Path(common) / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_branch(repo: Path | str) -> str | None:
    try:
        return git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
    except GitError:
        return None


def default_branch(
    repo: Path | str,
    remote: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str | None:
    """The repository's default branch, never merely the branch checked out.

    In order: `<remote>/HEAD`; the remote's HEAD as it reports it (`git ls-remote --symref`);
    `init.defaultBranch` when that branch exists; `main` or `master` when exactly one exists.
    None when none of these tells.
    """
    try:
        head = git(repo, "symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD").strip()
        return head.removeprefix(f"{remote}/")
    except GitError:
        pass
    if remote_url(repo, remote):
        try:
            listing = git(repo, "ls-remote", "--symref", remote, "HEAD", env=env, timeout=timeout or 60)
        except GitError:
            listing = ""
        for line in listing.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
    try:
        configured = git(repo, "config", "--get", "init.defaultBranch").strip()
    except GitError:
        configured = ""
    if configured and branch_exists(repo, f"refs/heads/{configured}"):
        return configured
    usual = [name for name in ("main", "master") if branch_exists(repo, f"refs/heads/{name}")]
    return usual[0] if len(usual) == 1 else None


def is_ancestor(repo: Path | str, older: str, newer: str) -> bool:
    return git_ok(repo, "merge-base", "--is-ancestor", older, newer)


def branch_exists(repo: Path | str, ref: str) -> bool:
    return git_ok(repo, "show-ref", "--verify", "--quiet", ref)


def identity(repo: Path | str) -> tuple[str, str]:
    """The committer configured for `repo`, or a neutral bot identity when none is."""

    try:  # one git call for both
        found = git(repo, "config", "--get-regexp", r"^user\.(name|email)$")
    except GitError:  # exit 1: neither is set
        found = ""
    values = {key: value.strip() for key, _, value in (line.partition(" ") for line in found.splitlines())}
    return values.get("user.name") or FALLBACK_NAME, values.get("user.email") or FALLBACK_EMAIL


def remote_url(repo: Path | str, remote: str) -> str | None:
    """The remote's URL as configured: before `insteadOf` rewriting, so a mirror in between
    does not change which repository it names."""
    try:
        return git(repo, "config", "--get", f"remote.{remote}.url").strip() or None
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
