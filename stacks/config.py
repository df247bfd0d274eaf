"""Stack configuration → a frozen `EnvironmentSettings` the components take as plain values.

Only the thin Pulumi program calls `settings_from_config`; components never read config. The
keys, their types and limits are declared once in `stacks.settings_schema`. Every key of the
stack is checked before anything is created: a value of the wrong type, a key the schema does
not know in the `forge` namespace (with a suggestion), a region where Azure ML is not offered.
All problems are raised together as one `ConfigError` naming each key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stacks import naming
from stacks.addresses import MAX_IP_RULES, allowed_address
from stacks.profiles import Profile, get_profile
from stacks.settings_schema import (
    BY_KEY,
    JOB_KINDS,
    LOCATION_KEY,
    NAMESPACE,
    NETWORK_MODES,
    SETTINGS,
    Problem,
    check_values,
    unknown_keys,
)

__all__ = [
    "NAMESPACE",
    "ConfigError",
    "ConfigSource",
    "EnvironmentSettings",
    "NetworkSettings",
    "check_config",
    "settings_from_config",
    "settings_from_values",
]


class ConfigError(ValueError):
    """Configuration that cannot be used; `key` is the (first) full config key, `problems` all of them."""

    def __init__(self, key: str, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems = list(problems) or [Problem(key, message)]
        text = f"{key}: {message}"
        if len(self.problems) > 1:
            text = f"{len(self.problems)} configuration errors: " + "; ".join(map(str, self.problems))
        super().__init__(text)
        self.key = key
        self.reason = message

    @classmethod
    def of(cls, problems: list[Problem]) -> ConfigError:
        return cls(problems[0].key, problems[0].message, problems)


class ConfigSource(Protocol):
    """What `pulumi.Config` offers; tests may pass any object with `get` (a dict is fine)."""

    def get(self, key: str) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """How an environment is reached.

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
    alert_push_emails: tuple[str, ...] = ()
    monthly_budget_usd: float
    gpu: bool = False
    gpu_vm_size: str = "Standard_NC4as_T4_v3"
    registry_mode: str = "create"
    registry_id: str | None = None
    registry_host: bool = False
    budget_start_date: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    network: NetworkSettings = field(default_factory=lambda: NetworkSettings())
    compute_instance_user: str | None = None  # Entra object ID of the instance's one user
    generation: int = 1  # bump after a destroy: new Key Vault and workspace names
    # The CI jobs that run against this environment (train, promote, deploy, drift): each job
    # kind's identity exists only where a job uses it. Default: every ML job, drift where strict.
    jobs: tuple[str, ...] = ("train", "promote", "deploy")
    online_endpoint: str | None = None  # the stack creates this online endpoint (with alerts)
    # The repository's visibility and owner's plan decide which OIDC subjects CI jobs present
    # (stacks.github_plans, stacks.identity.federated_subjects); the branch deploying jobs run from.
    github_visibility: str = "private"
    github_plan: str = "team"
    github_default_branch: str = "main"

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


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _cross_checks(parsed: dict[str, Any], environment: str) -> tuple[Profile | None, list[Problem]]:
    """Rules between keys, and the rules `stacks.naming` and the profiles own."""
    problems: list[Problem] = []
    try:
        naming.check_environment(environment)
    except naming.NamingError as exc:
        problems.append(Problem("stack name", str(exc)))
    project = parsed.get(_key("project"))
    if isinstance(project, str):
        try:
            naming.check_project(project)
        except naming.NamingError as exc:
            problems.append(Problem(_key("project"), str(exc)))
    if parsed.get(_key("registry")) == "existing" and not parsed.get(_key("registryId")):
        problems.append(
            Problem(
                _key("registryId"),
                "registry 'existing' needs the registry's resource ID: /subscriptions/<id>/resourceGroups/"
                "<group>/providers/Microsoft.MachineLearningServices/registries/<name>",
            )
        )
    profile = None
    profile_name = parsed.get(_key("profile"), environment)
    try:
        profile = get_profile(profile_name)
    except KeyError as exc:
        problems.append(Problem(_key("profile"), f"{exc.args[0]}; set forge:profile for this environment"))
    for setting in SETTINGS:
        needed = setting.required == "always" or (setting.required == "strict" and profile and profile.strict)
        if needed and setting.full_key not in parsed and all(p.key != setting.full_key for p in problems):
            problems.append(Problem(setting.full_key, "is required but not set"))
    return profile, problems


