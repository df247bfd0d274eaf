"""Every variable a generated workflow reads exists in the GitHub environment its job runs in.

The variables are read from the rendered workflows (`vars.X`), not listed here: a workflow that
starts reading a new variable without a stack creating it fails `test_every_workflow_variable_is_created`
with the variable's name. Values are checked against the resources they come from in the plan.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import workflow_subjects
import yaml

from stacks import github as gh
from stacks.identity import JOB_IDENTITIES
from stacks.offline import mocks, plan_programs
from stacks.state import state_storage

REPO = Path(__file__).resolve().parents[2]
APP_CLIENT_ID = "Iv23liTemplateUpdate"
VARS = re.compile(r"\bvars\.([A-Za-z_][A-Za-z0-9_]*)")

# Each case is also one GitHub plan combination (docs/bootstrap.md).
CASES = {
    "defaults": {},  # private repository on GitHub Team: no environment reviewers
    "existing-registry-pulumi-cloud": {
        "github_visibility": "public",
        "github_plan": "free",
        "registry": "existing",
        "registry_id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared/"
        "providers/Microsoft.MachineLearningServices/registries/mlr-shared",
        "state_backend": "pulumi-cloud",
        "serving": "none",
    },
    "custom-environments": {
        "github_visibility": "private",
        "github_plan": "enterprise",
        "environments": ["sandbox", "staging", "live"],
        "github_org": "Contoso",
        "github_reviewers": ["Contoso/ml-leads", "octocat"],
        "serving": "batch",
    },
    # No environments at all: repository variables `<NAME>_<ENV>`, branch and pull_request subjects.
    "private-free": {
        "github_visibility": "private",
        "github_plan": "free",
        "accept_unguarded_prod": True,
    },
}


@dataclass(frozen=True)
class Rendered:
    root: Path
    answers: dict
    environments: list[str]
    plans: dict  # stack → Plan

    @property
    def repository(self) -> str:
        return yaml.safe_load((self.root / "infra" / f"Pulumi.{self.environments[0]}.yaml").read_text())[
            "config"
        ]["forge:githubRepository"]

    def resources(self, token: str) -> list[tuple[str, dict]]:
        """(stack, properties) of every resource of `token` across all stacks."""
        return [(env, r.properties) for env, plan in self.plans.items() for r in plan.of_type(token)]

    @property
    def has_environments(self) -> bool:
        return _capabilities(self).environments

    def scoped_variables(self) -> list[tuple[str, dict]]:
        """(stack, {environment, variableName, value}) of each per-environment variable: environment
        variables, or where environments do not exist the repository variables `<NAME>_<ENV>`."""
        if self.has_environments:
            return self.resources("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        rows = []
        for stack, p in self.resources("github:index/actionsVariable:ActionsVariable"):
            suffix = f"_{stack.upper()}"
            if p["variableName"].endswith(suffix):
                rows.append(
                    (
                        stack,
                        {**p, "environment": stack, "variableName": p["variableName"].removesuffix(suffix)},
                    )
                )
        return rows


@pytest.fixture(scope="module", params=list(CASES))
def rendered(request, tmp_path_factory) -> Rendered:
    import copier

    dest = tmp_path_factory.mktemp(request.param) / "project"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(REPO), dest, data=CASES[request.param], defaults=True, vcs_ref="HEAD", quiet=True)
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    environments = answers["environments"]
    # A project that set up the template-update GitHub App (docs/bootstrap.md) names its client ID.
    host = dest / "infra" / f"Pulumi.{environments[0]}.yaml"
    host.write_text(host.read_text() + f"  forge:templateUpdateAppClientId: {APP_CLIENT_ID}\n")
    plans = dict(zip(environments, plan_programs(dest / "infra", environments, jobs=2), strict=True))
    return Rendered(dest, answers, environments, plans)


@dataclass(frozen=True)
class Read:
    workflow: str
    job: str
    environment: str | None  # as written in the job: a name, an expression or None
    variable: str


def workflow_reads(root: Path) -> list[Read]:
    """Each (job, variable) pair of every workflow: top-level `env:` counts for every job."""
    reads = []
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        workflow = yaml.safe_load(path.read_text())
        jobs = workflow.get("jobs", {})
        top = VARS.findall(yaml.safe_dump({k: v for k, v in workflow.items() if k != "jobs"}))
        for job_id, job in jobs.items():
            environment = job.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name")
            for variable in sorted(set(top) | set(VARS.findall(yaml.safe_dump(job)))):
                reads.append(Read(path.name, job_id, environment, variable))
    return reads


def stack_environments(rendered: Rendered) -> set[str]:
    return {name for env in rendered.environments for name in (env, f"{env}-preview")}


def candidate_environments(rendered: Rendered, written: str | None) -> set[str]:
    """Where a job can run: its named environment, or with an expression any stack's environment."""
    if written is None:
        return set()
    if "${{" in written:
        return stack_environments(rendered)
    return {written}


