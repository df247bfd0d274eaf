"""Alerts and budget: who hears about failures and spend, and when.

Every alert Azure Monitor Baseline Alerts (AMBA) lists for each resource type the stack creates,
with AMBA's metric names, aggregations, operators, windows, frequencies and thresholds, read
from `stacks/amba/alerts.yaml` (an extraction of AMBA's own files). Severities follow the
profile (AMBA's critical ones take `availabilitySeverity`, the rest `alertSeverity`), and the
profile's availability and quota thresholds override AMBA's where it sets them. The few AMBA
alerts that cannot apply here are listed in `NOT_APPLICABLE` with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi_azure_native import consumption, monitor

from stacks.config import EnvironmentSettings

WORKSPACE_NAMESPACE = "Microsoft.MachineLearningServices/workspaces"
FAILED_JOBS_QUERY = (
    "AmlComputeJobEvent\n"
    '| where EventType == "JobFailed"\n'
    "| project TimeGenerated, JobName, ExperimentName, ClusterName, JobErrorMessage"
)
AMBA_FILE = Path(__file__).with_name("amba") / "alerts.yaml"

# (resource type, AMBA alert name) → why the stack leaves it out.
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    **{
        ("Microsoft.OperationalInsights/workspaces", name): (
            "a log-based metric of virtual machines' agents; no machine reports to this workspace"
        )
        for name in (
            "Average_% Free Space",
            "Average_% Processor Time",
            "Average_% Committed Bytes In Use",
            "Average_% Used Memory",
            "Heartbeat",
            "Average_% Used Space",
            "Average_Available MBytes",
            "Average_Disk Transfers/sec",
            "Average_Available MBytes Memory",
            "Average_% Available Memory",
            "Average_% Used Inodes",
            "Average_Free Megabytes",
            "Average_% Used Swap Space",
            "Average_Pages/sec",
            "Average_Current Disk Queue Length",
            "Average_Bytes Sent/sec",
            "Average_Bytes Received/sec",
            "Average_Total Bytes Transmitted",
            "Average_Total Bytes Received",
            "Event",
            "Average_Avg. Disk sec/Write",
            "Average_Avg. Disk sec/Read",
            "Average_% User Time",
            "Average_% IO Wait Time",
            "Average_% Idle Time",
        )
    },
    (
        "Microsoft.Storage/storageAccounts",
        "blobServices - BlobCount",
    ): "AMBA marks it not visible (no baseline)",
}
# Keys of the alerts that existed before the full baseline: kept so existing stacks update them in place.
LEGACY_KEYS = {
    ("Microsoft.MachineLearningServices/workspaces", "Failed Runs"): "failed-runs",
    ("Microsoft.MachineLearningServices/workspaces", "Model Deploy Failed"): "model-deploy-failed",
    ("Microsoft.MachineLearningServices/workspaces", "Not Responding Runs"): "not-responding-runs",
    ("Microsoft.MachineLearningServices/workspaces", "Quota Utilization Percentage"): "quota-utilization",
    ("Microsoft.MachineLearningServices/workspaces", "Unusable Nodes"): "unusable-nodes",
    ("Microsoft.KeyVault/vaults", "Availability"): "key-vault-availability",
    ("Microsoft.Storage/storageAccounts", "Availability"): "storage-availability",
}
# AMBA's two storage-size alerts for a container registry: one sized for the Standard tier.
ACR_TIER_ALERTS = {"StorageUsed for Standard Pricing Plan": "Standard", "StorageUsed": "Premium"}


@dataclass(frozen=True)
class MetricAlertSpec:
    key: str
    description: str
    namespace: str
    metric: str
    aggregation: str
    operator: str
    threshold: float | None
    severity: int
    target: str  # which resource: a key of MonitoringArgs.targets, e.g. "workspace", "storage"
    window: str = "PT5M"
    frequency: str = "PT1M"
    sub_resource: str = ""  # e.g. "blobServices/default" for a storage service's metrics
    dynamic: dict[str, Any] | None = None  # sensitivity and failing periods of a dynamic threshold
    dimensions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, operator, values)
    amba_name: str = ""
    resource_type: str = ""


@dataclass(frozen=True)
class ActivityAlertSpec:
    key: str
    description: str
    operation: str
    resource_type: str
    amba_name: str


# AMBA resource type → (MonitoringArgs.targets key, short key for names)
TARGETS = {
    "Microsoft.MachineLearningServices/workspaces": ("workspace", "mlw"),
    "Microsoft.KeyVault/vaults": ("key_vault", "kv"),
    "Microsoft.Storage/storageAccounts": ("storage", "st"),
    "Microsoft.ContainerRegistry/registries": ("container_registry", "cr"),
    "Microsoft.OperationalInsights/workspaces": ("log_analytics", "log"),
    "Microsoft.Network/virtualNetworks": ("virtual_network", "vnet"),
    "Microsoft.Network/privateDnsZones": ("private_dns_zone", "dns"),
}


@functools.cache
def amba_catalogue() -> dict[str, list[dict[str, Any]]]:
    """AMBA's alerts per resource type (see stacks/amba/alerts.yaml)."""
    return yaml.safe_load(AMBA_FILE.read_text(encoding="utf-8"))["resourceTypes"]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


