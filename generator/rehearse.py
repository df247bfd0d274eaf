"""`mlops-forge rehearse [WORKFLOW...]`: run a generated project's workflows offline, for real.

act (host mode) runs each workflow; Marketplace actions are local stand-ins; `az` is the Azure
test double, which keeps state across the workflows of one rehearsal and refuses what Azure
would refuse (permissions from the stacks' role assignments, private networks, bad arguments).
Prints each job's steps and the Azure operations it performed; stops at the first failure,
naming it. See docs/rehearse.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import yaml

from generator.errors import UserError

if TYPE_CHECKING:
    from forge_rehearse.act import Result

# The life of a project, in the order a team lives it (those the project has).
DEFAULT_SEQUENCE = ("ci.yml", "train.yml", "deploy.yml", "monitor.yml")
NEVER_BY_DEFAULT = {"rehearse.yml", "template-update.yml"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rehearse",
        help="run the project's workflows offline with act against the Azure test double",
        description="Run WORKFLOW files of .github/workflows (default: "
        + ", ".join(DEFAULT_SEQUENCE)
        + ") in order with act, against an Azure test double built from the stacks' offline plans. "
        "Exits 1 at the first failed or refused step, naming it.",
    )
    parser.add_argument(
        "workflows", nargs="*", metavar="WORKFLOW", help="workflow file names, e.g. train.yml"
    )
    parser.add_argument("--project", type=Path, default=Path("."), help="the generated project (default: .)")
    parser.add_argument("--event", help="event to send every workflow (default: per workflow, see docs)")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="workflow_dispatch input (repeatable)",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the rehearsal (double state, logs) in DIR"
    )
    parser.set_defaults(run=run)


def _event_for(path: Path) -> str:
    """The event a rehearsal sends: workflow_dispatch if the workflow takes it, else PR, else push."""
    raw = yaml.safe_load(path.read_text()) or {}
    on = raw.get("on", raw.get(True, {}))
    events = [on] if isinstance(on, str) else list(on or [])
    for event in ("workflow_dispatch", "pull_request", "push", "schedule"):
        if event in events:
            return event
    raise UserError(
        f"{path.name} has no event a rehearsal can send ({', '.join(map(str, events)) or 'none'})"
    )


def _workflows(project: Path, names: list[str]) -> list[Path]:
    folder = project / ".github" / "workflows"
    if not folder.is_dir():
        raise UserError(
            f"{project} has no .github/workflows; run rehearse in a generated project or pass --project"
        )
    if not names:
        return [folder / n for n in DEFAULT_SEQUENCE if (folder / n).is_file()]
    paths = []
    for name in names:
        path = folder / Path(name).name
        if not path.is_file():
            known = ", ".join(sorted(p.name for p in folder.glob("*.y*ml")))
            raise UserError(f"no workflow {name} in {folder} (there: {known})")
        paths.append(path)
    return paths


def _inputs(pairs: list[str]) -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--input expects KEY=VALUE, got {pair!r}")
        inputs[key] = value
    return inputs


def _report(result: Result, out: TextIO) -> None:
    for line in result.steps():
        print("  " + line.strip(), file=out)
    for op in result.operations:
        if op["operation"] == "az login":
            continue
        where = (
            ""
            if op.get("hosted") is None
            else (" (GitHub-hosted runner)" if op["hosted"] else " (VNet runner)")
        )
        print(f"    azure: {op['result']:<7} {op['operation']} as {op['caller']}{where}", file=out)


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        from forge_rehearse import act
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise UserError(
            f"rehearse needs the extra: pip install 'mlops-forge-azure[rehearse]' ({exc})"
        ) from None
    project = args.project.resolve()
    workflows = _workflows(project, args.workflows)
    if not workflows:
        raise UserError(
            f"{project} has none of {', '.join(DEFAULT_SEQUENCE)}; name the workflows to rehearse"
        )
    inputs = _inputs(args.input)
    home = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="forge-rehearse-"))
    rehearsal = None
    try:
        try:
            rehearsal = act.prepare(project, home)
        except act.RehearsalError as exc:
            raise UserError(str(exc)) from None
        for path in workflows:
            if path.name in NEVER_BY_DEFAULT and not args.workflows:
                continue
            event = args.event or _event_for(path)
            print(f"{path.name} ({event})")
            try:
                result = act.run(
                    rehearsal, path.name, event, inputs=inputs if event == "workflow_dispatch" else None
                )
            except act.RehearsalError as exc:
                raise UserError(str(exc)) from None
            _report(result, sys.stdout)
            if not result.ok:
                refused = [o for o in result.operations if o["result"] == "refused"]
                cause = refused[-1]["message"] if refused else (result.errors() or ["a step failed"])[-1]
                print(f"rehearse: {path.name} failed: {cause}", file=sys.stderr)
                return 1
        print(f"rehearse: {len(workflows)} workflow(s) green")
        return 0
    finally:
        if rehearsal is not None:
            rehearsal.close()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