def test_workflows_read_variables(rendered):
    # Guards the test itself: a parser that found nothing would make every other check vacuous.
    names = {read.variable for read in workflow_reads(rendered.root)}
    # Without environments the client IDs are repository variables `<NAME>_<ENV>`.
    names |= {n.removesuffix(f"_{e.upper()}") for n in names for e in rendered.environments}
    assert {"AZURE_DEPLOYER_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"} <= names


def test_every_workflow_variable_is_created(rendered):
    planned = gh.planned_variables(r for plan in rendered.plans.values() for r in plan.resources)
    env_vars = {(env, name) for env, values in planned.items() if env for name in values}
    repo_vars = set(planned.get(None, {}))
    unset = gh.unset_variables(rendered.answers["state_backend"])
    missing = []
    for read in workflow_reads(rendered.root):
        if read.variable in repo_vars or read.variable in unset:
            continue
        environments = candidate_environments(rendered, read.environment)
        lacking = sorted(e for e in environments if (e, read.variable) not in env_vars)
        if not environments or lacking:
            where = f"environment(s) {', '.join(lacking)}" if lacking else "the repository"
            missing.append(
                f"{read.workflow} job {read.job!r} reads vars.{read.variable}, but no stack creates it "
                f"in {where}: add it to stacks/github.py"
            )
    assert not missing, "\n".join(missing)


