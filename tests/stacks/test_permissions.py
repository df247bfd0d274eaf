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


# --- The stack's custom roles (deployer and lock manager) ---


def test_the_deployer_role_is_contributor_minus_every_key_action() -> None:
    # Contributor's actions and notActions exactly, then the key-listing actions on top.
    assert p.DEPLOYER.actions == p.CONTRIBUTOR.actions == ("*",)
    assert p.DEPLOYER.not_actions[: len(p.CONTRIBUTOR.not_actions)] == p.CONTRIBUTOR.not_actions
    assert set(p.DEPLOYER.not_actions) - set(p.CONTRIBUTOR.not_actions) == set(p.KEY_ACTIONS)
    for action in p.KEY_ACTIONS:
        assert p.grants(p.CONTRIBUTOR, action), action  # what Contributor could do
        assert not p.grants(p.DEPLOYER, action), action
    # Case-insensitive, as Azure matches (Microsoft's pages spell it listkeys and listKeys).
    assert not p.grants(p.DEPLOYER, "microsoft.storage/storageaccounts/listkeys/action")
    for action in (
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.MachineLearningServices/workspaces/write",
        "Microsoft.App/jobs/write",
    ):
        assert p.grants(p.DEPLOYER, action), action
    # notActions of one role are not lifted inside it: the deployer role alone cannot lock.
    assert not p.grants(p.DEPLOYER, "Microsoft.Authorization/locks/write")


def test_the_lock_manager_grants_exactly_the_lock_actions() -> None:
    for action in p.LOCK_ACTIONS:
        assert p.grants(p.LOCK_MANAGER, action)
    assert not p.grants(p.LOCK_MANAGER, "Microsoft.Authorization/roleAssignments/write")
    assert not p.grants(p.LOCK_MANAGER, "Microsoft.Storage/storageAccounts/write")
    assert not p.grants(p.LOCK_MANAGER, "Microsoft.Authorization/policyAssignments/delete")


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_custom_roles_read_back_from_the_plan_are_the_templates(example_plans, env) -> None:
    plan = example_plans[env]
    definitions = plan.of_type(p.ROLE_DEFINITION_TYPE)
    found = p.custom_roles(plan.resources)
    templates = {t.name: t for t in p.CUSTOM_TEMPLATES}
    assert len(found) == len(definitions)
    for d in definitions:
        role = found[d.properties["roleDefinitionId"]]
        template = templates[role.name.split(" (")[0]]
        assert (role.actions, role.not_actions) == (template.actions, template.not_actions)
        assert GUID.fullmatch(role.guid)
        # Assignable only where it is defined: its environment's group, or the registry's.
        assert d.properties["assignableScopes"] == [d.properties["scope"]]
        assert "/providers/" not in d.properties["scope"]
        # `grants` judges the plan's own inputs the same way.
        assert not p.grants(d.properties, "Microsoft.Storage/storageAccounts/listKeys/action")
    # Names are unique in the tenant: one per environment and purpose.
    assert len({r.name for r in found.values()}) == len(found)
    names = {r.name for r in found.values()}
    assert f"mlops-forge deployer (churn-model-{env})" in names
    assert (f"mlops-forge lock manager (churn-model-{env})" in names) is (env == "prod")


def test_the_double_resolves_custom_roles_from_the_plan(example_plans) -> None:
    """The end-to-end double holds the plan's role definitions and judges them with `grants`."""
    from forge_rehearse import world as world_module

    world = world_module.World()
    world_module.add_plan(world, example_plans["prod"])
    deployer = next(i for i in world.identities if i.name == "id-churn-model-prod-github")
    storage = world.of_kind("storage", "prod")[0]
    roles_there = p.held(world.roles_of(deployer.principal_id, storage.id), world.role_definitions)
    assert {r.name for r in roles_there} == {
        "mlops-forge deployer (churn-model-prod)",
        "mlops-forge lock manager (churn-model-prod)",
        "Role Based Access Control Administrator",
    }
    assert any(p.grants(r, "Microsoft.Storage/storageAccounts/write") for r in roles_there)
    assert not any(p.grants(r, "Microsoft.Storage/storageAccounts/listKeys/action") for r in roles_there)
    # And through JSON, the way the double's processes read the world.
    again = world_module.World.from_json(world.to_json())
    assert again.role_definitions == world.role_definitions
