"""What a fleet run prints and writes: summary tables on stdout, the JSON report file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from generator.errors import ExitCode, UserError
from generator.fleet.results import Outcome, State, StatusResult, UpdateResult


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def _detail(result: UpdateResult, dry_run: bool) -> str:
    """One line, whatever the messages it quotes hold."""
    return " ".join(_details(result, dry_run).split())


def _details(result: UpdateResult, dry_run: bool) -> str:
    pr_failed = f"; pr-failed: {result.pull_request_error}" if result.pull_request_error else ""
    if result.outcome in {Outcome.UPDATED, Outcome.CONFLICTED} and result.error:
        pr_failed += f"; {result.error}"
    if result.outcome is Outcome.CONFLICTED:
        return "conflicts: " + ", ".join(result.conflicts) + pr_failed
    if result.outcome is Outcome.UPDATED:
        changes = result.changes
        text = f"{len(changes.modified)} changed, {len(changes.added)} added, {len(changes.removed)} removed"
        extras = [text]
        if result.resumed:
            extras.append("already done")
        if result.rehearsal is not None:
            extras.append("rehearsed: " + ", ".join(result.rehearsal.workflows))
        if result.pull_request:
            extras.append(result.pull_request)
        elif result.pushed:
            extras.append("pushed")
        return "; ".join(extras) + pr_failed
    return result.error or ""


def update_summary(results: Sequence[UpdateResult], *, dry_run: bool, elapsed: float) -> str:
    """The end-of-run table, grouped by outcome in `Outcome` order, then the counts."""
    order = list(Outcome)
    ordered = sorted(results, key=lambda r: order.index(r.outcome))
    rows = [
        [
            r.label,
            r.target,
            r.from_version or "-",
            r.to_version or "-",
            r.branch or ("(dry run)" if dry_run and r.to_version else "-"),
            _detail(r, dry_run),
        ]
        for r in ordered
    ]
    lines = _table(["OUTCOME", "TARGET", "FROM", "TO", "BRANCH", "DETAIL"], rows)
    if dry_run:
        for r in ordered:
            if r.outcome in {Outcome.UPDATED, Outcome.CONFLICTED}:
                lines += ["", f"{r.target}: {r.from_version} -> {r.to_version}"]
                lines += [f"  M {path}" for path in r.changes.modified]
                lines += [f"  A {path}" for path in r.changes.added]
                lines += [f"  D {path}" for path in r.changes.removed]
                lines += [f"  C {path} (conflict)" for path in r.conflicts]
    counts = [
        f"{sum(r.outcome is o for r in results)} {o}" for o in order if any(r.outcome is o for r in results)
    ]
    verb = "would be: " if dry_run else ""
    lines += ["", f"{len(results)} repositories in {elapsed:.1f}s: {verb}{', '.join(counts)}"]
    return "\n".join(lines)


def write_report(
    path: Path, template: str, to: str, results: Sequence[UpdateResult], *, dry_run: bool
) -> None:
    report = {
        "template": template,
        "to": to,
        "dry_run": dry_run,
        "repositories": [r.to_json() for r in results],
    }
    try:
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write --report {path}: {exc.strerror}", ExitCode.NEEDS_ATTENTION) from exc


def status_table(results: Sequence[StatusResult]) -> str:
    rows = [
        [r.target, r.version or "-", r.latest or "-", r.label, " ".join((r.error or "").split())]
        for r in results
    ]
    lines = _table(["TARGET", "VERSION", "LATEST", "STATE", "DETAIL"], rows)
    counts = [
        f"{sum(r.state is s for r in results)} {s}" for s in State if any(r.state is s for r in results)
    ]
    return "\n".join([*lines, "", f"{len(results)} repositories: {', '.join(counts)}"])


def status_json(results: Sequence[StatusResult]) -> str:
    return json.dumps({"repositories": [r.to_json() for r in results]}, indent=2)