def test_environments_named_by_jobs_exist(rendered):
    created = {
        p["environment"]
        for _, p in rendered.resources("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    named = {
        r.environment for r in workflow_reads(rendered.root) if r.environment and "${{" not in r.environment
    }
    assert named <= created, f"jobs name environments no stack creates: {sorted(named - created)}"
    if not rendered.has_environments:
        # GitHub Free, private: no job may name one (GitHub has none to give it).
        jobs = [j for path in (rendered.root / ".github" / "workflows").glob("*.yml")
                for j in yaml.safe_load(path.read_text())["jobs"].values()]  # fmt: skip
        assert created == set() and all("environment" not in j for j in jobs)
        return
    # The drift check's own environment, in the last (production) environment only.
    monitor = {f"{rendered.environments[-1]}-monitor"}
    assert stack_environments(rendered) | {"template-update"} | monitor == created


def _federated_client_id(plan, subject: str) -> str:
    """Client ID (as the mock runtime assigns it) of the identity that trusts `subject`."""
    credentials = [
        r.properties
        for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if r.properties["subject"] == subject
    ]
    assert len(credentials) == 1, f"expected one identity trusting {subject}, found {len(credentials)}"
    token = "azure-native:managedidentity:UserAssignedIdentity"
    (identity,) = [
        r for r in plan.of_type(token) if r.properties["resourceName"] == credentials[0]["resourceName"]
    ]
    return mocks._guid(mocks.arm_id(token, identity.name, identity.properties), "client")


def expected_environment_value(rendered: Rendered, stack: str, environment: str, variable: str) -> str:
    plan = rendered.plans[stack]
    (workspace,) = plan.of_type("azure-native:machinelearningservices:Workspace")
    client_ids = {name: output for output, name in JOB_IDENTITIES.values()}
    if variable in client_ids:  # the stack's own output, which the identity's client ID feeds
        return plan.outputs[client_ids[variable]]
    if variable == "AZURE_RESOURCE_GROUP":
        return workspace.properties["resourceGroupName"]
    if variable == "AZURE_ML_WORKSPACE":
        return workspace.properties["workspaceName"]
    if variable == "AZURE_ML_ENDPOINT":
        return f"{stack}-endpoint"  # checked by shape below; no Azure resource holds it yet
    raise AssertionError(f"no expected source for environment variable {variable}: add it to this test")


def test_environment_variables_come_from_the_stack(rendered):
    endpoints = {}
    rows = rendered.scoped_variables()
    assert rows, "no per-environment variable: the check would be vacuous"
    for stack, p in rows:
        if p["environment"] == "template-update":
            continue
        assert p["environment"] in (stack, f"{stack}-preview", f"{stack}-monitor"), (
            f"{stack} writes into {p['environment']}"
        )
        expected = expected_environment_value(rendered, stack, p["environment"], p["variableName"])
        if p["variableName"] == "AZURE_ML_ENDPOINT":
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]", p["value"]), p["value"]
            endpoints.setdefault(stack, set()).add(p["value"])
            continue
        assert p["value"] == expected, f"{p['environment']}: {p['variableName']}"
    # One endpoint per environment, the same in `<env>` and `<env>-preview`, distinct across stacks.
    assert all(len(names) == 1 for names in endpoints.values())
    assert len({next(iter(n)) for n in endpoints.values()}) == len(rendered.environments)


def test_deploy_and_preview_identities_differ(rendered):
    for stack in rendered.environments:
        values = {
            p["variableName"]: p["value"]
            for s, p in rendered.scoped_variables()
            if s == stack
            and p["variableName"] in ("AZURE_DEPLOYER_CLIENT_ID", "AZURE_PREVIEW_CLIENT_ID")
            and p["environment"]
            == (
                stack
                if p["variableName"] == "AZURE_DEPLOYER_CLIENT_ID" or not rendered.has_environments
                else f"{stack}-preview"
            )
        }
        # The preview job logs in with a read-only identity, never the deployer's.
        assert values["AZURE_DEPLOYER_CLIENT_ID"] != values["AZURE_PREVIEW_CLIENT_ID"]
        subject = (
            f"repo:{rendered.repository}:environment:{stack}-preview"
            if rendered.has_environments
            else f"repo:{rendered.repository}:pull_request"
        )
        assert values["AZURE_PREVIEW_CLIENT_ID"] == _federated_client_id(rendered.plans[stack], subject)


