"""The one table of access facts: Azure built-in roles and what each CI operation needs.

Two readers depend on it: `mlops-forge plan --access` (which identity holds which role, and
whether every operation a workflow job performs is granted and reachable) and the end-to-end
Azure test double (which refuses a call the caller's roles don't grant). Keeping the facts here,
once, means the matrix and the double cannot disagree.

Role definitions are copied from Microsoft's "Azure built-in roles" reference (actions,
notActions, dataActions, notDataActions exactly as published, each citing its page). Operation
rows name the Azure RBAC actions the Azure ML CLI v2 / storage SDK call needs, citing the page
that documents them. `grants` matches the way Azure RBAC does: case-insensitive, `*` matches
any run of characters (including `/`), notActions subtract from actions, and data actions are
only ever granted by dataActions (control-plane wildcards such as Contributor's `*` never
reach data: "Azure RBAC: control and data actions").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ROLES_DOC = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles"


@dataclass(frozen=True, kw_only=True)
class RoleDefinition:
    name: str
    guid: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    source: str


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One Azure call a workflow step makes.

    `plane` says which endpoint it reaches, which decides the network path: `arm` is Azure
    Resource Manager (management.azure.com, public even when the environment is private);
    `workspace`, `storage`, `registry`, `endpoint` and `key-vault` are data planes that a private
    environment only serves through its private endpoints. `scope` names the resource whose
    role assignments decide it (see `stacks.identity` for where each identity's roles sit).
    """

    name: str
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    plane: str
    scope: str
    source: str


PLANES = ("arm", "monitor", "workspace", "storage", "registry", "endpoint", "key-vault")
# Planes that stay public when the environment's resources are private.
PUBLIC_PLANES = frozenset({"arm", "monitor"})

