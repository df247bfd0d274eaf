"""Environment profiles: the defaults each environment starts from.

`dev`, `test` and `prod` are built in; `register_profile` declares others (e.g. a `staging` that
starts from `prod`). Every field can be overridden per stack in `Pulumi.<env>.yaml` under its
camelCase name (`forge:logRetentionDays: 90`); see `stacks.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import get_type_hints


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    # Strict environments must meet every security rule; relaxed ones get advisories instead.
    strict: bool
    log_retention_days: int
    key_vault_purge_protection: bool
    key_vault_soft_delete_days: int
    container_registry_sku: str
    private_network: bool
    identity_datastores: bool
    cpu_vm_size: str
    cpu_vm_priority: str
    cpu_max_nodes: int
    idle_scale_down_minutes: int
    gpu_max_nodes: int
    compute_instance: bool
    compute_instance_vm_size: str
    compute_instance_idle_minutes: int
    alert_severity: int
    availability_severity: int
    quota_utilization_percent: float
    key_vault_availability_percent: float
    storage_availability_percent: float
    failed_jobs_threshold: int
    budget_actual_percent: int
    budget_forecast_percent: int

    def with_overrides(self, **overrides: object) -> Profile:
        return replace(self, **overrides)


FIELD_TYPES: dict[str, type] = get_type_hints(Profile)

DEV = Profile(
    name="dev",
    strict=False,
    log_retention_days=30,
    key_vault_purge_protection=False,
    key_vault_soft_delete_days=7,
    container_registry_sku="Basic",
    private_network=False,
    identity_datastores=True,
    cpu_vm_size="Standard_DS3_v2",
    cpu_vm_priority="LowPriority",
    cpu_max_nodes=2,
    idle_scale_down_minutes=15,
    gpu_max_nodes=1,
    compute_instance=True,
    compute_instance_vm_size="Standard_DS3_v2",
    compute_instance_idle_minutes=60,
    alert_severity=3,
    availability_severity=2,
    quota_utilization_percent=90.0,
    key_vault_availability_percent=90.0,
    storage_availability_percent=99.0,
    failed_jobs_threshold=3,
    budget_actual_percent=90,
    budget_forecast_percent=100,
)

TEST = DEV.with_overrides(
    name="test",
    log_retention_days=60,
    key_vault_purge_protection=True,
    key_vault_soft_delete_days=30,
    container_registry_sku="Standard",
    cpu_vm_priority="Dedicated",
    compute_instance=False,
    alert_severity=2,
    failed_jobs_threshold=1,
)

PROD = TEST.with_overrides(
    name="prod",
    strict=True,
    log_retention_days=90,
    key_vault_soft_delete_days=90,
    container_registry_sku="Premium",
    private_network=True,
    cpu_max_nodes=4,
    idle_scale_down_minutes=30,
    gpu_max_nodes=2,
    alert_severity=1,
    availability_severity=1,
    storage_availability_percent=100.0,
    budget_actual_percent=80,
)

_PROFILES: dict[str, Profile] = {p.name: p for p in (DEV, TEST, PROD)}


def register_profile(name: str, base: str, **overrides: object) -> Profile:
    """Declare a profile for another environment, starting from an existing one."""
    profile = get_profile(base).with_overrides(name=name, **overrides)
    _PROFILES[name] = profile
    return profile


def get_profile(name: str) -> Profile:
    try:
        return _PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(_PROFILES))
        raise KeyError(f"no profile named {name!r} (known: {known})") from None


def profile_names() -> list[str]:
    return sorted(_PROFILES)
