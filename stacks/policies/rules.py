"""The security and cost rules the stacks' defaults encode, as plain functions over resource inputs.

Each rule looks at one resource's inputs (camelCase, as the provider receives them) and returns
what is wrong. A rule's `level` says where it binds:
- `mandatory`: everywhere;
- `strict`: mandatory in strict environments (prod-like profiles), advisory where the profile
  relaxes it (dev);
- `advisory`: reported, never blocking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stacks import permissions
from stacks.private_dns import PRIVATE_DNS_ZONES

Props = Mapping[str, Any]

REQUIRED_TAGS = ("project", "environment", "managed-by", "template-version")
# Resource types that cannot carry tags in Azure (ARM "tag support" reference) or are extensions.
UNTAGGABLE = {
    "azure-native:machinelearningservices:Compute",
    "azure-native:authorization:RoleAssignment",
    "azure-native:authorization:RoleDefinition",
    "azure-native:authorization:PolicyAssignment",
    "azure-native:monitor:DiagnosticSetting",
    "azure-native:managedidentity:FederatedIdentityCredential",
    "azure-native:consumption:Budget",
    "azure-native:authorization:ManagementLockByScope",
    "azure-native:network:Subnet",
    "azure-native:network:PrivateDnsZoneGroup",
    "azure-native:monitor:PrivateLinkScopedResource",
}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: str
    resource_types: tuple[str, ...]  # empty: every azure-native resource
    check: Callable[[str, Props], Iterator[str]]

    def applies_to(self, resource_type: str) -> bool:
        if self.resource_types:
            return resource_type in self.resource_types
        return resource_type.startswith("azure-native:")


def _get(props: Props, *path: str) -> Any:
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _expect(props: Props, path: tuple[str, ...], expected: Any, what: str) -> Iterator[str]:
    actual = _get(props, *path)
    if actual != expected:
        yield f"{what} must be {expected!r}, found {actual!r}"


def _storage_baseline(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("allowBlobPublicAccess",), False, "allowBlobPublicAccess")
    yield from _expect(props, ("minimumTlsVersion",), "TLS1_2", "minimumTlsVersion")
    yield from _expect(props, ("enableHttpsTrafficOnly",), True, "enableHttpsTrafficOnly")


def _storage_shared_key(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("allowSharedKeyAccess",), False, "allowSharedKeyAccess")


def _key_vault_baseline(_: str, props: Props) -> Iterator[str]:
    yield from _expect(
        props, ("properties", "enableRbacAuthorization"), True, "properties.enableRbacAuthorization"
    )
    if _get(props, "properties", "enableSoftDelete") is False:
        yield "properties.enableSoftDelete must not be false"


def _key_vault_purge_protection(_: str, props: Props) -> Iterator[str]:
    yield from _expect(
        props, ("properties", "enablePurgeProtection"), True, "properties.enablePurgeProtection"
    )


def _acr_baseline(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("adminUserEnabled",), False, "adminUserEnabled")
    if _get(props, "anonymousPullEnabled") is True:
        yield "anonymousPullEnabled must be false"


def _acr_private(name: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("sku", "name"), "Premium", "sku.name")
    yield from _no_open_network(("networkRuleSet", "defaultAction"))(name, props)


def _workspace_identity(_: str, props: Props) -> Iterator[str]:
    if "SystemAssigned" not in str(_get(props, "identity", "type") or ""):
        yield "identity.type must include SystemAssigned"


def _workspace_private(_: str, props: Props) -> Iterator[str]:
    # Inbound (public access off, or IP rules) is the stack rule `workspace-inbound-closed`:
    # a workspace's IP rules are not among its resource inputs.
    yield from _expect(
        props,
        ("managedNetwork", "isolationMode"),
        "AllowOnlyApprovedOutbound",
        "managedNetwork.isolationMode",
    )


def _compute_kind(props: Props) -> str | None:
    return _get(props, "properties", "computeType")


def _cluster_locked_down(_: str, props: Props) -> Iterator[str]:
    if _compute_kind(props) != "AmlCompute":
        return
    inner = ("properties", "properties")
    yield from _expect(
        props, (*inner, "enableNodePublicIp"), False, "properties.properties.enableNodePublicIp"
    )
    yield from _expect(
        props,
        (*inner, "remoteLoginPortPublicAccess"),
        "Disabled",
        "properties.properties.remoteLoginPortPublicAccess",
    )


def _cluster_scales_to_zero(_: str, props: Props) -> Iterator[str]:
    if _compute_kind(props) != "AmlCompute":
        return
    if _get(props, "properties", "properties", "scaleSettings", "minNodeCount") not in (0, None):
        yield "scaleSettings.minNodeCount must be 0 so idle clusters cost nothing"


def _no_compute_instance(_: str, props: Props) -> Iterator[str]:
    if _compute_kind(props) == "ComputeInstance":
        yield "personal compute instances are for development environments only"


GITHUB_SUBJECT = re.compile(
    r"repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:(environment:[A-Za-z0-9._-]+|ref:refs/heads/[A-Za-z0-9._/-]+|pull_request)"
)


def _github_federation(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("issuer",), "https://token.actions.githubusercontent.com", "issuer")
    yield from _expect(props, ("audiences",), ["api://AzureADTokenExchange"], "audiences")
    subject = str(_get(props, "subject") or "")
    # A GitHub environment; where the plan has none (private on GitHub Free, stacks.identity
    # .federated_subjects), one branch's ref or pull requests. Never a tag, a wildcard or a bare repo.
    if not GITHUB_SUBJECT.fullmatch(subject):
        yield (
            "subject must be repo:<org>/<repo>:environment:<env> (or, without GitHub environments, "
            f"repo:<org>/<repo>:ref:refs/heads/<branch> or repo:<org>/<repo>:pull_request), found {subject!r}"
        )


def _tags(resource_type: str, props: Props) -> Iterator[str]:
    if resource_type in UNTAGGABLE:
        return
    tags = _get(props, "tags") or {}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        yield f"missing tags: {', '.join(missing)}"


def _log_retention(_: str, props: Props) -> Iterator[str]:
    days = _get(props, "retentionInDays")
    if days is None or days < 90:
        yield f"retentionInDays must be at least 90, found {days!r}"


# Every receiver list of an action group (ARM property names), any of which reaches someone.
RECEIVER_LISTS = (
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "azureAppPushReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "automationRunbookReceivers",
    "itsmReceivers",
    "eventHubReceivers",
)


def _action_group_receiver(_: str, props: Props) -> Iterator[str]:
    if _get(props, "enabled") is False:
        yield "the action group is disabled: its alerts notify no one"
    if not any(_get(props, key) for key in RECEIVER_LISTS):
        yield (
            "the action group has no receiver: alerts fire into nothing; set forge:alertEmails "
            "(or forge:alertWebhook, forge:alertPushEmails)"
        )


def _no_open_network(acl_path: tuple[str, ...]) -> Callable[[str, Props], Iterator[str]]:
    """Public network access off, or on with a deny-by-default rule set (the IP allow list mode)."""

    def check(_: str, props: Props) -> Iterator[str]:
        public = _get(props, *acl_path[:-2], "publicNetworkAccess")
        if public != "Disabled" and _get(props, *acl_path) != "Deny":
            yield (
                f"publicNetworkAccess must be 'Disabled' (or {'.'.join(acl_path)} 'Deny' with an "
                f"IP allow list), found {public!r}"
            )

    return check


def _managed_network_provisioned(_: str, props: Props) -> Iterator[str]:
    if _get(props, "managedNetwork", "isolationMode") in (None, "Disabled"):
        return
    # Isolation can only be tightened after creation, so it is provisioned with the workspace.
    yield from _expect(props, ("provisionNetworkNow",), True, "provisionNetworkNow")
    if not _get(props, "imageBuildCompute"):
        yield "imageBuildCompute must name a cluster: a private registry cannot build images with ACR Tasks"


def _cluster_user_assigned(_: str, props: Props) -> Iterator[str]:
    if _compute_kind(props) != "AmlCompute":
        return
    if _get(props, "identity", "type") != "UserAssigned":
        yield "clusters run as the stack's user-assigned identity (blob data and AcrPull are granted to it)"


def _instance_has_user(_: str, props: Props) -> Iterator[str]:
    if _compute_kind(props) != "ComputeInstance":
        return
    user = _get(
        props, "properties", "properties", "personalComputeInstanceSettings", "assignedUser", "objectId"
    )
    if not user:
        yield "a compute instance must be assigned to a named user (forge:computeInstanceUser)"


RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"


def _delegation_constrained(_: str, props: Props) -> Iterator[str]:
    if not str(_get(props, "roleDefinitionId") or "").endswith(RBAC_ADMINISTRATOR):
        return
    condition = str(_get(props, "condition") or "")
    for attribute in ("roleAssignments:RoleDefinitionId", "roleAssignments:PrincipalType"):
        if attribute not in condition:
            yield f"the Role Based Access Control Administrator's condition must restrict {attribute.split(':')[1]}"


def _runner_secret_in_key_vault(_: str, props: Props) -> Iterator[str]:
    for secret in _get(props, "configuration", "secrets") or []:
        if secret.get("value") is not None or not secret.get("keyVaultUrl") or not secret.get("identity"):
            yield f"secret {secret.get('name')!r} must be a Key Vault reference resolved by the job's identity"
    rules = _get(props, "configuration", "eventTriggerConfig", "scale", "rules") or []
    if not any(rule.get("type") == "github-runner" for rule in rules):
        yield "the runner job must scale on KEDA's github-runner scaler"
    if (_get(props, "configuration", "replicaTimeout") or 0) < 180 * 60:
        yield "configuration.replicaTimeout must outlast the longest CI job (180 minutes)"


CONTRIBUTOR = permissions.CONTRIBUTOR.guid


def _no_contributor(_: str, props: Props) -> Iterator[str]:
    if str(_get(props, "roleDefinitionId") or "").lower().endswith(CONTRIBUTOR):
        yield (
            "Contributor can list and regenerate storage keys (and so bypass shared-key-off): "
            "assign the stack's deployer role (Contributor minus key listing) instead"
        )


def _role_hands_out_no_keys(_: str, props: Props) -> Iterator[str]:
    for action in permissions.KEY_ACTIONS:
        if permissions.grants(dict(props), action, data=False):
            yield f"the custom role grants {action}: keys bypass identity-only access; add it to notActions"


STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
ACR = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
LOGS = "azure-native:operationalinsights:Workspace"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
RUNNER_JOB = "azure-native:app:Job"

RULES: tuple[Rule, ...] = (
    Rule(
        "storage-secure-transport-no-public-blobs",
        "Storage: no public blob access, TLS 1.2, HTTPS only.",
        "mandatory",
        (STORAGE,),
        _storage_baseline,
    ),
    Rule(
        "storage-no-shared-key",
        "Storage: shared-key access off (identity-based datastores).",
        "strict",
        (STORAGE,),
        _storage_shared_key,
    ),
    Rule(
        "key-vault-rbac-soft-delete",
        "Key Vault: RBAC authorization and soft delete.",
        "mandatory",
        (VAULT,),
        _key_vault_baseline,
    ),
    Rule(
        "key-vault-purge-protection",
        "Key Vault: purge protection on.",
        "strict",
        (VAULT,),
        _key_vault_purge_protection,
    ),
    Rule(
        "acr-no-admin-no-anonymous",
        "Container registry: admin user and anonymous pull off.",
        "mandatory",
        (ACR,),
        _acr_baseline,
    ),
    Rule(
        "acr-premium-private",
        "Container registry: Premium, public network access off or deny-by-default with an IP allow list.",
        "strict",
        (ACR,),
        _acr_private,
    ),
    Rule(
        "workspace-managed-identity",
        "ML workspace: system-assigned managed identity.",
        "mandatory",
        (WORKSPACE,),
        _workspace_identity,
    ),
    Rule(
        "workspace-private-network",
        "ML workspace: managed network with approved outbound only.",
        "strict",
        (WORKSPACE,),
        _workspace_private,
    ),
    Rule(
        "compute-no-public-ip-no-ssh",
        "Compute clusters: no node public IP, SSH disabled.",
        "strict",
        (COMPUTE,),
        _cluster_locked_down,
    ),
    Rule(
        "compute-no-instances", "No personal compute instances.", "strict", (COMPUTE,), _no_compute_instance
    ),
    Rule(
        "compute-scale-to-zero",
        "Compute clusters scale to zero when idle.",
        "advisory",
        (COMPUTE,),
        _cluster_scales_to_zero,
    ),
    Rule(
        "ci-identity-github-oidc",
        "CI identity federates over OIDC with one GitHub environment (without environments: one branch, or pull requests).",
        "mandatory",
        (FEDERATION,),
        _github_federation,
    ),
    Rule(
        "required-tags",
        "Taggable resources carry project, environment, managed-by, template-version.",
        "mandatory",
        (),
        _tags,
    ),
    Rule(
        "action-group-has-receiver",
        "Action groups reach someone: at least one receiver (e-mail, webhook, app push, ...).",
        "strict",
        (ACTION_GROUP,),
        _action_group_receiver,
    ),
    Rule(
        "storage-no-open-network",
        "Storage: public network access off (private endpoints), or deny-by-default with an IP allow list.",
        "strict",
        (STORAGE,),
        _no_open_network(("networkRuleSet", "defaultAction")),
    ),
    Rule(
        "key-vault-no-open-network",
        "Key Vault: public network access off (private endpoint), or deny-by-default with an IP allow list.",
        "strict",
        (VAULT,),
        _no_open_network(("properties", "networkAcls", "defaultAction")),
    ),
    Rule(
        "workspace-managed-network-provisioned",
        "ML workspace: a managed network is provisioned with the workspace and images build on a cluster.",
        "mandatory",
        (WORKSPACE,),
        _managed_network_provisioned,
    ),
    Rule(
        "compute-user-assigned-identity",
        "Compute clusters run as the stack's user-assigned identity.",
        "mandatory",
        (COMPUTE,),
        _cluster_user_assigned,
    ),
    Rule(
        "compute-instance-assigned-user",
        "A compute instance belongs to one named user.",
        "mandatory",
        (COMPUTE,),
        _instance_has_user,
    ),
    Rule(
        "rbac-administrator-constrained",
        "The deployer's Role Based Access Control Administrator is limited to given roles and principal types.",
        "mandatory",
        (ROLE_ASSIGNMENT,),
        _delegation_constrained,
    ),
    Rule(
        "no-contributor-assignment",
        "No identity holds Contributor, which can list storage and registry keys.",
        "mandatory",
        (ROLE_ASSIGNMENT,),
        _no_contributor,
    ),
    Rule(
        "custom-role-no-key-actions",
        "The stack's custom roles grant none of the actions that hand out keys.",
        "mandatory",
        (ROLE_DEFINITION,),
        _role_hands_out_no_keys,
    ),
    Rule(
        "runner-secret-from-key-vault",
        "Runner jobs take the GitHub credential from Key Vault and outlast the longest CI job.",
        "mandatory",
        (RUNNER_JOB,),
        _runner_secret_in_key_vault,
    ),
    Rule(
        "log-retention-90-days",
        "Log Analytics keeps logs at least 90 days.",
        "strict",
        (LOGS,),
        _log_retention,
    ),
)


def enforcement(rule: Rule, strict: bool) -> str:
    """`mandatory` or `advisory` for this rule in a strict or relaxed environment."""
    return "mandatory" if rule.level == "mandatory" or (rule.level == "strict" and strict) else "advisory"


# --- Rules over the whole plan (pulumi-policy stack validation) ---

# What a private environment needs: a private endpoint per group id and the zones for each.
PRIVATE_ENDPOINT_ZONES = PRIVATE_DNS_ZONES
LOCKED_TYPES = (STORAGE, VAULT, ACR, "azure-native:machinelearningservices:Registry")


@dataclass(frozen=True)
class StackResource:
    type: str
    name: str
    props: Props
    protect: bool = False


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    level: str
    check: Callable[[list[StackResource]], Iterator[tuple[str, str]]]  # → (resource name, message)


def _of(resources: list[StackResource], token: str) -> list[StackResource]:
    return [r for r in resources if r.type == token]


def _is_private(resources: list[StackResource]) -> bool:
    return any(_get(r.props, "publicNetworkAccess") == "Disabled" for r in _of(resources, WORKSPACE))


def _private_endpoints(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    if not _is_private(resources):
        return
    workspace = _of(resources, WORKSPACE)[0].name
    groups = {
        group
        for r in _of(resources, "azure-native:network:PrivateEndpoint")
        for connection in _get(r.props, "privateLinkServiceConnections") or []
        for group in connection.get("groupIds") or []
    }
    for group in PRIVATE_ENDPOINT_ZONES:
        if group not in groups:
            yield workspace, f"no private endpoint for sub-resource {group!r}"
    zones = {_get(r.props, "privateZoneName") for r in _of(resources, "azure-native:privatedns:PrivateZone")}
    linked = {
        _get(r.props, "privateZoneName") for r in _of(resources, "azure-native:privatedns:VirtualNetworkLink")
    }
    for zone in sorted({z for zs in PRIVATE_ENDPOINT_ZONES.values() for z in zs}):
        if zone not in zones:
            yield workspace, f"private DNS zone {zone} missing"
        elif zone not in linked:
            yield workspace, f"private DNS zone {zone} is not linked to the VNet"


def _runner_path(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    if not _is_private(resources):
        return
    workspace = _of(resources, WORKSPACE)[0].name
    jobs = [
        r
        for r in _of(resources, RUNNER_JOB)
        for rule in _get(r.props, "configuration", "eventTriggerConfig", "scale", "rules") or []
        if rule.get("type") == "github-runner"
    ]
    if not jobs:
        yield workspace, "a private workspace needs self-hosted runners in its VNet (no CI path otherwise)"
    environments = _of(resources, "azure-native:app:ManagedEnvironment")
    if jobs and not any(_get(e.props, "vnetConfiguration", "infrastructureSubnetId") for e in environments):
        yield jobs[0].name, "the runners' Container Apps environment must be in the VNet"
    delegated = [
        s
        for s in _of(resources, "azure-native:network:Subnet")
        for d in _get(s.props, "delegations") or []
        if d.get("serviceName") == "Microsoft.App/environments"
    ]
    if jobs and not delegated:
        yield jobs[0].name, "the runners' subnet must be delegated to Microsoft.App/environments"


def _locks(resources: list[StackResource], *, strict: bool) -> Iterator[tuple[str, str]]:
    scopes = {
        str(_get(r.props, "scope") or "")
        for r in _of(resources, "azure-native:authorization:ManagementLockByScope")
    }
    for scope in scopes:
        # Managed-network docs: scope locks on the workspace or its group block its operations.
        if "/providers/" not in scope or scope.endswith(
            tuple(f"/workspaces/{_get(w.props, 'workspaceName')}" for w in _of(resources, WORKSPACE))
        ):
            yield "lock", f"no lock may cover the workspace or its resource group, found one on {scope}"
    if not strict:
        return
    for r in resources:
        if r.type not in LOCKED_TYPES[:3]:
            continue
        name_key = {STORAGE: "accountName", VAULT: "vaultName", ACR: "registryName"}[r.type]
        name = _get(r.props, name_key)
        if not any(scope.endswith(f"/{name}") for scope in scopes):
            yield r.name, "holds data: needs a CanNotDelete lock"
    for w in _of(resources, WORKSPACE):
        if not w.protect:
            yield (
                w.name,
                "the workspace needs Pulumi's protect (a scope lock would break its managed network)",
            )


POLICY_ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
DENY_SHARED_KEY = (
    "8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"  # "Storage accounts should prevent shared key access"
)


def _shared_key_denied(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Shared keys off, and Azure Policy refusing to turn them back on (storageAccounts/write could)."""
    denied = [
        str(_get(a.props, "scope") or "")
        for a in _of(resources, POLICY_ASSIGNMENT)
        if str(_get(a.props, "policyDefinitionId") or "").lower().endswith(DENY_SHARED_KEY)
        and _get(a.props, "parameters", "effect", "value") == "Deny"
        and _get(a.props, "enforcementMode") in (None, "Default")
    ]
    for r in _of(resources, STORAGE):
        if _get(r.props, "allowSharedKeyAccess") is not False:
            continue
        name = _get(r.props, "accountName")
        if not any(scope.endswith(f"/storageAccounts/{name}") for scope in denied):
            yield (
                r.name,
                "shared keys are off but no Deny assignment of Azure Policy 8c6a50c6… keeps them off",
            )


