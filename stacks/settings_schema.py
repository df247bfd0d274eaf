"""Every stack setting, declared once: key, type, default, allowed values, description, who needs it.

`Pulumi.<env>.yaml` holds these keys (namespace `forge`, plus the provider's location). From
this table come the parsing and checks in `stacks.config`, the JSON Schema shipped in every
generated project and the settings table in docs/stacks.md
(both written by `stacks.settings_export`) and the boundary cases the template's question validators are tested
against. To add a setting, add a `Setting` to `SETTINGS` (or a field to `Profile`, with its row
in `PROFILE_SETTINGS`) and regenerate the derived files: `python -m stacks.settings_export --write`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from stacks.naming import ENVIRONMENT_PATTERN, PROJECT_MAX, PROJECT_MIN, PROJECT_PATTERN
from stacks.profiles import DEV, PROD, TEST, Profile

NAMESPACE = "forge"
LOCATION_KEY = "azure-native:location"

# The regions the template offers and the stacks accept: where Azure Machine Learning workspaces
# as Azure AI Foundry hubs are available, per Microsoft Learn "Azure AI Foundry feature
# availability across cloud regions" (learn.microsoft.com/azure/ai-studio/reference/region-support),
# checked 2026-11-26. copier.yml's `azure_location` choices must list the same (a test checks).
AZURE_ML_REGIONS: tuple[str, ...] = (
    "australiaeast",
    "brazilsouth",
    "canadacentral",
    "eastus",
    "eastus2",
    "francecentral",
    "germanywestcentral",
    "japaneast",
    "northcentralus",
    "norwayeast",
    "polandcentral",
    "southafricanorth",
    "southcentralus",
    "southindia",
    "swedencentral",
    "switzerlandnorth",
    "uksouth",
    "westeurope",
    "westus",
    "westus3",
)

# One address: something@domain.tld, no spaces, no second @, no double quote (Azure Monitor
# rejects quoted local parts in action group receivers).
EMAIL_PATTERN = r'[^@\s"]+@[^@\s"]+\.[^@\s"]+'
# GitHub's rules: an account is 1-39 letters, digits or single inner hyphens; a repository is
# 1-100 letters, digits, '.', '_' or '-', not '.' or '..' and not ending in '.git'.
GITHUB_REPOSITORY_PATTERN = (
    r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/(?!\.\.?$)(?!.*\.git$)[A-Za-z0-9._-]{1,100}"
)
# A release of mlops-forge (the tag without its `v`): 1.2.3, 1.2.3rc1, 1.2.3.dev4+g1a2b3c.
VERSION_PATTERN = r"[0-9]+\.[0-9]+\.[0-9]+[a-z0-9.+-]*"
REGISTRY_ID_PATTERN = (
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.MachineLearningServices/registries/[^/]+"
)
GPU_VM_SIZE_PATTERN = r"Standard_N[A-Za-z0-9_]+"
VM_SIZE_PATTERN = r"Standard_[A-Za-z0-9_]+"
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-01T00:00:00Z"
PROFILE_NAME_PATTERN = ENVIRONMENT_PATTERN.pattern.strip("^$")
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
VNET_ID_PATTERN = (
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_OR_CIDR_PATTERN = rf"{_OCTET}(?:\.{_OCTET}){{3}}(?:/(?:3[0-2]|[12]?[0-9]))?"
# A VNet big enough for the runners' workload-profiles subnet (/23 or larger) and the endpoints' subnet.
VNET_ADDRESS_SPACE_PATTERN = rf"{_OCTET}(?:\.{_OCTET}){{3}}/(?:[89]|1[0-9]|2[0-2])"
RUNNER_IMAGE_PATTERN = r"[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+"
# Online endpoint names: 3-32 characters, a letter first, letters, digits and hyphens.
ENDPOINT_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]"
NETWORK_MODES = ("public", "private", "ip-allowlist")
JOB_KINDS = ("train", "promote", "deploy", "drift")

KINDS = (str, int, float, bool, list)


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One key of `Pulumi.<env>.yaml`.

    `required`: "always", "strict" (profiles with `strict`, such as prod) or "never".
    `pattern` applies to a text value or to each item of a list; `minimum`/`maximum` to numbers.
    `profile_field` names the `Profile` field the key overrides; its default comes from the profile.
    """

    key: str
    kind: type
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    required: str = "never"
    secret: bool = False
    profile_field: str | None = None

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.key
        assert self.required in ("always", "strict", "never"), self.key

    @property
    def full_key(self) -> str:
        return self.key if ":" in self.key else f"{NAMESPACE}:{self.key}"