def check_config(
    values: Mapping[str, str],
    environment: str,
    *,
    project_namespace: str | None = None,
    secret_keys: Iterable[str] = (),
) -> tuple[dict[str, Any], Profile | None, list[Problem]]:
    """Check a stack's whole configuration (full key → raw string): parsed values, profile, problems.

    `project_namespace` is the Pulumi project's name (bare keys in a stack file live there).
    """
    secret_keys = set(secret_keys)
    problems = unknown_keys(values, project_namespace)
    parsed, value_problems = check_values(values, secret_keys)
    problems += value_problems
    webhook = _key("alertWebhook")
    if webhook in values and values[webhook] and webhook not in secret_keys:
        problems.append(
            Problem(webhook, f"must be a secret: run `pulumi config set --secret {webhook} <url>`")
        )
    profile, cross = _cross_checks(parsed, environment)
    if profile is not None:
        cross += _network_checks(parsed, profile.with_overrides(**_profile_overrides(parsed)))
    problems += [p for p in cross if not any(p.key == q.key for q in problems)]
    return parsed, profile, problems


def _profile_overrides(parsed: dict[str, Any]) -> dict[str, Any]:
    return {s.profile_field: parsed[s.full_key] for s in SETTINGS if s.profile_field and s.full_key in parsed}


def _network_mode(parsed: dict[str, Any], profile: Profile) -> str:
    return parsed.get(_key("networkMode"), "private" if profile.private_network else "public")


def _network_checks(parsed: dict[str, Any], profile: Profile) -> list[Problem]:
    """Rules between the network settings and the profile they apply to."""
    problems = []
    mode = _network_mode(parsed, profile)
    if mode != "public" and profile.container_registry_sku != "Premium":
        # Private endpoints and IP rules on a container registry exist only in the Premium tier.
        problems.append(
            Problem(
                _key("networkMode"),
                f"{mode} needs containerRegistrySku Premium, the profile has {profile.container_registry_sku}",
            )
        )
    if mode == "ip-allowlist" and not parsed.get(_key("allowedIps")):
        problems.append(
            Problem(_key("allowedIps"), "networkMode ip-allowlist needs at least one address or range")
        )
    if len(parsed.get(_key("allowedIps")) or ()) > MAX_IP_RULES:
        problems.append(
            Problem(_key("allowedIps"), f"at most {MAX_IP_RULES}: an Azure ML workspace takes 200 IP rules")
        )
    for value in parsed.get(_key("allowedIps")) or ():
        try:
            allowed_address(value)
        except ValueError as error:
            problems.append(Problem(_key("allowedIps"), str(error)))
    if mode == "ip-allowlist" and parsed.get(_key("computeInstanceUser")):
        # Azure reaches an IP-restricted workspace from the managed network's compute instances
        # only through an outbound private endpoint to the workspace itself, a rule it takes only
        # once the workspace exists; the stack does not manage one.
        problems.append(
            Problem(
                _key("computeInstanceUser"),
                "a compute instance cannot reach an ip-allowlist workspace (it needs a private endpoint "
                "to the workspace that the stack does not create): leave it out or use networkMode private",
            )
        )
    if parsed.get(_key("vnetId")) and mode != "private":
        problems.append(Problem(_key("vnetId"), f"applies to networkMode private only, the mode is {mode}"))
    return problems


