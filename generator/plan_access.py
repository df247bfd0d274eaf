"""`mlops-forge plan --access`: who may do what, over which network path, in every environment.

For every job of the generated workflows: the identity it logs in as, each Azure operation it
performs, the role that grants each action the operation needs (from the plan's own role
assignments and `stacks.permissions`), and the network path the call takes. `--check` fails
when an operation is not granted or not reachable, and when a grant is used by no operation.

The jobs and their operations are declared once in `JOBS` (read from the template's workflows
and scripts); when the program sits in a generated project, the workflows next to it are
checked against that table so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator.errors import ExitCode
from stacks import permissions
from stacks.identity import JOB_IDENTITIES, monitor_environment
from stacks.offline import Plan
from stacks.offline.mocks import _guid, arm_id

# Which stages a job runs in: the first environment, the later ones, the last one, or each.
STAGES = ("first", "later", "last", "each")


@dataclass(frozen=True)
class Job:
    workflow: str
    job: str
    identity: str  # a key of stacks.identity.JOB_IDENTITIES
    stage: str
    operations: tuple[str, ...]
    serving: tuple[str, ...] = ("none", "online", "batch")  # template answers the job exists for


_TRAIN = (
    "az ml job create",
    "blob upload",  # the code snapshot
    "az ml job stream",
    "az ml job show",
    "az ml job download",
    "blob download",
    "az ml model show",
    "az ml model create",
    "blob upload",  # the registered model's files
)
JOBS: tuple[Job, ...] = (
    Job("train.yml", "train", "ml-operator", "first", _TRAIN),
    Job(
        "deploy.yml",
        "promote",
        "ml-operator",
        "first",
        ("az ml model show", "az ml model show --registry-name", "az ml model share"),
        serving=("online", "batch"),
    ),
    Job(
        "deploy-stage.yml",
        "deploy",
        "ml-operator",
        "later",
        (
            "az ml environment create",
            "az ml online-endpoint create",
            "az ml model show --registry-name",
            "az ml online-deployment create",
            "blob upload",  # the scoring code
            "az ml online-endpoint invoke",  # the smoke test
        ),
        serving=("online",),
    ),
    Job(
        "deploy-stage.yml",
        "deploy",
        "ml-operator",
        "later",
        (
            "az ml environment create",
            "az ml batch-endpoint create",
            "az ml model show --registry-name",
            "az ml batch-deployment create",
            "blob upload",  # the scoring code
            "az ml batch-endpoint invoke",  # the smoke test
            "az ml job stream",
            "az ml job show",
        ),
        serving=("batch",),
    ),
    Job("monitor.yml", "drift", "monitor", "last", ("az ml data show", "blob download")),
    Job("pulumi-stack.yml", "pulumi (preview)", "previewer", "each", ("pulumi preview",)),
    Job("pulumi-stack.yml", "pulumi (up)", "deployer", "each", ("pulumi up", "pulumi up (registry grants)")),
)
# ip-allowlist: after `up`, the deployer sets the workspace's IP rules (stacks.workspace_ip_rules).
WORKSPACE_IP_RULES = (
    "az ml workspace network-rule list",
    "az ml workspace network-rule add",
    "az ml workspace network-rule remove",
)
# A job follows the VNet runner labels directly, or through a reusable workflow's `runner` input.
RUNNER_ROUTING = re.compile(r"runs-on:\s*\$\{\{\s*fromJSON\((vars\.RUNNERS|inputs\.runner)")


@dataclass
class Row:
    environment: str
    workflow: str
    job: str
    identity: str
    operation: str
    action: str
    granted_by: list[str]
    path: str
    reachable: bool

    @property
    def ok(self) -> bool:
        return bool(self.granted_by) and self.reachable


@dataclass
class Grant:
    environment: str
    identity: str
    role: str
    scope: str
    used: bool = False


@dataclass
class AccessMatrix:
    rows: list[Row] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = []
        for r in self.rows:
            if not r.granted_by:
                found.append(
                    f"[{r.environment}] {r.workflow}/{r.job}: {r.operation} needs {r.action}, granted to {r.identity} by no role"
                )
            if not r.reachable:
                found.append(
                    f"[{r.environment}] {r.workflow}/{r.job}: {r.operation} is unreachable ({r.path})"
                )
        for g in self.grants:
            if not g.used:
                found.append(
                    f"[{g.environment}] {g.identity} holds {g.role} on {g.scope}, used by no operation"
                )
        return found


def _stages(index: int, count: int) -> set[str]:
    stages = {"each"}
    stages.add("first" if index == 0 else "later")
    if index == count - 1:
        stages.add("last")
    return stages


IDENTITY_SUFFIXES = {
    "-github": "deployer",
    "-mlops": "ml-operator",
    "-monitor": "monitor",
    "-preview": "previewer",
}


def _identity_principals(plan: Plan) -> dict[str, str]:
    """principal ID → job identity kind, computed the way the mock runtime answers."""
    found = {}
    for identity in plan.of_type("azure-native:managedidentity:UserAssignedIdentity"):
        props = identity.properties
        for suffix, kind in IDENTITY_SUFFIXES.items():
            if props["resourceName"].endswith(suffix):
                rid = arm_id("azure-native:managedidentity:UserAssignedIdentity", identity.name, props)
                found[_guid(rid, "principal")] = kind
    return found


def _scopes(plan: Plan) -> dict[str, str]:
    """Operation scope kind → the resource ID it lands on in this plan."""

    def rid(token: str) -> str:
        resource = plan.of_type(token)[0]
        return arm_id(token, resource.name, resource.properties)

    scopes = {
        "resource-group": rid("azure-native:resources:ResourceGroup"),
        "workspace": rid("azure-native:machinelearningservices:Workspace"),
        "storage": rid("azure-native:storage:StorageAccount"),
    }
    registry_users = [
        a.properties["scope"]
        for a in plan.of_type("azure-native:authorization:RoleAssignment")
        if a.properties["roleDefinitionId"].endswith(permissions.AZUREML_REGISTRY_USER.guid)
    ]
    if registry_users:
        scopes["registry"] = registry_users[0]
        scopes["registry-group"] = registry_users[0].split("/providers/")[0]
    return scopes


def _repository_runners(plans: list[Plan]) -> dict[str, list[str]] | None:
    """The RUNNERS variable the host stack sets (environment → labels); None if it is not planned."""
    for plan in plans:
        for variable in plan.of_type("github:index/actionsVariable:ActionsVariable"):
            if variable.properties.get("variableName") == "RUNNERS":
                return json.loads(variable.properties["value"])
    return None


def _allowlist_path(env: str, runners: dict[str, list[str]] | None, routed: bool) -> tuple[str, bool]:
    """ip-allowlist: storage, Key Vault, registry and workspace accept `allowedIps` only, and
    GitHub-hosted standard runners have no fixed address: a job reaches the data planes only on
    the runners `forge:allowlistRunners` names (through RUNNERS)."""
    if runners is None:
        return "runner with an allow-listed egress (RUNNERS: host stack not planned)", True
    if env in runners and routed:
        return f"allow-listed runner ({', '.join(runners[env])})", True
    return "hosted runner, no fixed address (refused by forge:allowedIps; set forge:allowlistRunners)", False


def _covers(scope: str, resource_id: str) -> bool:
    scope, resource_id = scope.lower().rstrip("/"), resource_id.lower()
    return resource_id == scope or resource_id.startswith(scope + "/")


def build(
    plans: list[Plan],
    serving: str = "online",
    routed: set[tuple[str, str]] | None = None,
    order: list[str] | None = None,
    placement: dict[tuple[str, str], set[str]] | None = None,
) -> AccessMatrix:
    """The access matrix of `plans` (in promotion order) for the template's jobs.

    `routed` names the (workflow, job) pairs whose `runs-on` follows the VNet runner labels;
    by default every job that logs in to Azure (as the template's workflows do). `order` is the
    promotion order of all the program's environments (default: `plans`' own), which decides
    where "first", "later" and "last" jobs run when only some environments are planned.
    `placement` (read from a project's workflows) says exactly which environments each job
    runs in and overrides the stages.
    """
    matrix = AccessMatrix()
    jobs = [j for j in JOBS if serving in j.serving]
    routed = routed if routed is not None else {(j.workflow, j.job) for j in jobs}
    order = order or [p.environment for p in plans]
    runners = _repository_runners(plans)
    for plan in plans:
        env = plan.environment
        stages = _stages(order.index(env), len(order))
        principals = _identity_principals(plan)
        scopes = _scopes(plan)
        private = bool(plan.of_type("azure-native:app:Job"))
        allowlist = not private and any(
            (r.properties.get("networkRuleSet") or {}).get("defaultAction") == "Deny"
            for r in plan.of_type("azure-native:storage:StorageAccount")
        )
        # Built-in roles from the table, custom ones from the plan's own role definitions.
        custom = permissions.custom_roles(plan.resources)
        definitions = dict(permissions.ROLES) | {r.name: r for r in custom.values()}
        grants = [
            Grant(
                env,
                principals[a.properties["principalId"]],
                permissions.lookup(a.properties["roleDefinitionId"].rsplit("/", 1)[-1], custom).name,
                a.properties["scope"],
            )
            for a in plan.of_type("azure-native:authorization:RoleAssignment")
            if a.properties["principalId"] in principals
        ]
        locks = any(
            _covers(scopes["resource-group"], lock.properties["scope"])
            for lock in plan.of_type("azure-native:authorization:ManagementLockByScope")
            if isinstance(lock.properties.get("scope"), str)
        )
        host = bool(plan.of_type("azure-native:machinelearningservices:Registry"))
        if not host and "registry" in scopes:
            # Another environment hosts the registry: `bootstrap` gives this deployer the
            # constrained RBAC Administrator there (docs/stacks.md), outside this stack.
            grants.append(
                Grant(
                    env, "deployer", "Role Based Access Control Administrator", scopes["registry"], used=False
                )
            )
            matrix.notes.append(
                f"[{env}] deployer: RBAC Administrator on the registry is granted by bootstrap"
            )
        for job in jobs:
            placed = (placement or {}).get((job.workflow, job.job))
            if (placed is not None and env not in placed) or (placed is None and job.stage not in stages):
                continue
            operations = list(job.operations)
            if job.identity == "deployer" and host:
                operations.append("pulumi up (registry host)")
            if job.identity == "deployer" and locks:
                operations.append("pulumi up (locks)")
            if job.identity == "deployer" and allowlist:
                operations.extend(WORKSPACE_IP_RULES)
            for operation_name in dict.fromkeys(operations):
                operation = permissions.OPERATIONS[operation_name]
                target = scopes.get(operation.scope)
                if operation.plane in permissions.PUBLIC_PLANES:
                    path, reachable = "control plane (public ARM)", True
                elif private:
                    on_runner = (job.workflow, job.job) in routed
                    path, reachable = (
                        ("VNet runner", True) if on_runner else ("hosted runner → private endpoint", False)
                    )
                elif allowlist:
                    path, reachable = _allowlist_path(env, runners, (job.workflow, job.job) in routed)
                else:
                    path, reachable = "hosted runner", True
                for action, data in permissions.required(operation_name):
                    granting = [
                        g
                        for g in grants
                        if g.identity == job.identity
                        and target is not None
                        and _covers(g.scope, target)
                        and permissions.grants(definitions[g.role], action, data=data)
                    ]
                    for g in granting:
                        g.used = True
                    matrix.rows.append(
                        Row(
                            env,
                            job.workflow,
                            job.job,
                            job.identity,
                            operation_name,
                            action,
                            sorted({g.role for g in granting}),
                            path,
                            reachable,
                        )
                    )
        matrix.grants.extend(grants)
    return matrix


MONITOR_SUFFIX = monitor_environment("")


def job_placement(workflows_dir: Path) -> dict[tuple[str, str], set[str]]:
    """Which GitHub environments each job of a generated project's workflows runs in."""
    import yaml

    def jobs_of(name: str) -> dict:
        path = workflows_dir / name
        return (
            (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("jobs", {}) if path.is_file() else {}
        )

    placement: dict[tuple[str, str], set[str]] = {}
    for workflow, job in (("train.yml", "train"), ("deploy.yml", "promote"), ("monitor.yml", "drift")):
        environment = jobs_of(workflow).get(job, {}).get("environment")
        if environment:
            # The drift check runs in its own GitHub environment, `<stack>-monitor`.
            placement[(workflow, job)] = {str(environment).removesuffix(MONITOR_SUFFIX)}
    callers = [j for name in ("deploy.yml", "infra.yml") for j in jobs_of(name).values() if "uses" in j]
    for reusable, jobs in (
        ("deploy-stage.yml", ("deploy",)),
        ("pulumi-stack.yml", ("pulumi (preview)", "pulumi (up)")),
    ):
        envs = {str(c["with"]["environment"]) for c in callers if c["uses"].endswith(reusable)}
        for job in jobs:
            placement[(reusable, job)] = envs
    return placement


def check_workflows(workflows_dir: Path, serving: str) -> list[str]:
    """Where a generated project's workflows disagree with `JOBS` (identity variable, routing)."""
    problems = []
    for job in JOBS:
        if serving not in job.serving:
            continue
        path = workflows_dir / job.workflow
        if not path.is_file():
            problems.append(f"{path}: missing (the access matrix expects job {job.job!r} there)")
            continue
        text = path.read_text(encoding="utf-8")
        variable = JOB_IDENTITIES[job.identity][1]
        # Without GitHub environments the reusable workflows take it as `inputs.X` from their caller.
        if f"vars.{variable}" not in text and f"inputs.{variable}" not in text:
            problems.append(f"{path}: job {job.job!r} should log in as {job.identity} (vars.{variable})")
        if not RUNNER_ROUTING.search(text):
            problems.append(f"{path}: runs-on does not follow the VNet runner labels (vars.RUNNERS)")
    return problems


def as_table(matrix: AccessMatrix) -> str:
    header = ("env", "workflow/job", "identity", "operation", "action", "granted by", "network path", "ok")
    rows = [header] + [
        (
            r.environment,
            f"{r.workflow}/{r.job}",
            r.identity,
            r.operation,
            r.action.rsplit("/", 2)[-2] + "/" + r.action.rsplit("/", 1)[-1],
            ", ".join(r.granted_by) or "-",
            r.path,
            "yes" if r.ok else "NO",
        )
        for r in matrix.rows
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    lines.append("grants:")
    for g in matrix.grants:
        lines.append(
            f"  [{g.environment}] {g.identity}: {g.role} on …{g.scope[-60:]} {'(used)' if g.used else '(UNUSED)'}"
        )
    for note in matrix.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def as_json(matrix: AccessMatrix) -> str:
    return json.dumps(
        {
            "rows": [asdict(r) | {"ok": r.ok} for r in matrix.rows],
            "grants": [asdict(g) for g in matrix.grants],
            "notes": matrix.notes,
            "problems": matrix.problems,
        },
        indent=2,
    )


def run(plans: list[Plan], program_dir: Path, output_format: str, check: bool) -> int:
    """Print the matrix; with `check`, list what is wrong on stderr and return 1 if anything is."""
    import sys

    workflows = program_dir.resolve().parent / ".github" / "workflows"
    serving = "online"
    problems: list[str] = []
    placement = None
    if workflows.is_dir():
        placement = job_placement(workflows)
        specs = program_dir.resolve().parent / "azureml"
        serving = (
            "online"
            if (specs / "online-endpoint.yml").is_file()
            else ("batch" if (specs / "batch-endpoint.yml").is_file() else "none")
        )
        problems += check_workflows(workflows, serving)
    from stacks.offline import stack_files

    matrix = build(plans, serving=serving, order=list(stack_files(program_dir)), placement=placement)
    sys.stdout.write(as_json(matrix) + "\n" if output_format == "json" else as_table(matrix))
    if not check:
        return ExitCode.OK
    problems += matrix.problems
    for problem in problems:
        print(f"access: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} access problem(s)", file=sys.stderr)
        return ExitCode.NEEDS_ATTENTION
    return ExitCode.OK
