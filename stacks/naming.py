"""Every Azure name a stack uses, derived from (project, environment) and checked against Azure's rules.

Rules come from "Naming rules and restrictions for Azure resources" (Microsoft Learn) and the
Azure ML compute docs. Names that must be globally (or regionally) unique carry a short suffix
hashed from the project, environment and a seed, so they are stable across runs and differ
between projects. A name that cannot be made valid raises `NamingError` naming the input, the
resource and the rule.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass

PROJECT_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PROJECT_MIN, PROJECT_MAX = 3, 20
ENVIRONMENT_PATTERN = re.compile(r"^[a-z][a-z0-9]{1,7}$")
SUFFIX_LENGTH = 5


class NamingError(ValueError):
    """A name that breaks an Azure rule; the message names the input, the resource and the rule."""


@dataclass(frozen=True)
class Rule:
    resource: str
    min_length: int
    max_length: int
    pattern: re.Pattern[str]
    description: str

    def check(self, name: str, source: str) -> str:
        if not self.min_length <= len(name) <= self.max_length or not self.pattern.fullmatch(name):
            raise NamingError(
                f"{source} gives the {self.resource} name {name!r}, which breaks Azure's rule: "
                f"{self.min_length}-{self.max_length} characters, {self.description}"
            )
        return name


RULES = {
    "resource_group": Rule(
        "resource group",
        1,
        90,
        re.compile(r"[\w\-.()]*[\w\-()]"),
        "alphanumerics, underscores, hyphens, periods and parentheses, not ending in a period",
    ),
    "ml_workspace": Rule(
        "Azure ML workspace", 3, 33, re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*"), "alphanumerics and hyphens"
    ),
    "ml_registry": Rule(
        "Azure ML registry", 3, 33, re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*"), "alphanumerics and hyphens"
    ),
    "storage_account": Rule(
        "storage account", 3, 24, re.compile(r"[a-z0-9]+"), "lowercase letters and digits only"
    ),
    "key_vault": Rule(
        "key vault",
        3,
        24,
        re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]"),
        "alphanumerics and hyphens, starting with a letter, ending with a letter or digit, "
        "no consecutive hyphens",
    ),
    "container_registry": Rule(
        "container registry", 5, 50, re.compile(r"[A-Za-z0-9]+"), "alphanumerics only"
    ),
    "log_analytics": Rule(
        "Log Analytics workspace",
        4,
        63,
        re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]"),
        "alphanumerics and hyphens, starting and ending with an alphanumeric",
    ),
    "app_insights": Rule(
        "Application Insights component",
        1,
        260,
        re.compile(r"[^%&\\?/]*[^%&\\?/. ]"),
        "no %&\\?/ characters, not ending in a period or space",
    ),
    "compute_cluster": Rule(
        "Azure ML compute cluster",
        2,
        16,
        re.compile(r"[A-Za-z][A-Za-z0-9-]*"),
        "alphanumerics and hyphens, starting with a letter",
    ),
    "compute_instance": Rule(
        "Azure ML compute instance",
        3,
        24,
        re.compile(r"[A-Za-z](?![A-Za-z0-9-]*-[0-9]$)[A-Za-z0-9-]*"),
        "letters, digits and hyphens, starting with a letter, not ending in a hyphen and a digit",
    ),
    "managed_identity": Rule(
        "user-assigned managed identity",
        3,
        128,
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*"),
        "alphanumerics, hyphens and underscores, starting with a letter or digit",
    ),
    "action_group_short": Rule("action group short name", 1, 12, re.compile(r".+"), "at most 12 characters"),
}


def check_project(project: str) -> str:
    if not (PROJECT_MIN <= len(project) <= PROJECT_MAX and PROJECT_PATTERN.fullmatch(project)):
        raise NamingError(
            f"project name {project!r} is invalid: use {PROJECT_MIN}-{PROJECT_MAX} characters, lowercase "
            "letters, digits and single hyphens, starting with a letter and not ending with a hyphen"
        )
    return project


def check_environment(environment: str) -> str:
    if not ENVIRONMENT_PATTERN.fullmatch(environment):
        raise NamingError(
            f"environment name {environment!r} is invalid: use 2-8 lowercase letters and digits, "
            "starting with a letter"
        )
    return environment


def unique_suffix(*parts: str, length: int = SUFFIX_LENGTH) -> str:
    """A short lowercase base-36 hash of `parts`: stable for the same inputs, different otherwise."""
    number = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")
    alphabet = string.digits + string.ascii_lowercase
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        chars.append(alphabet[digit])
    # A leading letter keeps the suffix valid wherever a name part must start with one.
    return "x" + "".join(chars[1:]) if chars[0].isdigit() else "".join(chars)


@dataclass(frozen=True)
class Names:
    """All names for one project in one environment."""

    project: str
    environment: str
    seed: str = ""
    # Bumped after a destroy: soft-deleted Key Vaults (7-90 days) and workspaces (14 days) keep
    # their names, so the re-created ones need new names (docs/stacks.md, "Lifecycle").
    generation: int = 1

    def __post_init__(self) -> None:
        check_project(self.project)
        check_environment(self.environment)

    @property
    def suffix(self) -> str:
        return unique_suffix(self.project, self.environment, self.seed)

    def _check(self, key: str, name: str) -> str:
        return RULES[key].check(name, f"project {self.project!r} in environment {self.environment!r}")

    def _compact(self, prefix: str, max_length: int, sep: str = "") -> str:
        """prefix + project + environment + suffix, shortening the project part to fit."""
        project = self.project.replace("-", "") if not sep else self.project
        fixed = len(prefix) + len(self.environment) + len(self.suffix) + 3 * len(sep)
        project = project[: max(1, max_length - fixed)].rstrip("-")
        return sep.join([prefix, project, self.environment, self.suffix])

    @property
    def resource_group(self) -> str:
        return self._check("resource_group", f"rg-{self.project}-{self.environment}")

    @property
    def ml_workspace(self) -> str:
        again = f"-g{self.generation}" if self.generation > 1 else ""
        return self._check("ml_workspace", f"mlw-{self.project}-{self.environment}{again}")

    @property
    def log_analytics(self) -> str:
        return self._check("log_analytics", f"log-{self.project}-{self.environment}")

    @property
    def app_insights(self) -> str:
        return self._check("app_insights", f"appi-{self.project}-{self.environment}")

    @property
    def storage_account(self) -> str:
        return self._check("storage_account", self._compact("st", 24))

    @property
    def key_vault(self) -> str:
        if self.generation > 1:
            rotated = Names(self.project, self.environment, f"{self.seed}#g{self.generation}")
            return self._check("key_vault", rotated._compact("kv", 24, sep="-"))
        return self._check("key_vault", self._compact("kv", 24, sep="-"))

    @property
    def container_registry(self) -> str:
        return self._check("container_registry", self._compact("cr", 50))

    @property
    def cpu_cluster(self) -> str:
        return self._check("compute_cluster", "cpu-cluster")

    @property
    def gpu_cluster(self) -> str:
        return self._check("compute_cluster", "gpu-cluster")

    @property
    def compute_instance(self) -> str:
        # Compute instance names must be unique within an Azure region, hence the suffix.
        return self._check("compute_instance", self._compact("ci", 24, sep="-"))

    @property
    def ci_identity(self) -> str:
        return self._check("managed_identity", f"id-{self.project}-{self.environment}-github")

    def identity(self, kind: str) -> str:
        """The user-assigned identity of one job kind (`mlops`, `monitor`) or workload (`compute`, `runner`)."""
        return self._check("managed_identity", f"id-{self.project}-{self.environment}-{kind}")

    @property
    def virtual_network(self) -> str:
        return f"vnet-{self.project}-{self.environment}"

    @property
    def runner_environment(self) -> str:
        return f"cae-{self.project}-{self.environment}"

    @property
    def runner_job(self) -> str:
        # Container Apps job names: at most 32 characters, unique in the resource group.
        return "github-runner"

    @property
    def preview_identity(self) -> str:
        return self._check("managed_identity", f"id-{self.project}-{self.environment}-preview")

    @property
    def action_group(self) -> str:
        return f"ag-{self.project}-{self.environment}"

    @property
    def action_group_short(self) -> str:
        return self._check("action_group_short", f"{self.project[:7]}-{self.environment[:4]}".strip("-"))

    def alert(self, what: str) -> str:
        return f"alert-{self.project}-{self.environment}-{what}"

    @property
    def budget(self) -> str:
        return f"budget-{self.project}-{self.environment}"


def registry_names(project: str, seed: str = "") -> tuple[str, str]:
    """(resource group, registry) names of the project's shared Azure ML registry."""
    check_project(project)
    rule = RULES["ml_registry"]
    name = rule.check(f"mlr-{project}-{unique_suffix(project, 'registry', seed)}", f"project {project!r}")
    return RULES["resource_group"].check(f"rg-{project}-registry", f"project {project!r}"), name