def _p(field: str, description: str, **limits: Any) -> tuple[str, str, dict[str, Any]]:
    return field, description, limits


# Profile fields a stack may override, with their limits (Azure's where Azure sets one).
PROFILE_SETTINGS = (
    _p("log_retention_days", "Log Analytics retention in days.", minimum=30, maximum=730),
    _p("key_vault_purge_protection", "Key Vault purge protection (cannot be turned off once on)."),
    _p("key_vault_soft_delete_days", "Key Vault soft-delete retention in days.", minimum=7, maximum=90),
    _p(
        "container_registry_sku",
        "Container registry SKU; private access needs Premium.",
        choices=("Basic", "Standard", "Premium"),
    ),
    _p("private_network", "Private workspace: public access off, managed network, private ACR."),
    _p("identity_datastores", "Identity-based datastores; storage shared-key access off."),
    _p("cpu_vm_size", "VM size of the CPU cluster.", pattern=VM_SIZE_PATTERN),
    _p("cpu_vm_priority", "CPU cluster priority.", choices=("Dedicated", "LowPriority")),
    _p("cpu_max_nodes", "CPU cluster's maximum node count.", minimum=1, maximum=100),
    _p("idle_scale_down_minutes", "Idle minutes before a cluster scales down.", minimum=1, maximum=10080),
    _p("gpu_max_nodes", "GPU cluster's maximum node count (with `gpu`).", minimum=1, maximum=100),
    _p("compute_instance", "A personal compute instance (never in strict profiles)."),
    _p("compute_instance_vm_size", "VM size of the compute instance.", pattern=VM_SIZE_PATTERN),
    _p(
        "compute_instance_idle_minutes",
        "Idle minutes before the compute instance shuts down.",
        minimum=15,
        maximum=4320,
    ),
    _p("alert_severity", "Severity of the workload alerts (0 critical … 4 verbose).", minimum=0, maximum=4),
    _p("availability_severity", "Severity of the availability alerts.", minimum=0, maximum=4),
    _p("quota_utilization_percent", "Quota use (%) that raises an alert.", minimum=0, maximum=100),
    _p(
        "key_vault_availability_percent",
        "Key Vault availability (%) below which it alerts.",
        minimum=0,
        maximum=100,
    ),
    _p(
        "storage_availability_percent",
        "Storage availability (%) below which it alerts.",
        minimum=0,
        maximum=100,
    ),
    _p(
        "failed_jobs_threshold",
        "Failed jobs in 15 minutes that raise the log alert.",
        minimum=1,
        maximum=1000,
    ),
    _p("budget_actual_percent", "Actual spend (% of budget) that notifies.", minimum=1, maximum=1000),
    _p("budget_forecast_percent", "Forecast spend (% of budget) that notifies.", minimum=1, maximum=1000),
)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _profile_setting(field: str, description: str, limits: dict[str, Any]) -> Setting:
    kind = {f.name: f.type for f in fields(Profile)}[field]
    kind = {"int": int, "float": float, "bool": bool, "str": str}[
        kind if isinstance(kind, str) else kind.__name__
    ]
    defaults = "/".join(
        str(getattr(p, field)).lower() if kind is bool else str(getattr(p, field)) for p in (DEV, TEST, PROD)
    )
    return Setting(
        key=_camel(field),
        kind=kind,
        description=f"{description} Profile default (dev/test/prod): {defaults}.",
        profile_field=field,
        **limits,
    )


