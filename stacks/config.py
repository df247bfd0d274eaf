"""Stack configuration → a frozen `EnvironmentSettings` the components take as plain values.

Only the thin Pulumi program calls `settings_from_config`; components never read config. Keys
live in the `forge` namespace of `Pulumi.<env>.yaml` (see docs/contracts.md). Every value is
type-checked here so a mistake surfaces as one `ConfigError` naming the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from stacks import naming
from stacks.profiles import FIELD_TYPES, Profile, get_profile

REGISTRY_ID_PATTERN = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.MachineLearningServices/registries/[^/]+$"
)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GITHUB_REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$")
NAMESPACE = "forge"


class ConfigError(ValueError):
    """A configuration value that is missing or of the wrong type; `key` is the full config key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.reason = message


class ConfigSource(Protocol):
    """What `pulumi.Config` offers; tests may pass any object with `get`."""

    def get(self, key: str) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    project: str
    environment: str
    location: str
    github_repository: str
    template_version: str
    profile: Profile
    alert_emails: tuple[str, ...]
    alert_webhook: str | None = None
    monthly_budget_usd: float
    gpu: bool = False
    gpu_vm_size: str = "Standard_NC4as_T4_v3"
    registry_mode: str = "create"
    registry_id: str | None = None
    registry_host: bool = False
    budget_start_date: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    # --- network, identities and lifecycle (issue #13; to move into the settings schema) ---
    network: NetworkSettings = field(default_factory=lambda: NetworkSettings())
    compute_instance_user: str | None = None  # Entra object ID of the instance's one user
    generation: int = 1  # bump after a destroy: new Key Vault and workspace names
    # The CI jobs that run against this environment (train, promote, deploy, drift): each job
    # kind's identity exists only where a job uses it. Default: every ML job, drift where strict.
    jobs: tuple[str, ...] = ("train", "promote", "deploy")
    online_endpoint: str | None = None  # the stack creates this online endpoint (with alerts)

    @property
    def names(self) -> naming.Names:
        return naming.Names(
            self.project, self.environment, seed=self.github_repository, generation=self.generation
        )

    @property
    def tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "environment": self.environment,
            "managed-by": "pulumi/mlops-forge",
            "template-version": self.template_version,
            # Policies read this to decide whether a rule is mandatory or advisory here.
            "security-baseline": "strict" if self.profile.strict else "relaxed",
            **self.extra_tags,
        }


NETWORK_MODES = ("public", "private", "ip-allowlist")
JOB_KINDS = ("train", "promote", "deploy", "drift")
# Online endpoint names: 3-32 characters, a letter first, letters, digits and hyphens.
ENDPOINT_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
VNET_ID_PATTERN = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+$"
)
CIDR_PATTERN = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(/(\d{1,2}))?$")
GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """How an environment is reached (issue #13).

    `private`: private endpoints in a VNet (created, or taken by `vnet_id`) and self-hosted
    GitHub runners inside it; `ip-allowlist`: public endpoints that accept only `allowed_ips`
    (for teams that cannot run runners); `public`: no network restriction (dev).
    """

    mode: str = "public"
    vnet_id: str | None = None
    address_space: str = "10.40.0.0/16"
    allowed_ips: tuple[str, ...] = ()
    runner_image: str = "github-actions-runner:1"  # repository:tag in the environment's ACR
    runner_max_executions: int = 4
    runner_timeout_minutes: int = 240  # outlasts the longest CI job (train: 180 minutes)

    @property
    def private(self) -> bool:
        return self.mode == "private"


