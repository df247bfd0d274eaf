"""What the stand-in actions and the `gh` stand-in do (`python -m forge_rehearse.standins NAME`)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from .access import Caller, Refused, check

SKIP = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "mlruns", "*.egg-info")


def _fail(message: str) -> int:
    print(f"::error::{message}")
    return 1


def checkout() -> int:
    source = Path(os.environ["FORGE_REHEARSE_SOURCE"])
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    shutil.copytree(source, workspace, dirs_exist_ok=True, ignore=SKIP, symlinks=True)
    print(f"checkout (stand-in): copied {source} into the workspace")
    return 0


def setup_python(wanted: str) -> int:
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    print(f"setup-python (stand-in): workflow asks for {wanted or 'any'}, rehearsal uses Python {have}")
    return 0


def presented_subject(repository: str) -> str:
    """The `sub` claim GitHub puts in this job's OIDC token ("About security hardening with OpenID
    Connect", example subject claims): the job's environment if it names one, else the pull
    request, else the ref it runs on."""
    environment = os.environ.get("FORGE_OIDC_ENVIRONMENT", "")  # recorded by act.rewrite_workflow
    if environment:
        return f"repo:{repository}:environment:{environment}"
    if os.environ.get("GITHUB_EVENT_NAME") in ("pull_request", "pull_request_target"):
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:ref:{os.environ.get('GITHUB_REF', '')}"


def oidc_token(subject: str) -> str:
    """An unsigned JWT with GitHub's issuer, Azure's audience and `subject`: what the double checks."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"iss": "https://token.actions.githubusercontent.com", "aud": "api://AzureADTokenExchange"}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({**claims, 'sub': subject})}."


def _repository() -> str:
    """The repository the project is configured for (`forge:githubRepository` of its stacks)."""
    import yaml

    for stack in sorted((Path(os.environ["FORGE_REHEARSE_SOURCE"]) / "infra").glob("Pulumi.*.yaml")):
        config = (yaml.safe_load(stack.read_text()) or {}).get("config") or {}
        if config.get("forge:githubRepository"):
            return str(config["forge:githubRepository"])
    return os.environ.get("GITHUB_REPOSITORY", "")


def azure_login() -> int:
    client_id = os.environ.get("CLIENT_ID", "")
    if not client_id:
        return _fail(
            "azure/login: client-id is empty; set the workflow's client ID variable for this environment"
        )
    if not os.environ.get("TENANT_ID") or not os.environ.get("SUBSCRIPTION_ID"):
        return _fail(
            "azure/login: tenant-id and subscription-id must be set (AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID)"
        )
    return subprocess.run(
        ["az", "login", "--service-principal", "--username", client_id, "--tenant", os.environ["TENANT_ID"],
         "--federated-token", oidc_token(presented_subject(_repository())), "--output", "none"],
        check=False,
    ).returncode  # fmt: skip


