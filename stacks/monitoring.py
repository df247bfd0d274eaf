"""Alerts and budget: who hears about failures and spend, and when.

Metric alerts cover the "must have" alerts of Azure Monitor Baseline Alerts (AMBA) for the
resource types in the stack, with the REST API metric names from Azure Monitor's
supported-metrics reference. Severities and thresholds come from the profile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import consumption, monitor

from stacks.config import EnvironmentSettings

WORKSPACE_NAMESPACE = "Microsoft.MachineLearningServices/workspaces"
FAILED_JOBS_QUERY = (
    "AmlComputeJobEvent\n"
    '| where EventType == "JobFailed"\n'
    "| project TimeGenerated, JobName, ExperimentName, ClusterName, JobErrorMessage"
)


@dataclass(frozen=True)
class MetricAlertSpec:
    key: str
    description: str
    namespace: str
    metric: str
    aggregation: str
    operator: str
    threshold: float
    severity: int
    target: str  # which resource: "workspace", "key_vault" or "storage"


def metric_alert_specs(settings: EnvironmentSettings) -> list[MetricAlertSpec]:
    p = settings.profile
    sev = p.alert_severity

    def aml(key: str, metric: str, description: str) -> MetricAlertSpec:
        return MetricAlertSpec(
            key, description, WORKSPACE_NAMESPACE, metric, "Total", "GreaterThan", 0, sev, "workspace"
        )

    return [
        aml("failed-runs", "Failed Runs", "A run failed in the workspace."),
        aml("model-deploy-failed", "Model Deploy Failed", "A model deployment failed."),
        aml("not-responding-runs", "Not Responding Runs", "A run stopped responding."),
        MetricAlertSpec(
            "quota-utilization",
            "Compute quota use is high.",
            WORKSPACE_NAMESPACE,
            "Quota Utilization Percentage",
            "Average",
            "GreaterThan",
            p.quota_utilization_percent,
            sev,
            "workspace",
        ),
        aml("unusable-nodes", "Unusable Nodes", "Compute nodes became unusable."),
        MetricAlertSpec(
            "key-vault-availability",
            "Key Vault availability dropped.",
            "Microsoft.KeyVault/vaults",
            "Availability",
            "Average",
            "LessThan",
            p.key_vault_availability_percent,
            p.availability_severity,
            "key_vault",
        ),
        MetricAlertSpec(
            "storage-availability",
            "Storage availability dropped.",
            "Microsoft.Storage/storageAccounts",
            "Availability",
            "Average",
            "LessThan",
            p.storage_availability_percent,
            p.availability_severity,
            "storage",
        ),
    ]


def first_of_month(today: dt.date | None = None) -> str:
    today = today or dt.datetime.now(dt.UTC).date()
    return f"{today:%Y-%m}-01T00:00:00Z"


def action_group_receivers(s: EnvironmentSettings) -> dict[str, list]:
    """Who an alert reaches: e-mails, the optional webhook and Azure mobile app accounts.

    E-mail and webhook receivers use the common alert schema (one payload shape for every alert). The
    webhook URL usually carries a token (a Teams workflow's or Slack's incoming-webhook URL), so
    it stays a secret in the state too. The `action-group-has-receiver` policy rule fails an
    environment whose lists are all empty.
    """
    receivers: dict[str, list] = {
        "email_receivers": [
            monitor.MicrosoftCommonEmailReceiverArgs(
                name=f"email-{i}", email_address=email, use_common_alert_schema=True
            )
            for i, email in enumerate(s.alert_emails, start=1)
        ],
        "azure_app_push_receivers": [
            monitor.MicrosoftCommonAzureAppPushReceiverArgs(name=f"push-{i}", email_address=email)
            for i, email in enumerate(s.alert_push_emails, start=1)
        ],
    }
    if s.alert_webhook:
        receivers["webhook_receivers"] = [
            monitor.WebhookReceiverArgs(
                name="webhook",
                service_uri=pulumi.Output.secret(s.alert_webhook),
                use_common_alert_schema=True,
            )
        ]
    return receivers


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    targets: dict[str, pulumi.Input[str]]  # "workspace" / "key_vault" / "storage" → resource id
    log_analytics_id: pulumi.Input[str]


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
            tags=s.tags,
            opts=child,
            **action_group_receivers(s),
        )
        actions = [monitor.MetricAlertActionArgs(action_group_id=self.action_group.id)]

        for spec in metric_alert_specs(s):
            monitor.MetricAlert(
                f"{name}-{spec.key}",
                rule_name=names.alert(spec.key),
                description=spec.description,
                resource_group_name=args.resource_group_name,
                location="global",
                scopes=[args.targets[spec.target]],
                severity=spec.severity,
                enabled=True,
                evaluation_frequency="PT1M",
                window_size="PT5M",
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
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
                        )
                    ],
                ),
                actions=actions,
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
