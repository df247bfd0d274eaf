"""The complete Azure Monitor Baseline Alerts (AMBA) baseline, per resource type, per environment.

The test reads AMBA's alerts (stacks/amba/alerts.yaml, extracted from AMBA's repository) and
fails when the plan of an environment lacks one for a resource type that environment creates,
or when its metric, aggregation, operator, window, frequency or threshold differ from AMBA's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.monitoring import ACR_TIER_ALERTS, NOT_APPLICABLE

ENVS = ("dev", "test", "prod")
AMBA = yaml.safe_load((Path(__file__).parents[2] / "stacks" / "amba" / "alerts.yaml").read_text())
# Plan resource token → AMBA resource type.
AMBA_TYPES = {
    "azure-native:machinelearningservices:Workspace": "Microsoft.MachineLearningServices/workspaces",
    "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "azure-native:containerregistry:Registry": "Microsoft.ContainerRegistry/registries",
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "azure-native:network:VirtualNetwork": "Microsoft.Network/virtualNetworks",
    "azure-native:privatedns:PrivateZone": "Microsoft.Network/privateDnsZones",
}
# The profile sets these thresholds (per-environment), not AMBA.
PROFILE_THRESHOLDS = {
    ("Microsoft.MachineLearningServices/workspaces", "Quota Utilization Percentage"),
    ("Microsoft.KeyVault/vaults", "Availability"),
    ("Microsoft.Storage/storageAccounts", "Availability"),
}


def test_the_extraction_names_its_amba_commit() -> None:
    assert len(AMBA["commit"]) == 40 and AMBA["commit"] in AMBA["source"]
    assert set(AMBA["resourceTypes"]) == set(AMBA_TYPES.values())


def test_every_exclusion_has_a_reason_and_exists_in_amba() -> None:
    for (resource_type, name), reason in NOT_APPLICABLE.items():
        assert reason, name
        assert name in {a["name"] for a in AMBA["resourceTypes"][resource_type]}, name


def _criteria(plan):
    found = []
    for alert in plan.of_type("azure-native:monitor:MetricAlert"):
        props = alert.properties
        criterion = props["criteria"]["allOf"][0]
        found.append((props, criterion))
    return found


def _same(alert, resource_type, props, c) -> bool:
    """An alert in the plan with AMBA's metric, aggregation, operator, window, frequency, threshold."""
    same = (
        c["metricName"] == alert["metricName"]
        and c["metricNamespace"] == alert["metricNamespace"]
        and c["timeAggregation"] == alert["timeAggregation"]
        and c["operator"] == alert["operator"]
        and props["windowSize"] == alert["windowSize"]
        and props["evaluationFrequency"] == alert["evaluationFrequency"]
        and c["criterionType"] == alert["criterionType"]
    )
    if not same:
        return False
    if alert["criterionType"] == "DynamicThresholdCriterion":
        return c["alertSensitivity"] == alert["alertSensitivity"]
    if (resource_type, alert["metricName"]) in PROFILE_THRESHOLDS:
        return True
    wanted = {d["name"].lower() for d in alert.get("dimensions") or []} - {"fileshare"}
    return (
        c["threshold"] == alert["threshold"]
        and {d["name"].lower() for d in c.get("dimensions") or []} == wanted
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_amba_alert_of_every_created_type_is_there(example_plans, env) -> None:
    plan = example_plans[env]
    created = {AMBA_TYPES[r.type] for r in plan.resources if r.type in AMBA_TYPES}
    metric_alerts = _criteria(plan)
    activity_operations = {
        c["equals"]
        for a in plan.of_type("azure-native:monitor:ActivityLogAlert")
        for c in a.properties["condition"]["allOf"]
        if c["field"] == "operationName"
    }
    sku = plan.of_type("azure-native:containerregistry:Registry")[0].properties["sku"]["name"]
    missing = []
    for resource_type in sorted(created):
        for alert in AMBA["resourceTypes"][resource_type]:
            if (resource_type, alert["name"]) in NOT_APPLICABLE:
                continue
            tier = ACR_TIER_ALERTS.get(alert["name"])
            if tier and (sku == "Standard") != (tier == "Standard"):
                continue
            if alert["type"] == "ActivityLog":
                if alert["operationName"] not in activity_operations:
                    missing.append((resource_type, alert["name"]))
                continue
            if not any(_same(alert, resource_type, props, c) for props, c in metric_alerts):
                missing.append((resource_type, alert["name"]))
    assert missing == []


def test_the_issue_s_named_gaps_are_closed(example_plans) -> None:
    plan = example_plans["prod"]
    metrics = {(c["metricNamespace"], c["metricName"]): props for props, c in _criteria(plan)}
    for name in ("SaturationShoebox", "ServiceApiLatency", "ServiceApiResult"):
        assert ("Microsoft.KeyVault/vaults", name) in metrics
    # AMBA: storage availability over a 1-minute window.
    assert metrics[("Microsoft.Storage/storageAccounts", "Availability")]["windowSize"] == "PT1M"
    assert any(ns == "Microsoft.ContainerRegistry/registries" for ns, _ in metrics)
    operations = {
        c["equals"]
        for a in plan.of_type("azure-native:monitor:ActivityLogAlert")
        for c in a.properties["condition"]["allOf"]
        if c["field"] == "operationName"
    }
    assert operations == {
        "Microsoft.KeyVault/vaults/delete",
        "Microsoft.OperationalInsights/workspaces/delete",
        "Microsoft.OperationalInsights/workspaces/regeneratesharedkey/action",
    }


@pytest.mark.parametrize("env", ENVS)
def test_storage_service_alerts_target_the_service(example_plans, env) -> None:
    for props, c in _criteria(example_plans[env]):
        namespace = c["metricNamespace"]
        if namespace.startswith("Microsoft.Storage/storageAccounts/"):
            service = namespace.rsplit("/", 1)[-1]
            assert props["scopes"][0].endswith(f"/{service}/default"), props["scopes"]


@pytest.mark.parametrize("env", ENVS)
def test_severities_follow_the_profile(example_plans, env) -> None:
    from stacks.profiles import get_profile

    profile = get_profile(env)
    allowed = {profile.alert_severity, profile.availability_severity}
    for props, _ in _criteria(example_plans[env]):
        assert props["severity"] in allowed


def test_dynamic_thresholds_use_the_multiple_resource_schema(example_plans) -> None:
    dynamic = [
        props
        for props, c in _criteria(example_plans["prod"])
        if c["criterionType"] == "DynamicThresholdCriterion"
    ]
    assert dynamic
    for props in dynamic:
        assert (
            props["criteria"]["odataType"] == "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria"
        )
        assert props["criteria"]["allOf"][0]["failingPeriods"] == {
            "minFailingPeriodsToAlert": 4,
            "numberOfEvaluationPeriods": 4,
        }


@pytest.mark.parametrize("env", ENVS)
def test_diagnostic_settings_on_every_resource_that_has_them(example_plans, env) -> None:
    plan = example_plans[env]
    settings = {
        d.properties["resourceUri"]: d.properties
        for d in plan.of_type("azure-native:monitor:DiagnosticSetting")
    }
    kinds = {
        uri.split("/providers/", 1)[1].split("/")[1]
        + ("/" + uri.rsplit("/", 2)[-2] if uri.endswith("/default") else "")
        for uri in settings
    }
    assert kinds >= {
        "workspaces",  # Azure ML and Log Analytics
        "vaults",
        "registries",
        "storageAccounts",
        "storageAccounts/blobServices",
        "storageAccounts/fileServices",
    } | ({"managedEnvironments", "virtualNetworks", "privateEndpoints"} if env == "prod" else set())
    metrics_only = (
        "/privateEndpoints/",
        "/" + plan.of_type("azure-native:storage:StorageAccount")[0].properties["accountName"],
    )
    for uri, d in settings.items():
        assert d["metrics"] == [{"category": "AllMetrics", "enabled": True}]
        if uri.endswith(metrics_only[1]) or metrics_only[0] in uri:
            assert d.get("logs") is None, uri  # these resources have metrics but no log categories
        else:
            assert d["logs"] == [{"categoryGroup": "allLogs", "enabled": True}], uri
        assert d["workspaceId"].endswith(f"/log-churn-model-{env}")


def test_dimension_values_are_split_as_azure_takes_them(example_plans) -> None:
    throttling = [
        c
        for _, c in _criteria(example_plans["prod"])
        if c["metricName"] == "Transactions" and c["operator"] == "GreaterThanOrEqual"
    ]
    assert len(throttling) == 1
    (dimension,) = throttling[0]["dimensions"]
    assert dimension["name"] == "ResponseType" and dimension["operator"] == "Include"
    assert (
        "SuccessWithThrottling" in dimension["values"]
        and "ClientShareIopsThrottlingError" in dimension["values"]
    )
    assert all(" " not in v for v in dimension["values"])