def test_repository_variables_are_created_once_by_the_first_environment(rendered):
    scoped = {(s, p["variableName"]) for s, p in rendered.scoped_variables()}
    repo = [
        (stack, p)
        for stack, p in rendered.resources("github:index/actionsVariable:ActionsVariable")
        if (not rendered.has_environments and p["variableName"] == "TEMPLATE_UPDATE_APP_CLIENT_ID")
        or (stack, p["variableName"].removesuffix(f"_{stack.upper()}")) not in scoped
    ]
    assert {stack for stack, _ in repo} == {rendered.environments[0]}
    values = {p["variableName"]: p["value"] for _, p in repo}
    assert len(values) == len(repo), "a repository variable is created twice"
    assert values["AZURE_TENANT_ID"] == mocks.TENANT_ID
    assert values["AZURE_SUBSCRIPTION_ID"] == mocks.SUBSCRIPTION_ID
    answers = rendered.answers
    if answers["registry"] == "existing":
        assert values["AZURE_ML_REGISTRY"] == answers["registry_id"].rsplit("/", 1)[-1]
    else:
        (registry,) = rendered.plans[rendered.environments[0]].of_type(
            "azure-native:machinelearningservices:Registry"
        )
        assert values["AZURE_ML_REGISTRY"] == registry.properties["registryName"]
    if answers["state_backend"] == "azblob":
        expected = state_storage(answers["project_name"], rendered.repository).backend_url
        assert values["PULUMI_BACKEND_URL"] == expected
    else:
        assert "PULUMI_BACKEND_URL" not in values
    template_update = [
        p
        for _, p in rendered.resources("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
        if p["environment"] == "template-update"
    ]
    if rendered.has_environments:
        assert [(p["variableName"], p["value"]) for p in template_update] == [
            ("TEMPLATE_UPDATE_APP_CLIENT_ID", APP_CLIENT_ID)
        ]
        assert "TEMPLATE_UPDATE_APP_CLIENT_ID" not in values
    else:  # a repository variable, as the workflow reads it without its environment
        assert template_update == [] and values["TEMPLATE_UPDATE_APP_CLIENT_ID"] == APP_CLIENT_ID


def test_deploying_environments_accept_the_default_branch_only(rendered):
    environments = {
        p["environment"]: p
        for _, p in rendered.resources("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    policies = {
        p["environment"]: p["branchPattern"]
        for _, p in rendered.resources(
            "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
        )
    }
    # The drift check's environment is default-branch-only too (scheduled runs are on main).
    deploying = set(rendered.environments) | {"template-update", f"{rendered.environments[-1]}-monitor"}
    for name, environment in environments.items():
        if name in deploying:
            assert environment["deploymentBranchPolicy"] == {
                "customBranchPolicies": True,
                "protectedBranches": False,
            }
            assert policies[name] == "main"
        else:  # pull-request previews run from any branch, with a read-only identity
            assert "deploymentBranchPolicy" not in environment and name not in policies


def _capabilities(rendered: Rendered):
    from stacks.github_plans import capabilities

    return capabilities(rendered.answers["github_visibility"], rendered.answers["github_plan"])


def test_prod_needs_a_second_person_by_reviewers_or_by_a_reviewed_default_branch(rendered):
    environments = {
        p["environment"]: p
        for _, p in rendered.resources("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    rulesets = rendered.resources("github:index/repositoryRuleset:RepositoryRuleset")
    last = rendered.environments[-1]
    reviewers = rendered.answers["github_reviewers"]
    if _capabilities(rendered).prod_guard == "none":
        # Nothing on GitHub can guard prod here: only an explicit acceptance lets the project exist.
        assert rendered.answers["accept_unguarded_prod"] is True
        assert environments == {} and rulesets == []
        config = yaml.safe_load((rendered.root / "infra" / f"Pulumi.{last}.yaml").read_text())["config"]
        assert config["forge:acceptUnguardedProd"] is True
        return
    prod = environments[last]
    if _capabilities(rendered).reviewers:
        teams = [r.split("/", 1)[1] for r in reviewers if "/" in r]
        users = [r for r in reviewers if "/" not in r]
        lookup = mocks.AzureMocks()

        def ids(token: str, key: str, names: list[str]) -> list[int]:
            from pulumi.runtime import MockCallArgs

            return [int(lookup.call(MockCallArgs(token, {key: n}, ""))["id"]) for n in names]

        expected = {}
        if teams:
            expected["teams"] = ids("github:index/getTeam:getTeam", "slug", teams)
        if users:
            expected["users"] = ids("github:index/getUser:getUser", "username", users)
        assert prod["reviewers"] == [expected]
        assert prod["preventSelfReview"] is True and prod["canAdminsBypass"] is False
        assert rulesets == []
    else:
        # No reviewers requested where the plan has none: GitHub would answer 422.
        assert all("reviewers" not in e for e in environments.values())
        # prod deploys only from the default branch, and that branch changes only by a pull request
        # a code owner approved, with CI green, no force push.
        assert prod["deploymentBranchPolicy"] == {"customBranchPolicies": True, "protectedBranches": False}
        ((stack, ruleset),) = rulesets
        assert stack == rendered.environments[0]
        assert ruleset["enforcement"] == "active" and ruleset["target"] == "branch"
        assert ruleset["conditions"]["refName"]["includes"] == ["~DEFAULT_BRANCH"]
        assert "bypassActors" not in ruleset
        rules = ruleset["rules"]
        assert rules["pullRequest"]["requiredApprovingReviewCount"] >= 1
        assert rules["pullRequest"]["requireCodeOwnerReview"] is True
        assert rules["nonFastForward"] is True and rules["deletion"] is True
        checks = [c["context"] for c in rules["requiredStatusChecks"]["requiredChecks"]]
        assert checks == list(gh.REQUIRED_CHECKS)
    for name, environment in environments.items():
        if name != last:
            assert "reviewers" not in environment, name


def test_codeowners_cover_what_deploys(rendered):
    owners = " ".join(f"@{r}" for r in rendered.answers["github_reviewers"])
    lines = {
        line.split()[0]: line.split()[1:]
        for line in (rendered.root / ".github" / "CODEOWNERS").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for path in ("/infra/", "/.github/", "/azureml/"):
        assert " ".join(lines[path]) == owners


def test_required_checks_are_the_ci_jobs_pull_requests_run(rendered):
    ci = yaml.safe_load((rendered.root / ".github" / "workflows" / "ci.yml").read_text())
    triggers = ci.get("on", ci.get(True))
    assert "pull_request" in triggers
    names = {job.get("name", job_id) for job_id, job in ci["jobs"].items()}
    assert set(gh.REQUIRED_CHECKS) <= names


def planned_subjects(rendered: Rendered) -> dict[tuple[str, str], set[str]]:
    """(stack, job kind) → the subjects its identity's federated credentials trust, from the plans."""
    token = "azure-native:managedidentity:UserAssignedIdentity"
    found: dict[tuple[str, str], set[str]] = {}
    for stack, plan in rendered.plans.items():
        kinds = {
            plan.outputs[output]: kind for kind, (output, _) in JOB_IDENTITIES.items() if plan.outputs[output]
        }
        for identity in plan.of_type(token):
            client_id = mocks._guid(mocks.arm_id(token, identity.name, identity.properties), "client")
            if client_id not in kinds:
                continue  # a workload identity (clusters, runners): no federation
            found[(stack, kinds[client_id])] = {
                r.properties["subject"]
                for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential")
                if r.properties["resourceName"] == identity.properties["resourceName"]
            }
    return found


def presented_subjects(root: Path, repository: str) -> dict[tuple[str, str], set[str]]:
    """(stack, job kind) → the subjects the workflows' Azure logins present, read from the YAML."""
    presented: dict[tuple[str, str], set[str]] = {}
    for login in workflow_subjects.logins(root, repository):
        presented.setdefault((login.stack, login.kind), set()).add(login.subject)
    return presented


def test_federated_subjects_are_exactly_the_subjects_the_workflows_present(rendered):
    """Per identity: what its credentials trust is what the jobs that log in as it present."""
    presented = presented_subjects(rendered.root, rendered.repository)
    assert presented, "no job logs in to Azure: the check would be vacuous"
    assert planned_subjects(rendered) == presented
    kinds = {s.split(":")[2] for v in presented.values() for s in v}
    assert kinds == ({"environment"} if rendered.has_environments else {"ref", "pull_request"}), kinds


def test_a_workflow_that_disagrees_with_the_subjects_is_caught(rendered, tmp_path):
    """Negative control: a job moved to another environment (or, without environments, a deploying
    job that no longer refuses other branches) no longer matches what the identities trust."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(rendered.root / ".github", copy / ".github")
    monitor = copy / ".github" / "workflows" / "monitor.yml"
    last = rendered.environments[-1]
    if rendered.has_environments:
        monitor.write_text(
            monitor.read_text().replace(f"environment: {last}-monitor", f"environment: {last}")
        )
        assert planned_subjects(rendered) != presented_subjects(copy, rendered.repository)
    else:
        text = monitor.read_text()
        guard = "    if: ${{ github.ref_name == github.event.repository.default_branch }}\n"
        assert guard in text
        monitor.write_text(text.replace(guard, ""))
        with pytest.raises(AssertionError, match="can run on any branch"):
            presented_subjects(copy, rendered.repository)


def test_settings_errors_name_the_key():
    from stacks import ConfigError, get_profile
    from stacks.config import EnvironmentSettings

    settings = EnvironmentSettings(
        project="demo",
        environment="prod",
        location="westeurope",
        github_repository="contoso/demo",
        template_version="0.1.0",
        profile=get_profile("prod"),
        alert_emails=("a@example.com",),
        monthly_budget_usd=10,
    )
    cases = [
        ({}, "forge:githubReviewers"),
        ({"githubReviewers": '["other-org/leads"]'}, "forge:githubReviewers"),
        ({"githubReviewers": '["bad reviewer"]'}, "forge:githubReviewers"),
        ({"githubReviewers": '["octocat"]', "stateBackend": "s3"}, "forge:stateBackend"),
        ({"githubReviewers": '["octocat"]', "githubRepositoryHost": "yes"}, "forge:githubRepositoryHost"),
        (
            {"githubReviewers": '["octocat"]', "githubReviewerIds": '["octocat=one"]'},
            "forge:githubReviewerIds",
        ),
        ({"githubReviewers": '["octocat"]', "githubPlan": "gold"}, "forge:githubPlan"),
        ({"githubReviewers": '["octocat"]', "githubVisibility": "secret"}, "forge:githubVisibility"),
        ({"githubReviewers": '["octocat"]', "githubPlan": "free"}, "forge:githubPlan"),  # unguarded prod
        ({"githubReviewers": '["octocat"]', "allowlistRunners": '["prod"]'}, "forge:allowlistRunners"),
        ({"githubReviewers": '["octocat"]', "allowlistRunners": '["prod=,"]'}, "forge:allowlistRunners"),
        (  # one environment, two kinds of runner
            {
                "githubReviewers": '["octocat"]',
                "runnerEnvironments": '["prod"]',
                "allowlistRunners": '["prod=static-egress"]',
            },
            "forge:allowlistRunners",
        ),
    ]
    for config, key in cases:
        with pytest.raises(ConfigError) as error:
            gh.github_settings_from_config(config, settings)
        assert error.value.key == key
    ok = gh.github_settings_from_config({"githubReviewers": '["contoso/leads"]'}, settings)
    assert ok.reviewers == ("contoso/leads",) and ok.owner == "contoso" and ok.name == "demo"


def test_runners_of_allowlist_environments_join_the_runners_variable():
    """RUNNERS routes an ip-allowlist environment's jobs to the runners whose egress it allows."""
    from stacks.runners import runner_labels

    chosen = gh.GithubSettings(
        repository="contoso/demo",
        runner_environments=("prod",),
        allowlist_runners={"test": ("self-hosted", "static-egress")},
    )
    assert gh.repository_runners(chosen) == {
        "prod": runner_labels("prod"),
        "test": ["self-hosted", "static-egress"],
    }
    assert gh.repository_runners(gh.GithubSettings(repository="contoso/demo")) == {}


def test_the_plan_table_shows_the_github_side(rendered):
    from generator.plan_render import key_settings

    if not rendered.has_environments:
        pytest.skip("no environment variables without GitHub environments")

    first = rendered.environments[0]
    (variable,) = [
        r
        for r in rendered.plans[first].of_type(
            "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"
        )
        if r.properties["environment"] == first and r.properties["variableName"] == "AZURE_ML_WORKSPACE"
    ]
    assert key_settings(variable.type, variable.properties) == (
        f"env={first} var=AZURE_ML_WORKSPACE value={variable.properties['value']}"
    )
