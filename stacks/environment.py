"""One complete ML environment: the component a generated project's program instantiates."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, monitor, resources

from stacks.compute import ComputeArgs, MlCompute
from stacks.config import EnvironmentSettings
from stacks.identity import CiIdentity, CiIdentityArgs
from stacks.monitoring import Monitoring, MonitoringArgs
from stacks.network import NetworkArgs, PrivateNetwork
from stacks.registries import ModelRegistry, RegistryArgs, registry_id
from stacks.runners import GitHubRunners, RunnerArgs
from stacks.serving import EndpointArgs, OnlineEndpoint
from stacks.workspace import MlWorkspace, WorkspaceArgs


class MlEnvironment(pulumi.ComponentResource):
    """Resource group, workspace, compute, network, registry access, alerts and CI identities of one environment."""

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
        shared_registry_id = registry_id(settings, client.subscription_id)
        workspace = MlWorkspace(
            f"{name}-ml",
            WorkspaceArgs(
                settings=settings,
                resource_group_name=group.name,
                tenant_id=client.tenant_id,
                registry_id=shared_registry_id,
            ),
            opts=child,
        )
        MlCompute(
            f"{name}-compute",
            ComputeArgs(
                settings=settings,
                resource_group_name=group.name,
                workspace_name=workspace.workspace_name,
                subscription_id=client.subscription_id,
                tenant_id=client.tenant_id,
                storage_id=workspace.storage.id,
                container_registry_id=workspace.container_registry.id,
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
                workspace_id=workspace.workspace.id,
                storage_id=workspace.storage.id,
            ),
            opts=child,
        )
        registry = ModelRegistry(
            f"{name}-models",
            RegistryArgs(
                settings=settings,
                subscription_id=client.subscription_id,
                # The ML operator promotes and deploys models only where something is served.
                users={"workspace": workspace.principal_id}
                | (
                    {"mlops": ci.ml_operator_principal_id}
                    if {"promote", "deploy"} & set(settings.jobs)
                    else {}
                ),
                deployer_principal_id=ci.principal_id,
                approvers={"workspace": workspace.principal_id}
                if settings.network.mode != "public"
                else None,
            ),
            opts=child,
        )
        self.runner_labels: list[str] = []
        network_targets: dict[str, pulumi.Input[str]] = {}
        zones: dict[str, pulumi.Input[str]] | None = None
        if settings.network.private:
            # Log Analytics and Application Insights are reached through an Azure Monitor
            # Private Link Scope: ingestion only privately, queries also from the portal.
            scope = monitor.PrivateLinkScope(
                f"{name}-monitor-scope",
                scope_name=f"ampls-{settings.project}-{settings.environment}",
                resource_group_name=group.name,
                location="global",
                access_mode_settings=monitor.AccessModeSettingsArgs(
                    ingestion_access_mode="PrivateOnly", query_access_mode="Open"
                ),
                tags=settings.tags,
                opts=child,
            )
            for key, resource_id in (
                ("logs", workspace.log_analytics.id),
                ("insights", workspace.app_insights.id),
            ):
                monitor.PrivateLinkScopedResource(
                    f"{name}-monitor-scope-{key}",
                    name=key,
                    scope_name=scope.name,
                    resource_group_name=group.name,
                    linked_resource_id=resource_id,
                    opts=child,
                )
            net = PrivateNetwork(
                f"{name}-network",
                NetworkArgs(
                    settings=settings,
                    resource_group_name=group.name,
                    targets={
                        "amlworkspace": ("workspace", workspace.workspace.id),
                        "blob": ("storage-blob", workspace.storage.id),
                        "file": ("storage-file", workspace.storage.id),
                        "vault": ("vault", workspace.key_vault.id),
                        "registry": ("registry", workspace.container_registry.id),
                        "azuremonitor": ("monitor", scope.id),
                        # The runners reach the shared registry's API (promote, deploy) here; the
                        # first `pulumi up`, by an Owner, gets the connection auto-approved.
                        "amlregistry": ("shared-registry", shared_registry_id),
                    },
                    log_analytics_id=workspace.log_analytics.id,
                ),
                opts=child,
            )
            runners = GitHubRunners(
                f"{name}-runners",
                RunnerArgs(
                    settings=settings,
                    resource_group_name=group.name,
                    subscription_id=client.subscription_id,
                    subnet_id=net.runner_subnet.id,
                    key_vault_id=workspace.key_vault.id,
                    key_vault_name=workspace.key_vault.name,
                    container_registry_id=workspace.container_registry.id,
                    container_registry_server=pulumi.Output.concat(
                        workspace.container_registry.name, ".azurecr.io"
                    ),
                    depends_on=[net.endpoints["vault"], net.endpoints["registry"]],
                    log_analytics_id=workspace.log_analytics.id,
                ),
                opts=child,
            )
            self.runner_labels = runners.labels
            zones = {zone: resource.id for zone, resource in net.zones.items()}
            if not settings.network.vnet_id:  # a VNet taken by ID is monitored by its owner
                network_targets["virtual_network"] = net.vnet_id
        monitoring = Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                settings=settings,
                resource_group_name=group.name,
                resource_group_id=group.id,
                targets={
                    "workspace": workspace.workspace.id,
                    "key_vault": workspace.key_vault.id,
                    "storage": workspace.storage.id,
                    "container_registry": workspace.container_registry.id,
                    "log_analytics": workspace.log_analytics.id,
                    **network_targets,
                },
                log_analytics_id=workspace.log_analytics.id,
                private_dns_zones=zones,
            ),
            opts=child,
        )
        self.online_endpoint: pulumi.Input[str] = ""
        if settings.online_endpoint:
            endpoint = OnlineEndpoint(
                f"{name}-serving",
                EndpointArgs(
                    settings=settings,
                    resource_group_name=group.name,
                    workspace_name=workspace.workspace_name,
                    log_analytics_id=workspace.log_analytics.id,
                    action_group_id=monitoring.action_group.id,
                ),
                opts=child,
            )
            self.online_endpoint = endpoint.endpoint.name
        self.resource_group_name = group.name
        self.workspace_name = workspace.workspace_name
        self.deployer_client_id = ci.client_id
        self.ci_client_id = ci.client_id  # the name before per-job identities; kept for existing programs
        self.ml_operator_client_id = ci.ml_operator_client_id
        self.monitor_client_id = ci.monitor_client_id
        self.preview_client_id = ci.preview_client_id
        self.registry_id = pulumi.Output.from_input(registry.registry_id)
        # The Azure ML registry every environment shares (created by the host stack, or the one
        # `registry: existing` names): `az ml model ... --registry-name` takes its name.
        self.registry_name = self.registry_id.apply(lambda rid: rid.rsplit("/", 1)[-1])
        self.workspace_allowed_ips: tuple[str, ...] = (
            settings.network.allowed_ips if settings.network.mode == "ip-allowlist" else ()
        )
        self.register_outputs(
            {
                "resourceGroup": self.resource_group_name,
                "workspace": self.workspace_name,
                "deployerClientId": self.deployer_client_id,
                "mlOperatorClientId": self.ml_operator_client_id,
                "monitorClientId": self.monitor_client_id,
                "previewClientId": self.preview_client_id,
                "runnerLabels": self.runner_labels,
            }
        )

    def outputs(self) -> dict[str, pulumi.Input]:
        """The stack outputs a generated program exports (stable names; docs/contracts.md)."""
        return {
            "resourceGroup": self.resource_group_name,
            "workspace": self.workspace_name,
            "deployerClientId": self.deployer_client_id,
            "mlOperatorClientId": self.ml_operator_client_id,
            "monitorClientId": self.monitor_client_id,
            "previewClientId": self.preview_client_id,
            "ciClientId": self.ci_client_id,
            "runnerLabels": self.runner_labels,
            "onlineEndpoint": self.online_endpoint,
            "registry": self.registry_name,
            "registryId": self.registry_id,
            # `ip-allowlist`: the addresses the workspace itself accepts. Its IP rules are set after
            # `pulumi up` by the infra workflow (stacks.workspace_ip_rules): the provider has no field.
            "workspaceAllowedIps": list(self.workspace_allowed_ips),
        }
