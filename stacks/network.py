"""The private network of an environment: VNet, private endpoints, private DNS zones.

Everything the CI runners reach after an Azure Resource Manager call — the workspace's data
plane, blob and file storage, Key Vault, the container registry — goes through a private
endpoint in the runners' VNet, with the DNS zones Microsoft documents for each sub-resource
("Azure Private Endpoint private DNS zone values") linked to that VNet:

| resource          | group id      | zones                                                        |
|-------------------|---------------|--------------------------------------------------------------|
| Azure ML workspace| amlworkspace  | privatelink.api.azureml.ms, privatelink.notebooks.azure.net  |
| Azure ML registry | amlregistry   | privatelink.api.azureml.ms (the shared registry's API)       |
| storage (blob)    | blob          | privatelink.blob.core.windows.net                            |
| storage (file)    | file          | privatelink.file.core.windows.net                            |
| Key Vault         | vault         | privatelink.vaultcore.azure.net                              |
| container registry| registry      | privatelink.azurecr.io (data-endpoint records live here too) |
| Monitor scope     | azuremonitor  | privatelink.monitor.azure.com, privatelink.oms.opinsights.azure.com, |
|                   |               | privatelink.ods.opinsights.azure.com, privatelink.agentsvc.azure-automation.net, |
|                   |               | privatelink.blob.core.windows.net                            |

The VNet is created, or taken by resource ID (`forge:vnetId`), in which case the two subnets
are added to it. The runners' subnet is delegated to `Microsoft.App/environments` and sized at
creation: a Container Apps environment's subnet cannot grow later.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from stacks.config import EnvironmentSettings
from stacks.diagnostics import send_logs
from stacks.private_dns import PRIVATE_DNS_ZONES

RUNNER_SUBNET_DELEGATION = "Microsoft.App/environments"


def subnet_prefixes(address_space: str) -> dict[str, str]:
    """The private-endpoint and runner subnets: the first two /24 blocks of the address space.

    A /24 for the runners' workload-profiles environment is well above its /27 minimum and
    leaves room for the runner count to grow, since the subnet cannot be resized.
    """
    blocks = ipaddress.ip_network(address_space, strict=False).subnets(new_prefix=24)
    endpoints, runners = next(blocks), next(blocks)
    return {"endpoints": str(endpoints), "runners": str(runners)}


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    # Sub-resource group id → (logical key, target resource id); e.g. "blob" → ("storage-blob", id).
    targets: dict[str, tuple[str, pulumi.Input[str]]]
    log_analytics_id: pulumi.Input[str] | None = None  # diagnostic settings' destination


class PrivateNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:network:PrivateNetwork", name, None, opts)
        s, names = args.settings, args.settings.names
        child = pulumi.ResourceOptions(parent=self)
        prefixes = subnet_prefixes(s.network.address_space)

        if s.network.vnet_id:
            parts = s.network.vnet_id.split("/")
            vnet_group, vnet_name = parts[4], parts[8]
            self.vnet_id: pulumi.Input[str] = s.network.vnet_id
        else:
            vnet = network.VirtualNetwork(
                f"{name}-vnet",
                virtual_network_name=names.virtual_network,
                resource_group_name=args.resource_group_name,
                location=s.location,
                address_space=network.AddressSpaceArgs(address_prefixes=[s.network.address_space]),
                tags=s.tags,
                # Subnets are separate resources; inline ones would fight them on every update.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
            )
            vnet_group, vnet_name = args.resource_group_name, vnet.name
            self.vnet_id = vnet.id
        self.endpoint_subnet = network.Subnet(
            f"{name}-endpoints",
            subnet_name="private-endpoints",
            virtual_network_name=vnet_name,
            resource_group_name=vnet_group,
            address_prefix=prefixes["endpoints"],
            private_endpoint_network_policies="Disabled",
            opts=child,
        )
        self.runner_subnet = network.Subnet(
            f"{name}-runners",
            subnet_name="github-runners",
            virtual_network_name=vnet_name,
            resource_group_name=vnet_group,
            address_prefix=prefixes["runners"],
            delegations=[
                network.DelegationArgs(name="container-apps", service_name=RUNNER_SUBNET_DELEGATION)
            ],
            # Two subnets of one VNet written in parallel conflict (AnotherOperationInProgress).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.endpoint_subnet]),
        )

        self.zones: dict[str, privatedns.PrivateZone] = {}
        for group_id in args.targets:
            for zone in PRIVATE_DNS_ZONES[group_id]:
                if zone in self.zones:
                    continue
                key = zone.removeprefix("privatelink.").replace(".", "-")
                self.zones[zone] = privatedns.PrivateZone(
                    f"{name}-zone-{key}",
                    private_zone_name=zone,
                    resource_group_name=args.resource_group_name,
                    location="global",
                    tags=s.tags,
                    opts=child,
                )
                privatedns.VirtualNetworkLink(
                    f"{name}-zone-{key}-link",
                    virtual_network_link_name=f"{names.virtual_network}-link",
                    private_zone_name=self.zones[zone].name,
                    resource_group_name=args.resource_group_name,
                    location="global",
                    registration_enabled=False,
                    virtual_network=network.SubResourceArgs(id=self.vnet_id),
                    tags=s.tags,
                    opts=child,
                )

        self.endpoints: dict[str, network.PrivateEndpoint] = {}
        for group_id, (key, target_id) in args.targets.items():
            endpoint = network.PrivateEndpoint(
                f"{name}-pe-{key}",
                private_endpoint_name=f"pe-{s.project}-{s.environment}-{key}",
                resource_group_name=args.resource_group_name,
                location=s.location,
                subnet=network.SubnetArgs(id=self.endpoint_subnet.id),
                private_link_service_connections=[
                    network.PrivateLinkServiceConnectionArgs(
                        name=key, private_link_service_id=target_id, group_ids=[group_id]
                    )
                ],
                tags=s.tags,
                opts=child,
            )
            network.PrivateDnsZoneGroup(
                f"{name}-pe-{key}-dns",
                private_dns_zone_group_name="default",
                private_endpoint_name=endpoint.name,
                resource_group_name=args.resource_group_name,
                private_dns_zone_configs=[
                    network.PrivateDnsZoneConfigArgs(
                        name=zone.removeprefix("privatelink.").replace(".", "-"),
                        private_dns_zone_id=self.zones[zone].id,
                    )
                    for zone in PRIVATE_DNS_ZONES[group_id]
                ],
                opts=child,
            )
            self.endpoints[key] = endpoint
            # Private endpoints have metrics (bytes in/out) but no logs.
            self._diagnostics(f"{name}-pe-{key}-diagnostics", endpoint.id, args, logs=False)
        if not s.network.vnet_id:
            self._diagnostics(f"{name}-vnet-diagnostics", self.vnet_id, args, logs=True)
        self.register_outputs({"vnetId": self.vnet_id, "runnerSubnetId": self.runner_subnet.id})

    def _diagnostics(
        self, logical_name: str, resource_id: pulumi.Input[str], args: NetworkArgs, *, logs: bool
    ) -> None:
        if args.log_analytics_id is None:
            return
        send_logs(
            logical_name, resource_id=resource_id, workspace_id=args.log_analytics_id, parent=self, logs=logs
        )
