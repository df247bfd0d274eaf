"""One repository's template update: the worker `fleet update` maps over the fleet.

How the repository is kept safe:
- The repository's fleet lock (a file under `.git`) is held for the whole update; a second run
  reports `skipped-locked` instead of racing this one.
- The base is always the default branch (see `git.default_branch`), never the branch checked
  out by accident. With `--push` (or a URL target) the remote's default branch is fetched first:
  if it already records the target version (the update was merged), there is nothing to do.
- The update runs in a throwaway clone (`git clone --shared`, so no objects are copied) checked
  out at the base. The repository's own checkout, index and branches are not touched while
  copier works, whatever branch the user has checked out.
- Conflicts are what git and copier say they are (see `merge.py`); a staged conflict marker
  that neither reported still makes the result `conflicted`.
- Only when the update is committed is the branch created in the repository, in one step
  (`git update-ref` that refuses an existing branch). An interrupted run leaves either nothing
  or a fully committed branch: the next run sees the branch already records the target version
  and reuses it, creating no second branch or commit.
- A branch of the update branch's name that the fleet did not make is never moved or deleted:
  the repository is reported `branch-exists`.
- `--rehearse`: before the push, the branch's workflows are rehearsed offline (rehearsal.py);
  a branch that fails is kept here, neither pushed nor proposed (`rehearsal-failed`).
- `--dry-run` is the same path without that last step.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from generator import changelog
from generator.fleet.git import (
    GitError,
    commit_of,
    current_branch,
    git,
    is_ancestor,
    is_dirty,
    is_repository,
    redact,
    remote_url,
    repo_lock,
    token_env,
)
from generator.fleet.github import GitHubError, GitHubSettings, pull_request_body, upsert_pull_request
from generator.fleet.merge import (
    AnswerRejected,
    Applied,
    apply_update,
    fleet_commits_only,
    recorded_conflicts,
)
from generator.fleet.project import Project, ProjectProblem, read_project, recorded_version
from generator.fleet.rehearsal import RehearsalReport, log_path, rehearse_commit
from generator.fleet.results import FileChanges, Outcome, UpdateResult
from generator.fleet.targets import Target, checkout
from generator.fleet.template import TemplateError, TemplateMirror, TemplateVersion, canonical_source
from generator.fleet.workspace import RunPaths


class BranchTaken(Exception):
    """A branch of the update branch's name holds work the fleet did not make."""


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
    data: tuple[tuple[str, str], ...] = ()  # `--data KEY=VALUE`: answers that replace recorded ones
    # `--data-file`: per repository (by `Target.identity`) answers, over `data`
    data_by_target: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()
    # `--rehearse`: workflows to rehearse on the branch before it is pushed (empty: the default
    # set of `mlops-forge rehearse`); None: no rehearsal.
    rehearse: tuple[str, ...] | None = None
    network_timeout: float = 300.0  # seconds for any one git command that talks to a remote
    # Authenticates https fetches and pushes on these hosts (CI checkouts keep no credentials).
    token: str = field(default="", repr=False)
    token_hosts: tuple[str, ...] = ("github.com",)


def update_one(target: Target, settings: UpdateSettings, paths: RunPaths) -> UpdateResult:
    """Update one repository; never raises (except KeyboardInterrupt, which stops the run)."""
    start = time.monotonic()
    record = UpdateResult(target.shown, Outcome.ERROR)
    try:
        record = _update(target, settings, paths, record)
    except ProjectProblem as exc:
        outcome = Outcome.NOT_A_PROJECT if exc.not_a_project else Outcome.ERROR
        record = replace(record, outcome=outcome, error=str(exc))
    except AnswerRejected as exc:
        record = replace(record, outcome=Outcome.ANSWER_REJECTED, error=str(exc))
    except (GitError, TemplateError, GitHubError) as exc:
        record = replace(record, outcome=Outcome.ERROR, error=str(exc))
    except Exception as exc:  # copier's own errors, and anything unforeseen: reported, not raised
        record = replace(record, outcome=Outcome.ERROR, error=cause_of(exc))
    return replace(record, seconds=time.monotonic() - start, error=_one_line(record.error))


def cause_of(exc: Exception) -> str:
    """What a person can act on, from copier's and git's exceptions: the last meaningful line."""
    text = str(exc)
    if type(exc).__name__ == "UnsafeTemplateError":
        return "the template runs tasks or migrations: add --trust if you trust it"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".strip().rstrip(":")


def _one_line(text: str | None) -> str | None:
    return redact(" ".join(text.split())) if text else text


def _update(target: Target, settings: UpdateSettings, paths: RunPaths, record: UpdateResult) -> UpdateResult:
    auth = partial(_auth, settings)
    repo = checkout(target, paths.clones, settings.remote, auth=auth, timeout=settings.network_timeout)
    if not is_repository(repo):  # read_project says what it is instead
        return _locked_update(target, settings, paths, record, repo)
    with repo_lock(repo) as held:
        if not held:
            return replace(
                record,
                outcome=Outcome.SKIPPED_LOCKED,
                error="another fleet run is updating this repository; run again when it has finished",
            )
        try:
            return _locked_update(target, settings, paths, record, repo)
        except BranchTaken as exc:
            return replace(record, outcome=Outcome.BRANCH_EXISTS, branch=None, error=str(exc))


