"""A Pulumi program's files: `Pulumi.yaml`, and each `Pulumi.<env>.yaml` read with its line numbers.

`check_stacks` runs the stacks' configuration checks (`stacks.config.check_config`) over every
stack file before any program runs, so one pass reports every mistake, each with file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROMOTION_ORDER = ("dev", "test", "prod")
SECRET_PLACEHOLDER = "[secret]"


class ProgramError(Exception):
    """The program or its stack files cannot be used; `path`, `line` and `key` say where."""

    def __init__(
        self, message: str, path: Path | None = None, key: str | None = None, line: int | None = None
    ) -> None:
        where = str(path) if path else ""
        if where and line:
            where = f"{where}:{line}"
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.key, self.reason, self.line = path, key, message, line

    def __reduce__(self):  # keep the fields when a worker process sends it back
        return (type(self), (self.reason, self.path, self.key, self.line))


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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProgramError("file not found", path) from None


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ProgramError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return ProgramError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}", path)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProgramError("expected a mapping at the top level", path)
    return data


def read_project(program_dir: Path) -> tuple[str, Path]:
    """The project name and the program's entry file, from `Pulumi.yaml`."""
    project_file = program_dir / "Pulumi.yaml"
    data = load_yaml(project_file)
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
    """A stack file value as the SDK passes it to the program: scalars as text, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class StackFile:
    """One `Pulumi.<env>.yaml`: its config as the SDK sees it, which keys are secret, where each is."""

    path: Path
    environment: str
    values: dict[str, str]
    secret_keys: frozenset[str]
    lines: dict[str, int]
    config_line: int
    written: dict[str, str]  # full key → the key as the file spells it (bare keys have no namespace)

    def error(self, key: str, message: str) -> ProgramError:
        return ProgramError(
            message, self.path, self.written.get(key, key), self.lines.get(key, self.config_line)
        )


def _key_lines(text: str, project: str) -> tuple[dict[str, int], int]:
    """Full key → line of each key under `config:`, and the line of `config:` itself."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return {}, 1
    for key_node, value_node in root.value:
        if key_node.value == "config" and isinstance(value_node, yaml.MappingNode):
            lines = {
                (k.value if ":" in str(k.value) else f"{project}:{k.value}"): k.start_mark.line + 1
                for k, _ in value_node.value
            }
            return lines, key_node.start_mark.line + 1
    return {}, 1


def read_stack_file(project: str, path: Path) -> StackFile:
    """Read `Pulumi.<env>.yaml`; bare keys belong to the project's namespace, as in Pulumi."""
    text = _read_text(path)
    try:
        data = yaml.safe_load(text) or {}
        lines, config_line = _key_lines(text, project)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(data, dict):
        raise ProgramError("expected a mapping at the top level", path)
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ProgramError("'config' must be a mapping", path, "config")
    values, secrets, written = {}, set(), {}
    for key, value in config.items():
        full = str(key) if ":" in str(key) else f"{project}:{key}"
        values[full], written[full] = _config_value(value), str(key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(full)
    environment = path.name[len("Pulumi.") : -len(".yaml")]
    return StackFile(path, environment, values, frozenset(secrets), lines, config_line, written)


def check_stacks(program_dir: str | Path, environments: list[str]) -> list[ProgramError]:
    """Every configuration problem of every listed stack, each with its file and line; [] if none."""
    from stacks.config import check_config

    program_dir = Path(program_dir)
    project, _ = read_project(program_dir)
    errors: list[ProgramError] = []
    for environment in environments:
        try:
            stack = read_stack_file(project, program_dir / f"Pulumi.{environment}.yaml")
        except ProgramError as exc:
            errors.append(exc)
            continue
        _, _, problems = check_config(
            stack.values, environment, project_namespace=project, secret_keys=stack.secret_keys
        )
        errors += [stack.error(problem.key, problem.message) for problem in problems]
    return errors
