"""The identities GitHub Actions jobs log in as in one environment: OIDC federation, no secrets.

One identity per job kind, each holding exactly what its operations need (the access matrix,
`mlops-forge plan --access`, proves it against `stacks.permissions`):

| identity   | GitHub environment | roles                                                          |
|------------|--------------------|----------------------------------------------------------------|
| deployer   | `<env>`            | custom deployer (Contributor minus key listing) + lock manager |
|            |                    | (strict) + constrained RBAC Administrator (resource group)     |
| ML operator| `<env>`            | AzureML Data Scientist + Reader (workspace), Storage Blob Data |
|            |                    | Contributor (storage), AzureML Registry User (registry)        |
| monitor    | `<env>-monitor`    | Monitoring Reader (resource group), Storage Blob Data Reader   |
| previewer  | `<env>-preview`    | Reader (resource group)                                        |

Jobs that name a GitHub `environment` present the subject `repo:OWNER/REPO:environment:NAME`,
so the branch cannot be in the subject: the `<env>` environments allow deployments from the
default branch only (a GitHub environment rule the stacks' GitHub side sets; docs/stacks.md),
which is what makes these identities default-branch-only. `<env>-preview` allows any branch and
its identity can only read. `<env>-monitor` (default branch only, never reviewers) is where the
daily drift check runs: a scheduled read-only job must not wait for prod's approvers.

Where the repository's plan has no environments (a private or internal repository on GitHub
Free, `stacks.github_plans`), the workflows name none and jobs present the subject of what
started them instead: `repo:OWNER/REPO:ref:refs/heads/<default branch>` for jobs on the default
branch (deployer, ML operator, monitor; the jobs refuse any other ref with a job-level `if:`) and
`repo:OWNER/REPO:pull_request` for pull-request previews (previewer). `federated_subjects` is the
one place both cases are decided; the template's `github_environments` answer follows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import managedidentity

from stacks import permissions, roles
from stacks.config import EnvironmentSettings
from stacks.github_plans import capabilities

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"
# Azure's limit; creating several on one identity in parallel fails with 409, hence the chain.
MAX_FEDERATED_CREDENTIALS = 20

# Job kind → (stack output of its client ID, GitHub variable the workflows read). docs/contracts.md.
JOB_IDENTITIES = {
    "deployer": ("deployerClientId", "AZURE_DEPLOYER_CLIENT_ID"),
    "ml-operator": ("mlOperatorClientId", "AZURE_ML_OPERATOR_CLIENT_ID"),
    "monitor": ("monitorClientId", "AZURE_MONITOR_CLIENT_ID"),
    "previewer": ("previewClientId", "AZURE_PREVIEW_CLIENT_ID"),
}


def github_subject(repository: str, environment: str) -> str:
    """Only jobs bound to this GitHub environment of this repository can use the identity."""
    return f"repo:{repository}:environment:{environment}"


def branch_subject(repository: str, branch: str) -> str:
    """Jobs of this repository that run on `branch` (push, schedule, workflow_dispatch), no environment."""
    return f"repo:{repository}:ref:refs/heads/{branch}"


def pull_request_subject(repository: str) -> str:
    """Jobs of this repository that a pull request started, no environment."""
    return f"repo:{repository}:pull_request"


def federated_subjects(settings: EnvironmentSettings) -> dict[str, tuple[str, str]]:
    """Job kind (`JOB_IDENTITIES`) → (credential name, OIDC subject) its identity trusts."""
    repository, env = settings.github_repository, settings.environment
    if capabilities(settings.github_visibility, settings.github_plan).environments:
        environments = {
            "deployer": env,
            "ml-operator": env,
            "monitor": monitor_environment(env),
            "previewer": preview_environment(env),
        }
        return {
            kind: (f"github-{name}", github_subject(repository, name)) for kind, name in environments.items()
        }
    default_branch = ("github-default-branch", branch_subject(repository, settings.github_default_branch))
    return {
        "deployer": default_branch,
        "ml-operator": default_branch,
        "monitor": default_branch,
        "previewer": ("github-pull-request", pull_request_subject(repository)),
    }


def monitor_environment(environment: str) -> str:
    """The GitHub environment the drift check runs in: default branch only, no reviewers, read-only."""
    return f"{environment}-monitor"


def preview_environment(environment: str) -> str:
    """The GitHub environment pull-request previews run in: no reviewers, read-only identity."""
    return f"{environment}-preview"


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    storage_id: pulumi.Input[str]


class CiIdentity(pulumi.ComponentResource):
    """The deployer, ML operator, monitor and previewer identities of one environment."""

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:identity:CiIdentity", name, None, opts)
        s, names = args.settings, args.settings.names
        self._args = args
        subjects = federated_subjects(s)
        # Logical names of the deployer and previewer are unchanged so existing stacks keep them.
        self.identity = self._federated(name, names.ci_identity, [subjects["deployer"]])
        # Each job kind's identity only where such a job runs (forge:jobs): an identity no job
        # uses is a grant no operation needs.
        self.ml_operator = (
            self._federated(f"{name}-mlops", names.identity("mlops"), [subjects["ml-operator"]])
            if {"train", "promote", "deploy"} & set(s.jobs)
            else None
        )
        self.monitor = (
            self._federated(f"{name}-monitor", names.identity("monitor"), [subjects["monitor"]])
            if "drift" in s.jobs
            else None
        )
        self.preview_identity = self._federated(
            f"{name}-preview", names.preview_identity, [subjects["previewer"]]
        )

        group = {"scope": args.resource_group_id}
        # Contributor minus the actions that hand out keys (it could list storage keys and so
        # bypass shared-key-off), and, where the stack locks data stores, exactly the lock
        # actions Contributor lacks: two custom roles, since a notAction of one role cannot
        # be lifted inside it (stacks.permissions).
        for template, wanted in ((permissions.DEPLOYER, True), (permissions.LOCK_MANAGER, s.profile.strict)):
            if not wanted:
                continue
            purpose = template.name.removeprefix("mlops-forge ").replace(" ", "-")
            definition, guid = roles.define(
                f"{name}-{purpose}-role",
                template=template,
                key=(s.project, s.environment, purpose),
                label=f"{s.project}-{s.environment}",
                scope=args.resource_group_id,
                parent=self,
            )
            self._grant(f"{name}-{purpose}", "ci", self.identity, guid, depends_on=[definition], **group)
        self._grant(
            f"{name}-role-admin",
            "ci",
            self.identity,
            roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
            condition=roles.delegation_condition(),
            **group,
        )
        self._grant(f"{name}-preview-reader", "preview", self.preview_identity, roles.READER, **group)
        workspace, storage = {"scope": args.workspace_id}, {"scope": args.storage_id}
        if self.ml_operator is not None:
            self._grant(
                f"{name}-mlops-data-scientist",
                "mlops",
                self.ml_operator,
                roles.AZUREML_DATA_SCIENTIST,
                **workspace,
            )
            # The Data Scientist role reads everything in a workspace but not the workspace itself,
            # which the CLI GETs before every call.
            self._grant(f"{name}-mlops-reader", "mlops", self.ml_operator, roles.READER, **workspace)
            self._grant(
                f"{name}-mlops-blob",
                "mlops",
                self.ml_operator,
                roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                **storage,
            )
        if self.monitor is not None:
            self._grant(f"{name}-monitor-metrics", "monitor", self.monitor, roles.MONITORING_READER, **group)
            self._grant(
                f"{name}-monitor-blob", "monitor", self.monitor, roles.STORAGE_BLOB_DATA_READER, **storage
            )

        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.ml_operator_client_id = self.ml_operator.client_id if self.ml_operator is not None else ""
        self.ml_operator_principal_id = (
            self.ml_operator.principal_id if self.ml_operator is not None else None
        )
        self.monitor_client_id = self.monitor.client_id if self.monitor is not None else ""
        self.preview_client_id = self.preview_identity.client_id
        self.register_outputs(
            {
                "deployerClientId": self.client_id,
                "mlOperatorClientId": self.ml_operator_client_id,
                "monitorClientId": self.monitor_client_id,
                "previewClientId": self.preview_client_id,
            }
        )

    def _grant(
        self,
        logical_name: str,
        who: str,
        identity: managedidentity.UserAssignedIdentity,
        role: str,
        *,
        scope: pulumi.Input[str],
        condition: str | None = None,
        depends_on: list[pulumi.Resource] | None = None,
    ) -> None:
        s = self._args.settings
        roles.assign(
            logical_name,
            key=(s.project, s.environment, who)
            if who in ("ci", "preview")
            else (s.project, s.environment, who, logical_name),
            role=role,
            principal_id=identity.principal_id,
            scope=scope,
            subscription_id=self._args.subscription_id,
            parent=self,
            condition=condition,
            depends_on=depends_on,
        )

    def _federated(
        self, logical_name: str, identity_name: str, credentials: list[tuple[str, str]]
    ) -> managedidentity.UserAssignedIdentity:
        """An identity trusting each (credential name, subject) of `credentials`."""
        s = self._args.settings
        if len(credentials) > MAX_FEDERATED_CREDENTIALS:
            raise ValueError(
                f"{identity_name}: Azure allows at most {MAX_FEDERATED_CREDENTIALS} federated credentials"
            )
        child = pulumi.ResourceOptions(parent=self)
        identity = managedidentity.UserAssignedIdentity(
            f"{logical_name}-identity",
            resource_name_=identity_name,
            resource_group_name=self._args.resource_group_name,
            location=s.location,
            tags=s.tags,
            opts=child,
        )
        previous: list[pulumi.Resource] = []
        for credential_name, subject in credentials:
            # The first credential keeps the logical name existing stacks already have.
            suffix = "" if not previous else f"-{credential_name.removeprefix('github-')}"
            credential = managedidentity.FederatedIdentityCredential(
                f"{logical_name}-github{suffix}",
                federated_identity_credential_resource_name=credential_name,
                resource_name_=identity.name,
                resource_group_name=self._args.resource_group_name,
                issuer=GITHUB_ISSUER,
                audiences=[AZURE_AUDIENCE],
                subject=subject,
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            previous = [credential]
        return identity


def workload_identity(
    name: str,
    *,
    settings: EnvironmentSettings,
    purpose: str,
    resource_group_name: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    grants: tuple[tuple[str, str, pulumi.Input[str]], ...],
    parent: pulumi.Resource,
) -> tuple[managedidentity.UserAssignedIdentity, list[pulumi.Resource]]:
    """A user-assigned identity a workload runs as (clusters, runners), with its role grants.

    Azure grants a user-assigned identity nothing by itself (only system-assigned ones get AcrPull
    or blob access automatically), so every role it needs is one of `grants`: (key, role, scope).
    """
    s = settings
    identity = managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_name_=s.names.identity(purpose),
        resource_group_name=resource_group_name,
        location=s.location,
        tags=s.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    assignments = [
        roles.assign(
            f"{name}-{key}",
            key=(s.project, s.environment, purpose, key),
            role=role,
            principal_id=identity.principal_id,
            scope=scope,
            subscription_id=subscription_id,
            parent=parent,
        )
        for key, role, scope in grants
    ]
    return identity, assignments
