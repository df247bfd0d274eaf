"""Pulumi mocks that answer the way Azure does: ARM-shaped ids, the names Azure returns, GUIDs.

Used by `plan_program` and by generated projects' tests. The mock records every registration
(type, logical name, parent, inputs) so a run can be turned into a plan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TENANT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_OBJECT_ID = "22222222-2222-2222-2222-222222222222"

# token → (ARM resource type under its parent, input holding the Azure name)
ARM_TYPES: dict[str, tuple[str, str]] = {
    "azure-native:resources:ResourceGroup": ("", "resourceGroupName"),
    "azure-native:storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName"),
    "azure-native:keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName"),
    "azure-native:operationalinsights:Workspace": (
        "Microsoft.OperationalInsights/workspaces",
        "workspaceName",
    ),
    "azure-native:applicationinsights:Component": ("Microsoft.Insights/components", "resourceName"),
    "azure-native:containerregistry:Registry": ("Microsoft.ContainerRegistry/registries", "registryName"),
    "azure-native:machinelearningservices:Workspace": (
        "Microsoft.MachineLearningServices/workspaces",
        "workspaceName",
    ),
    "azure-native:machinelearningservices:Compute": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/computes",
        "computeName",
    ),
    "azure-native:machinelearningservices:OnlineEndpoint": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints",
        "endpointName",
    ),
    "azure-native:machinelearningservices:Registry": (
        "Microsoft.MachineLearningServices/registries",
        "registryName",
    ),
    "azure-native:monitor:ActionGroup": ("Microsoft.Insights/actionGroups", "actionGroupName"),
    "azure-native:monitor:MetricAlert": ("Microsoft.Insights/metricAlerts", "ruleName"),
    "azure-native:monitor:ScheduledQueryRule": ("Microsoft.Insights/scheduledQueryRules", "ruleName"),
    "azure-native:monitor:ActivityLogAlert": ("Microsoft.Insights/activityLogAlerts", "activityLogAlertName"),
    "azure-native:network:VirtualNetwork": ("Microsoft.Network/virtualNetworks", "virtualNetworkName"),
    "azure-native:network:Subnet": (
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets",
        "subnetName",
    ),
    "azure-native:network:PrivateEndpoint": ("Microsoft.Network/privateEndpoints", "privateEndpointName"),
    "azure-native:network:PrivateDnsZoneGroup": (
        "Microsoft.Network/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups",
        "privateDnsZoneGroupName",
    ),
    "azure-native:privatedns:PrivateZone": ("Microsoft.Network/privateDnsZones", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": (
        "Microsoft.Network/privateDnsZones/{privateZoneName}/virtualNetworkLinks",
        "virtualNetworkLinkName",
    ),
    "azure-native:app:ManagedEnvironment": ("Microsoft.App/managedEnvironments", "environmentName"),
    "azure-native:app:Job": ("Microsoft.App/jobs", "jobName"),
    "azure-native:monitor:PrivateLinkScope": ("microsoft.insights/privateLinkScopes", "scopeName"),
    "azure-native:monitor:PrivateLinkScopedResource": (
        "microsoft.insights/privateLinkScopes/{scopeName}/scopedResources",
        "name",
    ),
    "azure-native:managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "resourceName",
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials",
        "federatedIdentityCredentialResourceName",
    ),
}
# Extension resources live below the resource they extend (their `scope`/`resourceUri`).
EXTENSION_TYPES: dict[str, tuple[str, str, str]] = {
    "azure-native:monitor:DiagnosticSetting": (
        "resourceUri",
        "Microsoft.Insights/diagnosticSettings",
        "name",
    ),
    "azure-native:authorization:RoleAssignment": (
        "scope",
        "Microsoft.Authorization/roleAssignments",
        "roleAssignmentName",
    ),
    "azure-native:consumption:Budget": ("scope", "Microsoft.Consumption/budgets", "budgetName"),
    "azure-native:authorization:ManagementLockByScope": (
        "scope",
        "Microsoft.Authorization/locks",
        "lockName",
    ),
}


@dataclass
class Registration:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    protect: bool = False
    depends_on: tuple[str, ...] = ()  # logical names it depends on (`depends_on` and inputs)


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def arm_id(token: str, name: str, inputs: dict[str, Any]) -> str:
    """The resource ID Azure would return for a resource of `token` created with `inputs`."""
    if token in EXTENSION_TYPES:
        scope_key, arm_type, name_key = EXTENSION_TYPES[token]
        return f"{inputs.get(scope_key, '')}/providers/{arm_type}/{inputs.get(name_key, name)}"
    arm_type, name_key = ARM_TYPES.get(token, ("Microsoft.Unknown/" + token.split(":")[-1], "name"))
    azure_name = inputs.get(name_key, name)
    group = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups"
    if not arm_type:
        return f"{group}/{azure_name}"
    arm_type = arm_type.format(**{k: v for k, v in inputs.items() if isinstance(v, str)})
    return f"{group}/{inputs.get('resourceGroupName', 'rg')}/providers/{arm_type}/{azure_name}"


class AzureMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes as Azure Resource Manager would."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        if not args.custom:
            return "", inputs
        resource_id = arm_id(args.typ, args.name, inputs)
        name_key = (EXTENSION_TYPES.get(args.typ) or ARM_TYPES.get(args.typ) or (None, "name"))[-1]
        outputs = {**inputs, "id": resource_id, "name": inputs.get(name_key, args.name)}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            outputs |= {
                "principalId": _guid(resource_id, "principal"),
                "clientId": _guid(resource_id, "client"),
                "tenantId": TENANT_ID,
            }
        identity = inputs.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # Inputs list the identities' IDs; Azure answers with a map of ID → identity details.
            identity = outputs["identity"] = {
                **identity,
                "userAssignedIdentities": {
                    uid: {"principalId": _guid(uid, "principal"), "clientId": _guid(uid, "client")}
                    for uid in identity["userAssignedIdentities"]
                },
            }
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
            outputs["identity"] = {
                **identity,
                "principalId": _guid(resource_id, "principal"),
                "tenantId": TENANT_ID,
            }
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": _guid("client"),
                "objectId": CLIENT_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }
        return {}


def _logical_name(urn: str) -> str | None:
    """The logical name in a URN, or None for the stack itself (whose children are top-level)."""
    _, _, qualified_type, name = urn.split("::", 3)
    return None if qualified_type.split("$")[-1] == "pulumi:pulumi:Stack" else name


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also recording each registration's parent and inputs in order."""

    def __init__(self, mocks: AzureMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            from pulumi.runtime import rpc

            inputs = rpc.deserialize_properties(request.object)
            parent = _logical_name(request.parent) if request.parent else None
            self.registrations.append(
                Registration(
                    request.type,
                    request.name,
                    parent,
                    dict(inputs),
                    bool(request.custom),
                    bool(getattr(request, "protect", False)),
                    tuple(sorted(n for n in map(_logical_name, request.dependencies) if n)),
                )
            )
        return response
