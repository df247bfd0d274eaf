"""Run a Pulumi program offline, once per stack, and return what `pulumi up` would create.

No Pulumi CLI, no credentials, no network: the program runs in-process against the SDK's mock
runtime (`AzureMocks`), with the stack's `Pulumi.<env>.yaml` loaded as its configuration. Each
run gets a fresh context, so several stacks can be planned in one process.
"""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.offline.files import ProgramError, read_project, read_stack_file, stack_files
from stacks.offline.mocks import AzureMocks, RecordingMonitor

__all__ = [
    "Plan",
    "PlannedResource",
    "ProgramError",
    "plan_program",
    "plan_programs",
    "read_project",
    "stack_files",
]


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    parent: str | None
    properties: dict[str, Any]
    custom: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent, "properties": self.properties}


@dataclass
class Plan:
    project: str
    environment: str
    resources: list[PlannedResource] = field(default_factory=list)

    def of_type(self, token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} in the {self.environment} plan")
        return matches[0]


def _run(entry: Path, project: str, environment: str, config: dict[str, str], secret_keys: list[str]) -> list:
    import pulumi
    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import wait_for_rpcs

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = RecordingMonitor(AzureMocks())
    # The SDK tracks outstanding outputs in a set that mock settings never replace, so its default
    # is shared by every context: a failed run would leave tasks there that the next run awaits
    # forever. Each run gets its own.
    SETTINGS.outputs = set()
    try:
        pulumi.runtime.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(
            monitor.mocks, project=project, stack=environment, preview=True, monitor=monitor
        )
        sys.path.insert(0, str(entry.parent))
        try:
            runpy.run_path(str(entry), run_name="__main__")
        finally:
            sys.path.remove(str(entry.parent))
        loop.run_until_complete(wait_for_rpcs())
    finally:
        # After a failure the SDK leaves RPCs queued; cancel them so nothing warns at exit.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        # The mock monitor gives each executor thread an event loop of its own; joining the
        # threads now lets those loops close normally instead of failing noisily at exit.
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()
    return monitor.registrations


def plan_program(program_dir: str | Path, environment: str) -> Plan:
    """Run the program in `program_dir` for stack `environment` with mocks; return its plan."""
    program_dir = Path(program_dir)
    if not program_dir.is_dir():
        raise ProgramError("program directory not found", program_dir)
    project, entry = read_project(program_dir)
    stack_file = program_dir / f"Pulumi.{environment}.yaml"
    if not stack_file.is_file():
        raise ProgramError(f"no stack file for environment {environment!r}", stack_file)
    stack = read_stack_file(project, stack_file)
    from stacks.config import ConfigError
    from stacks.naming import NamingError

    try:
        # A fresh context per run: the SDK keeps its settings in context variables.
        registrations = contextvars.Context().run(
            _run, entry, project, environment, stack.values, sorted(stack.secret_keys)
        )
    except ConfigError as exc:
        if len(exc.problems) > 1:
            raise ProgramError(str(exc), stack_file) from exc
        raise stack.error(exc.key, exc.reason) from exc
    except NamingError as exc:
        raise ProgramError(str(exc), stack_file) from exc
    except Exception as exc:
        raise ProgramError(
            f"the program failed for stack {environment!r}: {type(exc).__name__}: {exc}", entry
        ) from exc
    resources = [PlannedResource(r.type, r.name, r.parent, _tidy(r.inputs), r.custom) for r in registrations]
    return Plan(project=project, environment=environment, resources=_tree_order(resources))


def plan_programs(program_dir: str | Path, environments: list[str], jobs: int | None = None) -> list[Plan]:
    """Plan several stacks of one program, in parallel worker processes where that helps.

    Workers are forked before anything heavy is imported, so each pays the SDK's import cost in
    parallel; with one environment or one job everything runs in this process.
    """
    jobs = min(jobs or os.cpu_count() or 1, len(environments))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [plan_program(program_dir, env) for env in environments]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.starmap(plan_program, [(program_dir, env) for env in environments], chunksize=1)


# The wire form of a secret value (pulumi.runtime.rpc's signature key and secret signature).
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def _tidy(value: Any) -> Any:
    """Whole numbers arrive as floats (protobuf numbers are doubles); show them as integers.

    A secret input arrives wrapped in its wire signature; the plan shows the value (offline it
    is the `[secret]` placeholder of the stack file, never the cleartext).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and value.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1]:
        return _tidy(value.get("value"))
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def _tree_order(resources: list[PlannedResource]) -> list[PlannedResource]:
    """Parents before children, siblings by name: registration order varies between runs."""
    children: dict[str | None, list[PlannedResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    ordered: list[PlannedResource] = []

    def visit(parent: str | None) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: r.name):
            ordered.append(resource)
            visit(resource.name)

    visit(None)
    return ordered