CONTRIBUTOR = RoleDefinition(
    name="Contributor",
    guid="b24988ac-6180-42a0-ab88-20f7382dd24c",
    actions=("*",),
    not_actions=(
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ),
    source=f"{_ROLES_DOC}/privileged#contributor",
)
READER = RoleDefinition(
    name="Reader",
    guid="acdd72a7-3385-48ef-bd42-f606fba81ae7",
    actions=("*/read",),
    source=f"{_ROLES_DOC}/general#reader",
)
ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR = RoleDefinition(
    name="Role Based Access Control Administrator",
    guid="f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    actions=(
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "*/read",
        "Microsoft.Support/*",
    ),
    source=f"{_ROLES_DOC}/privileged#role-based-access-control-administrator",
)
AZUREML_DATA_SCIENTIST = RoleDefinition(
    name="AzureML Data Scientist",
    guid="f6c7c914-8db3-469d-8ca1-694a8f32e121",
    actions=(
        "Microsoft.MachineLearningServices/workspaces/*/read",
        "Microsoft.MachineLearningServices/workspaces/*/action",
        "Microsoft.MachineLearningServices/workspaces/*/delete",
        "Microsoft.MachineLearningServices/workspaces/*/write",
    ),
    not_actions=(
        "Microsoft.MachineLearningServices/workspaces/delete",
        "Microsoft.MachineLearningServices/workspaces/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
        "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/hubs/write",
        "Microsoft.MachineLearningServices/workspaces/hubs/delete",
        "Microsoft.MachineLearningServices/workspaces/featurestores/write",
        "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
    ),
    source=f"{_ROLES_DOC}/ai-machine-learning#azureml-data-scientist",
)
AZUREML_REGISTRY_USER = RoleDefinition(
    name="AzureML Registry User",
    guid="1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
    actions=(
        "Microsoft.MachineLearningServices/registries/read",
        "Microsoft.MachineLearningServices/registries/assets/*",
    ),
    source=f"{_ROLES_DOC}/ai-machine-learning#azureml-registry-user",
)
AZURE_AI_ENTERPRISE_NETWORK_CONNECTION_APPROVER = RoleDefinition(
    name="Azure AI Enterprise Network Connection Approver",
    guid="b556d68e-0be0-4f35-a333-ad7ee1ce17ea",
    actions=(
        "Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action",
        "Microsoft.ContainerRegistry/registries/privateEndpointConnections/read",
        "Microsoft.ContainerRegistry/registries/privateEndpointConnections/write",
        "Microsoft.Cache/redis/read",
        "Microsoft.Cache/redis/privateEndpointConnections/read",
        "Microsoft.Cache/redis/privateEndpointConnections/write",
        "Microsoft.Cache/redis/privateLinkResources/read",
        "Microsoft.Cache/redis/privateEndpointConnectionsApproval/action",
        "Microsoft.Cache/redisEnterprise/read",
        "Microsoft.Cache/redisEnterprise/privateEndpointConnections/read",
        "Microsoft.Cache/redisEnterprise/privateEndpointConnections/write",
        "Microsoft.Cache/redisEnterprise/privateLinkResources/read",
        "Microsoft.Cache/redisEnterprise/privateEndpointConnectionsApproval/action",
        "Microsoft.CognitiveServices/accounts/read",
        "Microsoft.CognitiveServices/accounts/privateEndpointConnections/read",
        "Microsoft.CognitiveServices/accounts/privateEndpointConnections/write",
        "Microsoft.CognitiveServices/accounts/privateLinkResources/read",
        "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnectionsApproval/action",
        "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/read",
        "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
        "Microsoft.DocumentDB/databaseAccounts/privateLinkResources/read",
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action",
        "Microsoft.KeyVault/vaults/privateEndpointConnections/read",
        "Microsoft.KeyVault/vaults/privateEndpointConnections/write",
        "Microsoft.KeyVault/vaults/privateLinkResources/read",
        "Microsoft.KeyVault/vaults/read",
        "Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionsApproval/action",
        "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/read",
        "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write",
        "Microsoft.MachineLearningServices/workspaces/privateLinkResources/read",
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.Storage/storageAccounts/privateEndpointConnections/read",
        "Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
        "Microsoft.Storage/storageAccounts/privateLinkResources/read",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Sql/servers/privateEndpointConnectionsApproval/action",
        "Microsoft.Sql/servers/privateEndpointConnections/read",
        "Microsoft.Sql/servers/privateEndpointConnections/write",
        "Microsoft.Sql/servers/privateLinkResources/read",
        "Microsoft.Sql/servers/read",
    ),
    source=f"{_ROLES_DOC}/ai-machine-learning#azure-ai-enterprise-network-connection-approver",
)
STORAGE_BLOB_DATA_CONTRIBUTOR = RoleDefinition(
    name="Storage Blob Data Contributor",
    guid="ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ),
    data_actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ),
    source=f"{_ROLES_DOC}/storage#storage-blob-data-contributor",
)
STORAGE_BLOB_DATA_READER = RoleDefinition(
    name="Storage Blob Data Reader",
    guid="2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    actions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ),
    data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",),
    source=f"{_ROLES_DOC}/storage#storage-blob-data-reader",
)
ACR_PULL = RoleDefinition(
    name="AcrPull",
    guid="7f951dda-4ed3-4680-a7ca-43fe172d538d",
    actions=("Microsoft.ContainerRegistry/registries/pull/read",),
    source=f"{_ROLES_DOC}/containers#acrpull",
)
KEY_VAULT_SECRETS_USER = RoleDefinition(
    name="Key Vault Secrets User",
    guid="4633458b-17de-408a-b874-0445c86b69e6",
    data_actions=(
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ),
    source=f"{_ROLES_DOC}/security#key-vault-secrets-user",
)
MONITORING_READER = RoleDefinition(
    name="Monitoring Reader",
    guid="43d0d8ad-25c7-4714-9337-8ba259a9fe05",
    actions=("*/read", "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*"),
    source=f"{_ROLES_DOC}/monitor#monitoring-reader",
)