def settings_from_values(
    values: Mapping[str, str],
    environment: str,
    *,
    project_namespace: str | None = None,
    secret_keys: Iterable[str] = (),
) -> EnvironmentSettings:
    """Settings from a stack's whole configuration; every problem at once as one `ConfigError`."""
    parsed, profile, problems = check_config(
        values, environment, project_namespace=project_namespace, secret_keys=secret_keys
    )
    if problems:
        raise ConfigError.of(problems)
    assert profile is not None

    def get(name: str) -> Any:
        key = name if ":" in name else _key(name)
        default = BY_KEY[key].default
        return parsed.get(key, tuple(default) if isinstance(default, tuple) else default)

    profile = profile.with_overrides(**_profile_overrides(parsed))
    jobs = get("jobs")
    if jobs is None:
        jobs = ("train", "promote", "deploy", *(("drift",) if profile.strict else ()))
    assert set(jobs) <= set(JOB_KINDS) and _network_mode(parsed, profile) in NETWORK_MODES
    network = NetworkSettings(
        mode=_network_mode(parsed, profile),
        vnet_id=get("vnetId"),
        address_space=get("vnetAddressSpace"),
        allowed_ips=tuple(dict.fromkeys(allowed_address(ip) for ip in get("allowedIps"))),
        runner_image=get("runnerImage"),
        runner_max_executions=get("runnerMaxExecutions"),
        runner_timeout_minutes=get("runnerTimeoutMinutes"),
    )
    return EnvironmentSettings(
        project=get("project"),
        environment=environment,
        location=get(LOCATION_KEY),
        github_repository=get("githubRepository"),
        template_version=get("templateVersion"),
        profile=profile,
        alert_emails=get("alertEmails"),
        alert_webhook=get("alertWebhook"),
        alert_push_emails=get("alertPushEmails"),
        monthly_budget_usd=get("monthlyBudgetUsd"),
        gpu=get("gpu"),
        gpu_vm_size=get("gpuVmSize"),
        registry_mode=get("registry"),
        registry_id=get("registryId"),
        registry_host=get("registryHost"),
        budget_start_date=get("budgetStartDate"),
        network=network,
        compute_instance_user=get("computeInstanceUser"),
        generation=get("generation"),
        jobs=tuple(jobs),
        online_endpoint=get("onlineEndpoint"),
        github_visibility=get("githubVisibility"),
        github_plan=get("githubPlan"),
        github_default_branch=get("githubDefaultBranch"),
    )


def _runtime_config() -> tuple[dict[str, str], set[str], str]:
    """Every key of the running stack (what the Pulumi CLI passed), its secret keys, the project."""
    import pulumi
    from pulumi.runtime import config as runtime

    values = {**runtime.get_config_env(), **runtime.CONFIG.get()}
    secrets = set(runtime.get_config_secret_keys_env()) | set(runtime._SECRET_KEYS.get())
    return {k: v for k, v in values.items() if isinstance(v, str)}, secrets, pulumi.get_project()


def settings_from_config(
    config: ConfigSource, environment: str, location: str | None = None
) -> EnvironmentSettings:
    """Read and check every key of one stack.

    `config` is `pulumi.Config("forge")`: then the whole stack configuration the Pulumi CLI passed
    to the program is checked, so an unknown key stops `pulumi preview`/`up` before anything is
    created. Any other object with `get` (tests) supplies the `forge` keys it holds; `location`
    defaults to `azure-native:location`.
    """
    import pulumi

    if isinstance(config, pulumi.Config):
        values, secrets, project = _runtime_config()
    else:
        names = list(config) if isinstance(config, Mapping) else [s.key for s in SETTINGS if ":" not in s.key]
        values = {_key(name): config.get(name) for name in names}
        values = {k: v for k, v in values.items() if v is not None}
        secrets, project = set(), None
    if location is not None:
        values[LOCATION_KEY] = location
    return settings_from_values(values, environment, project_namespace=project, secret_keys=secrets)
