"""`fleet update --via actions`: each repository updates itself in its own Actions run.

For each GitHub repository the fleet triggers the generated `template-update.yml`
(`workflow_dispatch` with the target version as input), then follows the runs through the API
to completion and reads the outcome the workflow leaves as its `fleet-report` artifact (the same
JSON report `fleet update --report` writes, for that one repository). So the work of a fleet of
any size runs on GitHub's runners; this process only dispatches, paces and waits.

Resumable: the workflow names its run `template update to <version>` (`run-name`); a
repository that already has a run of that name, queued, running or done, is followed, never
dispatched again. Dispatches are content-creating requests: paced (`--github-pace`) and retried
on GitHub's rate limits like every other call (see github.py).
"""

from __future__ import annotations

import io
import json
import time
import urllib.parse
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from generator.errors import ExitCode
from generator.fleet.github import GitHubError, GitHubSettings, call, call_raw, repository_of
from generator.fleet.progress import Progress
from generator.fleet.results import FileChanges, Outcome, UpdateResult
from generator.fleet.runner import CANCELLED, FleetRun
from generator.fleet.targets import Target

WORKFLOW = "template-update.yml"
ARTIFACT = "fleet-report"


def run_title(version: str) -> str:
    """The `run-name` template-update.yml gives a dispatched run: how a rerun finds it."""
    return f"template update to {version}"


@dataclass(frozen=True)
class DispatchSettings:
    to: str  # the template version every repository is asked to update to
    github: GitHubSettings
    poll: float = 10.0  # seconds between two looks at the runs still going
    appear: float = 120.0  # seconds a dispatched run may take to show up in the list


@dataclass
class _Followed:
    index: int
    owner: str
    name: str
    run: dict


def dispatch_fleet(
    targets: Sequence[Target], settings: DispatchSettings, progress: Progress
) -> FleetRun[UpdateResult]:
    """Dispatch (or find) each repository's run, follow them all, report like the local mode."""
    start = time.monotonic()
    results: list[UpdateResult | None] = [None] * len(targets)
    stopped = None
    try:
        following: list[_Followed] = []
        for index, target in enumerate(targets):
            progress.started(target.shown)
            try:
                owner, name = repository_of(target.spec)
                following.append(_Followed(index, owner, name, _find_or_dispatch(settings, owner, name)))
            except GitHubError as exc:
                results[index] = UpdateResult(target.shown, Outcome.ERROR, error=str(exc))
                progress.finished(results[index])
        while following:
            for item in list(following):
                target = targets[item.index]
                try:
                    if item.run.get("status") != "completed":
                        item.run = call(settings.github, "GET", _runs(item) + f"/{item.run['id']}")  # type: ignore[assignment]
                    if item.run.get("status") != "completed":
                        continue
                    result = _outcome(settings, item, target)
                except GitHubError as exc:
                    result = UpdateResult(target.shown, Outcome.ERROR, error=str(exc))
                results[item.index] = result
                progress.finished(result)
                following.remove(item)
            if following:
                time.sleep(settings.poll)
    except KeyboardInterrupt as exc:
        stopped = ExitCode(getattr(exc, "exit_code", ExitCode.INTERRUPTED))
    finally:
        progress.close()
    done = [
        r if r is not None else UpdateResult(t.shown, Outcome.CANCELLED, error=CANCELLED)
        for t, r in zip(targets, results, strict=True)
    ]
    return FleetRun(done, stopped, time.monotonic() - start)


def _runs(item: _Followed) -> str:
    return f"/repos/{item.owner}/{item.name}/actions/runs"


def _find_run(settings: DispatchSettings, owner: str, name: str) -> dict | None:
    query = urllib.parse.urlencode({"event": "workflow_dispatch", "per_page": 100})
    listing = call(settings.github, "GET", f"/repos/{owner}/{name}/actions/workflows/{WORKFLOW}/runs?{query}")
    runs = listing.get("workflow_runs", []) if isinstance(listing, dict) else []
    title = run_title(settings.to)
    mine = [run for run in runs if run.get("display_title") == title and run.get("conclusion") != "cancelled"]
    return max(mine, key=lambda run: run["id"]) if mine else None


def _find_or_dispatch(settings: DispatchSettings, owner: str, name: str) -> dict:
    """The run for this version: an existing one (resumed), else a new dispatch's."""
    existing = _find_run(settings, owner, name)
    if existing is not None:
        return existing
    repo = call(settings.github, "GET", f"/repos/{owner}/{name}")
    ref = repo.get("default_branch", "main") if isinstance(repo, dict) else "main"
    call(
        settings.github,
        "POST",
        f"/repos/{owner}/{name}/actions/workflows/{WORKFLOW}/dispatches",
        {"ref": ref, "inputs": {"version": settings.to}},
    )
    deadline = time.monotonic() + settings.appear
    while True:  # GitHub answers a dispatch with 204 and no run: look for it by its name
        run = _find_run(settings, owner, name)
        if run is not None:
            return run
        if time.monotonic() > deadline:
            raise GitHubError(f"{owner}/{name}: the dispatched {WORKFLOW} run did not appear")
        time.sleep(min(settings.poll, 2.0))


def _outcome(settings: DispatchSettings, item: _Followed, target: Target) -> UpdateResult:
    """The repository's result as its run's `fleet-report` artifact states it."""
    run = item.run
    listing = call(settings.github, "GET", _runs(item) + f"/{run['id']}/artifacts")
    artifacts = listing.get("artifacts", []) if isinstance(listing, dict) else []
    found = [a for a in artifacts if a.get("name") == ARTIFACT]
    where = run.get("html_url") or f"run {run['id']}"
    if not found:
        return UpdateResult(
            target.shown,
            Outcome.ERROR,
            to_version=settings.to,
            error=f"{where} ended {run.get('conclusion')} without a {ARTIFACT} artifact",
        )
    archive = call_raw(settings.github, "GET", found[0]["archive_download_url"])
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        report = json.loads(bundle.read(bundle.namelist()[0]))
    [entry] = report["repositories"]
    files = entry.get("files") or {}
    result = UpdateResult(
        target.shown,
        Outcome(entry["outcome"]),
        from_version=entry.get("from"),
        to_version=entry.get("to"),
        branch=entry.get("branch"),
        conflicts=tuple(entry.get("conflicts") or ()),
        error=entry.get("error"),
        template=report.get("template"),
        base=entry.get("base"),
        changes=FileChanges(*(tuple(files.get(k) or ()) for k in ("added", "modified", "removed"))),
        resumed=bool(entry.get("resumed")),
        pushed=bool(entry.get("pushed")),
        pull_request=entry.get("pull_request"),
        pull_request_error=entry.get("pull_request_error"),
    )
    return replace(result, seconds=float(entry.get("seconds") or 0.0))