# ---------------------------------------------------------------------------------------------
# Custom roles the stack defines (authorization.RoleDefinition), so the deployer holds exactly
# what `pulumi up` needs. Azure's rule: an action is granted by a role when it matches the role's
# actions and none of the SAME role's notActions; across roles the grants add up. A notAction
# therefore never removes what another role grants, and one role cannot grant lock writes while
# copying Contributor's `Microsoft.Authorization/*/Write` notAction: hence two roles.
# ---------------------------------------------------------------------------------------------
_PERMISSIONS_DOC = "https://learn.microsoft.com/azure/role-based-access-control/permissions"
# Actions that hand out a resource's keys or key-signed tokens: each would let the deployer
# bypass identity-only access (shared keys off, no ACR admin user, no endpoint keys). Names from
# Microsoft's "Azure permissions" pages for each provider, for the resource types the stack creates.
KEY_ACTIONS = (
    # storage.md#microsoftstorage
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Storage/storageAccounts/regenerateKey/action",
    "Microsoft.Storage/storageAccounts/listAccountSas/action",
    "Microsoft.Storage/storageAccounts/listServiceSas/action",
    # containers.md#microsoftcontainerregistry: admin-user and token passwords
    "Microsoft.ContainerRegistry/registries/listCredentials/action",
    "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
    "Microsoft.ContainerRegistry/registries/generateCredentials/action",
    # monitor.md#microsoftoperationalinsights: the workspace keys agents send logs with
    "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
    # ai-machine-learning.md#microsoftmachinelearningservices: the workspace's stored keys
    # (storage, registry, insights) and online-endpoint keys
    "Microsoft.MachineLearningServices/workspaces/listKeys/action",
    "Microsoft.MachineLearningServices/workspaces/listStorageAccountKeys/action",
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action",
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/regenerateKeys/action",
    "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
    "Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action",
)
# Management locks ("Lock your resources", who can create or delete locks: `Microsoft.Authorization/locks/*`).
LOCK_ACTIONS = (
    "Microsoft.Authorization/locks/read",
    "Microsoft.Authorization/locks/write",
    "Microsoft.Authorization/locks/delete",
)
_LOCKS_DOC = "https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources"

# Templates: the stack gives each a GUID and a tenant-unique name per environment
# (stacks.roles.define); `custom_role` reads them back from a plan.
DEPLOYER = RoleDefinition(
    name="mlops-forge deployer",
    guid="",
    actions=CONTRIBUTOR.actions,
    not_actions=CONTRIBUTOR.not_actions + KEY_ACTIONS,
    source=f"{_ROLES_DOC}/privileged#contributor (minus {_PERMISSIONS_DOC} key actions)",
)
LOCK_MANAGER = RoleDefinition(
    name="mlops-forge lock manager",
    guid="",
    actions=LOCK_ACTIONS,
    source=_LOCKS_DOC,
)
CUSTOM_TEMPLATES = (DEPLOYER, LOCK_MANAGER)
ROLE_DEFINITION_TYPE = "azure-native:authorization:RoleDefinition"


def custom_role(properties: dict) -> RoleDefinition:
    """A custom role as a plan holds it (the inputs of an `authorization.RoleDefinition`).

    The test double and `plan --access` read the stack's own role definitions through this, so
    `grants` judges a custom role exactly as it judges a built-in one.
    """
    permissions = (properties.get("permissions") or [{}])[0]
    return RoleDefinition(
        name=str(properties.get("roleName", "")),
        guid=str(properties.get("roleDefinitionId", "")).lower(),
        actions=tuple(permissions.get("actions") or ()),
        not_actions=tuple(permissions.get("notActions") or ()),
        data_actions=tuple(permissions.get("dataActions") or ()),
        not_data_actions=tuple(permissions.get("notDataActions") or ()),
        source="custom role defined by the stack",
    )


def held(guids: object, definitions: dict[str, dict] | None = None) -> list[RoleDefinition]:
    """The roles behind role-definition GUIDs: built-in ones from this table, custom ones from
    `definitions` (GUID → the plan's `authorization.RoleDefinition` inputs). Unknown GUIDs are
    skipped: a role this table cannot judge grants nothing."""
    custom = {g.lower(): custom_role(p) for g, p in (definitions or {}).items()}
    found = []
    for guid in guids:  # type: ignore[attr-defined]
        role = ROLES_BY_GUID.get(str(guid).lower()) or custom.get(str(guid).lower())
        if role is not None:
            found.append(role)
    return found


def custom_roles(resources: object) -> dict[str, RoleDefinition]:
    """GUID → custom role for every role definition among `resources` (a plan's resources)."""
    found = {}
    for resource in resources:  # type: ignore[attr-defined]
        if getattr(resource, "type", None) == ROLE_DEFINITION_TYPE:
            role = custom_role(resource.properties)
            found[role.guid] = role
    return found