def _locked_update(
    target: Target, settings: UpdateSettings, paths: RunPaths, record: UpdateResult, repo: Path
) -> UpdateResult:
    online = not settings.dry_run and (settings.push or target.is_url)
    project = read_project(
        target,
        repo,
        settings.remote,
        fetch_env=_auth(settings, repo) if online else None,
        timeout=settings.network_timeout,
    )
    record = replace(
        record, template=project.src_path, base=project.base_branch, from_version=project.version
    )
    if settings.template and canonical_source(project.src_path) != canonical_source(settings.template):
        return replace(
            record,
            outcome=Outcome.SKIPPED_OTHER_TEMPLATE,
            error=f"generated from {project.src_path}, not from --template {settings.template}",
        )
    mirror = paths.templates.get(project.src_path)
    to = mirror.resolve(settings.to)
    record = replace(record, to_version=to.label)
    if mirror.commit(project.version) == to.commit and not project.stale_local:
        return replace(record, outcome=Outcome.SKIPPED_CURRENT)
    if project.upstream is not None and _records(repo, project.upstream, to, mirror):
        return replace(
            record,
            outcome=Outcome.SKIPPED_CURRENT,
            error=f"{settings.remote}/{project.base_branch} already records {to.label}: pull it",
        )
    if not target.is_url and is_dirty(repo):
        return replace(
            record, outcome=Outcome.SKIPPED_DIRTY, error="uncommitted changes: commit or stash them"
        )
    branch = settings.branch.format(version=to.label)
    record = replace(record, branch=None if settings.dry_run else branch)

    found = _existing_branch(project, branch, to, mirror, settings, fetch=online)
    remote_tip = commit_of(repo, f"refs/remotes/{settings.remote}/{branch}") if online else None
    if found is not None:
        applied = Applied(found, recorded_conflicts(repo, project.base, found))
        where, resumed = repo, True
    else:
        where, resumed = paths.scratch / target.slug, False
        data = {**dict(settings.data), **dict(dict(settings.data_by_target).get(target.identity, ()))}
        applied = apply_update(project, mirror, to, where, trust=settings.trust, data=data)
        if not settings.dry_run:
            git(repo, "fetch", "--quiet", "--no-tags", str(where), applied.head)
            # Create-only: an empty old value makes git refuse a branch that already exists.
            git(
                repo, "update-ref", "-m", "mlops-forge fleet update", f"refs/heads/{branch}", applied.head, ""
            )
    record = replace(
        record,
        outcome=Outcome.CONFLICTED if applied.conflicts else Outcome.UPDATED,
        changes=changes_between(where, project.base, applied.head),
        conflicts=applied.conflicts,
        resumed=resumed,
    )
    if where != repo:
        shutil.rmtree(where, ignore_errors=True)
    if settings.dry_run:
        return record
    if settings.rehearse is not None and record.outcome is Outcome.UPDATED:
        pushed_before = online and remote_tip == applied.head
        record = _rehearse(
            record, repo, branch, applied.head, settings.rehearse, paths.scratch / target.slug, pushed_before
        )
        if record.outcome is Outcome.REHEARSAL_FAILED:
            return record
    if settings.push:
        if remote_tip != applied.head:
            refspec = f"refs/heads/{branch}:refs/heads/{branch}"
            try:
                git(
                    repo,
                    *("push", "--quiet", settings.remote, refspec),
                    env=_auth(settings, repo),
                    timeout=settings.network_timeout,
                )
            except GitError as exc:  # the branch is made all the same: say both
                return replace(record, error=f"push failed: {exc}; the branch is here, run again to push it")
        record = replace(record, pushed=True)
    return _pull_request(record, project, to, branch, applied, settings, paths, target, mirror)


def _rehearse(
    record: UpdateResult,
    repo: Path,
    branch: str,
    head: str,
    workflows: tuple[str, ...],
    scratch: Path,
    pushed_before: bool,
) -> UpdateResult:
    """Rehearse the branch's workflows; a failure keeps the branch here and stops before the push.

    A conflicted update is not rehearsed: its markers would fail it for a reason already reported.
    """
    log = log_path(repo, branch)
    try:
        report = rehearse_commit(repo, head, workflows, scratch.with_name(scratch.name + "-rehearsal"), log)
    except Exception as exc:  # the branch is made: a rehearsal that cannot run is a fact about it
        report = RehearsalReport(
            workflows, str(log), "-", cause=f"the rehearsal could not run: {cause_of(exc)}"
        )
    record = replace(record, rehearsal=report)
    if report.ok:
        return record
    where = "also on the remote from an earlier run" if pushed_before else "not pushed"
    return replace(
        record,
        outcome=Outcome.REHEARSAL_FAILED,
        pushed=pushed_before,
        error=f"{report.describe()}; log: {report.log}; "
        f"branch {branch} kept here ({where}, no pull request): inspect it with git switch {branch}",
    )


