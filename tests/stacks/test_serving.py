"""The online endpoint the stack owns where models are served in real time: alerts and logs."""

import pytest

ENVS = ("dev", "test", "prod")


@pytest.mark.parametrize("env", ENVS)
def test_online_endpoint_where_a_deploy_serves_online(example_plans, env) -> None:
    plan = example_plans[env]
    endpoints = plan.of_type("azure-native:machinelearningservices:OnlineEndpoint")
    if env == "dev":  # training only: no endpoint, no output
        assert endpoints == [] and plan.outputs["onlineEndpoint"] == ""
        return
    (endpoint,) = endpoints
    props = endpoint.properties
    assert props["endpointName"] == f"churn-model-{env}" == plan.outputs["onlineEndpoint"]
    assert props["properties"]["authMode"] == "AMLToken" and props["identity"]["type"] == "SystemAssigned"
    assert props["properties"]["publicNetworkAccess"] == ("Disabled" if env == "prod" else "Enabled")

    endpoint_id = f"/onlineEndpoints/churn-model-{env}"
    diagnostics = [
        d.properties
        for d in plan.of_type("azure-native:monitor:DiagnosticSetting")
        if d.properties["resourceUri"].endswith(endpoint_id)
    ]
    assert diagnostics and diagnostics[0]["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    alerts = {
        a.properties["criteria"]["allOf"][0]["metricName"]: a.properties
        for a in plan.of_type("azure-native:monitor:MetricAlert")
        if a.properties["scopes"][0].endswith(endpoint_id)
    }
    assert set(alerts) == {"RequestsPerMinute", "RequestLatency_P99"}
    errors = alerts["RequestsPerMinute"]["criteria"]["allOf"][0]
    assert errors["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert errors["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]
