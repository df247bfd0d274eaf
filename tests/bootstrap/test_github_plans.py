"""Every GitHub plan combination: the stacks request only what the repository can have, and prod
needs a second person by environment reviewers or by a reviewed default branch — or, on a private
repository on GitHub Free, only after the user explicitly accepted an unguarded prod.

The planned GitHub resources are sent, as the provider sends them, to the GitHub stand-in, which
refuses what the plan does not offer the way GitHub does (422 for reviewers, 404 for environments,
403 for rulesets).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

import pytest
from bootstrap_standins import render

from stacks.github_plans import capabilities
from stacks.testing import ProgramError, plan_programs

COMBINATIONS = [
    ("public", "free"),
    ("private", "free"),
    ("private", "pro"),
    ("private", "team"),
    ("private", "enterprise"),
    ("internal", "enterprise"),
]


@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory):
    return render(tmp_path_factory.mktemp("plans") / "project", {"environments": ["dev", "prod"]})


def configure(project, dest, visibility: str, plan: str, accept: bool = False):
    shutil.copytree(project / "infra", dest / "infra")
    shutil.copytree(project / ".github", dest / ".github")
    for stack in (dest / "infra").glob("Pulumi.*.yaml"):
        text = stack.read_text().replace(
            "forge:githubVisibility: private", f"forge:githubVisibility: {visibility}"
        )
        text = text.replace("forge:githubPlan: team", f"forge:githubPlan: {plan}")
        if accept:
            text += "  forge:acceptUnguardedProd: true\n"
        stack.write_text(text)
    return dest


@pytest.fixture(scope="module", params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def combination(request, two_stacks, tmp_path_factory):
    visibility, plan = request.param
    caps = capabilities(visibility, plan)
    dest = configure(
        two_stacks,
        tmp_path_factory.mktemp("-".join(request.param)),
        visibility,
        plan,
        accept=caps.prod_guard == "none",
    )
    plans = dict(zip(["dev", "prod"], plan_programs(dest / "infra", ["dev", "prod"], jobs=2), strict=True))
    return visibility, plan, plans


def github_resources(plans) -> list[tuple[str, dict]]:
    return [
        (r.type, r.properties)
        for plan in plans.values()
        for r in plan.resources
        if r.type.startswith("github:")
    ]


def apply(github, repository: str, resources) -> list[tuple[int, str]]:
    """Send the planned resources as the GitHub provider does; return the refusals (status, path)."""
    calls = []
    for token, p in resources:
        base = f"/repos/{repository}"
        kind = token.split(":")[-1]
        if kind == "RepositoryEnvironment":
            body = {
                "prevent_self_review": p.get("preventSelfReview", False),
                "reviewers": [
                    {"type": kind_, "id": i}
                    for r in p.get("reviewers", [])
                    for kind_, key in (("Team", "teams"), ("User", "users"))
                    for i in r.get(key, [])
                ]
                or None,
                "deployment_branch_policy": {
                    "protected_branches": p["deploymentBranchPolicy"]["protectedBranches"],
                    "custom_branch_policies": p["deploymentBranchPolicy"]["customBranchPolicies"],
                }
                if "deploymentBranchPolicy" in p
                else None,
            }
            calls.insert(0, ("PUT", f"{base}/environments/{p['environment']}", body))
        elif kind == "RepositoryEnvironmentDeploymentPolicy":
            body = {"name": p["branchPattern"], "type": "branch"}
            calls.append(("POST", f"{base}/environments/{p['environment']}/deployment-branch-policies", body))
        elif kind == "ActionsEnvironmentVariable":
            body = {"name": p["variableName"], "value": p["value"]}
            calls.append(("POST", f"{base}/environments/{p['environment']}/variables", body))
        elif kind == "ActionsVariable":
            calls.append(
                ("POST", f"{base}/actions/variables", {"name": p["variableName"], "value": p["value"]})
            )
        elif kind == "RepositoryRuleset":
            calls.append(("POST", f"{base}/rulesets", {"name": p["name"], "rules": p["rules"]}))
    refused = []
    for method, path, body in calls:
        request = urllib.request.Request(github.url + path, data=json.dumps(body).encode(), method=method)
        request.add_header("Authorization", f"Bearer {github.state.token}")
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as exc:
            refused.append((exc.code, path))
    return refused


def test_the_stacks_request_only_what_the_plan_offers(combination, github):
    visibility, plan, plans = combination
    github.state.repositories["my-org/ml-demo"]["visibility"] = visibility
    github.state.plan = plan
    assert apply(github, "my-org/ml-demo", github_resources(plans)) == []
    assert github.state.created, "nothing was sent: the check would be vacuous"


def test_prod_needs_a_second_person_or_an_explicit_acceptance(combination):
    visibility, plan, plans = combination
    caps = capabilities(visibility, plan)
    resources = github_resources(plans)
    environments = {p["environment"]: p for t, p in resources if t.endswith(":RepositoryEnvironment")}
    rulesets = [p for t, p in resources if t.endswith(":RepositoryRuleset")]
    if caps.prod_guard == "reviewers":
        assert environments["prod"]["reviewers"] and environments["prod"]["preventSelfReview"] is True
        assert rulesets == []
    elif caps.prod_guard == "ruleset":
        assert "reviewers" not in environments["prod"]
        assert environments["prod"]["deploymentBranchPolicy"]["customBranchPolicies"] is True
        (ruleset,) = rulesets
        assert ruleset["rules"]["pullRequest"]["requireCodeOwnerReview"] is True
        assert ruleset["rules"]["pullRequest"]["requiredApprovingReviewCount"] >= 1
    else:  # private on Free: nothing exists to ask for; only repository variables
        assert environments == {} and rulesets == []
        assert {t.split(":")[-1] for t, _ in resources} <= {"ActionsVariable"}


def test_the_standin_refuses_reviewers_as_github_does(two_stacks, tmp_path, github):
    """Negative control: a plan made for Enterprise, sent to a private repository on Team, gets 422."""
    dest = configure(two_stacks, tmp_path, "private", "enterprise")
    plans = dict(zip(["dev", "prod"], plan_programs(dest / "infra", ["dev", "prod"], jobs=2), strict=True))
    github.state.plan = "team"
    refused = apply(github, "my-org/ml-demo", github_resources(plans))
    assert refused == [(422, "/repos/my-org/ml-demo/environments/prod")]


def test_private_free_refuses_a_strict_stack_unless_accepted(two_stacks, tmp_path):
    dest = configure(two_stacks, tmp_path, "private", "free", accept=False)
    with pytest.raises(ProgramError) as error:
        plan_programs(dest / "infra", ["prod"], jobs=1)
    assert "forge:githubPlan" in str(error.value) and "forge:acceptUnguardedProd" in str(error.value)


def test_the_template_asks_for_an_explicit_acceptance(tmp_path):
    data = {"github_visibility": "private", "github_plan": "free", "environments": ["dev", "prod"]}
    with pytest.raises(ValueError, match="cannot guard production"):
        render(tmp_path / "refused", data)
    project = render(tmp_path / "accepted", {**data, "accept_unguarded_prod": True})
    assert "forge:acceptUnguardedProd: true" in (project / "infra" / "Pulumi.prod.yaml").read_text()


def test_copier_derives_the_same_guard_as_the_stacks():
    """copier.yml's hidden `prod_guard` (README wording) and stacks.github_plans must agree."""
    import jinja2
    import yaml
    from bootstrap_standins import REPO

    expression = yaml.safe_load((REPO / "copier.yml").read_text())["prod_guard"]["default"]
    template = jinja2.Environment().from_string(expression)
    for visibility in ("public", "private", "internal"):
        for plan in ("free", "pro", "team", "enterprise"):
            rendered = template.render(github_visibility=visibility, github_plan=plan)
            assert rendered == capabilities(visibility, plan).prod_guard, (visibility, plan)