ROLES: dict[str, RoleDefinition] = {
    r.name: r
    for r in (
        CONTRIBUTOR,
        READER,
        ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR,
        AZUREML_DATA_SCIENTIST,
        AZUREML_REGISTRY_USER,
        AZURE_AI_ENTERPRISE_NETWORK_CONNECTION_APPROVER,
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        STORAGE_BLOB_DATA_READER,
        ACR_PULL,
        KEY_VAULT_SECRETS_USER,
        MONITORING_READER,
    )
}
ROLES_BY_GUID: dict[str, RoleDefinition] = {r.guid: r for r in ROLES.values()}

_ML = "Microsoft.MachineLearningServices"
_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_ML_ROLES_DOC = "https://learn.microsoft.com/azure/machine-learning/how-to-assign-roles"
_ML_PERMISSIONS_DOC = (
    "https://learn.microsoft.com/azure/role-based-access-control/permissions/"
    "ai-machine-learning#microsoftmachinelearningservices"
)
_BLOB_DOC = (
    "https://learn.microsoft.com/rest/api/storageservices/"
    "authorize-with-azure-active-directory#permissions-for-calling-data-operations"
)
_REGISTRY_DOC = "https://learn.microsoft.com/azure/machine-learning/how-to-manage-registries"
_ENDPOINT_DOC = "https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint"
_WORKSPACE_READ = f"{_ML}/workspaces/read"


def _ml(name: str, *actions: str, plane: str = "arm") -> Operation:
    # The CLI resolves the workspace (a GET on it) before every workspace-scoped call.
    return Operation(
        name=name,
        actions=(_WORKSPACE_READ, *actions),
        plane=plane,
        scope="workspace",
        source=_ML_PERMISSIONS_DOC,
    )


