"""Plans as text: a table for people, JSON for tools, Mermaid for docs."""

from __future__ import annotations

import json
import re
from typing import Any

from stacks import roles
from stacks.offline import Plan
from stacks.policies import Violation

# The settings worth a glance, per resource type: (label, path into the inputs).
KEY_SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "azure-native:resources:ResourceGroup": (("location", "location"),),
    "azure-native:storage:StorageAccount": (
        ("sku", "sku.name"),
        ("publicBlob", "allowBlobPublicAccess"),
        ("tls", "minimumTlsVersion"),
        ("sharedKey", "allowSharedKeyAccess"),
    ),
    "azure-native:keyvault:Vault": (
        ("rbac", "properties.enableRbacAuthorization"),
        ("purgeProtection", "properties.enablePurgeProtection"),
        ("softDeleteDays", "properties.softDeleteRetentionInDays"),
    ),
    "azure-native:containerregistry:Registry": (
        ("sku", "sku.name"),
        ("admin", "adminUserEnabled"),
        ("publicNetwork", "publicNetworkAccess"),
    ),
    "azure-native:operationalinsights:Workspace": (("retentionDays", "retentionInDays"),),
    "azure-native:applicationinsights:Component": (("ingestion", "ingestionMode"),),
    "azure-native:machinelearningservices:Workspace": (
        ("publicNetwork", "publicNetworkAccess"),
        ("isolation", "managedNetwork.isolationMode"),
        ("datastoreAuth", "systemDatastoresAuthMode"),
    ),
    "azure-native:machinelearningservices:Compute": (
        ("kind", "properties.computeType"),
        ("vm", "properties.properties.vmSize"),
        ("priority", "properties.properties.vmPriority"),
        ("nodes", "properties.properties.scaleSettings.maxNodeCount"),
        ("publicIp", "properties.properties.enableNodePublicIp"),
    ),
    "azure-native:machinelearningservices:Registry": (("location", "location"),),
    "azure-native:monitor:MetricAlert": (
        ("metric", "criteria.allOf.0.metricName"),
        ("op", "criteria.allOf.0.operator"),
        ("threshold", "criteria.allOf.0.threshold"),
        ("severity", "severity"),
    ),
    "azure-native:monitor:ScheduledQueryRule": (("severity", "severity"), ("every", "evaluationFrequency")),
    "azure-native:monitor:ActionGroup": (("shortName", "groupShortName"),),
    "azure-native:consumption:Budget": (("amount", "amount"), ("grain", "timeGrain")),
    "azure-native:managedidentity:FederatedIdentityCredential": (("subject", "subject"),),
    "azure-native:authorization:RoleAssignment": (("role", "roleDefinitionId"),),
    "azure-native:monitor:DiagnosticSetting": (("destination", "logAnalyticsDestinationType"),),
}
# The GitHub side of each stack (stacks/github.py): which environment, which variable, which rule.
KEY_SETTINGS |= {
    "github:index/repositoryEnvironment:RepositoryEnvironment": (
        ("env", "environment"),
        ("reviewerTeams", "reviewers.0.teams"),
        ("reviewerUsers", "reviewers.0.users"),
        ("preventSelfReview", "preventSelfReview"),
    ),
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy": (
        ("env", "environment"),
        ("branch", "branchPattern"),
    ),
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": (
        ("env", "environment"),
        ("var", "variableName"),
        ("value", "value"),
    ),
    "github:index/actionsVariable:ActionsVariable": (("var", "variableName"), ("value", "value")),
    "github:index/repositoryRuleset:RepositoryRuleset": (
        ("approvals", "rules.pullRequest.requiredApprovingReviewCount"),
        ("codeOwnerReview", "rules.pullRequest.requireCodeOwnerReview"),
    ),
}
AZURE_NAME_KEYS = (
    "resourceGroupName",
    "accountName",
    "vaultName",
    "registryName",
    "workspaceName",
    "computeName",
    "resourceName",
    "ruleName",
    "actionGroupName",
    "budgetName",
    "federatedIdentityCredentialResourceName",
    "roleAssignmentName",
    "name",
)


def _lookup(props: dict[str, Any], path: str) -> Any:
    value: Any = props
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def azure_name(resource_type: str, props: dict[str, Any]) -> str:
    """The name Azure will show; for a child resource the last name key that is set."""
    if resource_type == "azure-native:resources:ResourceGroup":
        return str(props.get("resourceGroupName", ""))
    own = [props[k] for k in AZURE_NAME_KEYS[1:] if k in props and isinstance(props[k], str)]
    return own[-1] if own else ""


def key_settings(resource_type: str, props: dict[str, Any]) -> str:
    parts = []
    for label, path in KEY_SETTINGS.get(resource_type, ()):
        value = _lookup(props, path)
        if value is not None:
            if label == "role" and isinstance(value, str):
                guid = value.rsplit("/", 1)[-1]
                value = roles.NAMES.get(guid, guid)
            parts.append(f"{label}={json.dumps(value) if isinstance(value, bool) else value}")
    return " ".join(parts)


def short_type(token: str) -> str:
    return token.removeprefix("azure-native:")


def as_json(project: str, plans: list[Plan], violations: dict[str, list[Violation]]) -> str:
    document = {
        "project": project,
        "environments": {
            plan.environment: {
                "resources": [r.to_json() for r in plan.resources],
                "violations": [v.to_json() for v in violations.get(plan.environment, [])],
            }
            for plan in plans
        },
    }
    return json.dumps(document, indent=2)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def as_table(plans: list[Plan], violations: dict[str, list[Violation]], show_violations: bool) -> str:
    lines: list[str] = []
    for plan in plans:
        found = violations.get(plan.environment, [])
        mandatory = sum(v.level == "mandatory" for v in found)
        custom = [r for r in plan.resources if r.custom]
        lines.append(
            f"== {plan.environment}: {len(custom)} resources, "
            f"{mandatory} mandatory / {len(found) - mandatory} advisory policy findings =="
        )
        rows = [("TYPE", "AZURE NAME", "KEY SETTINGS")]
        rows += [
            (short_type(r.type), azure_name(r.type, r.properties), key_settings(r.type, r.properties))
            for r in custom
        ]
        lines += _table(rows)
        allowed = plan.outputs.get("workspaceAllowedIps")
        if allowed:
            # Not a resource of the stack: the infra workflow sets them after `pulumi up`.
            lines.append(
                f"  + workspace IP rules, set after `pulumi up` by the infra workflow: {', '.join(allowed)}"
            )
        if show_violations and found:
            lines.append("")
            lines += [f"  [{v.level}] {v.policy} on {v.resource}: {v.message}" for v in found]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _node_id(environment: str, name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{environment}_{name}")


def as_mermaid(plans: list[Plan]) -> str:
    lines = ["```mermaid", "flowchart LR"]
    for plan in plans:
        lines.append(f'  subgraph {_node_id(plan.environment, "env")}["{plan.environment}"]')
        for r in plan.resources:
            label = short_type(r.type).split(":")[-1] if r.custom else r.type.split(":")[-1]
            name = azure_name(r.type, r.properties) or r.name
            lines.append(f'    {_node_id(plan.environment, r.name)}["{label}<br/>{name}"]')
        for r in plan.resources:
            if r.parent:
                lines.append(
                    f"    {_node_id(plan.environment, r.parent)} --> {_node_id(plan.environment, r.name)}"
                )
        lines.append("  end")
    lines.append("```")
    return "\n".join(lines) + "\n"
