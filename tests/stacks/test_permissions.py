"""The access-facts table: role definitions as Microsoft publishes them and Azure's matching rules."""

from __future__ import annotations

import re

import pytest

from stacks import permissions as p
from stacks import roles

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_every_role_has_a_guid_and_cites_microsoft() -> None:
    assert len({r.guid for r in p.ROLES.values()}) == len(p.ROLES)
    for role in p.ROLES.values():
        assert GUID.fullmatch(role.guid), role.name
        assert role.source.startswith(
            "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/"
        )


def test_role_guids_agree_with_the_assignments_the_stack_makes() -> None:
    for guid, name in roles.NAMES.items():
        assert p.ROLES_BY_GUID[guid].name == name


def test_every_operation_cites_microsoft_and_names_a_known_plane() -> None:
    for op in p.OPERATIONS.values():
        assert op.source.startswith("https://learn.microsoft.com/"), op.name
        assert op.plane in p.PLANES, op.name
        assert op.actions or op.data_actions, op.name


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [
        # Wildcards span segments, case-insensitively.
        (p.READER, "Microsoft.MachineLearningServices/workspaces/jobs/read", True),
        (p.READER, "microsoft.machinelearningservices/WORKSPACES/read", True),
        (p.READER, "Microsoft.MachineLearningServices/workspaces/jobs/write", False),
        # notActions subtract: Contributor cannot assign roles or write locks.
        (p.CONTRIBUTOR, "Microsoft.Storage/storageAccounts/write", True),
        (p.CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/write", False),
        (p.CONTRIBUTOR, "Microsoft.Authorization/locks/write", False),
        # The Data Scientist works inside a workspace, never on the workspace or its compute.
        (p.AZUREML_DATA_SCIENTIST, "Microsoft.MachineLearningServices/workspaces/jobs/write", True),
        (
            p.AZUREML_DATA_SCIENTIST,
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action",
            True,
        ),
        (p.AZUREML_DATA_SCIENTIST, "Microsoft.MachineLearningServices/workspaces/write", False),
        (p.AZUREML_DATA_SCIENTIST, "Microsoft.MachineLearningServices/workspaces/computes/cpu/write", False),
        (p.AZUREML_DATA_SCIENTIST, "Microsoft.MachineLearningServices/workspaces/listKeys/action", False),
        # `workspaces/*/read` needs a segment between: the workspace itself is not readable.
        (p.AZUREML_DATA_SCIENTIST, "Microsoft.MachineLearningServices/workspaces/read", False),
        (p.AZUREML_REGISTRY_USER, "Microsoft.MachineLearningServices/registries/assets/write", True),
        (p.AZUREML_REGISTRY_USER, "Microsoft.MachineLearningServices/registries/write", False),
    ],
)
def test_control_plane_matching(role: p.RoleDefinition, action: str, expected: bool) -> None:
    assert p.grants(role, action) is expected


def test_control_plane_wildcards_never_grant_data_actions() -> None:
    blob_write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
    assert p.is_data_action(blob_write)
    assert not p.grants(p.CONTRIBUTOR, blob_write)
    assert not p.grants(p.AZUREML_DATA_SCIENTIST, blob_write)
    assert p.grants(p.STORAGE_BLOB_DATA_CONTRIBUTOR, blob_write)
    assert not p.grants(p.STORAGE_BLOB_DATA_READER, blob_write)
    assert p.grants(p.STORAGE_BLOB_DATA_READER, blob_write.replace("/write", "/read"))
    assert p.grants("Key Vault Secrets User", "Microsoft.KeyVault/vaults/secrets/getSecret/action")


def test_grants_accepts_names_and_guids_and_rejects_unknown_roles() -> None:
    assert p.grants(
        "acdd72a7-3385-48ef-bd42-f606fba81ae7", "Microsoft.Resources/subscriptions/resourceGroups/read"
    )
    with pytest.raises(KeyError, match="unknown role 'Owner'"):
        p.grants("Owner", "*")


def test_granting_roles_names_the_role_behind_each_action() -> None:
    found = p.granting_roles("blob upload", ("Reader", "Storage Blob Data Contributor"))
    assert found == {
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write": (
            "Storage Blob Data Contributor",
        )
    }
    job = p.granting_roles("az ml job create", ("AzureML Data Scientist", "Reader"))
    assert job["Microsoft.MachineLearningServices/workspaces/read"] == ("Reader",)
    assert job["Microsoft.MachineLearningServices/workspaces/jobs/write"] == ("AzureML Data Scientist",)
