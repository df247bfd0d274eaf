"""Every policy rule has a resource that violates it, and the pack catches it at the right level."""

import copy
from dataclasses import replace

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from stacks.policies import build_policies, evaluate
from stacks.policies.rules import RBAC_ADMINISTRATOR, RULES, STACK_RULES
from stacks.testing import Plan


def _set(props: dict, path: str, value) -> dict:
    props = copy.deepcopy(props)
    *parents, leaf = path.split(".")
    target = props
    for part in parents:
        target = target[part]
    target[leaf] = value
    return props


# rule → (resource type, change that breaks it)
VIOLATIONS = {
    "storage-secure-transport-no-public-blobs": (
        "azure-native:storage:StorageAccount",
        "minimumTlsVersion",
        "TLS1_0",
    ),
    "storage-no-shared-key": ("azure-native:storage:StorageAccount", "allowSharedKeyAccess", True),
    "key-vault-rbac-soft-delete": (
        "azure-native:keyvault:Vault",
        "properties.enableRbacAuthorization",
        False,
    ),
    "key-vault-purge-protection": ("azure-native:keyvault:Vault", "properties.enablePurgeProtection", None),
    "acr-no-admin-no-anonymous": ("azure-native:containerregistry:Registry", "adminUserEnabled", True),
    "acr-premium-private": ("azure-native:containerregistry:Registry", "publicNetworkAccess", "Enabled"),
    "workspace-managed-identity": ("azure-native:machinelearningservices:Workspace", "identity.type", "None"),
    "workspace-private-network": (
        "azure-native:machinelearningservices:Workspace",
        "managedNetwork.isolationMode",
        "AllowInternetOutbound",
    ),
    "compute-no-public-ip-no-ssh": (
        "azure-native:machinelearningservices:Compute",
        "properties.properties.enableNodePublicIp",
        True,
    ),
    "compute-no-instances": (
        "azure-native:machinelearningservices:Compute",
        "properties.computeType",
        "ComputeInstance",
    ),
    "compute-scale-to-zero": (
        "azure-native:machinelearningservices:Compute",
        "properties.properties.scaleSettings.minNodeCount",
        1,
    ),
    "ci-identity-github-oidc": (
        "azure-native:managedidentity:FederatedIdentityCredential",
        "subject",
        "repo:a/b:ref:refs/tags/v1",  # deployments run from a branch, never a tag
    ),
    "required-tags": ("azure-native:storage:StorageAccount", "tags", {"project": "x"}),
    "log-retention-90-days": ("azure-native:operationalinsights:Workspace", "retentionInDays", 30),
    "action-group-has-receiver": ("azure-native:monitor:ActionGroup", "emailReceivers", []),
}


# Rules of issue #13: rule → (resource type, [(path, value), ...] that together break it).
PRIVATE_PROD_VIOLATIONS = {
    "storage-no-open-network": (
        "azure-native:storage:StorageAccount",
        [("publicNetworkAccess", "Enabled"), ("networkRuleSet.defaultAction", "Allow")],
    ),
    "key-vault-no-open-network": (
        "azure-native:keyvault:Vault",
        [("properties.publicNetworkAccess", "Enabled"), ("properties.networkAcls", None)],
    ),
    "workspace-managed-network-provisioned": (
        "azure-native:machinelearningservices:Workspace",
        [("provisionNetworkNow", None)],
    ),
    "compute-user-assigned-identity": (
        "azure-native:machinelearningservices:Compute",
        [("identity.type", "SystemAssigned")],
    ),
    "compute-instance-assigned-user": (
        "azure-native:machinelearningservices:Compute",
        [("properties.computeType", "ComputeInstance")],
    ),
    "rbac-administrator-constrained": (
        "azure-native:authorization:RoleAssignment",
        [
            ("roleDefinitionId", f"/providers/Microsoft.Authorization/roleDefinitions/{RBAC_ADMINISTRATOR}"),
            (
                "condition",
                "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {x}",
            ),
        ],
    ),
    "runner-secret-from-key-vault": ("azure-native:app:Job", [("configuration.replicaTimeout", 1800)]),
    # The deployer was Contributor, which lists storage keys (shared-key-off bypassed).
    "no-contributor-assignment": (
        "azure-native:authorization:RoleAssignment",
        [
            (
                "roleDefinitionId",
                "/subscriptions/0/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c",
            ),
            ("condition", None),
        ],
    ),
    # Contributor copied without the key notActions.
    "custom-role-no-key-actions": (
        "azure-native:authorization:RoleDefinition",
        [("permissions", [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}])],
    ),
}


