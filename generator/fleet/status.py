"""`fleet status` for one repository: its template version, the latest one, and its state."""

from __future__ import annotations

from dataclasses import replace

from generator.fleet.git import GitError, is_dirty
from generator.fleet.project import ProjectProblem, read_project
from generator.fleet.results import State, StatusResult
from generator.fleet.targets import Target, checkout
from generator.fleet.template import TemplateError
from generator.fleet.workspace import RunPaths


def status_one(
    target: Target, paths: RunPaths, remote: str = "origin", timeout: float | None = None
) -> StatusResult:
    """Never raises: every failure becomes an `error` state with the reason."""
    result = StatusResult(target.shown, State.ERROR)
    try:
        repo = checkout(target, paths.clones, remote, timeout=timeout)
        project = read_project(target, repo, remote, timeout=timeout)
        result = replace(result, version=project.version, template=project.src_path)
        mirror = paths.templates.get(project.src_path)
        latest = mirror.latest()
        result = replace(result, latest=latest.label)
        if mirror.commit(project.version) == latest.commit:
            return replace(result, state=State.CURRENT)
        if not target.is_url and is_dirty(repo):
            return replace(result, state=State.DIRTY)
        return replace(result, state=State.BEHIND)
    except ProjectProblem as exc:
        return replace(
            result, state=State.NOT_A_PROJECT if exc.not_a_project else State.ERROR, error=str(exc)
        )
    except (GitError, TemplateError) as exc:
        return replace(result, state=State.ERROR, error=str(exc))
    except Exception as exc:  # reported, never raised: one bad repository must not hide the others
        return replace(result, state=State.ERROR, error=f"{type(exc).__name__}: {exc}")
