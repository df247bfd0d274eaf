"""`fleet update --rehearse`: run an updated branch's workflows offline before proposing it.

The rehearsal is `mlops-forge rehearse`'s (act in host mode against the Azure test double, see
docs/rehearse.md), run on the update commit checked out in a throwaway clone: the user's working
tree is never touched. A workflow that fails, or is refused by the double, makes the repository
`rehearsal-failed`: its branch stays here for inspection, nothing is pushed or proposed. The log
of every workflow rehearsed is kept in the repository's git directory, where the user finds it
after the run's temporary directories are gone.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.errors import UserError
from generator.fleet.git import clone, git

if TYPE_CHECKING:
    from forge_rehearse.act import Result

LOG_DIR = "mlops-forge-rehearsals"  # under the repository's (common) git directory

# act's line for a failed step: `[<workflow name>/<job>]   ❌  Failure - Main <step> [1.2s]`.
_FAILED_STEP = re.compile(r"^\[(?P<job>[^\]]+)\]\s+❌\s+Failure - Main (?P<step>.+?)(?:\s+\[[^\]]*\])?\s*$")


@dataclass(frozen=True)
class RehearsalReport:
    """What rehearsing one update commit found: every workflow green, or the first that was not."""

    workflows: tuple[str, ...]  # rehearsed, in order (up to and including a failing one)
    log: str  # act's output and the steps' own output, per workflow
    failed_workflow: str | None = None
    job: str | None = None
    step: str | None = None
    cause: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed_workflow is None

    def describe(self) -> str:
        """One line naming where and why the rehearsal failed."""
        where = self.failed_workflow or ""
        if self.job:
            where += f", job {self.job}"
        if self.step:
            where += f", step {self.step!r}"
        return f"{where}: {self.cause}" if self.cause else where

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "workflows": list(self.workflows),
            "failed_workflow": self.failed_workflow,
            "job": self.job,
            "step": self.step,
            "cause": self.cause,
            "log": self.log,
        }


def check_available() -> None:
    """Refuse `--rehearse` up front when the `rehearse` extra or act is missing."""
    try:
        from forge_rehearse import act
    except ImportError as exc:
        raise UserError(
            f"--rehearse needs the extra: pip install 'mlops-forge-azure[rehearse]' ({exc})"
        ) from None
    try:
        act.act_binary()
    except act.RehearsalError as exc:
        raise UserError(f"--rehearse: {exc}") from None


def log_path(repo: Path, branch: str) -> Path:
    """Where the rehearsal log of `branch` is kept: in git's directory, out of the working tree."""
    common = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    common = common if common.is_absolute() else repo / common
    return common.resolve() / LOG_DIR / (branch.replace("/", "-") + ".log")


def rehearse_commit(
    repo: Path, commit: str, workflows: tuple[str, ...], scratch: Path, log: Path
) -> RehearsalReport:
    """Rehearse `workflows` (empty: `mlops-forge rehearse`'s default set) of `commit` in `repo`."""
    from forge_rehearse import act

    shutil.rmtree(scratch, ignore_errors=True)
    tree, home = scratch / "tree", scratch / "home"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"rehearsal of {commit}\n", encoding="utf-8")
    rehearsal = None
    done: list[str] = []
    try:
        clone(str(repo), tree, "--shared", "--no-checkout")
        git(tree, "checkout", "--quiet", "--detach", commit)
        try:
            names = _selected(tree, workflows)
            rehearsal = act.prepare(tree, home)
        except (act.RehearsalError, UserError) as exc:
            _append(log, f"the rehearsal could not start: {exc}\n")
            return RehearsalReport(
                tuple(workflows), str(log), workflows[0] if workflows else "-", cause=str(exc)
            )
        for name in names:
            done.append(name)
            try:
                result = act.run(rehearsal, name, _event_for(tree / ".github" / "workflows" / name))
            except (act.RehearsalError, UserError) as exc:
                _append(log, f"== {name}: could not run: {exc}\n")
                return RehearsalReport(tuple(done), str(log), name, cause=str(exc))
            _append(
                log,
                f"== {name} (exit {result.returncode})\n{result.output}\n-- steps --\n{result.step_log}\n",
            )
            if not result.ok:
                job, step = _failed_step(result.output)
                return RehearsalReport(tuple(done), str(log), name, job, step, _cause(result))
        return RehearsalReport(tuple(done), str(log))
    finally:
        if rehearsal is not None:
            rehearsal.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _selected(tree: Path, workflows: tuple[str, ...]) -> list[str]:
    from generator.rehearse import DEFAULT_SEQUENCE, NEVER_BY_DEFAULT

    folder = tree / ".github" / "workflows"
    if workflows:
        missing = [name for name in workflows if not (folder / name).is_file()]
        if missing:
            raise UserError(f"the updated branch has no workflow {missing[0]}")
        return list(workflows)
    found = [name for name in DEFAULT_SEQUENCE if (folder / name).is_file() and name not in NEVER_BY_DEFAULT]
    if not found:
        raise UserError(f"the updated branch has none of {', '.join(DEFAULT_SEQUENCE)}: nothing to rehearse")
    return found


def _event_for(path: Path) -> str:
    # The same event `mlops-forge rehearse` sends, so both rehearsals mean the same thing.
    from generator.rehearse import _event_for as event_for

    return event_for(path)


def _failed_step(output: str) -> tuple[str | None, str | None]:
    for line in output.splitlines():
        match = _FAILED_STEP.match(line.strip())
        if match:
            job = match["job"].split("/", 1)[-1]
            return job, match["step"]
    return None, None


def _cause(result: Result) -> str:
    """The double's refusal, else the job's last error line, else act's exit code."""
    refused = [op for op in result.operations if op.get("result") == "refused"]
    if refused:
        return " ".join(str(refused[-1].get("message", "refused")).split())
    errors = result.errors()
    if errors:
        return errors[-1].replace("::error::", "").strip()
    tail = [line.strip() for line in result.step_log.splitlines() if line.strip()]
    return tail[-1] if tail else f"act exited {result.returncode}"


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
