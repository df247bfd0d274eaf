"""One identity per job kind, each with exactly its roles; compute identity; delegation condition."""

from __future__ import annotations

import pytest

from stacks import permissions, roles
from stacks.identity import AZURE_AUDIENCE, GITHUB_ISSUER, JOB_IDENTITIES

ENVS = ("dev", "test", "prod")


def _held(plan) -> dict[str, set[tuple[str, str]]]:
    """Identity resource name → {(role name, scope kind)} from the plan's role assignments."""
    by_principal = {}
    for identity in plan.of_type("azure-native:managedidentity:UserAssignedIdentity"):
        arm_id = (
            f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{identity.properties['resourceGroupName']}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity.properties['resourceName']}"
        )
        from stacks.offline.mocks import _guid

        by_principal[_guid(arm_id, "principal")] = identity.properties["resourceName"]
    held: dict[str, set[tuple[str, str]]] = {}
    # The stack's own custom roles, by their template's name ("mlops-forge deployer").
    custom = {
        guid: role.name.split(" (")[0] for guid, role in permissions.custom_roles(plan.resources).items()
    }
    names = {**roles.NAMES, **custom}
    for assignment in plan.of_type("azure-native:authorization:RoleAssignment"):
        props = assignment.properties
        who = by_principal.get(props["principalId"])
        if who is None:
            continue
        scope = props["scope"]
        kind = (
            "group"
            if "/providers/" not in scope
            else scope.split("/providers/", 1)[1].split("/")[1]  # e.g. workspaces, storageAccounts
        )
        held.setdefault(who, set()).add((names[props["roleDefinitionId"].rsplit("/", 1)[-1]], kind))
    return held


@pytest.mark.parametrize("env", ENVS)
def test_each_job_kind_has_its_own_identity_with_exactly_its_roles(example_plans, env) -> None:
    held = _held(example_plans[env])
    p = f"id-churn-model-{env}"
    # Contributor minus key listing, the lock actions where data stores are locked (prod), the
    # constrained RBAC Administrator; never Contributor itself, which can list storage keys.
    deployer = {
        ("mlops-forge deployer", "group"),
        ("Role Based Access Control Administrator", "group"),
    } | ({("mlops-forge lock manager", "group")} if env == "prod" else set())
    assert held[f"{p}-github"] == deployer | (
        {
            ("mlops-forge deployer", "group"),
            ("mlops-forge lock manager", "group"),
        }
        if env == "dev"  # the registry host: the same roles on the registry's group
        else set()
    )
    assert held[f"{p}-mlops"] == {
        ("AzureML Data Scientist", "workspaces"),
        ("Reader", "workspaces"),
        ("Storage Blob Data Contributor", "storageAccounts"),
        ("AzureML Registry User", "registries"),
    }
    if env == "prod":  # the drift check runs in prod only (forge:jobs)
        assert held[f"{p}-monitor"] == {
            ("Monitoring Reader", "group"),
            ("Storage Blob Data Reader", "storageAccounts"),
        }
    else:
        assert f"{p}-monitor" not in held
    assert held[f"{p}-preview"] == {("Reader", "group")}
    # Compute clusters: blob data and AcrPull assigned in the stack (no automatic grants for
    # user-assigned identities).
    assert held[f"{p}-compute"] == {
        ("Storage Blob Data Contributor", "storageAccounts"),
        ("AcrPull", "registries"),
    }
    # The deployer runs no ML operations any more.
    assert not {role for role, _ in held[f"{p}-github"]} & {"AzureML Data Scientist", "AzureML Registry User"}


def test_the_registry_host_gives_ci_rights_on_the_registry_group(example_plans) -> None:
    held = _held(example_plans["dev"])["id-churn-model-dev-github"]
    groups = [
        a.properties["scope"]
        for a in example_plans["dev"].of_type("azure-native:authorization:RoleAssignment")
        if a.name.startswith("ml-models-group-")
    ]
    assert len(groups) == 3 and all(g.endswith("/resourceGroups/rg-churn-model-registry") for g in groups)
    assert ("mlops-forge lock manager", "group") in held and ("Contributor", "group") not in held
    assert not [a for a in example_plans["test"].resources if a.name.startswith("ml-models-group-")]


