"""Diagnostic settings: every resource that has logs or metrics sends them to the environment's Log Analytics."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor


def send_logs(
    logical_name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    logs: bool = True,
) -> monitor.DiagnosticSetting:
    """allLogs and AllMetrics of a resource into resource-specific Log Analytics tables.

    `logs=False` for resources with metrics only (private endpoints, for one): Azure refuses a
    log category group where a resource has no log categories.
    """
    return monitor.DiagnosticSetting(
        logical_name,
        name="to-log-analytics",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)] if logs else None,
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category="AllMetrics", enabled=True)],
        opts=pulumi.ResourceOptions(parent=parent),
    )
