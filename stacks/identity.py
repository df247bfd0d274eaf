"""The identity GitHub Actions uses in one environment: OIDC federation, no secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import managedidentity

from stacks import roles
from stacks.config import EnvironmentSettings

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"


def github_subject(repository: str, environment: str) -> str:
    """Only jobs bound to this GitHub environment of this repository can use the identity."""
    return f"repo:{repository}:environment:{environment}"


def preview_environment(environment: str) -> str:
    """The GitHub environment pull-request previews run in: no reviewers, read-only identity."""
    return f"{environment}-preview"


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]


class CiIdentity(pulumi.ComponentResource):
    """Two user-assigned identities, each federated with one GitHub environment.

    The deployer (GitHub environment `<env>`, where prod has required reviewers) may manage this
    environment's resource group (Contributor) and grant only the roles the stack itself grants
    (Role Based Access Control Administrator, constrained by a condition). The previewer
    (`<env>-preview`, used by pull requests) can only read (Reader), so a pull request never
    holds credentials that could change an environment, and prod previews need no approval.
    """

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:identity:CiIdentity", name, None, opts)
        s = args.settings
        self._args = args
        self.identity = self._federated(f"{name}", s.names.ci_identity, s.environment)
        self.preview_identity = self._federated(
            f"{name}-preview", s.names.preview_identity, preview_environment(s.environment)
        )
        common = {"scope": args.resource_group_id, "subscription_id": args.subscription_id, "parent": self}
        deployer = {"key": (s.project, s.environment, "ci"), "principal_id": self.identity.principal_id}
        roles.assign(f"{name}-contributor", role=roles.CONTRIBUTOR, **deployer, **common)
        roles.assign(
            f"{name}-role-admin",
            role=roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
            condition=roles.delegation_condition(),
            **deployer,
            **common,
        )
        roles.assign(
            f"{name}-preview-reader",
            key=(s.project, s.environment, "preview"),
            role=roles.READER,
            principal_id=self.preview_identity.principal_id,
            **common,
        )
        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.preview_client_id = self.preview_identity.client_id
        self.register_outputs({"clientId": self.client_id, "previewClientId": self.preview_client_id})

    def _federated(
        self, logical_name: str, identity_name: str, github_environment: str
    ) -> managedidentity.UserAssignedIdentity:
        s = self._args.settings
        child = pulumi.ResourceOptions(parent=self)
        identity = managedidentity.UserAssignedIdentity(
            f"{logical_name}-identity",
            resource_name_=identity_name,
            resource_group_name=self._args.resource_group_name,
            location=s.location,
            tags=s.tags,
            opts=child,
        )
        managedidentity.FederatedIdentityCredential(
            f"{logical_name}-github",
            federated_identity_credential_resource_name=f"github-{github_environment}",
            resource_name_=identity.name,
            resource_group_name=self._args.resource_group_name,
            issuer=GITHUB_ISSUER,
            audiences=[AZURE_AUDIENCE],
            subject=github_subject(s.github_repository, github_environment),
            opts=child,
        )
        return identity
