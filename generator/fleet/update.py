"""One repository's template update: the worker `fleet update` maps over the fleet.

How the repository is kept safe:
- The update runs in a throwaway clone (`git clone --shared`, so no objects are copied) checked
  out at the default branch. The repository's own checkout, index and branches are not touched
  while copier works, whatever branch the user has checked out.
- Only when the update is committed is the branch created in the repository, in one step
  (`git update-ref` that refuses an existing branch). An interrupted run leaves either nothing
  or a fully committed branch: the next run sees the branch already records the target version
  and reuses it, creating no second branch or commit.
- `--dry-run` is the same path without that last step.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from generator.fleet.git import (
    GitError,
    clone,
    commit_of,
    current_branch,
    git,
    identity,
    is_dirty,
    remote_url,
    token_env,
)
from generator.fleet.github import GitHubError, GitHubSettings, pull_request_body, upsert_pull_request
from generator.fleet.project import Project, ProjectProblem, read_project, recorded_version
from generator.fleet.results import FileChanges, Outcome, UpdateResult
from generator.fleet.targets import Target, checkout
from generator.fleet.template import TemplateError, TemplateMirror, TemplateVersion
from generator.fleet.workspace import RunPaths

CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
TEST_HOOK_ENV = "MLOPS_FORGE_FLEET_TEST_HOOK"


@dataclass(frozen=True)
class UpdateSettings:
    """What `fleet update` was asked to do, the same for every repository."""

    to: str | None = None  # template ref; None = the latest release tag
    template: str | None = None  # fetch the template from here instead of each `_src_path`
    branch: str = "template-update/{version}"
    dry_run: bool = False
    push: bool = False
    github: GitHubSettings | None = None  # set when pull requests are wanted
    remote: str = "origin"
    trust: bool = False
    # Authenticates https fetches and pushes on these hosts (CI checkouts keep no credentials).
    token: str = field(default="", repr=False)
    token_hosts: tuple[str, ...] = ("github.com",)


def update_one(target: Target, settings: UpdateSettings, paths: RunPaths) -> UpdateResult:
    """Update one repository; never raises (except KeyboardInterrupt, which stops the run)."""
    start = time.monotonic()
    record = UpdateResult(target.spec, Outcome.ERROR)
    try:
        record = _update(target, settings, paths, record)
    except ProjectProblem as exc:
        outcome = Outcome.NOT_A_PROJECT if exc.not_a_project else Outcome.ERROR
        record = replace(record, outcome=outcome, error=str(exc))
    except (GitError, TemplateError, GitHubError) as exc:
        record = replace(record, outcome=Outcome.ERROR, error=str(exc))
    except Exception as exc:  # copier's own errors, and anything unforeseen: reported, not raised
        record = replace(record, outcome=Outcome.ERROR, error=f"{type(exc).__name__}: {exc}".strip())
    return replace(record, seconds=time.monotonic() - start)


def _update(target: Target, settings: UpdateSettings, paths: RunPaths, record: UpdateResult) -> UpdateResult:
    repo = checkout(target, paths.clones, settings.remote, auth=partial(_auth, settings))
    project = read_project(target, repo, settings.remote)
    mirror = paths.templates.get(project.src_path)
    to = mirror.resolve(settings.to)
    record = replace(
        record,
        template=project.src_path,
        base=project.base_branch,
        from_version=project.version,
        to_version=to.label,
    )
    if mirror.commit(project.version) == to.commit:
        return replace(record, outcome=Outcome.SKIPPED_CURRENT)
    if not target.is_url and is_dirty(repo):
        return replace(
            record, outcome=Outcome.SKIPPED_DIRTY, error="uncommitted changes: commit or stash them"
        )
    branch = settings.branch.format(version=to.label)
    record = replace(record, branch=None if settings.dry_run else branch)

    head = _finished_branch(project, branch, to, mirror, settings, fetch=settings.push or target.is_url)
    where, resumed = repo, head is not None
    if head is None:
        where = paths.scratch / target.slug
        head = _apply_update(project, mirror, to, where, settings.trust)
        if not settings.dry_run:
            git(repo, "fetch", "--quiet", "--no-tags", str(where), "HEAD")
            # Create-only: an empty old value makes git refuse a branch that already exists.
            git(repo, "update-ref", "-m", "mlops-forge fleet update", f"refs/heads/{branch}", head, "")
    conflicts = conflicts_at(where, project.base, head)
    record = replace(
        record,
        outcome=Outcome.CONFLICTED if conflicts else Outcome.UPDATED,
        changes=changes_between(where, project.base, head),
        conflicts=conflicts,
        resumed=resumed,
    )
    if where != repo:
        shutil.rmtree(where, ignore_errors=True)
    if settings.dry_run:
        return record
    _test_hook("before-push")
    if settings.push:
        refspec = f"refs/heads/{branch}:refs/heads/{branch}"
        git(repo, "push", "--quiet", settings.remote, refspec, env=_auth(settings, repo))
        record = replace(record, pushed=True)
    if settings.github is not None:
        url = remote_url(repo, settings.remote) or target.spec
        title = f"Update template from {project.version} to {to.label}"
        body = pull_request_body(project.src_path, project.version, to.label, record.changes, conflicts)
        pull = upsert_pull_request(settings.github, url, branch, project.base_branch, title, body)
        record = replace(record, pull_request=pull)
    return record


def _auth(settings: UpdateSettings, repo: Path, url: str | None = None) -> dict[str, str]:
    """Credentials for the remote's https URL, when a token for its host was given."""
    url = url or remote_url(repo, settings.remote)
    return token_env(repo, url, settings.token, settings.token_hosts)