def _network_from_config(read: _Reader, profile: Profile) -> NetworkSettings:
    key = f"{NAMESPACE}:"
    mode = read.get("networkMode", default="private" if profile.private_network else "public")
    if mode not in NETWORK_MODES:
        raise ConfigError(key + "networkMode", f"expected one of {', '.join(NETWORK_MODES)}, got {mode!r}")
    if mode != "public" and profile.container_registry_sku != "Premium":
        # Private endpoints and IP rules on a container registry exist only in the Premium tier.
        raise ConfigError(
            key + "networkMode",
            f"{mode} needs containerRegistrySku Premium, the profile has {profile.container_registry_sku}",
        )
    vnet_id = read.get("vnetId")
    if vnet_id is not None and not VNET_ID_PATTERN.fullmatch(vnet_id):
        raise ConfigError(
            key + "vnetId",
            "expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/"
            f"virtualNetworks/<name>, got {vnet_id!r}",
        )
    address_space = read.get("vnetAddressSpace", default="10.40.0.0/16")
    match = CIDR_PATTERN.fullmatch(address_space)
    if not match or match.group(6) is None or int(match.group(6)) > 22:
        raise ConfigError(
            key + "vnetAddressSpace", f"expected a CIDR block of /22 or larger, got {address_space!r}"
        )
    allowed = tuple(read.get("allowedIps", list, default=[]))
    for ip in allowed:
        m = CIDR_PATTERN.fullmatch(ip)
        if not m or any(int(part) > 255 for part in m.group(1, 2, 3, 4)):
            raise ConfigError(key + "allowedIps", f"{ip!r} is not an IPv4 address or CIDR range")
    if mode == "ip-allowlist" and not allowed:
        raise ConfigError(key + "allowedIps", "networkMode ip-allowlist needs at least one address or range")
    max_executions = read.get("runnerMaxExecutions", int, default=4)
    if not 1 <= max_executions <= 100:
        raise ConfigError(key + "runnerMaxExecutions", f"expected 1 to 100, got {max_executions}")
    timeout = read.get("runnerTimeoutMinutes", int, default=240)
    if timeout < 190:
        raise ConfigError(
            key + "runnerTimeoutMinutes", f"must outlast the longest CI job (180 minutes), got {timeout}"
        )
    return NetworkSettings(
        mode=mode,
        vnet_id=vnet_id,
        address_space=address_space,
        allowed_ips=allowed,
        runner_image=read.get("runnerImage", default="github-actions-runner:1"),
        runner_max_executions=max_executions,
        runner_timeout_minutes=timeout,
    )


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _parse(key: str, raw: str, kind: type) -> Any:
    """Parse one raw config string (Pulumi passes YAML scalars as strings, lists as JSON)."""
    text = raw.strip()
    if kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ConfigError(key, f"expected true or false, got {raw!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(key, f"expected a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(key, f"expected a number, got {raw!r}") from None
    if kind is list:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(key, f"expected a list of strings, got {raw!r}")
        return value
    if text.startswith(("{", "[")):
        raise ConfigError(key, f"expected a single text value, got {raw!r}")
    return raw


class _Reader:
    def __init__(self, config: ConfigSource) -> None:
        self._config = config

    def get(self, name: str, kind: type = str, default: Any = None, *, required: bool = False) -> Any:
        raw = self._config.get(name)
        key = f"{NAMESPACE}:{name}"
        if raw is None or raw == "":
            if required:
                raise ConfigError(key, "is required but not set")
            return default
        return _parse(key, str(raw), kind)


def settings_from_config(
    config: ConfigSource, environment: str, location: str | None = None
) -> EnvironmentSettings:
    """Read and check the `forge:` keys of one stack.

    `config` is `pulumi.Config("forge")`; `location` defaults to `azure-native:location`.
    """
    read = _Reader(config)
    key = f"{NAMESPACE}:"

    try:
        naming.check_environment(environment)
    except naming.NamingError as exc:
        raise ConfigError("stack name", str(exc)) from None
    project = read.get("project", required=True)
    try:
        naming.check_project(project)
    except naming.NamingError as exc:
        raise ConfigError(key + "project", str(exc)) from None

    if location is None:
        import pulumi  # only the program path needs the SDK's view of provider config

        location = pulumi.Config("azure-native").get("location")
    if not location:
        raise ConfigError("azure-native:location", "is required but not set")

    repository = read.get("githubRepository", required=True)
    if not GITHUB_REPOSITORY_PATTERN.fullmatch(repository):
        raise ConfigError(key + "githubRepository", f"expected 'org/repo', got {repository!r}")

    emails = tuple(read.get("alertEmails", list, default=[]))
    for email in emails:
        if not EMAIL_PATTERN.fullmatch(email):
            raise ConfigError(key + "alertEmails", f"{email!r} is not an e-mail address")
    webhook = read.get("alertWebhook")
    if webhook is not None and not webhook.startswith("https://"):
        raise ConfigError(key + "alertWebhook", "must be an https:// URL")

    budget = read.get("monthlyBudgetUsd", float, default=100.0)
    if budget <= 0:
        raise ConfigError(key + "monthlyBudgetUsd", f"must be positive, got {budget}")

    registry_mode = read.get("registry", default="create")
    if registry_mode not in ("create", "existing"):
        raise ConfigError(key + "registry", f"expected 'create' or 'existing', got {registry_mode!r}")
    registry_id = read.get("registryId")
    if registry_mode == "existing" and (not registry_id or not REGISTRY_ID_PATTERN.fullmatch(registry_id)):
        raise ConfigError(
            key + "registryId",
            "registry 'existing' needs the registry's resource ID: /subscriptions/<id>/resourceGroups/"
            f"<group>/providers/Microsoft.MachineLearningServices/registries/<name>, got {registry_id!r}",
        )

    profile_name = read.get("profile", default=environment)
    try:
        profile = get_profile(profile_name)
    except KeyError as exc:
        raise ConfigError(key + "profile", f"{exc.args[0]}; set forge:profile for this environment") from None
    overrides = {}
    for name, kind in FIELD_TYPES.items():
        if name in ("name", "strict"):
            continue
        value = read.get(_camel(name), kind)
        if value is not None:
            overrides[name] = value
    profile = profile.with_overrides(**overrides)

    # --- network, identities and lifecycle (issue #13) ---
    network = _network_from_config(read, profile)
    instance_user = read.get("computeInstanceUser")
    if instance_user is not None and not GUID_PATTERN.fullmatch(instance_user):
        raise ConfigError(
            key + "computeInstanceUser",
            f"expected the user's Entra object ID (a GUID), got {instance_user!r}",
        )
    generation = read.get("generation", int, default=1)
    if generation < 1:
        raise ConfigError(key + "generation", f"must be 1 or more, got {generation}")

    default_jobs = ["train", "promote", "deploy", *(["drift"] if profile.strict else [])]
    jobs = tuple(read.get("jobs", list, default=default_jobs))
    unknown = sorted(set(jobs) - set(JOB_KINDS))
    if unknown:
        raise ConfigError(
            key + "jobs", f"unknown job kind(s) {', '.join(unknown)}; known: {', '.join(JOB_KINDS)}"
        )

    online_endpoint = read.get("onlineEndpoint")
    if online_endpoint is not None and not ENDPOINT_NAME_PATTERN.fullmatch(online_endpoint):
        raise ConfigError(
            key + "onlineEndpoint",
            f"expected 3-32 letters, digits and hyphens starting with a letter, got {online_endpoint!r}",
        )

    return EnvironmentSettings(
        online_endpoint=online_endpoint,
        jobs=jobs,
        network=network,
        compute_instance_user=instance_user,
        generation=generation,
        project=project,
        environment=environment,
        location=location,
        github_repository=repository,
        template_version=read.get("templateVersion", default="unversioned"),
        profile=profile,
        alert_emails=emails,
        alert_webhook=webhook,
        monthly_budget_usd=budget,
        gpu=read.get("gpu", bool, default=False),
        gpu_vm_size=read.get("gpuVmSize", default="Standard_NC4as_T4_v3"),
        registry_mode=registry_mode,
        registry_id=registry_id,
        registry_host=read.get("registryHost", bool, default=False),
        budget_start_date=read.get("budgetStartDate"),
    )