@pytest.mark.parametrize("env", ENVS)
def test_federated_subjects_are_environment_subjects(example_plans, env) -> None:
    credentials = example_plans[env].of_type("azure-native:managedidentity:FederatedIdentityCredential")
    subjects = {c.properties["resourceName"]: c.properties["subject"] for c in credentials}
    repo = "repo:contoso/churn-model:environment"
    expected = {
        f"id-churn-model-{env}-github": f"{repo}:{env}",
        f"id-churn-model-{env}-mlops": f"{repo}:{env}",
        f"id-churn-model-{env}-preview": f"{repo}:{env}-preview",
    }
    if env == "prod":
        # The drift check's own environment: no reviewers to wait for (stacks.identity).
        expected[f"id-churn-model-{env}-monitor"] = f"{repo}:{env}-monitor"
    assert subjects == expected
    for c in credentials:
        assert c.properties["issuer"] == GITHUB_ISSUER and c.properties["audiences"] == [AZURE_AUDIENCE]


@pytest.mark.parametrize("env", ENVS)
def test_rbac_administrator_is_limited_to_delegable_roles_and_service_principals(example_plans, env) -> None:
    admins = [
        a.properties
        for a in example_plans[env].of_type("azure-native:authorization:RoleAssignment")
        if a.properties["roleDefinitionId"].endswith(roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR)
    ]
    assert admins
    for admin in admins:
        condition = admin["condition"]
        assert admin["conditionVersion"] == "2.0"
        assert (
            "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}"
            in condition
        )
        assert "@Resource[Microsoft.Authorization/roleAssignments:PrincipalType]" in condition
        for guid in roles.DELEGABLE_ROLES:
            assert guid in condition
        # Never the privileged roles themselves.
        assert (
            roles.CONTRIBUTOR not in condition
            and roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR not in condition
        )


def test_every_role_the_stack_assigns_to_a_job_or_workload_is_delegable(example_plans) -> None:
    """The deployer can create (and re-create) every assignment but its own."""
    for plan in example_plans.values():
        # The deployer's own roles (custom ones included) are the Owner's to assign.
        own = {roles.ROLE_BASED_ACCESS_CONTROL_ADMINISTRATOR, *permissions.custom_roles(plan.resources)}
        for a in plan.of_type("azure-native:authorization:RoleAssignment"):
            guid = a.properties["roleDefinitionId"].rsplit("/", 1)[-1]
            assert guid != roles.CONTRIBUTOR, a.name  # no one holds Contributor any more
            if guid in own:
                continue
            assert guid in roles.DELEGABLE_ROLES, a.name
            assert a.properties["principalType"] == "ServicePrincipal"


@pytest.mark.parametrize("env", ENVS)
def test_clusters_run_as_the_compute_identity_after_its_grants(example_plans, env) -> None:
    plan = example_plans[env]
    clusters = [
        c
        for c in plan.of_type("azure-native:machinelearningservices:Compute")
        if c.properties["properties"]["computeType"] == "AmlCompute"
    ]
    assert clusters
    for cluster in clusters:
        identity = cluster.properties["identity"]
        assert identity["type"] == "UserAssigned"
        assert [i.rsplit("/", 1)[-1] for i in identity["userAssignedIdentities"]] == [
            f"id-churn-model-{env}-compute"
        ]


@pytest.mark.parametrize("env", ENVS)
def test_stack_outputs_have_stable_names(example_plans, env) -> None:
    outputs = example_plans[env].outputs
    for output, _variable in JOB_IDENTITIES.values():
        if output == "monitorClientId" and env != "prod":
            assert outputs[output] == ""  # no drift check here, no monitor identity
            continue
        assert len(outputs[output]) == 36, output  # a client ID (GUID)
    assert len({outputs[o] for o, _ in JOB_IDENTITIES.values()}) == len(JOB_IDENTITIES)
    assert outputs["ciClientId"] == outputs["deployerClientId"]  # kept for existing bootstraps
    assert outputs["runnerLabels"] == (["self-hosted", "forge-prod"] if env == "prod" else [])