def _records(repo: Path, commit: str, to: TemplateVersion, mirror: TemplateMirror) -> bool:
    """Whether the answers file at `commit` says the project is on template version `to`."""
    version = recorded_version(repo, commit)
    return version is not None and commit_of(mirror.path, version) == to.commit


def _finished_branch(
    project: Project,
    branch: str,
    to: TemplateVersion,
    mirror: TemplateMirror,
    settings: UpdateSettings,
    *,
    fetch: bool,
) -> str | None:
    """The tip of an update branch an earlier run finished, or None after clearing a half-done one.

    A branch counts as finished when its answers file records the target version, even when
    someone has since committed on it (resolving conflicts, say): that work is kept.
    """
    repo, remote = project.repo, settings.remote
    local_ref, remote_ref = f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"
    auth = _auth(settings, repo)
    if (
        fetch
        and not settings.dry_run
        and git(repo, "ls-remote", "--heads", remote, local_ref, env=auth).strip()
    ):
        git(repo, "fetch", "--quiet", "--no-tags", remote, f"+{local_ref}:{remote_ref}", env=auth)
    local = commit_of(repo, local_ref)
    if local is not None and _records(repo, local, to, mirror):
        return local
    pushed = commit_of(repo, remote_ref) if fetch else None
    if pushed is not None and _records(repo, pushed, to, mirror):
        if not settings.dry_run:
            git(repo, "update-ref", local_ref, pushed)
        return pushed
    if local is not None and not settings.dry_run:
        if current_branch(repo) == branch:
            raise GitError(
                f"branch {branch} is checked out but does not record {to.label}: switch away from it"
            )
        git(repo, "branch", "--quiet", "-D", branch)
    return None


def _apply_update(
    project: Project, mirror: TemplateMirror, to: TemplateVersion, work: Path, trust: bool
) -> str:
    """Run copier's update in a throwaway clone of the project and commit it there; returns the commit."""
    import copier

    shutil.rmtree(work, ignore_errors=True)
    clone(str(project.repo), work, "--shared", "--no-checkout")
    git(work, "checkout", "--quiet", "--detach", project.base)
    env = mirror.git_env(project.src_path)
    # Each process its own copier cache: copier keeps mirrors of remote templates there.
    env["COPIER_CACHE_DIR"] = str(work.parent / f"copier-cache-{os.getpid()}")
    with (
        _environment(env),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        copier.run_update(
            dst_path=work,
            vcs_ref=to.commit,
            overwrite=True,
            defaults=True,
            conflict="inline",
            quiet=True,
            unsafe=trust,
        )
    _test_hook("before-commit")
    git(work, "add", "--all")
    conflicts = _marked(work, "--cached", project.base)
    message = [f"Update template from {project.version} to {to.label}", ""]
    message += [f"Generated by `mlops-forge fleet update` from {project.src_path}."]
    if conflicts:
        message += ["", "Conflicts to resolve (inline markers):", *(f"- {path}" for path in conflicts)]
    name, email = identity(project.repo)
    git(
        work,
        *("-c", f"user.name={name}", "-c", f"user.email={email}"),
        *("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "\n".join(message)),
    )
    return git(work, "rev-parse", "HEAD").strip()


def changes_between(repo: Path, base: str, head: str) -> FileChanges:
    found: dict[str, list[str]] = {"A": [], "M": [], "D": []}
    for line in git(repo, "diff", "--name-status", "--no-renames", base, head).splitlines():
        status, _, path = line.partition("\t")
        found.setdefault(status[:1], []).append(path)
    modified = found["M"] + found.get("T", [])
    return FileChanges(tuple(found["A"]), tuple(sorted(modified)), tuple(found["D"]))


def conflicts_at(repo: Path, base: str, head: str) -> tuple[str, ...]:
    return _marked(repo, head, base)


def _marked(repo: Path, rev: str, base: str) -> tuple[str, ...]:
    """Files changed since `base` that hold copier's conflict markers, or are `.rej` leftovers.

    `rev` is a commit, or `--cached` for the index.
    """
    diff = ("diff", "--cached", "--name-only", "--no-renames", "--diff-filter=AM", base)
    if rev != "--cached":
        diff = ("diff", "--name-only", "--no-renames", "--diff-filter=AM", base, rev)
    changed = git(repo, *diff).splitlines()
    if not changed:
        return ()
    pattern = "|".join(f"^{marker}$" for marker in CONFLICT_MARKERS)
    where = ["--cached", "-E", pattern] if rev == "--cached" else ["-E", pattern, rev]
    grep = ["grep", "-l", "-I", *where, "--", *changed]
    try:
        hits = git(repo, *grep).splitlines()
    except GitError:  # exit 1: no match
        hits = []
    prefix = "" if rev == "--cached" else f"{rev}:"
    marked = {hit.removeprefix(prefix) for hit in hits}
    marked.update(path for path in changed if path.endswith(".rej"))
    return tuple(sorted(marked))


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Set `env` for this process and for plumbum, which copier runs git through, then restore it."""
    from plumbum import local

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        with local.env(**env):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_hook_calls: dict[str, int] = {}


def _test_hook(stage: str) -> None:
    """Lets tests interrupt a run mid-repository: `<stage>:<nth call>:<exit|interrupt>`."""
    spec = os.environ.get(TEST_HOOK_ENV)
    if not spec:
        return
    want_stage, nth, action = spec.split(":")
    if stage != want_stage:
        return
    _hook_calls[stage] = _hook_calls.get(stage, 0) + 1
    if _hook_calls[stage] == int(nth):
        if action == "exit":
            os._exit(9)
        raise KeyboardInterrupt