_OPERATIONS = (
    _ml("az ml job create", f"{_ML}/workspaces/jobs/write"),
    _ml("az ml job show", f"{_ML}/workspaces/jobs/read"),
    # Streaming logs and listing outputs go to the workspace's own data plane (run history).
    _ml("az ml job stream", f"{_ML}/workspaces/jobs/read", plane="workspace"),
    _ml("az ml job download", f"{_ML}/workspaces/jobs/read", plane="workspace"),
    _ml("az ml data create", f"{_ML}/workspaces/data/versions/write"),
    _ml("az ml data show", f"{_ML}/workspaces/data/versions/read"),
    _ml("az ml data list", f"{_ML}/workspaces/data/versions/read"),
    _ml("az ml data download", f"{_ML}/workspaces/data/versions/read"),
    _ml("az ml model list", f"{_ML}/workspaces/models/versions/read"),
    _ml("az ml model download", f"{_ML}/workspaces/models/versions/read"),
    _ml("az ml online-endpoint show", f"{_ML}/workspaces/onlineEndpoints/read"),
    _ml("az ml online-endpoint list", f"{_ML}/workspaces/onlineEndpoints/read"),
    _ml("az ml online-endpoint update", f"{_ML}/workspaces/onlineEndpoints/write"),
    _ml("az ml online-deployment show", f"{_ML}/workspaces/onlineEndpoints/deployments/read"),
    _ml("az ml online-deployment list", f"{_ML}/workspaces/onlineEndpoints/deployments/read"),
    _ml("az ml online-deployment delete", f"{_ML}/workspaces/onlineEndpoints/deployments/delete"),
    _ml("az ml batch-endpoint show", f"{_ML}/workspaces/batchEndpoints/read"),
    _ml("az ml batch-endpoint list", f"{_ML}/workspaces/batchEndpoints/read"),
    _ml("az ml batch-endpoint update", f"{_ML}/workspaces/batchEndpoints/write"),
    _ml("az ml environment create", f"{_ML}/workspaces/environments/versions/write"),
    _ml("az ml model create", f"{_ML}/workspaces/models/versions/write"),
    _ml("az ml model show", f"{_ML}/workspaces/models/versions/read"),
    _ml("az ml schedule create", f"{_ML}/workspaces/schedules/write"),
    _ml("az ml online-endpoint create", f"{_ML}/workspaces/onlineEndpoints/write"),
    _ml("az ml online-deployment create", f"{_ML}/workspaces/onlineEndpoints/deployments/write"),
    _ml("az ml batch-endpoint create", f"{_ML}/workspaces/batchEndpoints/write"),
    _ml("az ml batch-deployment create", f"{_ML}/workspaces/batchEndpoints/deployments/write"),
    # Invoking a batch endpoint creates a job under the caller's identity: it reads the endpoint
    # and its deployments and creates a job (batch endpoint authentication, "How authentication
    # works"). The call goes to the endpoint's scoring URI, a data plane.
    Operation(
        name="az ml batch-endpoint invoke",
        actions=(
            _WORKSPACE_READ,
            f"{_ML}/workspaces/batchEndpoints/read",
            f"{_ML}/workspaces/batchEndpoints/deployments/read",
            f"{_ML}/workspaces/jobs/write",
        ),
        plane="endpoint",
        scope="workspace",
        source="https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint",
    ),
    Operation(
        name="az ml online-endpoint invoke",
        actions=(f"{_ML}/workspaces/onlineEndpoints/score/action",),
        plane="endpoint",
        scope="workspace",
        source=_ENDPOINT_DOC,
    ),
    # Uploads to an identity-based datastore go from the caller straight to the storage
    # account with the caller's own token: the account's network rules apply to the runner.
    Operation(
        name="blob upload",
        data_actions=(f"{_BLOBS}/write",),
        plane="storage",
        scope="storage",
        source=_BLOB_DOC,
    ),
    Operation(
        name="blob download",
        data_actions=(f"{_BLOBS}/read",),
        plane="storage",
        scope="storage",
        source=_BLOB_DOC,
    ),
    Operation(
        name="az ml model create --registry-name",
        actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/write"),
        plane="registry",
        scope="registry",
        source=_REGISTRY_DOC,
    ),
    # Sharing a workspace model into the registry writes the registry's assets.
    Operation(
        name="az ml model share",
        actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/write"),
        plane="registry",
        scope="registry",
        source=_REGISTRY_DOC,
    ),
    Operation(
        name="az ml model list --registry-name",
        actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/read"),
        plane="registry",
        scope="registry",
        source=_REGISTRY_DOC,
    ),
    Operation(
        name="az ml model show --registry-name",
        actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/read"),
        plane="registry",
        scope="registry",
        source=_REGISTRY_DOC,
    ),
    Operation(
        name="az monitor metrics list",
        actions=("Microsoft.Insights/metrics/read",),
        plane="monitor",
        scope="resource-group",
        source="https://learn.microsoft.com/azure/role-based-access-control/permissions/monitor#microsoftinsights",
    ),
    Operation(
        name="pulumi preview",
        actions=("Microsoft.Resources/subscriptions/resourceGroups/read", _WORKSPACE_READ),
        plane="arm",
        scope="resource-group",
        source=f"{_ROLES_DOC}/general#reader",
    ),
    # What the stack writes, locks included (the deployer's lock-manager role grants them).
    # Role definitions and the policy assignment are written once by the Owner who bootstraps
    # the environment (its first `pulumi up`); CI's runs only read them (docs/stacks.md).
    Operation(
        name="pulumi up",
        actions=(
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            f"{_ML}/workspaces/write",
            f"{_ML}/workspaces/computes/write",
            "Microsoft.Storage/storageAccounts/write",
            "Microsoft.KeyVault/vaults/write",
            "Microsoft.ContainerRegistry/registries/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
            "Microsoft.Insights/metricAlerts/write",
            "Microsoft.Insights/activityLogAlerts/write",
            "Microsoft.Insights/diagnosticSettings/write",
            "Microsoft.Network/virtualNetworks/write",
            "Microsoft.Network/privateEndpoints/write",
            "Microsoft.Network/privateDnsZones/write",
            "Microsoft.App/managedEnvironments/write",
            "Microsoft.App/jobs/write",
            "Microsoft.Authorization/roleAssignments/write",
        ),
        plane="arm",
        scope="resource-group",
        source=f"{_ROLES_DOC}/privileged#contributor",
    ),
)
_OPERATIONS += (
    # Strict environments lock their data stores (CanNotDelete); creating, refreshing and
    # removing a lock needs `Microsoft.Authorization/locks/*`, which Contributor lacks.
    Operation(
        name="pulumi up (locks)",
        actions=("Microsoft.Authorization/locks/read", "Microsoft.Authorization/locks/write"),
        plane="arm",
        scope="resource-group",
        source=_LOCKS_DOC,
    ),
    # The registry-hosting environment's stack manages the registry's own resource group.
    Operation(
        name="pulumi up (registry host)",
        actions=(
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            f"{_ML}/registries/write",
            "Microsoft.Authorization/locks/write",  # the registry's CanNotDelete lock
        ),
        plane="arm",
        scope="registry-group",
        source=f"{_ROLES_DOC}/privileged#contributor",
    ),
    # Every environment's stack grants its identities AzureML Registry User on the registry.
    Operation(
        name="pulumi up (registry grants)",
        actions=("Microsoft.Authorization/roleAssignments/write",),
        plane="arm",
        scope="registry",
        source=f"{_ROLES_DOC}/privileged#role-based-access-control-administrator",
    ),
)
_PRIVATE_LINK_DOC = "https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link"
_OPERATIONS += (
    # A workspace's IP rules ("Enable Public Access only from internet IP ranges") can only be set
    # once it exists, with these commands; they read or update the workspace resource itself
    # (its networkAcls) through Resource Manager, so the rules never lock out the call that sets them.
    Operation(
        name="az ml workspace network-rule list",
        actions=(_WORKSPACE_READ,),
        plane="arm",
        scope="workspace",
        source=_PRIVATE_LINK_DOC,
    ),
    *(
        Operation(
            name=f"az ml workspace network-rule {verb}",
            actions=(_WORKSPACE_READ, f"{_ML}/workspaces/write"),
            plane="arm",
            scope="workspace",
            source=_PRIVATE_LINK_DOC,
        )
        for verb in ("add", "remove")
    ),
)
OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPERATIONS}
# A name given twice would let one row silently replace the other.
assert len(OPERATIONS) == len(_OPERATIONS), "an operation is listed twice in stacks.permissions"


