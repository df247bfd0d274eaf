"""`mlops-forge bootstrap` against the Resource Manager, GitHub, Pulumi Cloud and `az` stand-ins."""

from __future__ import annotations

import json

import pytest
from bootstrap_standins import CALLER_OID, READER, SUBSCRIPTION, set_az

from generator.cli import main
from stacks.naming import Names
from stacks.state import state_storage

BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
STORAGE = state_storage("ml-demo", "my-org/ml-demo")
ACCOUNT_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{STORAGE.resource_group}/providers/"
    f"Microsoft.Storage/storageAccounts/{STORAGE.account}"
).lower()


def bootstrap(project, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["bootstrap", str(project), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def grants(arm) -> set[str]:
    return {
        r["properties"]["principalId"]
        for r in arm.role_assignments()
        if r["properties"]["roleDefinitionId"].endswith(BLOB_DATA_CONTRIBUTOR)
    }


def test_creates_the_state_storage_and_prints_the_export_line(project, arm, github, az, capsys):
    code, out, err = bootstrap(project, capsys)
    assert code == 0, err
    assert out == f"export PULUMI_BACKEND_URL='azblob://pulumi-state?storage_account={STORAGE.account}'\n"
    account = arm.state.resources[ACCOUNT_PATH]
    assert account["properties"]["allowSharedKeyAccess"] is False
    assert account["properties"]["allowBlobPublicAccess"] is False
    assert account["properties"]["minimumTlsVersion"] == "TLS1_2"
    assert account["location"] == "westeurope"
    service = arm.state.resources[f"{ACCOUNT_PATH}/blobservices/default"]["properties"]
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert f"{ACCOUNT_PATH}/blobservices/default/containers/pulumi-state" in arm.state.resources
    # The admin who runs the first `pulumi up` can use the state: shared keys are off.
    assert grants(arm) == {CALLER_OID}
    # CI identities come with the first `pulumi up`: said, not silently skipped.
    assert "no CI identities yet in dev, test, prod" in err and "run `mlops-forge bootstrap` again" in err


def test_second_run_changes_nothing_and_grants_identities_that_exist_now(project, arm, github, az, capsys):
    assert bootstrap(project, capsys)[0] == 0
    before = json.dumps(arm.state.resources, sort_keys=True)
    code, out, _ = bootstrap(project, capsys)
    assert code == 0 and out.startswith("export PULUMI_BACKEND_URL=")
    assert json.dumps(arm.state.resources, sort_keys=True) == before

    # After the first `pulumi up` of every stack its identities exist: the next run grants them.
    # Found by what they trust, whatever their names; an identity of another kind is left alone.
    principals = {}
    for env in ("dev", "test", "prod"):
        group = Names("ml-demo", env, seed="my-org/ml-demo").resource_group
        for github_env in (env, f"{env}-preview"):
            principal = f"{len(principals):08d}-0000-0000-0000-000000000000"
            principals[github_env] = principal
            arm.add_identity(
                group, f"id-{github_env}-any-name", principal, f"repo:my-org/ml-demo:environment:{github_env}"
            )
        arm.add_identity(group, f"id-{env}-workspace", "99999999-0000-0000-0000-000000000000", None)
    code, _, err = bootstrap(project, capsys)
    assert code == 0 and "no CI identities yet" not in err
    assert grants(arm) == {CALLER_OID, *principals.values()}


def test_a_run_stopped_half_way_says_so_and_resumes(project, arm, github, az, capsys):
    arm.state.failures[("PUT", "/containers/pulumi-state")] = [403, 1]
    code, out, err = bootstrap(project, capsys)
    assert code == 1 and out == ""
    assert "stopped at container" in err and "run `mlops-forge bootstrap` again to resume" in err
    assert "done: resource group, storage account, versioning and soft delete" in err
    code, out, _ = bootstrap(project, capsys)
    assert code == 0 and out.startswith("export ")
    assert f"{ACCOUNT_PATH}/blobservices/default/containers/pulumi-state" in arm.state.resources


def test_missing_rights_stop_before_anything_is_created(project, arm, github, az, capsys):
    arm.state.caller_roles = [READER]
    code, out, err = bootstrap(project, capsys)
    assert code == 1 and out == ""
    assert "neither Owner nor User Access Administrator" in err
    assert f"az role assignment create --assignee {CALLER_OID} --role Owner" in err
    assert arm.writes == []


def test_rights_are_read_where_they_are_assigned(project, arm, github, az, capsys):
    arm.state.caller_scope = "/providers/Microsoft.Management/managementGroups/platform"
    assert bootstrap(project, capsys)[0] == 0  # Owner inherited from a management group
    arm.state.caller_scope = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-other"
    code, _, err = bootstrap(project, capsys)
    assert code == 1 and "neither Owner" in err  # Owner of one resource group is not enough


def test_unregistered_storage_provider_names_the_command(project, arm, github, az, capsys):
    arm.state.unregistered = {"Microsoft.Storage"}
    code, _, err = bootstrap(project, capsys)
    assert code == 1 and "az provider register --namespace Microsoft.Storage" in err
    assert arm.writes == []


def test_a_storage_account_name_taken_elsewhere_is_bad_input(project, arm, github, az, capsys):
    arm.state.taken_names = {STORAGE.account}
    code, _, err = bootstrap(project, capsys)
    assert code == 2 and STORAGE.account in err and "forge:project" in err
    assert arm.writes == []


def test_not_logged_in_to_azure(project, arm, github, az, capsys):
    set_az(az, logged_in=False)
    code, _, err = bootstrap(project, capsys)
    assert code == 1 and "az login" in err and arm.requests == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s.owners.discard("my-org"), "GitHub owner 'my-org' does not exist (infra/Pulumi.dev.yaml"),
        (lambda s: s.repositories.clear(), "GitHub repository 'my-org/ml-demo' does not exist"),
        (
            lambda s: s.teams.clear(),
            "reviewer team 'my-org/ml-approvers' does not exist (infra/Pulumi.prod.yaml",
        ),
    ],
    ids=["unknown-owner", "missing-repository", "missing-team"],
)
def test_bad_github_names_exit_2_before_azure_is_touched(project, arm, github, az, capsys, change, named):
    change(github.state)
    code, out, err = bootstrap(project, capsys)
    assert code == 2 and out == ""
    assert named in err
    assert len(err.strip().splitlines()) == 1
    assert arm.requests == []