# ---- The GitHub side and the state backend (stacks/github.py, stacks/state.py, docs/bootstrap.md) ----
# A team of the repository's organization (`org/team-slug`) or a user login.
GITHUB_REVIEWER_PATTERN = (
    r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+|[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
)
GITHUB_SETTINGS: tuple[Setting, ...] = (
    Setting(
        key="stateBackend",
        kind=str,
        description="Where Pulumi state lives; with `azblob` the stacks publish `PULUMI_BACKEND_URL`.",
        default="azblob",
        choices=("azblob", "pulumi-cloud"),
    ),
    Setting(
        key="runnerEnvironments",
        kind=list,
        description="Host stack only: the environments whose CI jobs run on their VNet runners "
        "(`networkMode: private`); their labels become the repository variable RUNNERS.",
        default=(),
        pattern=PROFILE_NAME_PATTERN,
    ),
    Setting(
        key="allowlistRunners",
        kind=list,
        description="Host stack only: `env=label,label` for each `ip-allowlist` environment, the runs-on "
        "labels of runners whose egress addresses are in its `allowedIps` (GitHub-hosted standard runners "
        "have no fixed address); they join the repository variable RUNNERS.",
        default=(),
        pattern=r"[a-z0-9][a-z0-9-]*=[^=,\s]+(,[^=,\s]+)*",
    ),
    Setting(
        key="githubRepositoryHost",
        kind=bool,
        description="This stack owns the repository variables, the `template-update` environment and "
        "the default branch's ruleset (the template's first environment; one stack).",
        default=False,
    ),
    Setting(
        key="githubVisibility",
        kind=str,
        description="Visibility of the GitHub repository: with the plan, what the GitHub side may ask for.",
        default="private",
        choices=("public", "private", "internal"),
    ),
    Setting(
        key="githubPlan",
        kind=str,
        description="GitHub plan of the repository's owner (environment reviewers on private "
        "repositories need `enterprise`).",
        default="team",
        choices=("free", "pro", "team", "enterprise"),
    ),
    Setting(
        key="githubReviewers",
        kind=list,
        description="Who approves prod: teams (`org/team-slug`) or logins; environment reviewers where "
        "the plan has them, else code owners. Needed in strict profiles unless prod is unguarded.",
        default=(),
        pattern=GITHUB_REVIEWER_PATTERN,
    ),
    Setting(
        key="githubReviewerIds",
        kind=list,
        description="`reviewer=ID` for each reviewer, written by `mlops-forge bootstrap` so CI needs "
        "no GitHub lookups.",
        default=(),
        pattern=r"[^=\s]+=[0-9]+",
    ),
    Setting(
        key="githubDefaultBranch",
        kind=str,
        description="The only branch deploying GitHub environments accept.",
        default="main",
        pattern=r"[A-Za-z0-9._/-]+",
    ),
    Setting(
        key="acceptUnguardedProd",
        kind=bool,
        description="A strict stack of a private repository on GitHub Free (nothing on GitHub can "
        "guard it) runs only with `true`.",
        default=False,
    ),
    Setting(
        key="templateUpdateAppClientId",
        kind=str,
        description="Client ID of the template-update GitHub App, published as a variable.",
        pattern=r"[A-Za-z0-9._-]+",
    ),
)

SETTINGS: tuple[Setting, ...] = (
    Setting(
        key=LOCATION_KEY,
        kind=str,
        description="Azure region of every resource; one where Azure Machine Learning is offered.",
        choices=AZURE_ML_REGIONS,
        required="always",
    ),
    Setting(
        key="project",
        kind=str,
        description="Project name; every Azure name derives from it.",
        pattern=PROJECT_PATTERN.pattern.strip("^$"),
        min_length=PROJECT_MIN,
        max_length=PROJECT_MAX,
        required="always",
    ),
    Setting(
        key="githubRepository",
        kind=str,
        description="`org/repo` on GitHub: the subject of the CI identity's federated credential.",
        pattern=GITHUB_REPOSITORY_PATTERN,
        required="always",
    ),
    Setting(
        key="templateVersion",
        kind=str,
        description="Template version the project was rendered from; tagged on every resource.",
        default="unversioned",
        pattern=VERSION_PATTERN,
    ),
    Setting(
        key="alertEmails",
        kind=list,
        description="E-mail addresses the action group notifies (and budget notifications).",
        default=(),
        pattern=EMAIL_PATTERN,
    ),
    Setting(
        key="alertWebhook",
        kind=str,
        description="HTTPS URL the action group posts alerts to, in the common alert schema. "
        "Keep it secret: `pulumi config set --secret forge:alertWebhook URL`.",
        pattern=r"https://\S+",
        secret=True,
    ),
    Setting(
        key="alertPushEmails",
        kind=list,
        description="Accounts (their sign-in e-mail) that get push notifications in the Azure mobile app.",
        default=(),
        pattern=EMAIL_PATTERN,
    ),
    Setting(
        key="monthlyBudgetUsd",
        kind=float,
        description="Monthly budget of the environment in US dollars.",
        default=100.0,
        minimum=1,
        maximum=1_000_000,
    ),
    Setting(key="gpu", kind=bool, description="Add a GPU compute cluster.", default=False),
    Setting(
        key="gpuVmSize",
        kind=str,
        description="VM size of the GPU cluster (an N-series size).",
        default="Standard_NC4as_T4_v3",
        pattern=GPU_VM_SIZE_PATTERN,
    ),
    Setting(
        key="registry",
        kind=str,
        description="`create` a shared Azure ML registry, or use an `existing` one.",
        default="create",
        choices=("create", "existing"),
    ),
    Setting(
        key="registryId",
        kind=str,
        description="Resource ID of the existing Azure ML registry (with `registry: existing`).",
        pattern=REGISTRY_ID_PATTERN,
    ),
    Setting(
        key="registryHost",
        kind=bool,
        description="This environment creates the shared registry (with `registry: create`; one environment).",
        default=False,
    ),
    Setting(
        key="budgetStartDate",
        kind=str,
        description="Budget start, the first of a month (`2026-01-01T00:00:00Z`); default: this month.",
        pattern=DATE_PATTERN,
    ),
    Setting(
        key="profile",
        kind=str,
        description="Profile the environment starts from; default: the stack name (dev, test, prod).",
        pattern=PROFILE_NAME_PATTERN,
    ),
    # --- network, identities and lifecycle ---
    Setting(
        key="networkMode",
        kind=str,
        description="How the environment is reached: `private` (private endpoints in a VNet, CI on runners "
        "inside it), `ip-allowlist` (public endpoints that accept only `allowedIps`) or `public`. "
        "Default: `private` where the profile has `privateNetwork`, else `public`.",
        choices=NETWORK_MODES,
    ),
    Setting(
        key="vnetId",
        kind=str,
        description="Resource ID of an existing VNet to use instead of creating one (`private` only).",
        pattern=VNET_ID_PATTERN,
    ),
    Setting(
        key="vnetAddressSpace",
        kind=str,
        description="Address space of the VNet the stack creates; /22 or larger (the runners' subnet "
        "cannot grow after creation).",
        default="10.40.0.0/16",
        pattern=VNET_ADDRESS_SPACE_PATTERN,
    ),
    Setting(
        key="allowedIps",
        kind=list,
        description="Public IPv4 addresses or CIDR ranges allowed in (`ip-allowlist`): storage, Key Vault, "
        "container registry and, after each `pulumi up`, the workspace. No reserved ranges (RFC 1918 private, documentation, shared 100.64/10, ...), no /31; "
        "at most 200 (the workspace's limit).",
        default=(),
        pattern=IPV4_OR_CIDR_PATTERN,
    ),
    Setting(
        key="runnerImage",
        kind=str,
        description="`repository:tag` of the GitHub runner image in the environment's container registry.",
        default="github-actions-runner:1",
        pattern=RUNNER_IMAGE_PATTERN,
    ),
    Setting(
        key="runnerMaxExecutions",
        kind=int,
        description="Most runner jobs running at once.",
        default=4,
        minimum=1,
        maximum=100,
    ),
    Setting(
        key="runnerTimeoutMinutes",
        kind=int,
        description="Longest a runner lives; must outlast the longest CI job (train: 180 minutes).",
        default=240,
        minimum=190,
        maximum=1440,
    ),
    Setting(
        key="computeInstanceUser",
        kind=str,
        description="Entra object ID of the one user the compute instance is assigned to; "
        "without it no instance is created.",
        pattern=GUID_PATTERN,
    ),
    Setting(
        key="generation",
        kind=int,
        description="Bump after `pulumi destroy` to re-create with new Key Vault and workspace names "
        "(soft-deleted ones keep theirs for days).",
        default=1,
        minimum=1,
        maximum=99,
    ),
    Setting(
        key="jobs",
        kind=list,
        description="CI job kinds that run against this environment (train, promote, deploy, drift); each "
        "kind's identity exists only where a job uses it. Default: train, promote, deploy, and drift "
        "in strict profiles.",
        pattern="|".join(JOB_KINDS),
    ),
    Setting(
        key="onlineEndpoint",
        kind=str,
        description="Name of the online endpoint the stack creates (with its alerts and diagnostics).",
        pattern=ENDPOINT_NAME_PATTERN,
    ),
    *(_profile_setting(*row) for row in PROFILE_SETTINGS),
    *GITHUB_SETTINGS,
)

BY_KEY: dict[str, Setting] = {s.full_key: s for s in SETTINGS}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's configuration; `key` is the full config key."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def suggest(key: str, known: Iterable[str] | None = None) -> str | None:
    """The known key `key` most likely meant (case and namespace slips included), or None."""
    known = list(known if known is not None else BY_KEY)
    name = key.split(":", 1)[-1]
    for candidate in known:
        if candidate.split(":", 1)[-1].lower() == name.lower():
            return candidate
    by_name = {k.split(":", 1)[-1].lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_name), n=1, cutoff=0.75)
    return by_name[close[0]] if close else None


