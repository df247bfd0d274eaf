"""The GitHub side of one environment: its GitHub environments, protection rules and variables.

Every value a workflow reads with `vars.X` is created here from the stack's own outputs, so
nobody copies client IDs or resource names between the Azure portal and GitHub. Per stack:

- `<env>` (deploy jobs) and `<env>-preview` (pull-request previews), each with its rows of
  `VARIABLES`; `<env>` accepts deployments from the default branch only and, in a strict profile
  (prod), needs a required reviewer who did not start the run — where the repository's plan has
  environments and reviewers (`stacks.github_plans`); without reviewers, a ruleset makes every
  change to the default branch need a code owner's approval instead.
- The stack marked `forge:githubRepositoryHost` (the first environment: the first `pulumi up`, and
  the one that hosts the registry with `registry: create`) also owns what exists once per
  repository: the repository rows of `VARIABLES`, the `template-update` environment and the
  ruleset. One owner per resource keeps two stacks from overwriting each other's values.

Where the plan has no environments (a private or internal repository on GitHub Free), the stack
creates its rows of `VARIABLES` as repository variables named `<NAME>_<ENV>` (`scoped_variable`,
e.g. `AZURE_ML_WORKSPACE_PROD`), which the workflows read instead, and the host stack creates
TEMPLATE_UPDATE_APP_CLIENT_ID as a repository variable.

The GitHub provider authenticates with `GITHUB_TOKEN` (a token with the repository's admin rights,
e.g. `gh auth token` after `gh auth login`); see docs/bootstrap.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_github as github
from pulumi_azure_native import authorization

from stacks import naming
from stacks.config import ConfigError, ConfigSource, EnvironmentSettings
from stacks.github_plans import PLANS, VISIBILITIES, Capabilities, capabilities
from stacks.identity import monitor_environment, preview_environment
from stacks.runners import runner_labels
from stacks.state import BACKENDS, state_storage

TEMPLATE_UPDATE_ENVIRONMENT = "template-update"
# Status checks the default branch's ruleset requires: the job names of the generated ci.yml
# (a test of every render checks that they match).
REQUIRED_CHECKS = ("lint, test, validate data, plan",)


@dataclass(frozen=True)
class Variable:
    """A GitHub Actions variable and the stack output its value is taken from."""

    name: str
    output: str
    # "deploy" (`<env>`), "preview" (`<env>-preview`), "monitor" (`<env>-monitor`, where the drift check
    # runs), "both" (every environment of the stack), or "repository" (host stack)
    where: str


# The one table of variables the workflows read. The test of every render reads `vars.X` from
# the generated workflows and fails, naming X, when a job reads one no row provides where it runs.
VARIABLES: tuple[Variable, ...] = (
    # One identity per job kind (stacks.identity.JOB_IDENTITIES). A client ID is no secret: what
    # an identity can be used from is its federated subject (one GitHub environment), so reusable
    # workflows that pick the identity by expression find every ID in both environments.
    Variable("AZURE_DEPLOYER_CLIENT_ID", "deployerClientId", "both"),
    Variable("AZURE_ML_OPERATOR_CLIENT_ID", "mlOperatorClientId", "both"),
    Variable("AZURE_MONITOR_CLIENT_ID", "monitorClientId", "monitor"),
    Variable("AZURE_PREVIEW_CLIENT_ID", "previewClientId", "both"),
    Variable("AZURE_RESOURCE_GROUP", "resourceGroup", "both"),
    Variable("AZURE_ML_WORKSPACE", "workspace", "both"),
    Variable("AZURE_ML_ENDPOINT", "endpoint", "both"),
    Variable("AZURE_TENANT_ID", "tenantId", "repository"),
    Variable("AZURE_SUBSCRIPTION_ID", "subscriptionId", "repository"),
    Variable("AZURE_ML_REGISTRY", "registry", "repository"),
    Variable("PULUMI_BACKEND_URL", "stateBackendUrl", "repository"),  # azblob state only
    # Environment → its VNet runners' labels, for `runs-on` (read before a job's environment applies).
    Variable("RUNNERS", "runners", "repository"),
)
# Not in the table: TEMPLATE_UPDATE_APP_CLIENT_ID (environment `template-update`) comes from
# `forge:templateUpdateAppClientId`, as a person creates the GitHub App (GitHub has no API for it).


def scoped_variable(variable: str, environment: str) -> str:
    """The repository variable that stands for `variable` of `environment` where environments do not exist.

    A suffix, not a prefix: names must not start with `GITHUB_` (an environment may be `github`).
    Upper case, as GitHub stores variable names. Workflows name it literally (`vars.X_PROD`), or
    their caller passes it into a reusable workflow as `inputs.X`, so linters see every read.
    """
    return f"{variable}_{environment.upper()}"


def unset_variables(state_backend: str) -> frozenset[str]:
    """Variables workflows read that stay unset on purpose (an empty `vars.X` is their default)."""
    # With Pulumi Cloud state the CLI needs no backend URL: empty means "use Pulumi Cloud".
    return frozenset({"PULUMI_BACKEND_URL"}) if state_backend == "pulumi-cloud" else frozenset()


REVIEWER_PATTERN = re.compile(
    r"^(?P<org>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<team>[A-Za-z0-9._-]+)$|^[A-Za-z0-9-]+$"
)
BRANCH_PATTERN = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True, kw_only=True)
class GithubSettings:
    """The `forge:github*` keys of one stack."""

    repository: str
    default_branch: str = "main"
    # "org/team-slug" for a team, "login" for a user; used where the profile is strict.
    reviewers: tuple[str, ...] = ()
    # Reviewer → GitHub's numeric ID, recorded by `mlops-forge bootstrap`: with them the program
    # needs no lookups, which CI's token could not make (reading teams needs org access).
    reviewer_ids: dict[str, int] = field(default_factory=dict)
    repository_host: bool = False
    state_backend: str = "azblob"
    template_update_app_client_id: str | None = None
    visibility: str = "private"
    plan: str = "team"
    # Environments whose jobs run on their VNet runners (host stack only): the RUNNERS variable.
    runner_environments: tuple[str, ...] = ()
    # ip-allowlist environments → the labels of runners whose egress is in their allowedIps (host stack).
    allowlist_runners: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def capabilities(self) -> Capabilities:
        return capabilities(self.visibility, self.plan)

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]


def _json(key: str, raw: str | None, kind: type, what: str):
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, kind):
        raise ConfigError(key, f"expected {what}, got {raw!r}")
    return value


def _choice(key: str, raw: str | None, allowed: tuple[str, ...], default: str) -> str:
    value = raw or default
    if value not in allowed:
        raise ConfigError(key, f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _reviewers(raw: str | None, owner: str) -> tuple[str, ...]:
    key = "forge:githubReviewers"
    parsed = _json(key, raw, list, "a list of strings") or []
    for item in parsed:
        if not isinstance(item, str) or not REVIEWER_PATTERN.fullmatch(item):
            raise ConfigError(key, f"{item!r} is neither 'org/team-slug' nor a GitHub login")
        if "/" in item and item.split("/", 1)[0].lower() != owner.lower():
            raise ConfigError(
                key, f"team {item!r} is not in {owner!r}, the organization that owns the repository"
            )
    return tuple(parsed)


def _reviewer_ids(raw: str | None) -> dict[str, int]:
    """`["org/team=123", "login=456"]` → {reviewer: ID}."""
    key = "forge:githubReviewerIds"
    ids = {}
    for item in _json(key, raw, list, "a list of 'reviewer=ID'") or []:
        reviewer, _, number = str(item).rpartition("=")
        if not reviewer or not number.isdigit():
            raise ConfigError(key, f"expected 'reviewer=ID', got {item!r}")
        ids[reviewer] = int(number)
    return ids


def repository_runners(g: GithubSettings) -> dict[str, list[str]]:
    """The RUNNERS variable: environment → runs-on labels, for environments not on hosted runners."""
    return {env: runner_labels(env) for env in g.runner_environments} | {
        env: list(labels) for env, labels in g.allowlist_runners.items()
    }


def _allowlist_runners(raw: str | None, vnet_environments: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`["prod=static-egress"]` → {"prod": ("static-egress",)}: runners for ip-allowlist environments."""
    key = "forge:allowlistRunners"
    runners: dict[str, tuple[str, ...]] = {}
    for item in _json(key, raw, list, "a list of 'env=label,label'") or []:
        environment, _, labels = str(item).partition("=")
        chosen = tuple(label.strip() for label in labels.split(",") if label.strip())
        if not environment or not chosen:
            raise ConfigError(key, f"expected 'env=label,label', got {item!r}")
        if environment in vnet_environments:
            raise ConfigError(
                key,
                f"{environment!r} runs on its VNet runners (forge:runnerEnvironments); list it in one key only",
            )
        runners[environment] = chosen
    return runners


