"""The Azure ML workspace and what it depends on: logs, insights, key vault, storage, registry.

Network modes (`forge:networkMode`): `private` turns public network access off on the
workspace, storage, Key Vault and container registry (they are reached through private
endpoints, `stacks.network`); `ip-allowlist` keeps them public but lets only the listed
addresses in (the workspace API in pulumi-azure-native 3.29 has no IP rules, so the workspace
itself stays open: docs/stacks.md); `public` restricts nothing.

Lifecycle: in strict environments the stateful data resources (storage, Key Vault, container
registry) carry `CanNotDelete` locks, but not the workspace or its resource group: Microsoft's
managed-network documentation asks for no scope locks there, since the managed network's own
operations would be blocked. Pulumi's `protect` covers the workspace instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import (
    applicationinsights,
    authorization,
    containerregistry,
    keyvault,
    machinelearningservices,
    operationalinsights,
    storage,
)

from stacks.config import EnvironmentSettings
from stacks.diagnostics import send_logs

# The shared Azure ML registry's private-endpoint sub-resource, for the managed network's rule.
REGISTRY_SUBRESOURCE = "amlregistry"
# Built-in Azure Policy "Storage accounts should prevent shared key access" (Azure/azure-policy,
# built-in-policies/policyDefinitions/Storage/StorageAccountAllowSharedKeyAccess_Audit.json):
# effect Audit, Deny or Disabled on `allowSharedKeyAccess == true`.
DENY_SHARED_KEY_POLICY = (
    "/providers/Microsoft.Authorization/policyDefinitions/8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"
)


@dataclass(frozen=True, kw_only=True)
class WorkspaceArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    registry_id: pulumi.Input[str] | None = None  # reached from the managed network by private endpoint


class MlWorkspace(pulumi.ComponentResource):
    """A secure Azure ML workspace with its storage, key vault, registry, logs and insights."""

    def __init__(self, name: str, args: WorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:workspace:MlWorkspace", name, None, opts)
        s, p, names, n = args.settings, args.settings.profile, args.settings.names, args.settings.network
        self._strict = p.strict
        child = pulumi.ResourceOptions(parent=self)
        common = {"resource_group_name": args.resource_group_name, "location": s.location, "tags": s.tags}

        self.log_analytics = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=names.log_analytics,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=p.log_retention_days,
            # Private mode: ingestion only through the Monitor private link scope; queries stay
            # open so people can read logs and alerts in the portal.
            public_network_access_for_ingestion="Disabled" if n.private else "Enabled",
            public_network_access_for_query="Enabled",
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
            public_network_access_for_ingestion="Disabled" if n.private else "Enabled",
            public_network_access_for_query="Enabled",
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
                public_network_access="Disabled" if n.private else "Enabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Deny",
                    bypass="AzureServices",
                    ip_rules=[keyvault.IPRuleArgs(value=ip) for ip in n.allowed_ips],
                )
                if n.mode != "public"
                else None,
            ),
            opts=self._stateful(child),
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
            public_network_access="Disabled" if n.private else "Enabled",
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action="Deny",
                bypass="AzureServices",
                ip_rules=[
                    storage.IPRuleArgs(i_p_address_or_range=ip, action="Allow") for ip in n.allowed_ips
                ],
            )
            if n.mode != "public"
            else None,
            opts=self._stateful(child),
            **common,
        )
        self.container_registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=names.container_registry,
            sku=containerregistry.SkuArgs(name=p.container_registry_sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access="Disabled" if n.private else "Enabled",
            network_rule_bypass_options="AzureServices",
            network_rule_set=containerregistry.NetworkRuleSetArgs(
                default_action="Deny",
                ip_rules=[
                    containerregistry.IPRuleArgs(i_p_address_or_range=ip, action="Allow")
                    for ip in n.allowed_ips
                ],
            )
            if n.mode == "ip-allowlist"
            else None,
            opts=self._stateful(child),
            **common,
        )
        # ip-allowlist keeps the managed network too: only the inbound side is public. Compute
        # then has no public IP and reaches the firewalled storage through the network's own
        # private endpoints ("Workspace managed virtual network isolation", "Scenario: Enable
        # access from selected IP addresses").
        managed = n.mode != "public"
        outbound = (
            {
                # Environments are built once (in the first environment, with internet access)
                # and shared through the registry; this path is all prod needs, so it runs
                # without FQDN rules or the managed firewall they require (docs/stacks.md).
                "shared-registry": machinelearningservices.PrivateEndpointOutboundRuleArgs(
                    type="PrivateEndpoint",
                    category="UserDefined",
                    destination=machinelearningservices.PrivateEndpointDestinationArgs(
                        service_resource_id=args.registry_id, subresource_target=REGISTRY_SUBRESOURCE
                    ),
                )
            }
            if managed and args.registry_id is not None
            else None
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
            public_network_access="Disabled" if n.private else "Enabled",
            managed_network=machinelearningservices.ManagedNetworkSettingsArgs(
                isolation_mode="AllowOnlyApprovedOutbound" if managed else "Disabled",
                outbound_rules=outbound,
            ),
            # Isolation can only be tightened after creation: provision it with the workspace.
            provision_network_now=True if managed else None,
            # A private registry cannot build images through ACR Tasks on the public path; the
            # CPU cluster (inside the managed network) builds them instead.
            image_build_compute=names.cpu_cluster,
            # Managed-network docs: no scope lock on the workspace; `protect` keeps it in strict ones.
            opts=pulumi.ResourceOptions(parent=self, protect=p.strict),
            **common,
        )
        # allLogs and metrics of every resource that has them, into the environment's workspace.
        # (Application Insights is workspace-based: its telemetry is in the workspace already.)
        for key, resource_id in (
            ("workspace", self.workspace.id),
            ("vault", self.key_vault.id),
            ("registry", self.container_registry.id),
            ("logs", self.log_analytics.id),
        ):
            self._send_logs(f"{name}-{key}-diagnostics", resource_id)
        # A storage account's logs are per service; the account itself has metrics only.
        self._send_logs(f"{name}-storage-diagnostics", self.storage.id, logs=False)
        for service in ("blobServices", "fileServices"):
            self._send_logs(
                f"{name}-storage-{service.removesuffix('Services')}-diagnostics",
                pulumi.Output.concat(self.storage.id, f"/{service}/default"),
            )
        if p.identity_datastores:
            # The deployer's role cannot list keys, but storageAccounts/write could still switch
            # shared keys back on; Deny refuses that change for everyone, Owners included. Written
            # by the bootstrapping Owner (policyAssignments/write); the deployer cannot remove it.
            authorization.PolicyAssignment(
                f"{name}-storage-no-shared-key",
                policy_assignment_name="deny-storage-shared-key",
                display_name="Storage accounts should prevent shared key access (Deny)",
                scope=self.storage.id,
                policy_definition_id=DENY_SHARED_KEY_POLICY,
                parameters={"effect": authorization.ParameterValuesValueArgs(value="Deny")},
                enforcement_mode="Default",
                opts=child,
            )
        if p.strict:
            self.lock(name)
        self.workspace_name = self.workspace.name
        self.principal_id = self.workspace.identity.apply(lambda i: i.principal_id if i else None)
        self.register_outputs({"workspaceId": self.workspace.id, "logAnalyticsId": self.log_analytics.id})

    def _stateful(self, child: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=self._strict))

    def lock(self, name: str) -> None:
        """CanNotDelete on the resources that hold data (strict environments), never on the workspace."""
        for key, resource in (
            ("storage", self.storage),
            ("vault", self.key_vault),
            ("registry", self.container_registry),
        ):
            authorization.ManagementLockByScope(
                f"{name}-{key}-lock",
                lock_name="do-not-delete",
                level="CanNotDelete",
                scope=resource.id,
                notes="Holds this environment's data; remove deliberately before a destroy.",
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _send_logs(self, logical_name: str, resource_id: pulumi.Input[str], *, logs: bool = True) -> None:
        send_logs(
            logical_name, resource_id=resource_id, workspace_id=self.log_analytics.id, parent=self, logs=logs
        )
