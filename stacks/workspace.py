"""The Azure ML workspace and what it depends on: logs, insights, key vault, storage, registry."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    containerregistry,
    keyvault,
    machinelearningservices,
    monitor,
    operationalinsights,
    storage,
)

from stacks.config import EnvironmentSettings

# Diagnostic log categories of Microsoft.MachineLearningServices/workspaces (Azure Monitor reference).
WORKSPACE_LOG_CATEGORIES = (
    "AmlComputeClusterEvent",
    "AmlComputeClusterNodeEvent",
    "AmlComputeJobEvent",
    "AmlComputeCpuGpuUtilization",
    "AmlRunStatusChangedEvent",
)


@dataclass(frozen=True, kw_only=True)
class WorkspaceArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    tenant_id: pulumi.Input[str]


class MlWorkspace(pulumi.ComponentResource):
    """A secure Azure ML workspace with its storage, key vault, registry, logs and insights."""

    def __init__(self, name: str, args: WorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:workspace:MlWorkspace", name, None, opts)
        s, p, names = args.settings, args.settings.profile, args.settings.names
        child = pulumi.ResourceOptions(parent=self)
        common = {"resource_group_name": args.resource_group_name, "location": s.location, "tags": s.tags}

        self.log_analytics = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=names.log_analytics,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=p.log_retention_days,
            opts=child,
            **common,
        )
        self.app_insights = applicationinsights.Component(
            f"{name}-insights",
            resource_name_=names.app_insights,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=self.log_analytics.id,
            opts=child,
            **common,
        )
        self.key_vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=names.key_vault,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=p.key_vault_soft_delete_days,
                # Azure rejects an explicit `false`: purge protection can only be switched on.
                enable_purge_protection=True if p.key_vault_purge_protection else None,
            ),
            opts=child,
            **common,
        )
        self.storage = storage.StorageAccount(
            f"{name}-storage",
            account_name=names.storage_account,
            kind="StorageV2",
            sku=storage.SkuArgs(name="Standard_LRS"),
            allow_blob_public_access=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            allow_shared_key_access=not p.identity_datastores,
            opts=child,
            **common,
        )
        self.container_registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=names.container_registry,
            sku=containerregistry.SkuArgs(name=p.container_registry_sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access="Disabled" if p.private_network else "Enabled",
            opts=child,
            **common,
        )
        self.workspace = machinelearningservices.Workspace(
            f"{name}-workspace",
            workspace_name=names.ml_workspace,
            friendly_name=f"{s.project} ({s.environment})",
            sku=machinelearningservices.SkuArgs(name="Basic", tier="Basic"),
            identity=machinelearningservices.ManagedServiceIdentityArgs(type="SystemAssigned"),
            storage_account=self.storage.id,
            key_vault=self.key_vault.id,
            application_insights=self.app_insights.id,
            container_registry=self.container_registry.id,
            system_datastores_auth_mode="identity" if p.identity_datastores else "accessKey",
            public_network_access="Disabled" if p.private_network else "Enabled",
            managed_network=machinelearningservices.ManagedNetworkSettingsArgs(
                isolation_mode="AllowOnlyApprovedOutbound" if p.private_network else "Disabled"
            ),
            opts=child,
            **common,
        )
        self._send_logs(f"{name}-workspace-diagnostics", self.workspace.id, WORKSPACE_LOG_CATEGORIES)
        self._send_logs(f"{name}-vault-diagnostics", self.key_vault.id, ("AuditEvent",))
        self.workspace_name = self.workspace.name
        self.principal_id = self.workspace.identity.apply(lambda i: i.principal_id if i else None)
        self.register_outputs({"workspaceId": self.workspace.id, "logAnalyticsId": self.log_analytics.id})

    def _send_logs(
        self, logical_name: str, resource_id: pulumi.Input[str], categories: tuple[str, ...]
    ) -> None:
        """Diagnostic logs and metrics of a resource into resource-specific Log Analytics tables."""
        monitor.DiagnosticSetting(
            logical_name,
            name="to-log-analytics",
            resource_uri=resource_id,
            workspace_id=self.log_analytics.id,
            log_analytics_destination_type="Dedicated",
            logs=[monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in categories],
            metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
            opts=pulumi.ResourceOptions(parent=self),
        )