def test_template_program_exports_the_same_outputs(example_dir) -> None:
    template = example_dir.parents[2] / "templates" / "ml-project" / "infra" / "__main__.py"
    assert "outputs = environment.outputs()" in template.read_text()


def test_federated_credentials_of_one_identity_are_created_one_after_another(tmp_path, example_dir) -> None:
    """Azure answers 409 to parallel writes of credentials on one identity: each waits for the last."""
    import shutil

    from stacks.testing import plan_program

    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(example_dir / name, tmp_path / name)
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "import stacks\n"
        "from stacks.identity import CiIdentity, CiIdentityArgs\n"
        "s = stacks.settings_from_config(pulumi.Config('forge'), environment=pulumi.get_stack())\n"
        "ci = CiIdentity('ci', CiIdentityArgs(settings=s, resource_group_name='rg',\n"
        "    resource_group_id='/subscriptions/0/resourceGroups/rg', subscription_id='0',\n"
        "    workspace_id='/w', storage_id='/s'))\n"
        "ci._federated('extra', 'id-extra', [(f'github-{e}', f'repo:o/r:environment:{e}')\n"
        "    for e in ('dev', 'dev-hotfix', 'dev-canary')])\n"
    )
    plan = plan_program(tmp_path, "dev")
    credentials = [
        r
        for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if r.name.startswith("extra-")
    ]
    by_name = {r.name: r for r in credentials}
    assert set(by_name) == {"extra-github", "extra-github-dev-hotfix", "extra-github-dev-canary"}
    assert "extra-github" in by_name["extra-github-dev-hotfix"].depends_on
    assert "extra-github-dev-hotfix" in by_name["extra-github-dev-canary"].depends_on
    assert not {"extra-github-dev-hotfix", "extra-github-dev-canary"} & set(
        by_name["extra-github"].depends_on
    )


def test_more_than_twenty_federated_credentials_are_refused(tmp_path, example_dir) -> None:
    import shutil

    import pytest

    from stacks.testing import ProgramError, plan_program

    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(example_dir / name, tmp_path / name)
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "import stacks\n"
        "from stacks.identity import CiIdentity, CiIdentityArgs\n"
        "s = stacks.settings_from_config(pulumi.Config('forge'), environment=pulumi.get_stack())\n"
        "ci = CiIdentity('ci', CiIdentityArgs(settings=s, resource_group_name='rg',\n"
        "    resource_group_id='/subscriptions/0/resourceGroups/rg', subscription_id='0',\n"
        "    workspace_id='/w', storage_id='/s'))\n"
        "ci._federated('extra', 'id-extra', [(f'github-e{i}', f'repo:o/r:environment:e{i}') for i in range(21)])\n"
    )
    with pytest.raises(ProgramError, match="at most 20 federated credentials"):
        plan_program(tmp_path, "dev")


@pytest.mark.parametrize("env", ENVS)
def test_shared_keys_stay_off_by_azure_policy_deny(example_plans, env) -> None:
    """storageAccounts/write could switch shared keys back on: the built-in policy "Storage
    accounts should prevent shared key access" with Deny, on the account itself, refuses it."""
    plan = example_plans[env]
    (account,) = plan.of_type("azure-native:storage:StorageAccount")
    assert account.properties["allowSharedKeyAccess"] is False
    (assignment,) = plan.of_type("azure-native:authorization:PolicyAssignment")
    props = assignment.properties
    assert props["policyDefinitionId"] == (
        "/providers/Microsoft.Authorization/policyDefinitions/8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54"
    )
    assert props["parameters"] == {"effect": {"value": "Deny"}}
    assert props["enforcementMode"] == "Default"
    assert props["scope"].endswith(f"/storageAccounts/{account.properties['accountName']}")