def unknown_keys(keys: Iterable[str], project: str | None = None) -> list[Problem]:
    """Problems for keys no setting declares in the `forge` namespace.

    Other namespaces pass through untouched: providers' keys, and the project's own namespace
    (`<project>:key`, a bare key in the stack file) that a program may read for itself, unless
    the key is a setting's name without its `forge:` (a forgotten prefix).
    """
    problems = []
    for key in keys:
        namespace, _, name = key.rpartition(":")
        if key in BY_KEY:
            continue
        if namespace == NAMESPACE:
            hint = suggest(key)
            message = "is not a setting of mlops-forge stacks"
            message += f"; did you mean {hint}?" if hint else " (docs/stacks.md lists the settings)"
            problems.append(Problem(key, message))
        elif namespace in ("", project):
            hint = suggest(key)
            if hint and hint.split(":", 1)[-1].lower() == name.lower():
                problems.append(Problem(key, f"is not in the forge namespace; did you mean {hint}?"))
    return problems


def parse(setting: Setting, raw: str) -> Any:
    """One raw config string (YAML scalars arrive as strings, lists as JSON) → a checked value.

    Raises `ValueError` with a message that names what was expected.
    """
    text = raw.strip()
    kind = setting.kind
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {raw!r}")
        return text.lower() == "true"
    if kind in (int, float):
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            raise ValueError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {raw!r}"
            ) from None
        if setting.minimum is not None and value < setting.minimum:
            raise ValueError(f"must be at least {format_number(setting.minimum)}, got {format_number(value)}")
        if setting.maximum is not None and value > setting.maximum:
            raise ValueError(f"must be at most {format_number(setting.maximum)}, got {format_number(value)}")
        return value
    if kind is list:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"expected a list of strings, got {raw!r}")
        for item in value:
            if setting.pattern and not re.fullmatch(setting.pattern, item):
                what = "an e-mail address" if setting.pattern == EMAIL_PATTERN else "valid"
                raise ValueError(f"{item!r} is not {what}: {FORMATS.get(setting.key, 'see docs/stacks.md')}")
        return tuple(value)
    if text.startswith(("{", "[")):
        raise ValueError(f"expected a single text value, got {raw!r}")
    return _check_text(setting, raw)


