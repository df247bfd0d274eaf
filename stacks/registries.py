"""The Azure ML registry that models are promoted through, shared by every environment.

With `registry: create`, the environment marked `registryHost` creates it in its own resource
group (so tearing down that environment keeps it); the others reference it by its resource ID.
With `registry: existing`, every environment references the given ID.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, resources
from pulumi_azure_native import machinelearningservices as ml

from stacks import naming, permissions, roles
from stacks.config import EnvironmentSettings


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    settings: EnvironmentSettings
    subscription_id: pulumi.Input[str]
    # Principal IDs (logical name → id) that need to read and write registry assets.
    users: dict[str, pulumi.Input[str]]
    # The hosting environment's deployer manages the registry's resource group (tags, registry).
    deployer_principal_id: pulumi.Input[str] | None = None
    # Principals that approve the private endpoint a managed network opens to the registry.
    approvers: dict[str, pulumi.Input[str]] | None = None


def registry_id(settings: EnvironmentSettings, subscription_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The shared registry's resource ID, known before it exists (it is named, not generated)."""
    if settings.registry_mode == "existing":
        return pulumi.Output.from_input(settings.registry_id or "")
    group_name, registry_name = naming.registry_names(settings.project, seed=settings.github_repository)
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        f"/resourceGroups/{group_name}",
        f"/providers/Microsoft.MachineLearningServices/registries/{registry_name}",
    )


class ModelRegistry(pulumi.ComponentResource):
    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:registries:ModelRegistry", name, None, opts)
        s = args.settings
        group_name, registry_name = naming.registry_names(s.project, seed=s.github_repository)
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)

        if s.registry_mode == "existing":
            self.registry_id: pulumi.Input[str] = s.registry_id or ""
        elif s.registry_host:
            group = resources.ResourceGroup(
                f"{name}-group",
                resource_group_name=group_name,
                location=s.location,
                tags={**s.tags, "environment": "shared"},
                opts=keep,
            )
            registry = ml.Registry(
                f"{name}-registry",
                registry_name=registry_name,
                resource_group_name=group.name,
                location=s.location,
                identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
                # Public, behind Entra ID (AzureML Registry User): the hosting environment's
                # hosted runners and every public environment reach it this way; private ones
                # through their own private endpoint (`amlregistry`). docs/stacks.md.
                public_network_access="Enabled",
                region_details=[
                    ml.RegistryRegionArmDetailsArgs(
                        location=s.location,
                        acr_details=[
                            ml.AcrDetailsArgs(
                                system_created_acr_account=ml.SystemCreatedAcrAccountArgs(
                                    acr_account_sku="Premium"
                                )
                            )
                        ],
                        storage_account_details=[
                            ml.StorageAccountDetailsArgs(
                                system_created_storage_account=ml.SystemCreatedStorageAccountArgs(
                                    storage_account_type="Standard_LRS",
                                    storage_account_hns_enabled=False,
                                    allow_blob_public_access=False,
                                )
                            )
                        ],
                    )
                ],
                tags={**s.tags, "environment": "shared"},
                opts=keep,
            )
            self.registry_id = registry.id
            # The registry holds every promoted model: protect it like the other data stores.
            authorization.ManagementLockByScope(
                f"{name}-lock",
                lock_name="do-not-delete",
                level="CanNotDelete",
                scope=registry.id,
                notes="The shared Azure ML registry; every environment deploys from it.",
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.deployer_principal_id is not None:
                # CI manages the group it hosts (re-tagging on template updates needs write
                # access, refreshing the registry's lock the lock actions): the same two custom
                # roles as in the environment's own group, assignable only here.
                grants: list[tuple[str, str, str | None, list[pulumi.Resource]]] = []
                for template in (permissions.DEPLOYER, permissions.LOCK_MANAGER):
                    purpose = template.name.removeprefix("mlops-forge ").replace(" ", "-")
                    definition, guid = roles.define(
                        f"{name}-group-{purpose}-role",
                        template=template,
                        key=(s.project, "registry-group", purpose),
                        label=f"{s.project} registry",
                        scope=group.id,
                        parent=self,
                    )
                    grants.append((purpose, guid, None, [definition]))
                grants.append(
                    (
                        "role-admin",
                        roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
                        roles.delegation_condition(),
                        [],
                    )
                )
                for key, role, condition, depends_on in grants:
                    roles.assign(
                        f"{name}-group-{key}",
                        key=(s.project, s.environment, "registry-group", key),
                        role=role,
                        principal_id=args.deployer_principal_id,
                        scope=group.id,
                        subscription_id=args.subscription_id,
                        parent=self,
                        condition=condition,
                        depends_on=depends_on,
                    )
        else:
            self.registry_id = registry_id(s, args.subscription_id)

        for user, principal_id in args.users.items():
            roles.assign(
                f"{name}-{user}-registry-user",
                key=(s.project, s.environment, "registry", user),
                role=roles.AZUREML_REGISTRY_USER,
                principal_id=principal_id,
                scope=self.registry_id,
                subscription_id=args.subscription_id,
                parent=self,
            )
        # The managed network's private endpoint to this registry is approved by the workspace
        # identity: Microsoft's managed-network page ("Workspace managed virtual network
        # isolation", prerequisites and "Approval of private endpoints", 2025-05) names this role
        # and lists "Azure Machine Learning registry" among the targets it covers. The role's
        # published definition of 2024-12 lists no `registries` action yet; docs/stacks.md says
        # how to check the live one.
        for who, principal_id in (args.approvers or {}).items():
            roles.assign(
                f"{name}-{who}-approver",
                key=(s.project, s.environment, "registry-approver", who),
                role=roles.NETWORK_CONNECTION_APPROVER,
                principal_id=principal_id,
                scope=self.registry_id,
                subscription_id=args.subscription_id,
                parent=self,
            )
        self.register_outputs({"registryId": self.registry_id})