@lru_cache(maxsize=512)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in wildcard.split("*")), re.IGNORECASE)


def _matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(_pattern(p).fullmatch(action) for p in patterns)


def is_data_action(action: str) -> bool:
    """Whether Azure treats `action` as a data action (only those this table uses)."""
    return action in _DATA_ACTIONS


_DATA_ACTIONS = frozenset(
    a for role in ROLES.values() for a in role.data_actions if "*" not in a
) | frozenset(a for op in _OPERATIONS for a in op.data_actions)


def grants(role_definition: RoleDefinition | str | dict, action: str, *, data: bool | None = None) -> bool:
    """Whether `role_definition` (a definition, a built-in's name or GUID, or a custom role's
    `authorization.RoleDefinition` inputs as a plan holds them) permits `action`.

    `data` says whether `action` is a data action; by default this table's own classification
    decides. Data actions are matched only against dataActions/notDataActions.
    """
    if isinstance(role_definition, RoleDefinition):
        role = role_definition
    elif isinstance(role_definition, dict):
        role = custom_role(role_definition)
    else:
        role = lookup(role_definition)
    if data is None:
        data = is_data_action(action)
    if data:
        return _matches(role.data_actions, action) and not _matches(role.not_data_actions, action)
    return _matches(role.actions, action) and not _matches(role.not_actions, action)


def lookup(role: str, custom: dict[str, RoleDefinition] | None = None) -> RoleDefinition:
    """A role by its name or GUID, built-in or among `custom` (GUID → role); KeyError names the known ones."""
    found = ROLES.get(role) or ROLES_BY_GUID.get(role.lower()) or (custom or {}).get(role.lower())
    if found is None and custom:
        found = next((r for r in custom.values() if r.name == role), None)
    if found is None:
        raise KeyError(f"unknown role {role!r} (known: {', '.join(sorted(ROLES))})")
    return found


def required(operation: str) -> tuple[tuple[str, bool], ...]:
    """Each (action, is_data_action) that `operation` needs."""
    op = OPERATIONS[operation]
    return tuple((a, False) for a in op.actions) + tuple((a, True) for a in op.data_actions)


def granting_roles(operation: str, held: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """For each action `operation` needs, the roles among `held` (names) that grant it."""
    return {
        action: tuple(name for name in held if grants(ROLES[name], action, data=data))
        for action, data in required(operation)
    }