def test_every_rule_has_a_violation_fixture() -> None:
    assert set(VIOLATIONS) | set(PRIVATE_PROD_VIOLATIONS) == {rule.name for rule in RULES}
    assert not set(VIOLATIONS) & set(PRIVATE_PROD_VIOLATIONS)
    assert set(STACK_VIOLATIONS) == {rule.name for rule in STACK_RULES}


@pytest.mark.parametrize("rule", sorted(PRIVATE_PROD_VIOLATIONS))
def test_private_prod_violation_is_caught(example_plans, rule: str) -> None:
    resource_type, changes = PRIVATE_PROD_VIOLATIONS[rule]
    prod = example_plans["prod"]
    target = next(r for r in prod.resources if r.type == resource_type)
    props = target.properties
    for path, value in changes:
        props = _set(props, path, value)
    found = [
        v
        for v in evaluate(Plan(prod.project, "prod", [replace(target, properties=props)]))
        if v.policy == rule
    ]
    assert found and found[0].level == "mandatory" and found[0].resource == target.name
    # The unbroken resource passes the same rule: the fixture, not the rule, makes the difference.
    assert not [v for v in evaluate(Plan(prod.project, "prod", [target])) if v.policy == rule]


def _without(plan: Plan, drop) -> Plan:
    return Plan(plan.project, plan.environment, [r for r in plan.resources if not drop(r)])


def _zone(r) -> str | None:
    return r.properties.get("privateZoneName")


# Stack rule → a change to the whole prod plan that breaks it.
STACK_VIOLATIONS = {
    "private-endpoints-and-dns": lambda plan: _without(
        plan,
        lambda r: (
            r.type == "azure-native:privatedns:VirtualNetworkLink"
            and _zone(r) == "privatelink.notebooks.azure.net"
        ),
    ),
    "runner-path-present": lambda plan: _without(plan, lambda r: r.type == "azure-native:app:Job"),
    "no-scope-lock-on-workspace": lambda plan: Plan(
        plan.project,
        plan.environment,
        [
            *plan.resources,
            replace(
                next(
                    r for r in plan.resources if r.type == "azure-native:authorization:ManagementLockByScope"
                ),
                name="group-lock",
                properties={
                    "scope": "/subscriptions/0/resourceGroups/rg-churn-model-prod",
                    "level": "CanNotDelete",
                },
            ),
        ],
    ),
    # Public inbound while storage is private: neither closed nor the ip-allowlist mode.
    "workspace-inbound-closed": lambda plan: Plan(
        plan.project,
        plan.environment,
        [
            replace(r, properties={**r.properties, "publicNetworkAccess": "Enabled"})
            if r.type == "azure-native:machinelearningservices:Workspace"
            else r
            for r in plan.resources
        ],
    ),
    "shared-key-stays-off": lambda plan: _without(
        plan, lambda r: r.type == "azure-native:authorization:PolicyAssignment"
    ),
    "locks-writable-by-deployer": lambda plan: _without(
        plan,
        lambda r: r.type == "azure-native:authorization:RoleDefinition" and "lock-manager" in r.name,
    ),
    "locks-on-data-protect-on-workspace": lambda plan: _without(
        plan,
        lambda r: (
            r.type == "azure-native:authorization:ManagementLockByScope" and "vaults" in r.properties["scope"]
        ),
    ),
}


