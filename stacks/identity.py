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


@dataclass(frozen=True, kw_only=True)
class CiIdentityArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]


class CiIdentity(pulumi.ComponentResource):
    """A user-assigned identity federated with one GitHub environment.

    It may manage this environment's resource group (Contributor) and grant only the roles the
    stack itself grants (Role Based Access Control Administrator, constrained by a condition).
    """

    def __init__(self, name: str, args: CiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:identity:CiIdentity", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=s.names.ci_identity,
            resource_group_name=args.resource_group_name,
            location=s.location,
            tags=s.tags,
            opts=child,
        )
        managedidentity.FederatedIdentityCredential(
            f"{name}-github",
            federated_identity_credential_resource_name=f"github-{s.environment}",
            resource_name_=self.identity.name,
            resource_group_name=args.resource_group_name,
            issuer=GITHUB_ISSUER,
            audiences=[AZURE_AUDIENCE],
            subject=github_subject(s.github_repository, s.environment),
            opts=child,
        )
        key = (s.project, s.environment, "ci")
        common = {
            "principal_id": self.identity.principal_id,
            "scope": args.resource_group_id,
            "subscription_id": args.subscription_id,
            "parent": self,
        }
        roles.assign(f"{name}-contributor", key=key, role=roles.CONTRIBUTOR, **common)
        roles.assign(
            f"{name}-role-admin",
            key=key,
            role=roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
            condition=roles.delegation_condition(),
            **common,
        )
        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.register_outputs({"clientId": self.client_id})
