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
import signal
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
    protect: bool = False  # Pulumi's `protect` option: `pulumi destroy` refuses to delete it
    depends_on: tuple[str, ...] = ()  # logical names it waits for (`depends_on` and inputs)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent, "properties": self.properties}


@dataclass
class Plan:
    project: str
    environment: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # what the program exports

    def of_type(self, token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> PlannedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} in the {self.environment} plan")
        return matches[0]


def _skip_alias_urns() -> None:
    """Stop the SDK computing a URN for every type alias of every resource (offline only).

    Each azure-native resource declares up to a dozen type aliases, and `Resource.__init__`
    turns each into an Output of a URN. That list serves only monitors without alias specs;
    the mock monitor supports them (the aliases are sent as specs), so offline the URNs are
    never read, yet they were most of a large plan's cost.
    """
    import pulumi.resource as resource_module
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.settings import monitor_supports_feature

    if monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS):
        resource_module.collapse_alias_to_urn = lambda *_args, **_kwargs: None


def _run(
    entry: Path, project: str, environment: str, config: dict[str, str], secret_keys: list[str]
) -> tuple[list, dict[str, Any]]:
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
        _skip_alias_urns()
        sys.path.insert(0, str(entry.parent))
        try:
            runpy.run_path(str(entry), run_name="__main__")
        finally:
            sys.path.remove(str(entry.parent))
        loop.run_until_complete(wait_for_rpcs())
        outputs = loop.run_until_complete(_exports())
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
    return monitor.registrations, outputs


async def _exports() -> dict[str, Any]:
    """What the program passed to `pulumi.export`, resolved (the stack's outputs)."""
    import pulumi
    from pulumi.runtime.settings import get_root_resource

    root = get_root_resource()
    exported = dict(getattr(root, "outputs", None) or {})
    values = {}
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[name] = await output.future()
    return values


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
        registrations, outputs = contextvars.Context().run(
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
    resources = [
        PlannedResource(r.type, r.name, r.parent, _tidy(r.inputs), r.custom, r.protect, r.depends_on)
        for r in registrations
    ]
    return Plan(
        project=project, environment=environment, resources=_tree_order(resources), outputs=_tidy(outputs)
    )


# Provider modules every environment's program loads; see `_import_shared_modules`.
SHARED_MODULES = (
    "resources",
    "authorization",
    "managedidentity",
    "storage",
    "keyvault",
    "containerregistry",
    "operationalinsights",
    "applicationinsights",
    "machinelearningservices",
    "monitor",
    "consumption",
)


def _import_shared_modules() -> None:
    """Load the SDK and the provider modules all stacks use once, before forking workers.

    Each worker would otherwise load them itself: on two cores, three workers loading the same
    modules cost more than one load the forked workers share. Modules only some stacks need
    (the private network's) still load in the worker that needs them, in parallel.
    """
    import pulumi
    import pulumi_azure_native

    for name in SHARED_MODULES:
        module = getattr(pulumi_azure_native, name)
        getattr(module, "__all__", None)  # the provider's modules load lazily, on first attribute
    pulumi.runtime.settings  # noqa: B018


def plan_programs(program_dir: str | Path, environments: list[str], jobs: int | None = None) -> list[Plan]:
    """Plan several stacks of one program, in parallel worker processes where that helps.

    Workers are forked before anything heavy is imported, so each pays the SDK's import cost in
    parallel; with one environment or one job everything runs in this process.
    """
    jobs = min(jobs or os.cpu_count() or 1, len(environments))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [plan_program(program_dir, env) for env in environments]
    _import_shared_modules()
    # Later environments are the bigger ones (private network, runners, more alerts): start them
    # first so a small one, not the biggest, is the last to begin when stacks outnumber workers.
    biggest_first = environments[::-1]
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_default_signals) as pool:
        plans = pool.starmap(plan_program, [(program_dir, env) for env in biggest_first], chunksize=1)
    return plans[::-1]


def _default_signals() -> None:
    """Workers die on SIGTERM, whatever handler the parent had when it forked them.

    The pool stops its workers with SIGTERM when it closes. A handler inherited from the caller
    (the CLI turns SIGTERM into an exception, to clean up) can leave a worker blocked on the
    pool's queue lock instead of exiting, and the parent waits for it forever.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
