"""`mlops-forge doctor`: what is missing before the first `pulumi up` of a generated project.

Offline: the stack configuration plans cleanly, the tools are installed. Online (skipped with
`--offline`): the GitHub names in the config exist and the token may manage the repository;
Azure login, rights on the subscription, resource providers the plan uses, regional quota of the
planned VM sizes where Azure ML's usage API answers; the state backend. Each finding carries the
exact command that fixes it. Exit 0 only when nothing blocks; 1 when something does.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UserError
from generator.project_facts import ProjectFacts, find_program, read_project

OK, BLOCKS, WARN, SKIPPED = "ok", "BLOCKS", "warn", "skipped"
# azure-native module of a planned resource → the resource provider it needs registered.
PROVIDERS = {
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "storage": "Microsoft.Storage",
    "keyvault": "Microsoft.KeyVault",
    "operationalinsights": "Microsoft.OperationalInsights",
    "applicationinsights": "Microsoft.Insights",
    "insights": "Microsoft.Insights",
    "monitor": "Microsoft.Insights",
    "containerregistry": "Microsoft.ContainerRegistry",
    "managedidentity": "Microsoft.ManagedIdentity",
    "consumption": "Microsoft.Consumption",
    "network": "Microsoft.Network",
    "alertsmanagement": "Microsoft.AlertsManagement",
}
ML_API_VERSION = "2024-04-01"
TOOLS = {
    "az": "https://learn.microsoft.com/cli/azure/install-azure-cli",
    "pulumi": "curl -fsSL https://get.pulumi.com | sh",
    "gh": "https://github.com/cli/cli#installation",
}


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    message: str


@dataclass(frozen=True, kw_only=True)
class DoctorSettings:
    project_dir: Path
    subscription: str | None
    offline: bool


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check what is missing before the first `pulumi up`, with the command that fixes each",
        description="Check a generated project's prerequisites: configuration and tools offline, then "
        "GitHub, Azure login, rights, resource providers, quota and the state backend online. Exit 0 "
        "only when nothing blocks.",
    )
    parser.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR")
    parser.add_argument("--subscription", help="Azure subscription ID or name (default: az's current one)")
    parser.add_argument("--offline", action="store_true", help="only the checks that need no network")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = DoctorSettings(
        project_dir=Path(args.project_dir), subscription=args.subscription, offline=args.offline
    )
    facts = read_project(settings.project_dir)
    findings = list(diagnose(facts, settings))
    width = max(len(f.check) for f in findings)
    for finding in findings:
        print(f"{finding.status:<8} {finding.check:<{width}}  {finding.message}")
    blocking = [f for f in findings if f.status == BLOCKS]
    summary = f"{len(blocking)} blocking" if blocking else "nothing blocks the first `pulumi up`"
    print(f"doctor: {summary}", file=sys.stderr)
    return 1 if blocking else 0


def diagnose(facts: ProjectFacts, settings: DoctorSettings) -> Iterator[Finding]:
    plans = yield from _plan(facts)
    for tool, fix in TOOLS.items():
        if shutil.which(tool):
            yield Finding(OK, f"tool {tool}", "installed")
        elif tool == "gh":
            yield Finding(WARN, "tool gh", f"not installed; GITHUB_TOKEN must be set instead: {fix}")
        else:
            yield Finding(BLOCKS, f"tool {tool}", f"not installed: {fix}")
    if settings.offline:
        yield Finding(SKIPPED, "online checks", "--offline: GitHub, Azure and state not checked")
        return
    yield from _github(facts)
    yield from _azure(facts, settings, plans)


def _plan(facts: ProjectFacts):
    """Plan every stack offline: a config error blocks, and the plan says what Azure must offer."""
    from stacks.offline import ProgramError, plan_programs

    try:
        plans = plan_programs(find_program(facts.root), list(facts.environments))
    except ProgramError as exc:
        raise UserError(str(exc)) from None
    yield Finding(OK, "configuration", f"{', '.join(facts.environments)} plan offline")
    return plans


def _github(facts: ProjectFacts) -> Iterator[Finding]:
    from generator.github_checks import (
        GitHubClient,
        github_token,
        input_errors,
        plan_report,
        token_findings,
        unguarded_prod_error,
    )

    token = github_token()
    if token is None:
        yield Finding(BLOCKS, "github token", "none: run `gh auth login` (or set GITHUB_TOKEN)")
        return
    client = GitHubClient(token)
    problems = input_errors(client, facts) or token_findings(client, facts)
    for problem in problems:
        yield Finding(BLOCKS, "github", problem)
    if not problems:
        yield Finding(OK, "github", f"{facts.repository.value}, reviewers and token rights")
    if input_errors(client, facts):
        return  # no repository to read the plan of
    report = plan_report(client, facts)
    yield Finding(BLOCKS if report.errors else OK, "github plan", report.summary())
    for error in report.errors:
        yield Finding(BLOCKS, "github plan", error)
    for note in report.notes:
        yield Finding(WARN, "github plan", note)
    unguarded = unguarded_prod_error(report, facts)
    if unguarded and facts.accepts_unguarded_prod:
        yield Finding(WARN, "github plan", f"{unguarded} (accepted: forge:acceptUnguardedProd)")
    elif unguarded:
        yield Finding(BLOCKS, "github plan", unguarded)


def _azure(facts: ProjectFacts, settings: DoctorSettings, plans) -> Iterator[Finding]:
    from generator.azure_session import AzureSession, NotLoggedIn

    try:
        session = AzureSession(settings.subscription)
    except NotLoggedIn as exc:
        yield Finding(BLOCKS, "azure login", str(exc))
        if facts.state_backend.value == "pulumi-cloud":
            yield from _pulumi_cloud()
        return
    account = session.account
    yield Finding(OK, "azure login", f"{account.user} on subscription {account.subscription_id}")
    checks: list[tuple[str, Callable[[], Iterator[Finding]]]] = [
        ("azure rights", lambda: _rights(session)),
        ("resource providers", lambda: _providers(session, plans)),
        ("quota", lambda: _quota(session, facts, plans)),
        ("state", lambda: _state(session, facts)),
    ]
    from azure.core.exceptions import HttpResponseError

    for name, check in checks:
        try:
            yield from check()
        except HttpResponseError as exc:
            status = WARN if name == "quota" else BLOCKS
            yield Finding(
                status, name, f"Azure refused the check: {(exc.message or str(exc)).splitlines()[0]}"
            )


def _rights(session) -> Iterator[Finding]:
    finding = session.rights_finding()
    if finding:
        yield Finding(BLOCKS, "azure rights", finding)
    else:
        yield Finding(OK, "azure rights", "may create resources and assign roles on the subscription")


def _providers(session, plans) -> Iterator[Finding]:
    needed = sorted(
        {
            PROVIDERS[r.type.split(":")[1]]
            for plan in plans
            for r in plan.resources
            if r.type.startswith("azure-native:") and r.type.split(":")[1] in PROVIDERS
        }
    )
    missing = session.unregistered_providers(tuple(needed))
    for namespace in missing:
        yield Finding(
            BLOCKS,
            "resource providers",
            f"{namespace} is not registered: az provider register --namespace {namespace} --wait",
        )
    if not missing:
        yield Finding(OK, "resource providers", f"registered: {', '.join(needed)}")


def planned_vm_sizes(plans) -> set[str]:
    sizes = set()
    for plan in plans:
        for r in plan.of_type("azure-native:machinelearningservices:Compute"):
            size = ((r.properties.get("properties") or {}).get("properties") or {}).get("vmSize")
            if size:
                sizes.add(size)
    return sizes


def _ml_get(session, path: str) -> dict:
    from azure.core.rest import HttpRequest
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = session.client(ResourceManagementClient)
    url = f"{session.subscription_scope}/providers/Microsoft.MachineLearningServices{path}?api-version={ML_API_VERSION}"
    response = client.send_request(HttpRequest("GET", url))
    response.raise_for_status()
    return response.json()


def _quota(session, facts: ProjectFacts, plans) -> Iterator[Finding]:
    """Free cores per VM family in the region, for one node of each planned size (where readable)."""
    location = facts.location.value
    sizes = {s["name"]: s for s in _ml_get(session, f"/locations/{location}/vmSizes").get("value", [])}
    usages = {
        u["name"]["value"]: u for u in _ml_get(session, f"/locations/{location}/usages").get("value", [])
    }
    short = False
    for size in sorted(planned_vm_sizes(plans)):
        info = sizes.get(size)
        if info is None:
            short = True
            yield Finding(
                BLOCKS, "quota", f"{size} is not offered by Azure ML in {location}: choose another size"
            )
            continue
        usage = usages.get(info.get("family", ""))
        if usage is None:
            continue
        free = int(usage.get("limit", 0)) - int(usage.get("currentValue", 0))
        if free < int(info.get("vCPUs", 0)):
            short = True
            yield Finding(
                WARN,
                "quota",
                f"{size} needs {info['vCPUs']} cores of {info['family']} in {location}, {free} free: "
                "Azure offers no command to raise it; request more in the portal (Quotas → Machine "
                "learning: https://portal.azure.com/#view/Microsoft_Azure_Capacity/QuotaMenuBlade/~/myQuotas)",
            )
    if not short:
        yield Finding(
            OK, "quota", f"cores free for {', '.join(sorted(planned_vm_sizes(plans))) or 'no compute'}"
        )


def _state(session, facts: ProjectFacts) -> Iterator[Finding]:
    if facts.state_backend.value == "pulumi-cloud":
        yield from _pulumi_cloud()
        return
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.storage import StorageManagementClient

    from stacks.state import state_storage

    storage = state_storage(facts.project.value, facts.repository.value)
    client = session.client(StorageManagementClient)
    try:
        client.blob_containers.get(storage.resource_group, storage.account, storage.container)
    except ResourceNotFoundError:
        yield Finding(
            BLOCKS, "state", f"{storage.backend_url} does not exist yet: run `mlops-forge bootstrap`"
        )
        return
    yield Finding(OK, "state", f"{storage.backend_url}")


def _pulumi_cloud() -> Iterator[Finding]:
    from generator.bootstrap import pulumi_cloud_user

    try:
        yield Finding(OK, "state", f"Pulumi Cloud, logged in as {pulumi_cloud_user()}")
    except UserError as exc:
        yield Finding(BLOCKS, "state", str(exc))