def pulumi() -> int:
    from .az import Store

    command, stack = os.environ["PULUMI_COMMAND"], os.environ["STACK"]
    if command not in ("preview", "up"):
        return _fail(f"pulumi/actions: command {command!r} is not rehearsed (preview, up)")
    store = Store(Path(os.environ["FORGE_DOUBLE_HOME"]))
    try:
        client_id = os.environ.get("ARM_CLIENT_ID") or store.state.get("login") or ""
        identity = store.world.identity(client_id)
        if identity is None:
            return _fail(f"pulumi {command} {stack}: ARM_CLIENT_ID {client_id!r} is no identity of any stack")
        groups = [g for g in store.world.of_kind("group", stack) if g.name.endswith(f"-{stack}")]
        if not groups:
            return _fail(f"pulumi {command} {stack}: the plan of {stack} has no resource group")
        from .az import UsageError, _runner_egress, _runner_is_hosted

        try:
            egress = _runner_egress(store.world)
        except UsageError as exc:
            return _fail(str(exc))
        caller = Caller(identity.client_id, identity.principal_id, identity.name, _runner_is_hosted(), egress)
        try:
            check(store.world, caller, f"pulumi {command}", groups[0])
        except Refused as refused:
            store.log(
                {
                    "operation": f"pulumi {command}",
                    "caller": identity.name,
                    "target": groups[0].id,
                    "result": "refused",
                    "message": str(refused),
                }
            )
            return _fail(str(refused))
        store.log(
            {
                "operation": f"pulumi {command}",
                "caller": identity.name,
                "target": groups[0].id,
                "result": "ok",
            }
        )
    finally:
        store.close()
    work_dir = os.environ.get("WORK_DIR", ".")
    print(f"pulumi {command} {stack} (stand-in): offline plan with the policy checks")
    code = subprocess.run(
        [sys.executable, "-m", "generator", "plan", work_dir, "--env", stack, "--check"], check=False
    ).returncode
    if code == 0 and command == "up":
        # What `pulumi up` leaves behind for the next steps: the stack's outputs, here the plan's.
        if not os.environ.get("GITHUB_OUTPUT"):
            return _fail("pulumi/actions: GITHUB_OUTPUT is not set; the stand-in runs only inside a job")
        from stacks.offline import plan_program

        set_outputs(plan_program(work_dir, stack).outputs, Path(os.environ["GITHUB_OUTPUT"]))
    return code


def step_output(value: Any) -> str:
    """A value as `core.setOutput` of @actions/core writes it: strings as they are, None as "",
    anything else JSON-encoded (`JSON.stringify`: compact, non-ASCII kept)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def set_outputs(outputs: dict[str, Any], path: Path) -> None:
    """Each stack output as a step output, the way pulumi/actions sets them (`core.setOutput` per
    output of `stack.outputs()`): appended to the job's GITHUB_OUTPUT file as `name<<delimiter` blocks."""
    with path.open("a", encoding="utf-8") as out:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            out.write(f"{name}<<{delimiter}\n{step_output(value)}\n{delimiter}\n")


def gh(argv: list[str]) -> int:
    """`gh workflow run FILE [--ref REF] [-f KEY=VALUE]...`: recorded, for the rehearsal to run next."""
    if argv[:2] != ["workflow", "run"] or len(argv) < 3:
        print(
            f"gh (rehearsal stand-in): only 'gh workflow run' is rehearsed, got: gh {' '.join(argv)}",
            file=sys.stderr,
        )
        return 2
    workflow, rest = argv[2], argv[3:]
    fields: dict[str, str] = {}
    ref = None
    i = 0
    while i < len(rest):
        if rest[i] in ("-f", "--raw-field", "-F", "--field") and i + 1 < len(rest):
            key, _, value = rest[i + 1].partition("=")
            fields[key] = value
            i += 2
        elif rest[i] in ("--ref", "-r") and i + 1 < len(rest):
            ref = rest[i + 1]
            i += 2
        else:
            print(f"gh workflow run: unknown argument {rest[i]}", file=sys.stderr)
            return 2
    path = Path(os.environ.get("GITHUB_WORKSPACE", ".")) / ".github" / "workflows" / workflow
    if not path.is_file():
        print(f"HTTP 404: workflow {workflow} not found on the default branch", file=sys.stderr)
        return 1
    if not os.environ.get("GH_TOKEN") and not os.environ.get("GITHUB_TOKEN"):
        print(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.",
            file=sys.stderr,
        )
        return 4
    with (Path(os.environ["FORGE_DOUBLE_HOME"]) / "dispatches.jsonl").open("a") as out:
        out.write(json.dumps({"workflow": workflow, "ref": ref, "inputs": fields}) + "\n")
    print(f"✓ Created workflow_dispatch event for {workflow} at {ref or 'the default branch'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name, rest = (argv[0], argv[1:]) if argv else ("", [])
    if name == "checkout":
        return checkout()
    if name == "setup-python":
        return setup_python(rest[0] if rest else "")
    if name == "azure-login":
        return azure_login()
    if name == "pulumi":
        return pulumi()
    if name == "gh":
        return gh(rest)
    print(f"unknown stand-in {name!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