def _check_prod_guard(settings: EnvironmentSettings, chosen: GithubSettings, accept_unguarded: bool) -> None:
    """A strict environment needs a second person: reviewers (or code owners), or an explicit waiver."""
    if not settings.profile.strict:
        return
    if chosen.capabilities.prod_guard == "none" and not accept_unguarded:
        raise ConfigError(
            "forge:githubPlan",
            f"a {chosen.visibility} repository on GitHub {chosen.plan} has neither environments nor rulesets, "
            f"so nothing on GitHub can make a second person approve {settings.environment!r}: make the "
            "repository public, move to Pro/Team/Enterprise, or set forge:acceptUnguardedProd: true",
        )
    if chosen.capabilities.prod_guard != "none" and not chosen.reviewers:
        raise ConfigError(
            "forge:githubReviewers",
            f"environment {settings.environment!r} has a strict profile and needs at least one "
            "reviewer ('org/team-slug' or a login)",
        )


def github_settings_from_config(config: ConfigSource, settings: EnvironmentSettings) -> GithubSettings:
    """Read and check the GitHub keys (`pulumi.Config("forge")`); errors name the key."""

    def get(name: str) -> str | None:
        raw = config.get(name)
        return None if raw is None or raw == "" else str(raw)

    branch = get("githubDefaultBranch") or "main"
    if not BRANCH_PATTERN.fullmatch(branch):
        raise ConfigError("forge:githubDefaultBranch", f"not a branch name: {branch!r}")
    vnet_environments = tuple(
        _json("forge:runnerEnvironments", get("runnerEnvironments"), list, "a list") or ()
    )
    chosen = GithubSettings(
        repository=settings.github_repository,
        default_branch=branch,
        reviewers=_reviewers(get("githubReviewers"), settings.github_repository.split("/", 1)[0]),
        reviewer_ids=_reviewer_ids(get("githubReviewerIds")),
        repository_host=_choice(
            "forge:githubRepositoryHost",
            (get("githubRepositoryHost") or "").lower(),
            ("true", "false"),
            "false",
        )
        == "true",
        state_backend=_choice("forge:stateBackend", get("stateBackend"), BACKENDS, "azblob"),
        template_update_app_client_id=get("templateUpdateAppClientId"),
        visibility=_choice("forge:githubVisibility", get("githubVisibility"), VISIBILITIES, "private"),
        plan=_choice("forge:githubPlan", get("githubPlan"), PLANS, "team"),
        runner_environments=vnet_environments,
        allowlist_runners=_allowlist_runners(get("allowlistRunners"), vnet_environments),
    )
    _check_prod_guard(settings, chosen, (get("acceptUnguardedProd") or "").lower() == "true")
    return chosen