def _profile_threshold(
    settings: EnvironmentSettings, resource_type: str, metric: str, namespace: str
) -> float | None:
    p = settings.profile
    overrides = {
        (
            "Microsoft.MachineLearningServices/workspaces",
            "Quota Utilization Percentage",
        ): p.quota_utilization_percent,
        ("Microsoft.KeyVault/vaults", "Availability"): p.key_vault_availability_percent,
    }
    if namespace == "Microsoft.Storage/storageAccounts" and metric == "Availability":
        return p.storage_availability_percent
    return overrides.get((resource_type, metric))


def amba_dimensions(alert: dict[str, Any]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """AMBA's dimension filters, as Azure takes them.

    AMBA writes several values as one space-separated string; Azure wants one value each. Its
    storage `Throttling` alert also lists throttling response types under `FileShare` (a share
    name dimension, so it would never match): those values belong to `ResponseType`.
    """
    merged: dict[str, tuple[str, set[str]]] = {}
    for dimension in alert.get("dimensions") or []:
        name = dimension["name"]
        values = {v for value in dimension["values"] for v in str(value).split()}
        if name == "FileShare" and all("Throttling" in v for v in values):
            name = "ResponseType"
        name = name[:1].upper() + name[1:]
        operator = dimension["operator"].capitalize()
        merged.setdefault(name, (operator, set()))[1].update(values)
    return tuple((name, op, tuple(sorted(values))) for name, (op, values) in merged.items())


def metric_alert_specs(
    settings: EnvironmentSettings, resource_types: tuple[str, ...] | None = None
) -> list[MetricAlertSpec]:
    """The metric alerts of every AMBA resource type in `resource_types` (default: all in TARGETS)."""
    p = settings.profile
    specs = []
    for resource_type in resource_types or tuple(TARGETS):
        target, short = TARGETS[resource_type]
        for alert in amba_catalogue().get(resource_type, []):
            if alert["type"] != "Metric" or (resource_type, alert["name"]) in NOT_APPLICABLE:
                continue
            tier = ACR_TIER_ALERTS.get(alert["name"])
            if tier and (p.container_registry_sku == "Standard") != (tier == "Standard"):
                continue
            namespace = alert["metricNamespace"]
            sub = namespace.removeprefix(resource_type).strip("/")
            override = _profile_threshold(settings, resource_type, alert["metricName"], namespace)
            dynamic = None
            if alert.get("criterionType") == "DynamicThresholdCriterion":
                dynamic = {
                    "sensitivity": alert.get("alertSensitivity", "Medium"),
                    "periods": alert.get("failingPeriods")
                    or {"numberOfEvaluationPeriods": 4, "minFailingPeriodsToAlert": 4},
                }
            specs.append(
                MetricAlertSpec(
                    key=LEGACY_KEYS.get((resource_type, alert["name"]), f"{short}-{_slug(alert['name'])}"),
                    description=f"AMBA baseline: {alert['name']} ({resource_type}).",
                    namespace=namespace,
                    metric=alert["metricName"],
                    aggregation=alert["timeAggregation"],
                    operator=alert["operator"],
                    threshold=override if override is not None else alert.get("threshold"),
                    severity=p.availability_severity if int(alert["severity"]) <= 1 else p.alert_severity,
                    target=target,
                    window=alert["windowSize"],
                    frequency=alert["evaluationFrequency"],
                    sub_resource=f"{sub}/default" if sub else "",
                    dynamic=dynamic,
                    dimensions=amba_dimensions(alert),
                    amba_name=alert["name"],
                    resource_type=resource_type,
                )
            )
    return specs


def activity_alert_specs(resource_types: tuple[str, ...] | None = None) -> list[ActivityAlertSpec]:
    specs = []
    for resource_type in resource_types or tuple(TARGETS):
        _, short = TARGETS[resource_type]
        for alert in amba_catalogue().get(resource_type, []):
            if alert["type"] == "ActivityLog":
                specs.append(
                    ActivityAlertSpec(
                        key=f"{short}-{_slug(alert['name'].removeprefix('Activity Log '))}",
                        description=f"AMBA baseline: {alert['name']}.",
                        operation=alert["operationName"],
                        resource_type=resource_type,
                        amba_name=alert["name"],
                    )
                )
    return specs


def first_of_month(today: dt.date | None = None) -> str:
    today = today or dt.datetime.now(dt.UTC).date()
    return f"{today:%Y-%m}-01T00:00:00Z"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    targets: dict[str, pulumi.Input[str]]  # "workspace" / "key_vault" / "storage" ... → resource id
    log_analytics_id: pulumi.Input[str]
    private_dns_zones: dict[str, pulumi.Input[str]] | None = None  # zone name → id (private mode)


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:monitoring:Monitoring", name, None, opts)
        s, p, names = args.settings, args.settings.profile, args.settings.names
        child = pulumi.ResourceOptions(parent=self)

        self.action_group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=names.action_group,
            group_short_name=names.action_group_short,
            enabled=True,
            location="global",
            resource_group_name=args.resource_group_name,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name=f"email-{i}", email_address=email, use_common_alert_schema=True
                )
                for i, email in enumerate(s.alert_emails, start=1)
            ],
            webhook_receivers=[
                monitor.WebhookReceiverArgs(
                    name="webhook", service_uri=s.alert_webhook, use_common_alert_schema=True
                )
            ]
            if s.alert_webhook
            else None,
            tags=s.tags,
            opts=child,
        )
        actions = [monitor.MetricAlertActionArgs(action_group_id=self.action_group.id)]

        present = tuple(
            t
            for t, (key, _) in TARGETS.items()
            if key in args.targets or (key == "private_dns_zone" and args.private_dns_zones)
        )
        scopes: dict[str, dict[str, pulumi.Input[str]]] = {
            key: {"": rid} for key, rid in args.targets.items()
        }
        # One alert set per private DNS zone: metric alerts on these take a single resource.
        scopes["private_dns_zone"] = {
            "-" + zone.removeprefix("privatelink.").split(".")[0]: zone_id
            for zone, zone_id in (args.private_dns_zones or {}).items()
        }
        for spec in metric_alert_specs(s, present):
            for suffix, resource_id in scopes[spec.target].items():
                self._metric_alert(name, spec, suffix, resource_id, actions, args)
        for activity in activity_alert_specs(present):
            monitor.ActivityLogAlert(
                f"{name}-{activity.key}",
                activity_log_alert_name=names.alert(activity.key),
                description=activity.description,
                resource_group_name=args.resource_group_name,
                location="global",
                enabled=True,
                scopes=[args.resource_group_id],
                condition=monitor.AlertRuleAllOfConditionArgs(
                    all_of=[
                        monitor.AlertRuleAnyOfOrLeafConditionArgs(field="category", equals="Administrative"),
                        monitor.AlertRuleAnyOfOrLeafConditionArgs(
                            field="operationName", equals=activity.operation
                        ),
                        monitor.AlertRuleAnyOfOrLeafConditionArgs(field="status", contains_any=["succeeded"]),
                    ]
                ),
                actions=monitor.ActionListArgs(
                    action_groups=[monitor.ActionGroupArgs(action_group_id=self.action_group.id)]
                ),
                tags=s.tags,
                opts=child,
            )

        monitor.ScheduledQueryRule(
            f"{name}-failed-jobs",
            rule_name=names.alert("failed-jobs-log"),
            display_name=f"{s.project} {s.environment}: failed Azure ML jobs",
            description="Failed jobs in the workspace's diagnostic logs (AmlComputeJobEvent).",
            resource_group_name=args.resource_group_name,
            location=s.location,
            kind="LogAlert",
            scopes=[args.log_analytics_id],
            severity=p.alert_severity,
            enabled=True,
            evaluation_frequency="PT15M",
            window_size="PT15M",
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=FAILED_JOBS_QUERY,
                        time_aggregation="Count",
                        operator="GreaterThanOrEqual",
                        threshold=p.failed_jobs_threshold,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                        ),
                    )
                ]
            ),
            actions=monitor.ActionsArgs(action_groups=[self.action_group.id]),
            tags=s.tags,
            opts=child,
        )

        def notification(kind: str, percent: int) -> consumption.NotificationArgs:
            return consumption.NotificationArgs(
                enabled=True,
                operator="GreaterThanOrEqualTo",
                threshold=percent,
                threshold_type=kind,
                contact_emails=list(s.alert_emails),
                contact_groups=[self.action_group.id],
            )

        consumption.Budget(
            f"{name}-budget",
            budget_name=names.budget,
            scope=args.resource_group_id,
            amount=s.monthly_budget_usd,
            category="Cost",
            time_grain="Monthly",
            time_period=consumption.BudgetTimePeriodArgs(start_date=s.budget_start_date or first_of_month()),
            notifications={
                f"actual-{p.budget_actual_percent}": notification("Actual", p.budget_actual_percent),
                f"forecast-{p.budget_forecast_percent}": notification(
                    "Forecasted", p.budget_forecast_percent
                ),
            },
            # Azure requires a start date in the current period; moving it each month would replace the budget.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["timePeriod"]),
        )
        self.register_outputs({"actionGroupId": self.action_group.id})

    def _metric_alert(
        self,
        name: str,
        spec: MetricAlertSpec,
        suffix: str,
        resource_id: pulumi.Input[str],
        actions: list[monitor.MetricAlertActionArgs],
        args: MonitoringArgs,
    ) -> None:
        s = args.settings
        scope = (
            pulumi.Output.concat(resource_id, "/", spec.sub_resource) if spec.sub_resource else resource_id
        )
        if spec.dynamic:
            # Dynamic thresholds exist only in the multiple-resource criteria schema.
            criteria: Any = monitor.MetricAlertMultipleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.DynamicMetricCriteriaArgs(
                        criterion_type="DynamicThresholdCriterion",
                        name=spec.key,
                        metric_namespace=spec.namespace,
                        metric_name=spec.metric,
                        time_aggregation=spec.aggregation,
                        operator=spec.operator,
                        alert_sensitivity=spec.dynamic["sensitivity"],
                        failing_periods=monitor.DynamicThresholdFailingPeriodsArgs(
                            number_of_evaluation_periods=spec.dynamic["periods"]["numberOfEvaluationPeriods"],
                            min_failing_periods_to_alert=spec.dynamic["periods"]["minFailingPeriodsToAlert"],
                        ),
                    )
                ],
            )
        else:
            criteria = monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=spec.key,
                        metric_namespace=spec.namespace,
                        metric_name=spec.metric,
                        time_aggregation=spec.aggregation,
                        operator=spec.operator,
                        threshold=spec.threshold,
                        dimensions=[
                            monitor.MetricDimensionArgs(name=n, operator=op, values=list(values))
                            for n, op, values in spec.dimensions
                        ]
                        or None,
                    )
                ],
            )
        monitor.MetricAlert(
            f"{name}-{spec.key}{suffix}",
            rule_name=s.names.alert(f"{spec.key}{suffix}"),
            description=spec.description,
            resource_group_name=args.resource_group_name,
            location="global",
            scopes=[scope],
            severity=spec.severity,
            enabled=True,
            evaluation_frequency=spec.frequency,
            window_size=spec.window,
            criteria=criteria,
            actions=actions,
            tags=s.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
