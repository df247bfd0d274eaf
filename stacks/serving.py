"""The online endpoint of an environment that serves in real time, with its alerts and logs.

The stack owns the endpoint (so Azure Monitor can watch it from the start); the deploy workflow
owns its deployments and traffic (blue/green, scripts/deploy.sh), hence `ignore_changes` on
traffic. AMBA lists no alerts for online endpoints; these two follow the endpoint metrics
Microsoft documents for `Microsoft.MachineLearningServices/workspaces/onlineEndpoints`
(`RequestsPerMinute` by `statusCodeClass`, `RequestLatency_P99` in milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import monitor

from stacks.config import EnvironmentSettings
from stacks.diagnostics import send_logs

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
LATENCY_P99_MS = 1000.0


@dataclass(frozen=True, kw_only=True)
class EndpointArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    log_analytics_id: pulumi.Input[str]
    action_group_id: pulumi.Input[str]


class OnlineEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:serving:OnlineEndpoint", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=s.online_endpoint,
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            location=s.location,
            kind="Managed",
            # System-assigned: Azure grants it AcrPull and blob access to the workspace's stores.
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode="AMLToken",  # as azureml/online-endpoint.yml (auth_mode: aml_token)
                public_network_access="Disabled" if s.network.private else "Enabled",
            ),
            tags=s.tags,
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["properties.traffic", "properties.mirrorTraffic"]
            ),
        )
        send_logs(
            f"{name}-diagnostics",
            resource_id=self.endpoint.id,
            workspace_id=args.log_analytics_id,
            parent=self,
        )
        for key, metric, operator, threshold, dimensions in (
            (
                "endpoint-5xx",
                "RequestsPerMinute",
                "GreaterThan",
                0.0,
                [monitor.MetricDimensionArgs(name="statusCodeClass", operator="Include", values=["5xx"])],
            ),
            ("endpoint-latency-p99", "RequestLatency_P99", "GreaterThan", LATENCY_P99_MS, None),
        ):
            monitor.MetricAlert(
                f"{name}-{key}",
                rule_name=s.names.alert(key),
                description=f"Online endpoint {s.online_endpoint}: {metric} {operator} {threshold:g}.",
                resource_group_name=args.resource_group_name,
                location="global",
                scopes=[self.endpoint.id],
                severity=s.profile.availability_severity,
                enabled=True,
                evaluation_frequency="PT1M",
                window_size="PT5M",
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[
                        monitor.MetricCriteriaArgs(
                            criterion_type="StaticThresholdCriterion",
                            name=key,
                            metric_namespace=ENDPOINT_NAMESPACE,
                            metric_name=metric,
                            time_aggregation="Average",
                            operator=operator,
                            threshold=threshold,
                            dimensions=dimensions,
                        )
                    ],
                ),
                actions=[monitor.MetricAlertActionArgs(action_group_id=args.action_group_id)],
                tags=s.tags,
                opts=child,
            )
        self.register_outputs({"endpoint": self.endpoint.name})
