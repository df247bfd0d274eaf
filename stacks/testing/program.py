"""Run a Pulumi program offline, once per stack, and return what `pulumi up` would create.

No Pulumi CLI, no credentials, no network: the program runs in-process against the SDK's mock
runtime (`AzureMocks`), with the stack's `Pulumi.<env>.yaml` loaded as its configuration. Each
run gets a fresh context, so several stacks can be planned in one process.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import multiprocessing
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.testing.mocks import AzureMocks, RecordingMonitor


class ProgramError(Exception):
    """The program or its stack files cannot be used; `path` and `key` say where."""

    def __init__(self, message: str, path: Path | None = None, key: str | None = None) -> None:
        where = str(path) if path else ""
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.key, self.reason = path, key, message

    def __reduce__(self):  # keep the fields when a worker process sends it back
        return (type(self), (self.reason, self.path, self.key))


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


PROMOTION_ORDER = ("dev", "test", "prod")


def stack_files(program_dir: Path) -> dict[str, Path]:
    """Environment name → `Pulumi.<env>.yaml` for every stack file in `program_dir`.

    Built-in environments come first in promotion order (dev, test, prod), then the others by name.
    """
    found = {}
    for path in program_dir.glob("Pulumi.*.yaml"):
        env = path.name[len("Pulumi.") : -len(".yaml")]
        if env:
            found[env] = path

    def rank(env: str) -> tuple[int, str]:
        return (PROMOTION_ORDER.index(env) if env in PROMOTION_ORDER else len(PROMOTION_ORDER), env)

    return {env: found[env] for env in sorted(found, key=rank)}


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProgramError("file not found", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProgramError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProgramError("expected a mapping at the top level", path)
    return data


def read_project(program_dir: Path) -> tuple[str, Path]:
    """The project name and the program's entry file, from `Pulumi.yaml`."""
    project_file = program_dir / "Pulumi.yaml"
    data = _load_yaml(project_file)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ProgramError("needs a 'name'", project_file, "name")
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProgramError(
            f"runtime must be python to plan offline, got {runtime_name!r}", project_file, "runtime"
        )
    main = program_dir / str(data.get("main", "."))
    entry = main / "__main__.py" if main.is_dir() else main
    if not entry.is_file():
        raise ProgramError("the program's entry file does not exist", entry)
    return name, entry


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def read_stack_config(project: str, stack_file: Path) -> dict[str, str]:
    """`Pulumi.<env>.yaml`'s config as the flat `namespace:key → string` map the SDK expects."""
    config = _load_yaml(stack_file).get("config") or {}
    if not isinstance(config, dict):
        raise ProgramError("'config' must be a mapping", stack_file, "config")
    return {
        (key if ":" in key else f"{project}:{key}"): _config_value(value) for key, value in config.items()
    }


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


def _run(entry: Path, project: str, environment: str, config: dict[str, str]) -> list:
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
        pulumi.runtime.set_all_config(config)
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
    config = read_stack_config(project, stack_file)
    from stacks.config import ConfigError
    from stacks.naming import NamingError

    try:
        # A fresh context per run: the SDK keeps its settings in context variables.
        registrations, outputs = contextvars.Context().run(_run, entry, project, environment, config)
    except ConfigError as exc:
        raise ProgramError(exc.reason, stack_file, exc.key) from exc
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
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        plans = pool.starmap(plan_program, [(program_dir, env) for env in biggest_first], chunksize=1)
    return plans[::-1]


def _tidy(value: Any) -> Any:
    """Whole numbers arrive as floats (protobuf numbers are doubles); show them as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
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
