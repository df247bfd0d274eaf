"""The Azure ML registry that models are promoted through, shared by every environment.

With `registry: create`, the environment marked `registryHost` creates it in its own resource
group (so tearing down that environment keeps it); the others reference it by its resource ID.
With `registry: existing`, every environment references the given ID.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import resources

from stacks import naming, roles
from stacks.config import EnvironmentSettings


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    settings: EnvironmentSettings
    subscription_id: pulumi.Input[str]
    # Principal IDs (logical name → id) that need to read and write registry assets.
    users: dict[str, pulumi.Input[str]]


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
        else:
            self.registry_id = pulumi.Output.concat(
                "/subscriptions/",
                args.subscription_id,
                f"/resourceGroups/{group_name}",
                f"/providers/Microsoft.MachineLearningServices/registries/{registry_name}",
            )

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
        self.register_outputs({"registryId": self.registry_id})