def _check_text(setting: Setting, value: str) -> str:
    if setting.choices and value not in setting.choices:
        squashed = re.sub(r"[\s_-]", "", value).lower()
        hint = [c for c in setting.choices if c.lower() == squashed] or difflib.get_close_matches(
            squashed, setting.choices, n=1, cutoff=0.85
        )
        what = (
            "a region where Azure Machine Learning is offered" if setting.key == LOCATION_KEY else "allowed"
        )
        if hint:
            raise ValueError(f"{value!r} is not {what}; did you mean {hint[0]}?")
        raise ValueError(f"{value!r} is not {what} (allowed: {', '.join(setting.choices)})")
    too_short = setting.min_length is not None and len(value) < setting.min_length
    too_long = setting.max_length is not None and len(value) > setting.max_length
    if (setting.pattern and not re.fullmatch(setting.pattern, value)) or too_short or too_long:
        raise ValueError(f"{value!r} is not valid: {FORMATS.get(setting.key, 'see docs/stacks.md')}")
    return value


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# What a valid value looks like, for messages and docs (keys with a pattern).
FORMATS = {
    "project": f"{PROJECT_MIN}-{PROJECT_MAX} characters, lowercase letters, digits and single hyphens, "
    "starting with a letter",
    "githubRepository": "expected 'org/repo'",
    "templateVersion": "expected a release version such as 1.2.3",
    "alertWebhook": "expected an https:// URL",
    "gpuVmSize": "expected an N-series VM size such as Standard_NC4as_T4_v3",
    "registryId": "expected /subscriptions/<id>/resourceGroups/<group>/providers/"
    "Microsoft.MachineLearningServices/registries/<name>",
    "budgetStartDate": "expected the first of a month, e.g. 2026-01-01T00:00:00Z",
    "profile": "2-8 lowercase letters and digits, starting with a letter",
    "cpuVmSize": "expected an Azure VM size such as Standard_DS3_v2",
    "computeInstanceVmSize": "expected an Azure VM size such as Standard_DS3_v2",
    "vnetId": "expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/"
    "virtualNetworks/<name>",
    "vnetAddressSpace": "expected a CIDR block of /22 or larger, such as 10.40.0.0/16",
    "allowedIps": "expected an IPv4 address or CIDR range",
    "runnerImage": "expected repository:tag",
    "computeInstanceUser": "expected the user's Entra object ID (a GUID)",
    "jobs": f"expected one of {', '.join(JOB_KINDS)}",
    "onlineEndpoint": "expected 3-32 letters, digits and hyphens starting with a letter",
}


def check_values(
    values: Mapping[str, str], secret_keys: Iterable[str] = ()
) -> tuple[dict[str, Any], list[Problem]]:
    """Parse every declared key present in `values` (full keys → raw strings).

    Returns the parsed values by full key and every problem found, unknown keys aside. A secret's
    value is checked only when it is readable (the offline plan sees `[secret]`).
    """
    secrets = set(secret_keys)
    parsed: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, raw in values.items():
        setting = BY_KEY.get(key)
        if setting is None or raw is None or raw == "":
            continue
        if setting.secret and key in secrets and raw == "[secret]":
            parsed[key] = raw
            continue
        try:
            parsed[key] = parse(setting, str(raw))
        except ValueError as exc:
            problems.append(Problem(key, str(exc)))
    return parsed, problems
