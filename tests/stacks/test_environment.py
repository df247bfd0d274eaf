"""The example program's plan, per environment: resources present and configured securely."""

import pytest

from stacks.roles import AZUREML_REGISTRY_USER

ENVS = ("dev", "test", "prod")
AMBA_WORKSPACE_METRICS = {
    "Failed Runs",
    "Model Deploy Failed",
    "Not Responding Runs",
    "Quota Utilization Percentage",
    "Unusable Nodes",
}
TAGGED = ("project", "environment", "managed-by", "template-version")


def one(plan, token):
    found = plan.of_type(token)
    assert len(found) == 1, f"{token}: {len(found)} in {plan.environment}"
    return found[0].properties


@pytest.mark.parametrize("env", ENVS)
def test_core_resources_exist_once_per_environment(example_plans, env) -> None:
    plan = example_plans[env]
    for token in (
        "azure-native:operationalinsights:Workspace",
        "azure-native:applicationinsights:Component",
        "azure-native:keyvault:Vault",
        "azure-native:storage:StorageAccount",
        "azure-native:containerregistry:Registry",
        "azure-native:machinelearningservices:Workspace",
        "azure-native:monitor:ActionGroup",
        "azure-native:consumption:Budget",
        "azure-native:monitor:ScheduledQueryRule",
    ):
        one(plan, token)


@pytest.mark.parametrize("env", ENVS)
def test_storage_key_vault_registry_baseline(example_plans, env) -> None:
    plan = example_plans[env]
    st = one(plan, "azure-native:storage:StorageAccount")
    assert (st["allowBlobPublicAccess"], st["minimumTlsVersion"], st["enableHttpsTrafficOnly"]) == (
        False,
        "TLS1_2",
        True,
    )
    assert st["allowSharedKeyAccess"] is False
    kv = one(plan, "azure-native:keyvault:Vault")["properties"]
    assert kv["enableRbacAuthorization"] is True and kv["enableSoftDelete"] is True
    assert kv.get("enablePurgeProtection") is (True if env in ("test", "prod") else None)
    acr = one(plan, "azure-native:containerregistry:Registry")
    assert acr["adminUserEnabled"] is False and acr["anonymousPullEnabled"] is False
    assert acr["sku"]["name"] == {"dev": "Basic", "test": "Standard", "prod": "Premium"}[env]
    assert acr["publicNetworkAccess"] == ("Disabled" if env == "prod" else "Enabled")