def endpoint_name(settings: EnvironmentSettings) -> str:
    """The Azure ML endpoint of one environment: unique in its region, hence the suffix.

    Online endpoint names: 3-32 characters, a letter first, then letters, digits and hyphens.
    """
    suffix = naming.unique_suffix(
        settings.project, settings.environment, settings.github_repository, length=4
    )
    room = 32 - len(settings.environment) - len(suffix) - 2
    project = settings.project[:room].rstrip("-")
    return f"{project}-{settings.environment}-{suffix}"


@dataclass(frozen=True, kw_only=True)
class GithubArgs:
    settings: EnvironmentSettings
    github: GithubSettings
    # The stack's outputs (name → value) as the program exports them: `VARIABLES` takes from here.
    outputs: Mapping[str, pulumi.Input[Any]]


class GithubEnvironments(pulumi.ComponentResource):
    """`<env>` and `<env>-preview` with their rules and variables; repository-wide ones on the host."""

    def __init__(self, name: str, args: GithubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:github:GithubEnvironments", name, None, opts)
        s, g = args.settings, args.github
        provider = github.Provider(
            f"{name}-provider", owner=g.owner, opts=pulumi.ResourceOptions(parent=self)
        )
        self._child = pulumi.ResourceOptions(parent=self, provider=provider)
        self._name = name
        self._github = g
        self._stack_environment = s.environment
        client = authorization.get_client_config_output()

        # The stack outputs this component adds; the program exports them next to its own.
        self.outputs: dict[str, pulumi.Output[Any]] = {
            # The endpoint the stack creates (`forge:onlineEndpoint`), else the name deploy creates.
            "endpoint": pulumi.Output.from_input(s.online_endpoint or endpoint_name(s)),
            "tenantId": client.tenant_id,
            "subscriptionId": client.subscription_id,
            "runners": pulumi.Output.from_input(json.dumps(repository_runners(g), separators=(",", ":"))),
        }
        if g.state_backend == "azblob":
            self.outputs["stateBackendUrl"] = pulumi.Output.from_input(
                state_storage(s.project, s.github_repository).backend_url
            )
        self._values = self._sources(
            args.outputs, omitted=set() if g.state_backend == "azblob" else {"stateBackendUrl"}
        )
        caps = g.capabilities
        if caps.environments:
            reviewers = self._reviewers() if s.profile.strict and caps.reviewers else None
            deploy = self._environment(
                s.environment, default_branch_only=caps.branch_policies, reviewers=reviewers
            )
            self._variables(deploy, s.environment, ("deploy", "both"))
            preview_name = preview_environment(s.environment)
            preview = self._environment(preview_name, default_branch_only=False, reviewers=None)
            self._variables(preview, preview_name, ("preview", "both"))
            if "drift" in s.jobs:
                # The scheduled drift check: read-only, from the default branch, never waiting for
                # the approvers that guard deployments to this environment.
                monitor_name = monitor_environment(s.environment)
                watch = self._environment(
                    monitor_name, default_branch_only=caps.branch_policies, reviewers=None
                )
                self._variables(watch, monitor_name, ("monitor", "both"))
        else:
            self._scoped_variables()

        if g.repository_host:
            self._repository_variables()
            if caps.environments:
                update = self._environment(
                    TEMPLATE_UPDATE_ENVIRONMENT, default_branch_only=caps.branch_policies, reviewers=None
                )
                if g.template_update_app_client_id:
                    self._variable(
                        update,
                        TEMPLATE_UPDATE_ENVIRONMENT,
                        "TEMPLATE_UPDATE_APP_CLIENT_ID",
                        g.template_update_app_client_id,
                    )
            elif g.template_update_app_client_id:
                self._repository_variable("TEMPLATE_UPDATE_APP_CLIENT_ID", g.template_update_app_client_id)
            if caps.prod_guard == "ruleset":
                self._default_branch_ruleset()
        self.register_outputs(dict(self.outputs))

    def _reviewers(self) -> github.RepositoryEnvironmentReviewerArgs:
        """Team and user IDs of the configured reviewers (GitHub's API takes IDs, not names)."""
        teams: list[pulumi.Input[int]] = []
        users: list[pulumi.Input[int]] = []
        for reviewer in self._github.reviewers:
            known = self._github.reviewer_ids.get(reviewer)
            if known is not None:
                (teams if "/" in reviewer else users).append(known)
            elif "/" in reviewer:
                slug = reviewer.split("/", 1)[1]
                team = github.get_team_output(slug=slug, summary_only=True, opts=self._invoke())
                teams.append(team.id.apply(int))
            else:
                user = github.get_user_output(username=reviewer, opts=self._invoke())
                users.append(user.id.apply(int))
        return github.RepositoryEnvironmentReviewerArgs(teams=teams or None, users=users or None)

    def _invoke(self) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(parent=self, provider=self._child.provider)

    def _environment(
        self,
        environment: str,
        *,
        default_branch_only: bool,
        reviewers: github.RepositoryEnvironmentReviewerArgs | None,
    ) -> github.RepositoryEnvironment:
        g = self._github
        resource = github.RepositoryEnvironment(
            f"{self._name}-{environment}",
            repository=g.name,
            environment=environment,
            reviewers=[reviewers] if reviewers else None,
            # Whoever starts a prod deployment cannot also approve it; admins cannot skip it.
            prevent_self_review=True if reviewers else None,
            can_admins_bypass=False if reviewers else None,
            deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                protected_branches=False, custom_branch_policies=True
            )
            if default_branch_only
            else None,
            opts=self._child,
        )
        if default_branch_only:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{self._name}-{environment}-branch",
                repository=g.name,
                environment=resource.environment,
                branch_pattern=g.default_branch,
                opts=self._child,
            )
        return resource

    def _sources(self, outputs: Mapping[str, pulumi.Input[Any]], omitted: set[str]) -> dict[str, Any]:
        """Every output a `VARIABLES` row names, from the stack's outputs or this component's own."""
        values = {**outputs, **self.outputs}
        missing = sorted({v.output for v in VARIABLES} - set(values) - omitted)
        if missing:
            names = ", ".join(f"{v.name} ← {v.output}" for v in VARIABLES if v.output in missing)
            raise ValueError(f"GithubEnvironments needs the stack outputs of {names}; pass them in `outputs`")
        return values

    def _variables(
        self, environment: github.RepositoryEnvironment, name: str, where: tuple[str, ...]
    ) -> None:
        for variable in VARIABLES:
            value = self._values.get(variable.output)
            # "" is an identity this environment does not have (no job of its kind runs here).
            if variable.where in where and variable.output in self._values and value != "":
                self._variable(environment, name, variable.name, value)

    def _variable(
        self,
        environment: github.RepositoryEnvironment,
        environment_name: str,
        variable: str,
        value: pulumi.Input[str],
    ) -> None:
        github.ActionsEnvironmentVariable(
            f"{self._name}-{environment_name}-{variable.lower().replace('_', '-')}",
            repository=self._github.name,
            environment=environment.environment,
            variable_name=variable,
            value=value,
            opts=self._child,
        )

    def _default_branch_ruleset(self) -> None:
        """Without environment reviewers, a second person approves every change to the default branch.

        Deploying environments accept only the default branch, so prod changes only through a pull
        request that a code owner (`.github/CODEOWNERS`: infra/, .github/, azureml/) approved.
        """
        github.RepositoryRuleset(
            f"{self._name}-default-branch",
            name="default branch: reviewed changes only",
            repository=self._github.name,
            target="branch",
            enforcement="active",
            conditions=github.RepositoryRulesetConditionsArgs(
                ref_name=github.RepositoryRulesetConditionsRefNameArgs(
                    includes=["~DEFAULT_BRANCH"], excludes=[]
                )
            ),
            rules=github.RepositoryRulesetRulesArgs(
                deletion=True,
                non_fast_forward=True,
                pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                    required_approving_review_count=1,
                    require_code_owner_review=True,
                    require_last_push_approval=True,
                    dismiss_stale_reviews_on_push=True,
                ),
                required_status_checks=github.RepositoryRulesetRulesRequiredStatusChecksArgs(
                    required_checks=[
                        github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(context=check)
                        for check in REQUIRED_CHECKS
                    ],
                    strict_required_status_checks_policy=True,
                ),
            ),
            opts=self._child,
        )

    def _repository_variables(self) -> None:
        for variable in VARIABLES:
            if variable.where != "repository" or variable.output not in self._values:
                continue  # e.g. no backend URL with Pulumi Cloud state
            self._repository_variable(variable.name, self._values[variable.output])

    def _scoped_variables(self) -> None:
        """Without environments: this stack's rows as repository variables `<NAME>_<ENV>`."""
        environment = self._stack_environment
        for variable in VARIABLES:
            value = self._values.get(variable.output)
            if variable.where == "repository" or variable.output not in self._values or value == "":
                continue
            self._repository_variable(scoped_variable(variable.name, environment), value)

    def _repository_variable(self, name: str, value: pulumi.Input[str]) -> None:
        github.ActionsVariable(
            f"{self._name}-repo-{name.lower().replace('_', '-')}",
            repository=self._github.name,
            variable_name=name,
            value=value,
            opts=self._child,
        )


def planned_variables(resources) -> dict[str | None, dict[str, str]]:
    """GitHub environment (None: the repository) → variable → value, from planned resources.

    `resources` are `PlannedResource`s of one or more stacks' plans; tools that need what the
    workflows will read (tests, rehearsals of a workflow run) take it from here.
    """
    variables: dict[str | None, dict[str, str]] = {}
    for r in resources:
        if r.type == "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable":
            scope = r.properties["environment"]
        elif r.type == "github:index/actionsVariable:ActionsVariable":
            scope = None
        else:
            continue
        variables.setdefault(scope, {})[r.properties["variableName"]] = r.properties["value"]
    return variables
