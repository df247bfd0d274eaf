"""Built-in Azure role definitions the stacks assign, and deterministic role assignments.

GUIDs are Azure's built-in role definition IDs (Microsoft Learn, "Azure built-in roles").
"""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
AZUREML_REGISTRY_USER = "1823dd4f-9b8c-4ab6-ab4e-7397a3684615"

NAMES = {
    CONTRIBUTOR: "Contributor",
    READER: "Reader",
    ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR: "Role Based Access Control Administrator",
    AZUREML_DATA_SCIENTIST: "AzureML Data Scientist",
    AZUREML_REGISTRY_USER: "AzureML Registry User",
}

# Roles the CI identity may hand out (and only these): what the stacks themselves assign.
DELEGABLE_ROLES = (AZUREML_DATA_SCIENTIST, AZUREML_REGISTRY_USER)

# A fixed namespace keeps assignment names stable across runs and machines.
_NAMESPACE = uuid.UUID("6f1b0f4e-3f5c-4a7e-9a53-6d2f0e7f3c11")


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


def assignment_name(*parts: str) -> str:
    """A role assignment's name must be a GUID; derive it from what makes the assignment unique."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def delegation_condition(roles: tuple[str, ...] = DELEGABLE_ROLES) -> str:
    """ABAC condition restricting a Role Based Access Control Administrator to `roles`."""
    guids = ", ".join(roles)
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
        " AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
    )


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
        opts=pulumi.ResourceOptions(parent=parent),
    )
