"""The private DNS zones Microsoft documents for each private endpoint sub-resource.

One table for the component that creates the zones (`stacks.network`) and the policy that
checks a private environment has them (`stacks.policies.rules`). Standard library only.
"""

from __future__ import annotations

# Private endpoint sub-resource (group id) → the private DNS zones its records go in.
PRIVATE_DNS_ZONES: dict[str, tuple[str, ...]] = {
    "amlworkspace": ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"),
    # The shared Azure ML registry: its FQDN `<guid>.registry.<region>.privatelink.api.azureml.ms`
    # (Microsoft's "Network isolation with Azure Machine Learning registries"; the private DNS
    # zone values table lists only this zone for `amlregistry`).
    "amlregistry": ("privatelink.api.azureml.ms",),
    "blob": ("privatelink.blob.core.windows.net",),
    "file": ("privatelink.file.core.windows.net",),
    "vault": ("privatelink.vaultcore.azure.net",),
    "registry": ("privatelink.azurecr.io",),
    # Azure Monitor Private Link Scope (Log Analytics, Application Insights): Microsoft's
    # "Configure your private link" lists these five zones for the `azuremonitor` sub-resource.
    "azuremonitor": (
        "privatelink.monitor.azure.com",
        "privatelink.oms.opinsights.azure.com",
        "privatelink.ods.opinsights.azure.com",
        "privatelink.agentsvc.azure-automation.net",
        "privatelink.blob.core.windows.net",
    ),
}