@pytest.mark.parametrize("rule", sorted(STACK_VIOLATIONS))
def test_stack_rule_violation_is_caught(example_plans, rule: str) -> None:
    prod = example_plans["prod"]
    assert not [v for v in evaluate(prod) if v.policy == rule]
    found = [v for v in evaluate(STACK_VIOLATIONS[rule](prod)) if v.policy == rule]
    level = next(r.level for r in STACK_RULES if r.name == rule)
    assert found and found[0].level == ("advisory" if level == "advisory" else "mandatory"), found


def test_missing_private_endpoint_and_zone_are_named(example_plans) -> None:
    prod = example_plans["prod"]
    broken = _without(
        prod,
        lambda r: (
            (r.type == "azure-native:network:PrivateEndpoint" and r.name.endswith("storage-file"))
            or _zone(r) == "privatelink.api.azureml.ms"
        ),
    )
    messages = {v.message for v in evaluate(broken) if v.policy == "private-endpoints-and-dns"}
    assert "no private endpoint for sub-resource 'file'" in messages
    # The shared registry's endpoint is part of a private environment's guarantee too.
    no_registry = _without(prod, lambda r: r.name.endswith("pe-shared-registry"))
    assert "no private endpoint for sub-resource 'amlregistry'" in {
        v.message for v in evaluate(no_registry) if v.policy == "private-endpoints-and-dns"
    }
    assert "private DNS zone privatelink.api.azureml.ms missing" in messages


def test_workspace_without_protect_is_caught(example_plans) -> None:
    prod = example_plans["prod"]
    unprotected = Plan(
        prod.project,
        "prod",
        [
            replace(r, protect=False) if r.type == "azure-native:machinelearningservices:Workspace" else r
            for r in prod.resources
        ],
    )
    assert any("protect" in v.message for v in evaluate(unprotected) if v.level == "mandatory")


def test_the_default_prod_plan_is_clean(example_plans) -> None:
    assert evaluate(example_plans["prod"]) == []


@pytest.mark.parametrize("rule", sorted(VIOLATIONS))
def test_violation_is_caught(example_plans, rule: str) -> None:
    resource_type, path, value = VIOLATIONS[rule]
    prod = example_plans["prod"]
    target = next(r for r in prod.resources if r.type == resource_type)
    broken = replace(target, properties=_set(target.properties, path, value))
    plan = Plan(prod.project, "prod", [broken])
    found = [v for v in evaluate(plan) if v.policy == rule]
    assert found, f"{rule} did not catch {path}={value!r}"
    level = next(r.level for r in RULES if r.name == rule)
    assert found[0].level == ("advisory" if level == "advisory" else "mandatory")
    assert found[0].resource == target.name

    relaxed = [v for v in evaluate(Plan(prod.project, "dev", [broken])) if v.policy == rule]
    assert relaxed[0].level == ("mandatory" if level == "mandatory" else "advisory")


def test_dev_relaxations_are_advisory_only(example_plans) -> None:
    found = evaluate(example_plans["dev"])
    assert found and all(v.level == "advisory" for v in found)
    assert {"workspace-private-network", "compute-no-instances"} <= {v.policy for v in found}


def test_pack_policies_are_pulumi_policy_objects_with_levels() -> None:
    strict = {p.name: p for p in build_policies(strict=True)}
    relaxed = {p.name: p for p in build_policies(strict=False)}
    assert all(isinstance(p, (ResourceValidationPolicy, StackValidationPolicy)) for p in strict.values())
    assert {n for n, p in strict.items() if isinstance(p, StackValidationPolicy)} == {
        r.name for r in STACK_RULES
    }
    assert strict["workspace-private-network"].enforcement_level == EnforcementLevel.MANDATORY
    assert relaxed["workspace-private-network"].enforcement_level == EnforcementLevel.ADVISORY
    assert relaxed["required-tags"].enforcement_level == EnforcementLevel.MANDATORY


def test_pack_directory_is_a_python_policy_pack(example_dir) -> None:
    import yaml

    pack = example_dir.parents[1] / "policies" / "pack"
    assert yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"] == "python"
    source = (pack / "__main__.py").read_text()
    assert "PolicyPack(" in source and "build_policies" in source
