"""Built-in Azure role definitions the stacks assign, and deterministic role assignments.

GUIDs are Azure's built-in role definition IDs (Microsoft Learn, "Azure built-in roles").
"""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization

from stacks import permissions

CONTRIBUTOR = permissions.CONTRIBUTOR.guid
READER = permissions.READER.guid
ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR = permissions.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR.guid
AZUREML_DATA_SCIENTIST = permissions.AZUREML_DATA_SCIENTIST.guid
AZUREML_REGISTRY_USER = permissions.AZUREML_REGISTRY_USER.guid
STORAGE_BLOB_DATA_CONTRIBUTOR = permissions.STORAGE_BLOB_DATA_CONTRIBUTOR.guid
STORAGE_BLOB_DATA_READER = permissions.STORAGE_BLOB_DATA_READER.guid
ACR_PULL = permissions.ACR_PULL.guid
KEY_VAULT_SECRETS_USER = permissions.KEY_VAULT_SECRETS_USER.guid
MONITORING_READER = permissions.MONITORING_READER.guid
NETWORK_CONNECTION_APPROVER = permissions.AZURE_AI_ENTERPRISE_NETWORK_CONNECTION_APPROVER.guid

NAMES = {r.guid: r.name for r in permissions.ROLES.values()}

# Roles the deployer may hand out (and only these, only to service principals): exactly the
# ones the stack itself assigns to the job and workload identities.
DELEGABLE_ROLES = (
    AZUREML_DATA_SCIENTIST,
    AZUREML_REGISTRY_USER,
    READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    ACR_PULL,
    KEY_VAULT_SECRETS_USER,
    MONITORING_READER,
    NETWORK_CONNECTION_APPROVER,
)
DELEGABLE_PRINCIPAL_TYPES = ("ServicePrincipal",)

# A fixed namespace keeps assignment names stable across runs and machines.
_NAMESPACE = uuid.UUID("6f1b0f4e-3f5c-4a7e-9a53-6d2f0e7f3c11")


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


def assignment_name(*parts: str) -> str:
    """A role assignment's name must be a GUID; derive it from what makes the assignment unique."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def delegation_condition(
    roles: tuple[str, ...] = DELEGABLE_ROLES, principal_types: tuple[str, ...] = DELEGABLE_PRINCIPAL_TYPES
) -> str:
    """ABAC condition restricting a Role Based Access Control Administrator to `roles` and `principal_types`.

    The shape of Microsoft's "Constrain roles and principal types" example (Azure RBAC,
    "Examples to delegate Azure role assignment management with conditions"): without the
    principal-type half, the deployer could grant a delegable role to any user or group.
    """
    guids = ", ".join(roles)
    types = ", ".join(f"'{t}'" for t in principal_types)

    def half(action: str, source: str) -> str:
        return (
            f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/{action}'}})) OR "
            f"(@{source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
            f"ForAnyOfAnyValues:GuidEquals {{{guids}}} AND "
            f"@{source}[Microsoft.Authorization/roleAssignments:PrincipalType] "
            f"ForAnyOfAnyValues:StringEqualsIgnoreCase {{{types}}}))"
        )

    return f"{half('write', 'Request')} AND {half('delete', 'Resource')}"


def define(
    logical_name: str,
    *,
    template: permissions.RoleDefinition,
    key: tuple[str, ...],
    label: str,
    scope: pulumi.Input[str],
    parent: pulumi.Resource,
) -> tuple[authorization.RoleDefinition, str]:
    """A custom role made from `template`, assignable only at `scope`; returns it and its GUID.

    A custom role's name and GUID are unique in the tenant, so both derive from `key` (project,
    environment, purpose). Writing a role definition needs `Microsoft.Authorization/roleDefinitions/write`:
    the Owner who bootstraps the environment creates it in the first `pulumi up` (docs/stacks.md).
    """
    guid = assignment_name(*key, "role-definition", template.name)
    definition = authorization.RoleDefinition(
        logical_name,
        role_definition_id=guid,
        role_name=f"{template.name} ({label})",
        description=f"{template.source}; defined by mlops-forge for {label}.",
        role_type="CustomRole",
        scope=scope,
        assignable_scopes=[scope],
        permissions=[
            authorization.PermissionArgs(
                actions=list(template.actions),
                not_actions=list(template.not_actions),
                data_actions=list(template.data_actions),
                not_data_actions=list(template.not_data_actions),
            )
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return definition, guid


def assign(
    logical_name: str,
    *,
    key: tuple[str, ...],
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    parent: pulumi.Resource,
    condition: str | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> authorization.RoleAssignment:
    """Assign `role` to a service principal at `scope`, named by a GUID derived from `key`."""
    return authorization.RoleAssignment(
        logical_name,
        role_assignment_name=assignment_name(*key, role),
        role_definition_id=role_definition_id(subscription_id, role),
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        scope=scope,
        condition=condition,
        condition_version="2.0" if condition else None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
