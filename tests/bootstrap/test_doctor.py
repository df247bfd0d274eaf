"""`mlops-forge doctor` against the stand-ins: every finding names its fix; exit 0 only when nothing blocks."""

from __future__ import annotations

import pytest
from bootstrap_standins import READER, set_az

from generator.cli import main


@pytest.fixture
def tools(az):
    """`pulumi` and `gh` on PATH next to the az stand-in (doctor only checks they are installed)."""
    for tool in ("pulumi", "gh"):
        path = az.parent / "bin" / tool
        path.write_text("#!/bin/sh\nexit 1\n")  # `gh auth token` fails: the token comes from GITHUB_TOKEN
        path.chmod(0o755)


def doctor(project, capsys, *extra: str) -> tuple[int, dict[str, list[tuple[str, str]]], str]:
    code = main(["doctor", str(project), *extra])
    out, err = capsys.readouterr()
    findings: dict[str, list[tuple[str, str]]] = {}
    for line in out.splitlines():
        status, rest = line.split(None, 1)
        check, message = rest.split("  ", 1)
        findings.setdefault(check.strip(), []).append((status, message.strip()))
    return code, findings, err


def test_a_ready_project_passes(project, arm, github, az, tools, capsys):
    assert main(["bootstrap", str(project)]) == 0
    capsys.readouterr()
    written = len(arm.writes)
    code, findings, err = doctor(project, capsys)
    assert code == 0, findings
    assert "nothing blocks" in err
    for check in (
        "configuration",
        "tool az",
        "tool pulumi",
        "github",
        "azure login",
        "azure rights",
        "state",
    ):
        assert findings[check][0][0] == "ok", (check, findings[check])
    (status, message), *_ = findings["resource providers"]
    assert status == "ok"
    for namespace in ("Microsoft.MachineLearningServices", "Microsoft.Storage", "Microsoft.KeyVault"):
        assert namespace in message  # read from the plan: what the stacks create
    assert findings["quota"][0][0] == "ok"
    assert len(arm.writes) == written  # doctor only reads


def test_every_blocking_finding_names_its_fix(project, arm, github, az, tools, capsys):
    arm.state.caller_roles = [READER]
    arm.state.unregistered = {"Microsoft.MachineLearningServices", "Microsoft.Insights"}
    arm.state.usages = {"standardDSv2Family": (22, 24)}
    github.state.teams.clear()
    code, findings, _ = doctor(project, capsys)
    assert code == 1
    assert findings["azure rights"][0][0] == "BLOCKS"
    assert "az role assignment create" in findings["azure rights"][0][1]
    providers = [message for _, message in findings["resource providers"]]
    assert providers == [
        "Microsoft.Insights is not registered: az provider register --namespace Microsoft.Insights --wait",
        "Microsoft.MachineLearningServices is not registered: az provider register --namespace "
        "Microsoft.MachineLearningServices --wait",
    ]
    assert findings["github"][0][0] == "BLOCKS"
    assert "gh api orgs/my-org/teams -f name=ml-approvers" in findings["github"][0][1]
    (status, message), *_ = findings["quota"]
    assert (
        status == "warn"
        and "Standard_DS3_v2 needs 4 cores of standardDSv2Family in westeurope, 2 free" in message
    )
    assert findings["state"][0][0] == "BLOCKS" and "run `mlops-forge bootstrap`" in findings["state"][0][1]


def test_token_without_scope_or_admin_rights(project, arm, github, az, tools, capsys):
    github.state.scopes = "read:org"
    github.state.repositories["my-org/ml-demo"]["admin"] = False
    code, findings, _ = doctor(project, capsys)
    messages = [m for _, m in findings["github"]]
    assert code == 1
    assert any("gh auth refresh --scopes read:org,repo" in m for m in messages)
    assert any("no admin rights on my-org/ml-demo" in m for m in messages)


def test_not_logged_in_and_missing_tools(project, arm, github, az, capsys):
    set_az(az, logged_in=False)
    code, findings, _ = doctor(project, capsys)
    assert code == 1
    assert findings["azure login"][0][0] == "BLOCKS" and "az login" in findings["azure login"][0][1]
    assert findings["tool pulumi"] == [("BLOCKS", "not installed: curl -fsSL https://get.pulumi.com | sh")]
    assert findings["tool gh"][0][0] == "warn"


def test_offline_touches_no_network(project, arm, github, az, tools, capsys):
    code, findings, _ = doctor(project, capsys, "--offline")
    assert code == 0 and findings["online checks"][0][0] == "skipped"
    assert arm.requests == [] and github.requests == []


def test_a_broken_configuration_is_bad_input(project, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(project / "infra", broken / "infra")
    stack = broken / "infra" / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("  forge:githubReviewers:\n    - my-org/ml-approvers\n", ""))
    code, _, err = doctor(broken, capsys, "--offline")
    assert code == 2 and "forge:githubReviewers" in err and len(err.strip().splitlines()) == 1
    stack.write_text("config: [unclosed\n")
    code, _, err = doctor(broken, capsys, "--offline")
    assert code == 2 and "Pulumi.prod.yaml" in err and len(err.strip().splitlines()) == 1


def test_says_what_the_plan_offers_and_when_prod_cannot_be_guarded(
    project, tmp_path, arm, github, az, tools, capsys
):
    code, findings, _ = doctor(project, capsys)
    (status, summary), *_ = findings["github plan"]
    assert status == "ok" and "private repository on GitHub team" in summary and "ruleset" in summary

    github.state.plan = "enterprise"  # the config says team: fine, but it could have reviewers
    _, findings, _ = doctor(project, capsys)
    assert (
        "warn",
        "my-org/ml-demo could be guarded by reviewers (it is private on enterprise): set "
        "github_plan=enterprise and github_visibility=private",
    ) in findings["github plan"]

    github.state.plan = "free"
    code, findings, _ = doctor(project, capsys)
    messages = [m for s, m in findings["github plan"] if s == "BLOCKS"]
    assert code == 1 and any("which has no environments" in m for m in messages)
    assert any("nothing on GitHub can make a second person approve prod" in m for m in messages)
