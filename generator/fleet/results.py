"""What a fleet run says about each repository: outcome enums and the result records workers return.

Workers never raise: whatever happens to one repository ends up in one of these records.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.fleet.rehearsal import RehearsalReport


class Outcome(enum.StrEnum):
    """What `fleet update` did to one repository, in the order the summary lists them."""

    UPDATED = "updated"
    CONFLICTED = "conflicted"
    REHEARSAL_FAILED = "rehearsal-failed"  # `--rehearse`: the branch is here, not pushed or proposed
    ANSWER_REJECTED = "answer-rejected"
    BRANCH_EXISTS = "branch-exists"
    SKIPPED_CURRENT = "skipped-current"
    SKIPPED_OTHER_TEMPLATE = "skipped-other-template"
    SKIPPED_DIRTY = "skipped-dirty"
    SKIPPED_LOCKED = "skipped-locked"
    NOT_A_PROJECT = "not-a-project"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def needs_a_human(self) -> bool:
        """Outcomes that make the run exit 1: someone has to look at the repository."""
        return self not in {Outcome.UPDATED, Outcome.SKIPPED_CURRENT, Outcome.SKIPPED_OTHER_TEMPLATE}


class State(enum.StrEnum):
    """Where one repository stands, as `fleet status` reports it."""

    CURRENT = "current"
    BEHIND = "behind"
    DIRTY = "dirty"
    NOT_A_PROJECT = "not-a-project"
    ERROR = "error"


@dataclass(frozen=True)
class FileChanges:
    """Files an update adds, modifies and removes, relative to the project root."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.added) + len(self.modified) + len(self.removed)

    def to_json(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "modified": list(self.modified), "removed": list(self.removed)}


@dataclass(frozen=True)
class UpdateResult:
    """One repository's result of `fleet update`."""

    target: str
    outcome: Outcome
    from_version: str | None = None
    to_version: str | None = None
    branch: str | None = None
    conflicts: tuple[str, ...] = ()
    seconds: float = 0.0
    error: str | None = None
    template: str | None = None
    base: str | None = None
    changes: FileChanges = field(default_factory=FileChanges)
    resumed: bool = False
    pushed: bool = False
    pull_request: str | None = None
    pull_request_error: str | None = None  # the branch is there (and pushed); the PR is not
    rehearsal: RehearsalReport | None = None  # `--rehearse`: what rehearsing the branch found

    @property
    def label(self) -> str:
        return str(self.outcome)

    @property
    def needs_a_human(self) -> bool:
        # An update that is there but not pushed, or whose pull request failed, is unfinished.
        unfinished = self.outcome is Outcome.UPDATED and self.error is not None
        return self.outcome.needs_a_human or self.pull_request_error is not None or unfinished

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "outcome": str(self.outcome),
            "from": self.from_version,
            "to": self.to_version,
            "branch": self.branch,
            "conflicts": list(self.conflicts),
            "seconds": round(self.seconds, 3),
            "error": self.error,
            # Beyond the documented keys: what changed and where the change went.
            "base": self.base,
            "files": self.changes.to_json(),
            "resumed": self.resumed,
            "pushed": self.pushed,
            "pull_request": self.pull_request,
            "pull_request_error": self.pull_request_error,
            "rehearsal": self.rehearsal.to_json() if self.rehearsal else None,
        }


@dataclass(frozen=True)
class StatusResult:
    """One repository's line of `fleet status`."""

    target: str
    state: State
    version: str | None = None
    latest: str | None = None
    template: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return str(self.state)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "state": str(self.state),
            "version": self.version,
            "latest": self.latest,
            "template": self.template,
            "error": self.error,
        }