@pytest.mark.parametrize("env", ENVS)
def test_workspace_identity_network_and_diagnostics(example_plans, env) -> None:
    plan = example_plans[env]
    ws = one(plan, "azure-native:machinelearningservices:Workspace")
    assert ws["identity"]["type"] == "SystemAssigned"
    assert ws["systemDatastoresAuthMode"] == "identity"
    if env == "prod":
        assert ws["publicNetworkAccess"] == "Disabled"
        assert ws["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    else:
        assert ws["publicNetworkAccess"] == "Enabled"
    logs = one(plan, "azure-native:applicationinsights:Component")
    assert logs["ingestionMode"] == "LogAnalytics" and logs["workspaceResourceId"].endswith(
        f"log-churn-model-{env}"
    )
    diagnostics = [d.properties for d in plan.of_type("azure-native:monitor:DiagnosticSetting")]
    to_workspace = [
        d for d in diagnostics if "Microsoft.MachineLearningServices/workspaces" in d["resourceUri"]
    ]
    # allLogs includes AmlComputeJobEvent, which the failed-jobs log alert queries.
    assert to_workspace and to_workspace[0]["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    retention = one(plan, "azure-native:operationalinsights:Workspace")["retentionInDays"]
    assert retention == {"dev": 30, "test": 60, "prod": 90}[env]


@pytest.mark.parametrize("env", ENVS)
def test_compute_scales_to_zero_and_is_locked_down_in_prod(example_plans, env) -> None:
    plan = example_plans[env]
    computes = {
        c.properties["computeName"]: c.properties["properties"]
        for c in plan.of_type("azure-native:machinelearningservices:Compute")
    }
    cpu = computes["cpu-cluster"]["properties"]
    assert cpu["scaleSettings"]["minNodeCount"] == 0
    assert cpu["scaleSettings"]["nodeIdleTimeBeforeScaleDown"].startswith("PT")
    assert cpu["vmPriority"] == ("LowPriority" if env == "dev" else "Dedicated")
    if env == "prod":
        assert cpu["enableNodePublicIp"] is False and cpu["remoteLoginPortPublicAccess"] == "Disabled"
        assert "gpu-cluster" in computes  # the example asks for a GPU cluster in prod only
    instances = [c for c in computes.values() if c["computeType"] == "ComputeInstance"]
    assert len(instances) == (1 if env == "dev" else 0)
    if instances:
        assert instances[0]["properties"]["idleTimeBeforeShutdown"] == "PT60M"
        # Personal: assigned to the named user, never to whoever ran `pulumi up`.
        assigned = instances[0]["properties"]["personalComputeInstanceSettings"]["assignedUser"]
        assert assigned["objectId"] == "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b" and assigned["tenantId"]


@pytest.mark.parametrize("env", ENVS)
def test_alerts_cover_amba_must_haves(example_plans, env) -> None:
    plan = example_plans[env]
    criteria = [
        a.properties["criteria"]["allOf"][0] for a in plan.of_type("azure-native:monitor:MetricAlert")
    ]
    workspace_metrics = {
        c["metricName"]
        for c in criteria
        if c["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces"
    }
    assert workspace_metrics == AMBA_WORKSPACE_METRICS
    namespaces = {c["metricNamespace"] for c in criteria if c["metricName"] == "Availability"}
    assert namespaces == {
        "Microsoft.KeyVault/vaults",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/fileServices",
    }
    for alert in plan.of_type("azure-native:monitor:MetricAlert"):
        assert alert.properties["actions"][0]["actionGroupId"].endswith(f"ag-churn-model-{env}")
    query = one(plan, "azure-native:monitor:ScheduledQueryRule")
    assert "AmlComputeJobEvent" in query["criteria"]["allOf"][0]["query"]
    budget = one(plan, "azure-native:consumption:Budget")
    kinds = {n["thresholdType"] for n in budget["notifications"].values()}
    assert kinds == {"Actual", "Forecasted"} and budget["timeGrain"] == "Monthly"
    assert budget["timePeriod"]["startDate"].endswith("-01T00:00:00Z")


def test_role_assignment_names_are_deterministic_guids(example_dir) -> None:
    from stacks.testing import plan_program

    first, second = (plan_program(example_dir, "test") for _ in range(2))
    names = [
        a.properties["roleAssignmentName"] for a in first.of_type("azure-native:authorization:RoleAssignment")
    ]
    assert names == [
        a.properties["roleAssignmentName"]
        for a in second.of_type("azure-native:authorization:RoleAssignment")
    ]
    assert all(len(n) == 36 and n.count("-") == 4 for n in names)


def test_registry_created_once_in_the_host_environment(example_plans) -> None:
    created = {
        env: len(p.of_type("azure-native:machinelearningservices:Registry"))
        for env, p in example_plans.items()
    }
    assert created == {"dev": 1, "test": 0, "prod": 0}
    ids = {
        env: {
            a.properties["scope"]
            for a in p.of_type("azure-native:authorization:RoleAssignment")
            if a.properties["roleDefinitionId"].endswith(AZUREML_REGISTRY_USER)
        }
        for env, p in example_plans.items()
    }
    assert ids["test"] == ids["prod"] and next(iter(ids["test"])).endswith(
        p_name := example_plans["dev"]
        .of_type("azure-native:machinelearningservices:Registry")[0]
        .properties["registryName"]
    ), p_name


@pytest.mark.parametrize("env", ENVS)
def test_every_taggable_resource_is_tagged_and_parented(example_plans, env) -> None:
    from stacks.policies.rules import UNTAGGABLE

    plan = example_plans[env]
    for resource in plan.resources:
        if resource.custom:
            assert resource.parent is not None, resource.name
        if resource.custom and resource.type not in UNTAGGABLE:
            tags = resource.properties.get("tags", {})
            assert all(tags.get(t) for t in TAGGED), (resource.name, tags)