def test_no_github_token(project, arm, github, az, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = bootstrap(project, capsys)
    assert code == 1 and "gh auth login" in err and arm.requests == []


def test_pulumi_cloud_checks_the_login_and_creates_nothing(
    cloud_project, arm, github, az, pulumi_cloud, capsys
):
    server, home = pulumi_cloud
    code, _, err = bootstrap(cloud_project, capsys)
    assert code == 1 and "pulumi login" in err
    (home / "credentials.json").write_text(
        json.dumps({"current": server.url, "accessTokens": {server.url: server.token}})
    )
    code, out, err = bootstrap(cloud_project, capsys)
    assert code == 0 and "logged in as octocat" in err and out == ""
    (home / "credentials.json").write_text(
        json.dumps({"current": server.url, "accessTokens": {server.url: "x"}})
    )
    code, _, err = bootstrap(cloud_project, capsys)
    assert code == 1 and "refused the token" in err
    assert arm.requests == []


def test_not_a_project(tmp_path, capsys):
    code, _, err = bootstrap(tmp_path, capsys)
    assert code == 2 and "no infra/Pulumi.yaml" in err


def _with_plan(project, dest, plan: str, accept: bool = False):
    import shutil

    shutil.copytree(project / "infra", dest / "infra")
    for stack in (dest / "infra").glob("Pulumi.*.yaml"):
        text = stack.read_text().replace("forge:githubPlan: team", f"forge:githubPlan: {plan}")
        stack.write_text(text + ("  forge:acceptUnguardedProd: true\n" if accept else ""))
    return dest


def test_prints_what_the_repository_can_have(project, arm, github, az, capsys):
    code, _, err = bootstrap(project, capsys)
    assert code == 0
    assert (
        "GitHub: private repository on GitHub team (GitHub): environments yes, deployment branch restrictions "
        "yes, required reviewers and wait timers no, rulesets yes; prod is guarded by a ruleset on the "
        "default branch + CODEOWNERS"
    ) in err


def test_a_plan_that_asks_for_more_than_github_offers_creates_nothing(
    project, tmp_path, arm, github, az, capsys
):
    enterprise = _with_plan(project, tmp_path / "p", "enterprise")
    code, out, err = bootstrap(enterprise, capsys)  # the stand-in's owner is on Team
    assert code == 2 and out == ""
    assert "infra/Pulumi.dev.yaml forge:githubPlan" in err and "no required reviewers" in err
    assert "set github_plan=team" in err and len(err.strip().splitlines()) == 1
    assert arm.requests == [] and github.state.created == []


def test_an_unreadable_plan_falls_back_to_the_config_and_says_so(project, arm, github, az, capsys):
    github.state.plan = None
    code, _, err = bootstrap(project, capsys)
    assert code == 0 and "taking team from infra/Pulumi.dev.yaml forge:githubPlan" in err


def test_private_on_free_needs_the_explicit_flag(project, tmp_path, arm, github, az, capsys):
    free = _with_plan(project, tmp_path / "p", "free", accept=True)
    github.state.plan = "free"
    code, _, err = bootstrap(free, capsys)
    assert code == 2 and "nothing on GitHub can make a second person approve prod" in err
    assert "--accept-unguarded-prod" in err and arm.requests == []
    code, out, err = bootstrap(free, capsys, "--accept-unguarded-prod")
    assert code == 0 and out.startswith("export ") and "accepted by --accept-unguarded-prod" in err


def test_records_reviewer_ids_so_ci_needs_no_lookups(project, tmp_path, arm, github, az, capsys):
    from stacks.testing import plan_programs

    enterprise = _with_plan(project, tmp_path / "p", "enterprise")
    github.state.plan = "enterprise"
    code, _, err = bootstrap(enterprise, capsys)
    stack = enterprise / "infra" / "Pulumi.prod.yaml"
    assert code == 0 and f"recorded reviewer IDs in {stack}" in err
    assert stack.read_text().endswith("  forge:githubReviewerIds:\n    - my-org/ml-approvers=2000\n")
    before = stack.read_text()
    code, _, err = bootstrap(enterprise, capsys)
    assert code == 0 and "recorded reviewer IDs" not in err and stack.read_text() == before
    # The program takes the recorded ID (the mock runtime's lookup would give another number).
    (plan,) = plan_programs(enterprise / "infra", ["prod"], jobs=1)
    (prod,) = [
        r.properties
        for r in plan.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
        if r.properties["environment"] == "prod"
    ]
    assert prod["reviewers"] == [{"teams": [2000]}]