def _locks_grantable(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Every lock the stack writes is one the deployer may write (Contributor cannot)."""
    locks = _of(resources, "azure-native:authorization:ManagementLockByScope")
    if not locks:
        return
    assigned = {
        str(_get(a.props, "roleDefinitionId") or "").rsplit("/", 1)[-1].lower()
        for a in _of(resources, ROLE_ASSIGNMENT)
    }
    lock_roles = [
        d
        for d in _of(resources, ROLE_DEFINITION)
        if str(_get(d.props, "roleDefinitionId") or "").lower() in assigned
        and permissions.grants(dict(d.props), "Microsoft.Authorization/locks/write", data=False)
    ]
    if not lock_roles:
        yield (
            locks[0].name,
            "no role the stack assigns grants Microsoft.Authorization/locks/write: CI cannot keep this lock",
        )


def _workspace_inbound(resources: list[StackResource]) -> Iterator[tuple[str, str]]:
    """Public access off, or the ip-allowlist mode: every storage account deny-by-default with an
    allow list, whose addresses the infra workflow also sets on the workspace after `pulumi up`
    (stacks.workspace_ip_rules; the provider's Workspace takes no IP rules)."""
    accounts = _of(resources, STORAGE)
    allow_list = bool(accounts) and all(
        _get(r.props, "networkRuleSet", "defaultAction") == "Deny"
        and _get(r.props, "networkRuleSet", "ipRules")
        for r in accounts
    )
    for w in _of(resources, WORKSPACE):
        if _get(w.props, "publicNetworkAccess") != "Disabled" and not allow_list:
            yield (
                w.name,
                "publicNetworkAccess must be 'Disabled', or the stack in ip-allowlist mode "
                "(storage deny-by-default with forge:allowedIps, which the infra workflow also sets on the workspace)",
            )


STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "private-endpoints-and-dns",
        "A private workspace has private endpoints for workspace, blob, file, Key Vault and registry, "
        "with Microsoft's private DNS zones linked to the VNet.",
        "mandatory",
        _private_endpoints,
    ),
    StackRule(
        "workspace-inbound-closed",
        "ML workspace: public network access off, or ip-allowlist mode (IP rules set after `pulumi up`).",
        "strict",
        _workspace_inbound,
    ),
    StackRule(
        "runner-path-present",
        "A private workspace has ephemeral GitHub runners in its VNet.",
        "mandatory",
        _runner_path,
    ),
    StackRule(
        "no-scope-lock-on-workspace",
        "No lock on the workspace or its resource group (managed network).",
        "mandatory",
        lambda resources: _locks(resources, strict=False),
    ),
    StackRule(
        "shared-key-stays-off",
        "Storage with shared keys off has Azure Policy's Deny on turning them back on.",
        "strict",
        _shared_key_denied,
    ),
    StackRule(
        "locks-writable-by-deployer",
        "Where the stack writes locks, a role it assigns grants the lock actions.",
        "mandatory",
        _locks_grantable,
    ),
    StackRule(
        "locks-on-data-protect-on-workspace",
        "Stateful data resources carry CanNotDelete locks; Pulumi protects the workspace.",
        "strict",
        lambda resources: (v for v in _locks(resources, strict=True) if not v[1].startswith("no lock may")),
    ),
)
