"""Every policy rule has a resource that violates it, and the pack catches it at the right level."""

import copy
from dataclasses import replace

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from stacks.policies import build_policies, evaluate
from stacks.policies.rules import RULES
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
        "publicNetworkAccess",
        "Enabled",
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
        "repo:a/b:ref:refs/heads/main",
    ),
    "required-tags": ("azure-native:storage:StorageAccount", "tags", {"project": "x"}),
    "log-retention-90-days": ("azure-native:operationalinsights:Workspace", "retentionInDays", 30),
    "action-group-has-receiver": ("azure-native:monitor:ActionGroup", "emailReceivers", []),
}


def test_every_rule_has_a_violation_fixture() -> None:
    assert set(VIOLATIONS) == {rule.name for rule in RULES}


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
    assert all(isinstance(p, ResourceValidationPolicy) for p in strict.values())
    assert strict["workspace-private-network"].enforcement_level == EnforcementLevel.MANDATORY
    assert relaxed["workspace-private-network"].enforcement_level == EnforcementLevel.ADVISORY
    assert relaxed["required-tags"].enforcement_level == EnforcementLevel.MANDATORY


def test_pack_directory_is_a_python_policy_pack(example_dir) -> None:
    import yaml

    pack = example_dir.parents[1] / "policies" / "pack"
    assert yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"] == "python"
    source = (pack / "__main__.py").read_text()
    assert "PolicyPack(" in source and "build_policies" in source