def _pull_request(
    record: UpdateResult,
    project: Project,
    to: TemplateVersion,
    branch: str,
    applied: Applied,
    settings: UpdateSettings,
    paths: RunPaths,
    target: Target,
    mirror: TemplateMirror,
) -> UpdateResult:
    """Open or update the pull request; a failure is a fact about the result, not its end."""
    if settings.github is not None:
        url = remote_url(project.repo, settings.remote) or target.spec
        title = f"Update template from {project.version} to {to.label}"
        # What changed in the template and what the team must do: the changelog between the
        # versions, upgrade notes first, cut to leave GitHub's 65,536-character body room for the lists.
        notes = changelog.notes_for_update(mirror.path, project.version, to.label, limit=50_000)
        body = pull_request_body(
            project.src_path, project.version, to.label, record.changes, applied.conflicts, notes
        )
        github = (
            settings.github if settings.github.pace_file else replace(settings.github, pace_file=paths.pace)
        )
        try:
            pull = upsert_pull_request(github, url, branch, project.base_branch, title, body)
        except GitHubError as exc:
            return replace(record, pull_request_error=str(exc))
        record = replace(record, pull_request=pull)
    return record


def _auth(settings: UpdateSettings, repo: Path, url: str | None = None) -> dict[str, str]:
    """Credentials for the remote's https URL, when a token for its host was given."""
    url = url or remote_url(repo, settings.remote)
    return token_env(repo, url, settings.token, settings.token_hosts)


def _records(repo: Path, commit: str, to: TemplateVersion, mirror: TemplateMirror) -> bool:
    """Whether the answers file at `commit` says the project is on template version `to`."""
    version = recorded_version(repo, commit)
    if version is None:
        return False
    try:
        return mirror.commit(version) == to.commit
    except TemplateError:
        return False


_FOREIGN = "exists with commits the fleet did not make: rename or delete it, then run again"


def _existing_branch(
    project: Project,
    branch: str,
    to: TemplateVersion,
    mirror: TemplateMirror,
    settings: UpdateSettings,
    *,
    fetch: bool,
) -> str | None:
    """The tip of an update branch an earlier run finished; None when there is none (a
    leftover the fleet made is cleared). Raises `BranchTaken` when a branch of that name is
    someone else's: it is left exactly where it is.

    A branch counts as finished when its answers file records the target version, even when
    someone has since committed on it (resolving conflicts, say): that work is kept. A pushed
    one is taken over only by fast-forward, never by moving the remote back.
    """
    repo, remote = project.repo, settings.remote
    local_ref, remote_ref = f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"
    if fetch:
        auth = _auth(settings, repo)
        timeout = settings.network_timeout
        if git(repo, "ls-remote", "--heads", remote, local_ref, env=auth, timeout=timeout).strip():
            git(
                repo,
                "fetch",
                "--quiet",
                "--no-tags",
                remote,
                f"+{local_ref}:{remote_ref}",
                env=auth,
                timeout=timeout,
            )
        else:
            git(repo, "update-ref", "-d", remote_ref)
    local = commit_of(repo, local_ref)
    pushed = commit_of(repo, remote_ref) if fetch else None
    if (
        pushed is not None
        and not _records(repo, pushed, to, mirror)
        and not fleet_commits_only(repo, project.base, pushed)
    ):
        raise BranchTaken(f"{remote}/{branch} {_FOREIGN}")
    if local is not None and _records(repo, local, to, mirror):
        if pushed is not None and pushed != local and is_ancestor(repo, local, pushed):
            if not settings.dry_run:
                git(repo, "update-ref", local_ref, pushed, local)
            return pushed
        return local
    if local is not None and not fleet_commits_only(repo, project.base, local):
        raise BranchTaken(f"branch {branch} {_FOREIGN}")
    if pushed is not None and _records(repo, pushed, to, mirror):
        if not settings.dry_run:
            git(repo, "update-ref", local_ref, pushed)
        return pushed
    if local is not None and not settings.dry_run:
        if current_branch(repo) == branch:
            raise BranchTaken(
                f"branch {branch} is checked out but does not record {to.label}: switch away from it"
            )
        git(repo, "branch", "--quiet", "-D", branch)
    return None


def changes_between(repo: Path, base: str, head: str) -> FileChanges:
    """Files added, modified and removed from `base` to `head`, paths as written (`-z`)."""
    found: dict[str, list[str]] = {"A": [], "M": [], "D": [], "T": []}
    fields = git(repo, "diff", "--name-status", "-z", "--no-renames", base, head).split("\0")
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if status:
            found.setdefault(status[:1], []).append(path)
    modified = found["M"] + found["T"]
    return FileChanges(tuple(found["A"]), tuple(sorted(modified)), tuple(found["D"]))
