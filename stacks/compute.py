"""Training compute: a CPU cluster that scales to zero, an optional GPU cluster, a dev instance.

Clusters run as a user-assigned identity the stack grants blob data access and AcrPull: Azure
assigns those automatically only to system-assigned identities. The compute instance is
personal, so it exists only when `forge:computeInstanceUser` names its one user.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from stacks import roles
from stacks.config import EnvironmentSettings
from stacks.identity import workload_identity


@dataclass(frozen=True, kw_only=True)
class ComputeArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    storage_id: pulumi.Input[str]
    container_registry_id: pulumi.Input[str]


class MlCompute(pulumi.ComponentResource):
    """Clusters scale to zero when idle; prod nodes get no public IP and no SSH."""

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:compute:MlCompute", name, None, opts)
        s, p, names = args.settings, args.settings.profile, args.settings.names
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        self.identity, grants = workload_identity(
            name,
            settings=s,
            purpose="compute",
            resource_group_name=args.resource_group_name,
            subscription_id=args.subscription_id,
            grants=(
                ("blob", roles.STORAGE_BLOB_DATA_CONTRIBUTOR, args.storage_id),
                ("acr-pull", roles.ACR_PULL, args.container_registry_id),
            ),
            parent=self,
        )
        self._grants = grants

        self.cpu_cluster = self._cluster(f"{name}-cpu", names.cpu_cluster, p.cpu_vm_size, p.cpu_max_nodes)
        self.gpu_cluster = (
            self._cluster(f"{name}-gpu", names.gpu_cluster, s.gpu_vm_size, p.gpu_max_nodes) if s.gpu else None
        )
        self.instance = None
        # A personal compute instance belongs to one named user, never to whoever ran `pulumi up`;
        # without a user it is left out. Never in strict environments.
        if p.compute_instance and not p.strict and s.compute_instance_user:
            self.instance = ml.Compute(
                f"{name}-instance",
                compute_name=names.compute_instance,
                resource_group_name=args.resource_group_name,
                workspace_name=args.workspace_name,
                location=s.location,
                properties=ml.ComputeInstanceArgs(
                    compute_type="ComputeInstance",
                    properties=ml.ComputeInstancePropertiesArgs(
                        vm_size=p.compute_instance_vm_size,
                        idle_time_before_shutdown=f"PT{p.compute_instance_idle_minutes}M",
                        enable_node_public_ip=s.network.mode == "public",
                        personal_compute_instance_settings=ml.PersonalComputeInstanceSettingsArgs(
                            assigned_user=ml.AssignedUserArgs(
                                object_id=s.compute_instance_user, tenant_id=args.tenant_id
                            )
                        ),
                    ),
                ),
                opts=child,
            )
        self.register_outputs({"cpuCluster": self.cpu_cluster.name})

    def _cluster(self, logical_name: str, compute_name: str, vm_size: str, max_nodes: int) -> ml.Compute:
        s, p = self._args.settings, self._args.settings.profile
        return ml.Compute(
            logical_name,
            compute_name=compute_name,
            resource_group_name=self._args.resource_group_name,
            workspace_name=self._args.workspace_name,
            location=s.location,
            identity=ml.ManagedServiceIdentityArgs(
                type="UserAssigned",
                user_assigned_identities=[self.identity.id],
            ),
            properties=ml.AmlComputeArgs(
                compute_type="AmlCompute",
                properties=ml.AmlComputePropertiesArgs(
                    vm_size=vm_size,
                    vm_priority=p.cpu_vm_priority,
                    os_type="Linux",
                    scale_settings=ml.ScaleSettingsArgs(
                        min_node_count=0,
                        max_node_count=max_nodes,
                        node_idle_time_before_scale_down=f"PT{p.idle_scale_down_minutes}M",
                    ),
                    enable_node_public_ip=s.network.mode == "public",
                    remote_login_port_public_access="Disabled" if p.strict else "NotSpecified",
                ),
            ),
            # The role grants first: a job must not start before the identity can read its data.
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._grants),
        )
