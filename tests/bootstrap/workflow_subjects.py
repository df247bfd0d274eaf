"""The OIDC subject each Azure login of a rendered project's workflows presents, read from the YAML.

A job that names a GitHub `environment` presents `repo:OWNER/REPO:environment:NAME`; one that
names none presents what started it: `repo:OWNER/REPO:pull_request` on a pull request, else the
ref it runs on, which must be the default branch (a `push` to it only, or a job-level `if:` that
refuses other refs). Reusable workflows are read through their callers, with the caller's inputs.
Expressions are evaluated for the small grammar the template uses (`&&`, `||`, `==`, `format`,
`inputs.X`, `vars.X`, `github.event_name`); anything else fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from stacks.identity import JOB_IDENTITIES

DEFAULT_BRANCH_IF = "github.ref_name == github.event.repository.default_branch"
# Client-ID variable → job kind (stacks.identity.JOB_IDENTITIES).
KINDS = {variable: kind for kind, (_, variable) in JOB_IDENTITIES.items()}


@dataclass(frozen=True)
class Login:
    workflow: str
    job: str
    stack: str
    kind: str  # deployer, ml-operator, monitor, previewer
    subject: str


class Var(str):
    """A `vars.X` reference, kept as its name."""


def evaluate(text, inputs: dict[str, object], event: str):
    """A workflow value: a literal, or `${{ expr }}` of the template's grammar."""
    if not isinstance(text, str):
        return text
    match = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text, re.S)
    if not match:
        return text
    tokens = re.findall(r"'(?:[^']|'')*'|&&|\|\||==|!=|[(),]|[A-Za-z_][A-Za-z0-9_.-]*|\S", match.group(1))
    python: list[str] = []
    for token in tokens:
        if token.startswith("'"):
            python.append(repr(token[1:-1].replace("''", "'")))
        elif token in ("&&", "||"):
            python.append(" and " if token == "&&" else " or ")
        elif token in ("==", "!=", "(", ")", ","):
            python.append(f" {token} ")
        elif token == "format":
            python.append("_format")
        elif token.startswith("inputs."):
            name = token.split(".", 1)[1]
            # A caller's `with:` value, evaluated where the callee reads it.
            value = evaluate({k.lower(): v for k, v in inputs.items()}.get(name.lower(), ""), {}, event)
            python.append(f"_Var({str(value)!r})" if isinstance(value, Var) else repr(value))
        elif token.startswith("vars."):
            python.append(f"_Var({token.split('.', 1)[1]!r})")
        elif token == "github.event_name":
            python.append(repr(event))
        else:
            raise ValueError(f"expression outside the template's grammar: {token!r} in {text!r}")

    def _format(pattern: str, *args: object) -> str:
        return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), pattern)

    return eval("".join(python), {"__builtins__": {}}, {"_format": _format, "_Var": Var})


def _events(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, dict) else {name: {} for name in ([on] if isinstance(on, str) else on)}


def _runs_on(event: str, job_if: list[str]) -> bool:
    """Whether a job whose `if:` conditions are `job_if` runs for `event` (event-name tests only)."""
    for condition in job_if:
        match = re.fullmatch(r"(?:\$\{\{)?\s*github\.event_name == '(\w+)'\s*(?:\}\})?", condition.strip())
        if match and match.group(1) != event:
            return False
    return True


def logins(root: Path, repository: str, default_branch: str = "main") -> list[Login]:
    """Every Azure login of every job, for every event it runs on, with the subject it presents."""
    workflows_dir = root / ".github" / "workflows"
    found: list[Login] = []
    for path in sorted(workflows_dir.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        events = _events(workflow)
        if "workflow_call" in events:
            continue  # read through its callers
        for job_id, job in workflow["jobs"].items():
            conditions = [str(job["if"])] if "if" in job else []
            if "uses" in job:
                callee_path = workflows_dir / Path(job["uses"]).name
                callee = yaml.safe_load(callee_path.read_text())
                targets = [(callee_path.name, cid, cjob) for cid, cjob in callee["jobs"].items()]
            else:
                targets = [(path.name, job_id, job)]
            for event, settings in events.items():
                if not _runs_on(event, conditions):
                    continue
                inputs = dict(job.get("with") or {})
                for name, target_id, target in targets:
                    found += _job_logins(
                        name, f"{job_id}/{target_id}" if "uses" in job else job_id, target, inputs, event,
                        settings or {}, conditions, repository, default_branch,
                    )  # fmt: skip
    return found


def _job_logins(workflow, job_id, job, inputs, event, settings, conditions, repository, default_branch):
    steps = [s for s in job.get("steps", []) if "azure/login@" in s.get("uses", "")]
    if not steps:
        return []
    conditions = conditions + ([str(job["if"])] if "if" in job else [])
    environment = evaluate(job.get("environment"), inputs, event) if job.get("environment") else None
    if isinstance(environment, dict):
        environment = environment.get("name")
    if environment:
        subject = f"repo:{repository}:environment:{environment}"
    elif event in ("pull_request", "pull_request_target"):
        subject = f"repo:{repository}:pull_request"
    else:
        # Without an environment nothing but the job itself keeps it on the default branch.
        pushed_to_default = event == "push" and (settings.get("branches") == [default_branch])
        guarded = any(c.strip() in (DEFAULT_BRANCH_IF, f"${{{{ {DEFAULT_BRANCH_IF} }}}}") for c in conditions)
        assert pushed_to_default or guarded, (
            f"{workflow} job {job_id} ({event}) names no environment and can run on any branch"
        )
        subject = f"repo:{repository}:ref:refs/heads/{default_branch}"
    found = []
    for step in steps:
        client = evaluate(step["with"]["client-id"], inputs, event)
        assert isinstance(client, Var), f"{workflow} job {job_id}: client-id is not a variable: {client!r}"
        base, stack = _client_variable(client, environment)
        found.append(Login(workflow, job_id, stack, KINDS[base], subject))
    return found


def _client_variable(name: str, environment: str | None) -> tuple[str, str]:
    """`AZURE_X_CLIENT_ID` (its stack from the environment) or `AZURE_X_CLIENT_ID_<ENV>`."""
    for base in KINDS:
        if name == base:
            assert environment, f"{name} read outside a GitHub environment"
            return base, environment.removesuffix("-preview").removesuffix("-monitor")
        if name.startswith(f"{base}_"):
            return base, name.removeprefix(f"{base}_").lower()
    raise AssertionError(f"{name} is no client ID variable of stacks.identity.JOB_IDENTITIES")
