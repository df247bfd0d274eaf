"""The security and cost rules the stacks' defaults encode, as plain functions over resource inputs.

Each rule looks at one resource's inputs (camelCase, as the provider receives them) and returns
what is wrong. A rule's `level` says where it binds:
- `mandatory`: everywhere;
- `strict`: mandatory in strict environments (prod-like profiles), advisory where the profile
  relaxes it (dev);
- `advisory`: reported, never blocking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Props = Mapping[str, Any]

REQUIRED_TAGS = ("project", "environment", "managed-by", "template-version")
# Resource types that cannot carry tags in Azure (ARM "tag support" reference) or are extensions.
UNTAGGABLE = {
    "azure-native:machinelearningservices:Compute",
    "azure-native:authorization:RoleAssignment",
    "azure-native:monitor:DiagnosticSetting",
    "azure-native:managedidentity:FederatedIdentityCredential",
    "azure-native:consumption:Budget",
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


def _acr_private(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("sku", "name"), "Premium", "sku.name")
    yield from _expect(props, ("publicNetworkAccess",), "Disabled", "publicNetworkAccess")


def _workspace_identity(_: str, props: Props) -> Iterator[str]:
    if "SystemAssigned" not in str(_get(props, "identity", "type") or ""):
        yield "identity.type must include SystemAssigned"


def _workspace_private(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("publicNetworkAccess",), "Disabled", "publicNetworkAccess")
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


def _github_federation(_: str, props: Props) -> Iterator[str]:
    yield from _expect(props, ("issuer",), "https://token.actions.githubusercontent.com", "issuer")
    yield from _expect(props, ("audiences",), ["api://AzureADTokenExchange"], "audiences")
    subject = str(_get(props, "subject") or "")
    if not (subject.startswith("repo:") and ":environment:" in subject):
        yield f"subject must be repo:<org>/<repo>:environment:<env>, found {subject!r}"


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


STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
ACR = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
LOGS = "azure-native:operationalinsights:Workspace"
ACTION_GROUP = "azure-native:monitor:ActionGroup"

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
        "Container registry: Premium with public network access off.",
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
        "ML workspace: no public network access, managed network with approved outbound only.",
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
        "CI identity federates with one GitHub environment over OIDC.",
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