def test_copier_derives_the_same_environments_as_the_stacks():
    """copier.yml's hidden `github_environments` (the workflows' `environment:` lines and how they
    read variables) and stacks.github_plans (the identities' subjects, the variables) must agree."""
    import jinja2
    import yaml
    from bootstrap_standins import REPO

    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    template = jinja2.Environment().from_string(questions["github_environments"]["default"])
    suffix = jinja2.Environment().from_string(questions["variable_suffix"]["default"])
    for visibility in ("public", "private", "internal"):
        for plan in ("free", "pro", "team", "enterprise"):
            environments = capabilities(visibility, plan).environments
            rendered = template.render(github_visibility=visibility, github_plan=plan)
            assert rendered == str(environments), (visibility, plan)
            suffixes = yaml.safe_load(
                suffix.render(github_environments=environments, environments=["dev", "prod"])
            )
            from stacks.github import scoped_variable

            expected = {e: "" if environments else scoped_variable("", e) for e in ("dev", "prod")}
            assert suffixes == expected, (visibility, plan)


@pytest.mark.parametrize(
    "reviewers",
    [[], ["other-org/leads"], ["not a login"], "my-org/leads"],
    ids=["empty", "other-org", "bad", "not-a-list"],
)
def test_the_template_refuses_reviewers_that_cannot_exist(tmp_path, reviewers):
    with pytest.raises(ValueError, match="github_reviewers"):
        render(tmp_path / "refused", {"github_reviewers": reviewers})


def test_a_program_that_passes_too_few_outputs_is_told_which(two_stacks, tmp_path):
    dest = configure(two_stacks, tmp_path, "private", "team")
    program = dest / "infra" / "__main__.py"
    program.write_text(
        program.read_text().replace(
            "outputs=outputs,", 'outputs={k: v for k, v in outputs.items() if k != "workspace"},'
        )
    )
    with pytest.raises(ProgramError, match="AZURE_ML_WORKSPACE ← workspace"):
        plan_programs(dest / "infra", ["dev"], jobs=1)
