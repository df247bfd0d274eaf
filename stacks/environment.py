"""One complete ML environment: the component a generated project's program instantiates."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from stacks.compute import ComputeArgs, MlCompute
from stacks.config import EnvironmentSettings
from stacks.identity import CiIdentity, CiIdentityArgs
from stacks.monitoring import Monitoring, MonitoringArgs
from stacks.registries import ModelRegistry, RegistryArgs
from stacks.workspace import MlWorkspace, WorkspaceArgs


class MlEnvironment(pulumi.ComponentResource):
    """Resource group, workspace, compute, registry access, alerts and the CI identity of one environment."""

    def __init__(
        self, name: str, settings: EnvironmentSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlopsforge:environment:MlEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output()

        group = resources.ResourceGroup(
            f"{name}-group",
            resource_group_name=settings.names.resource_group,
            location=settings.location,
            tags=settings.tags,
            opts=child,
        )
        workspace = MlWorkspace(
            f"{name}-ml",
            WorkspaceArgs(settings=settings, resource_group_name=group.name, tenant_id=client.tenant_id),
            opts=child,
        )
        MlCompute(
            f"{name}-compute",
            ComputeArgs(
                settings=settings, resource_group_name=group.name, workspace_name=workspace.workspace_name
            ),
            opts=child,
        )
        ci = CiIdentity(
            f"{name}-ci",
            CiIdentityArgs(
                settings=settings,
                resource_group_name=group.name,
                resource_group_id=group.id,
                subscription_id=client.subscription_id,
            ),
            opts=child,
        )
        registry = ModelRegistry(
            f"{name}-models",
            RegistryArgs(
                settings=settings,
                subscription_id=client.subscription_id,
                users={"workspace": workspace.principal_id, "ci": ci.principal_id},
            ),
            opts=child,
        )
        Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                settings=settings,
                resource_group_name=group.name,
                resource_group_id=group.id,
                targets={
                    "workspace": workspace.workspace.id,
                    "key_vault": workspace.key_vault.id,
                    "storage": workspace.storage.id,
                },
                log_analytics_id=workspace.log_analytics.id,
            ),
            opts=child,
        )
        self.resource_group_name = group.name
        self.workspace_name = workspace.workspace_name
        self.ci_client_id = ci.client_id
        self.preview_client_id = ci.preview_client_id
        self.registry_id = pulumi.Output.from_input(registry.registry_id)
        self.register_outputs(
            {
                "resourceGroup": self.resource_group_name,
                "workspace": self.workspace_name,
                "ciClientId": self.ci_client_id,
            }
        )
