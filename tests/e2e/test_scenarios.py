"""A generated project's life, run for real: act executes its workflows, the Azure double answers.

Each scenario starts from a fresh double (empty Azure state) on the default render. Every
injected fault must turn the run red with a message that names the cause, and leave Azure as it
was before (traffic on the old slot, no extra model). Fault injection stays on the default render;
every other render of the template tests' matrix lives its whole day one in test_day_one.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forge_rehearse import act, az

from .conftest import NEEDS_ACT, trusted_token
from .drifted import drifted

pytestmark = NEEDS_ACT


@pytest.fixture()
def rehearsal(default_project: Path, default_world, tmp_path: Path):
    rehearsal = act.prepare(default_project, tmp_path / "rehearsal", world=default_world)
    yield rehearsal
    rehearsal.close()


@pytest.fixture(scope="module")
def first_deployment(default_project: Path, default_world, tmp_path_factory):
    """Train and deploy once; each test that starts from a deployed model gets a copy of this state."""
    home = tmp_path_factory.mktemp("deployed") / "rehearsal"
    rehearsal = act.prepare(default_project, home, world=default_world)
    train = green(act.run(rehearsal, "train.yml", inputs={"reason": "manual"}))
    deploy = green(act.run(rehearsal, "deploy.yml"))
    rehearsal.close()
    snapshot = home.parent / "snapshot"
    shutil.copytree(rehearsal.double, snapshot)
    yield rehearsal, snapshot, train, deploy
    rehearsal.close()


@pytest.fixture()
def deployed(first_deployment):
    """A rehearsal where train.yml and deploy.yml have run once (same paths, restored state)."""
    rehearsal, snapshot, _, _ = first_deployment
    shutil.rmtree(rehearsal.double)
    shutil.copytree(snapshot, rehearsal.double)
    rehearsal.sync()
    yield rehearsal
    rehearsal.close()


def workspace_state(rehearsal: act.Rehearsal, env: str) -> dict:
    return rehearsal.state()["workspaces"][rehearsal.env_vars[env]["AZURE_ML_WORKSPACE"]]


def endpoint(rehearsal: act.Rehearsal, env: str) -> dict:
    return workspace_state(rehearsal, env)["online_endpoints"][rehearsal.env_vars[env]["AZURE_ML_ENDPOINT"]]


def as_operator(rehearsal: act.Rehearsal, env: str, *argv: str, monkeypatch) -> int:
    """Call the double directly as `env`'s ML operator on that environment's runners."""
    monkeypatch.setenv("FORGE_DOUBLE_HOME", str(rehearsal.double))
    labels = (
        ["self-hosted", f"forge-{env}"]
        if env in json.loads(rehearsal.repo_vars["RUNNERS"])
        else "ubuntu-24.04"
    )
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps(labels))
    client = rehearsal.env_vars[env]["AZURE_ML_OPERATOR_CLIENT_ID"]
    assert (
        az.main(
            [
                "login",
                "--service-principal",
                "-u",
                client,
                "--tenant",
                "t",
                "--federated-token",
                trusted_token(rehearsal.world, client),
            ]
        )
        == 0
    )
    ws = [
        "-g",
        rehearsal.env_vars[env]["AZURE_RESOURCE_GROUP"],
        "-w",
        rehearsal.env_vars[env]["AZURE_ML_WORKSPACE"],
    ]
    return az.main([*argv, *ws])


def green(result: act.Result) -> act.Result:
    assert result.ok, "\n".join(result.errors()) or result.output[-4000:]
    return result


def red(result: act.Result, *causes: str) -> act.Result:
    assert not result.ok, f"{result.workflow} was green although a fault was injected"
    errors = "\n".join(result.errors())
    for cause in causes:
        assert cause in errors, f"{cause!r} not named in the errors:\n{errors or result.output[-3000:]}"
    return result


def test_ci_is_green_on_a_pull_request(rehearsal):
    result = green(act.run(rehearsal, "ci.yml", "pull_request"))
    assert "Job succeeded" in result.output
    assert result.operations == []  # CI needs no Azure at all


def test_train_registers_only_a_better_model(rehearsal):
    first = green(act.run(rehearsal, "train.yml", inputs={"reason": "manual"}))
    assert "better=true" in first.output
    models = workspace_state(rehearsal, "dev")["models"]["ml-demo"]
    assert [(m["version"], m["type"]) for m in models] == [(1, "mlflow_model")]
    # Same data, same seed: the champion re-scored on the candidate's holdout ties, so nothing is registered.
    second = green(act.run(rehearsal, "train.yml", inputs={"reason": "manual"}))
    assert "better=false" in second.output and "champion_roc_auc=" in second.output
    assert len(workspace_state(rehearsal, "dev")["models"]["ml-demo"]) == 1
    assert "az ml model create" not in [o["operation"] for o in second.operations]
    assert "az ml model download" in [o["operation"] for o in second.operations]
    assert {o["caller"] for o in second.operations} == {"id-ml-demo-dev-mlops"}


def test_promote_and_deploy_shift_gradually_and_remove_the_old_slot(first_deployment, deployed):
    rehearsal, _, _, first = first_deployment
    registry = rehearsal.state()["registries"][rehearsal.repo_vars["AZURE_ML_REGISTRY"]]
    assert [m["version"] for m in registry["models"]["ml-demo"]] == [1]
    for env in ("test", "prod"):
        assert endpoint(rehearsal, env)["traffic"] == {"blue": 100}
    # Prod is private: its deployment ran on the VNet runners, test's on GitHub's.
    prod_calls = [o for o in first.operations if o["caller"] == "id-ml-demo-prod-mlops" and "hosted" in o]
    assert prod_calls and not any(o["hosted"] for o in prod_calls)
    assert {"az ml schedule create"} <= {o["operation"] for o in prod_calls}

    second = green(act.run(rehearsal, "deploy.yml", inputs={"model_version": "1"}))
    assert "Traffic: green=10 blue=90" in second.output and "Traffic: green=100 blue=0" in second.output
    assert "Deleted the old slot blue" in second.output
    for env in ("test", "prod"):
        assert endpoint(rehearsal, env)["traffic"] == {"green": 100}
        assert list(endpoint(rehearsal, env)["deployments"]) == ["green"]


def test_a_failing_smoke_test_rolls_back_before_any_traffic(deployed):
    rehearsal = deployed
    score = rehearsal.repo / "src" / "ml_demo" / "score.py"
    score.write_text(score.read_text().replace('"predictions": [', '"prediction": ['))  # a broken release
    red(act.run(rehearsal, "deploy.yml", inputs={"model_version": "1"}), "smoke test of green failed")
    state = endpoint(rehearsal, "test")
    assert state["traffic"] == {"blue": 100} and list(state["deployments"]) == ["blue"]


def test_a_failure_after_the_shift_rolls_back_and_removes_the_new_slot(deployed):
    rehearsal = deployed
    rehearsal.inject(**{"fail-after-shift": "green"})
    result = red(
        act.run(rehearsal, "deploy.yml", inputs={"model_version": "1"}),
        "health check after shifting to green=10 blue=90 failed",
    )
    assert "deployment green is Failed" in result.output
    state = endpoint(rehearsal, "test")
    assert state["traffic"] == {"blue": 100} and list(state["deployments"]) == ["blue"]
    assert "prod" not in {
        o["target"].split("/")[4].rsplit("-", 1)[-1] for o in result.operations if "target" in o
    }


def test_drift_in_production_retrains_on_the_new_data_and_the_new_model_wins(deployed, tmp_path, monkeypatch):
    rehearsal = deployed
    # The deployment's own smoke tests and health checks were collected: too few rows for a verdict.
    quiet = green(act.run(rehearsal, "monitor.yml"))
    assert "too few to judge drift" in quiet.output and "drift=false" in quiet.output
    assert rehearsal.dispatches() == []

    # Production traffic from the new customers, collected by the scoring script in prod.
    drifted_rows = drifted()
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"data": drifted_rows.drop(columns="churned").head(80).to_dict(orient="records")})
    )
    name = rehearsal.env_vars["prod"]["AZURE_ML_ENDPOINT"]
    assert (
        as_operator(
            rehearsal,
            "prod",
            "ml",
            "online-endpoint",
            "invoke",
            "-n",
            name,
            "--request-file",
            str(request),
            monkeypatch=monkeypatch,
        )
        == 0
    )
    assert [a["version"] for a in workspace_state(rehearsal, "prod")["data"]["ml-demo-production"]] == [1]

    monitor = green(act.run(rehearsal, "monitor.yml"))
    assert "drift=true" in monitor.output
    assert {o["caller"] for o in monitor.operations} == {"id-ml-demo-prod-monitor"}
    assert rehearsal.dispatches() == [{"workflow": "train.yml", "ref": "main", "inputs": {"reason": "drift"}}]

    # The labelled new data arrives as a new version of the training data asset; the retrain uses it.
    labelled = tmp_path / "churn-2.csv"
    drifted_rows.to_csv(labelled, index=False)
    assert (
        as_operator(
            rehearsal,
            "dev",
            "ml",
            "data",
            "create",
            "-n",
            "ml-demo-training",
            "--type",
            "uri_file",
            "--path",
            str(labelled),
            monkeypatch=monkeypatch,
        )
        == 0
    )
    retrain = green(act.run(rehearsal, "train.yml", inputs={"reason": "drift"}))
    assert "on ml-demo-training:2" in retrain.output and "better=true" in retrain.output
    models = workspace_state(rehearsal, "dev")["models"]["ml-demo"]
    assert [m["version"] for m in models] == [1, 2] and models[1]["tags"][
        "training_data"
    ] == "ml-demo-training:2"


def test_a_missing_variable_fails_the_first_step_and_names_it(rehearsal):
    result = red(
        act.run(rehearsal, "train.yml", env_variables={"dev": {"AZURE_ML_WORKSPACE": None}}),
        "required variable AZURE_ML_WORKSPACE is not set",
    )
    assert result.operations == []
    assert "Check the required variables" in next(line for line in result.output.splitlines() if "❌" in line)


def test_a_job_logged_in_as_the_wrong_identity_is_refused_and_named(rehearsal):
    reader = rehearsal.env_vars["dev-preview"]["AZURE_PREVIEW_CLIENT_ID"]  # Reader: reads, never writes
    # The previewer trusts only `dev-preview`'s subject: the login itself is refused (AADSTS70021).
    result = red(
        act.run(rehearsal, "train.yml", env_variables={"dev": {"AZURE_ML_OPERATOR_CLIENT_ID": reader}}),
        "AADSTS70021",
        "id-ml-demo-dev-preview",
    )
    assert [o["result"] for o in result.operations][-1] == "refused"
    assert rehearsal.state()["workspaces"] == {}  # refused before any call reached a workspace


def test_prod_is_refused_from_github_hosted_runners(rehearsal):
    green(act.run(rehearsal, "train.yml", inputs={"reason": "manual"}))
    red(
        act.run(rehearsal, "deploy.yml", variables={"RUNNERS": "{}"}),
        "PublicNetworkAccessDisabled",
        "mlw-ml-demo-prod",
    )
    assert endpoint(rehearsal, "test")["traffic"] == {"blue": 100}  # test is public: deployed
    prod = endpoint(rehearsal, "prod")
    assert prod["traffic"] in ({}, {"blue": 0}) and prod["deployments"] == {}  # rolled back, removed


def test_infra_previews_on_pull_requests_and_applies_in_promotion_order(rehearsal):
    up = green(act.run(rehearsal, "infra.yml", "push"))
    applied = [(o["caller"], o["result"]) for o in up.operations if o["operation"] == "pulumi up"]
    assert applied == [(f"id-ml-demo-{env}-github", "ok") for env in ("dev", "test", "prod")]
    assert "pulumi preview" not in {o["operation"] for o in up.operations}
    preview = green(act.run(rehearsal, "infra.yml", "pull_request"))
    previewed = sorted(o["caller"] for o in preview.operations if o["operation"] == "pulumi preview")
    assert previewed == sorted(f"id-ml-demo-{env}-preview" for env in ("dev", "test", "prod"))
    # The read-only previewer cannot apply: it trusts only `dev-preview`'s subject, so `up` in `dev`
    # cannot even log in as it (AADSTS70021); nothing is applied.
    refused = red(
        act.run(
            rehearsal,
            "infra.yml",
            "push",
            env_variables={
                "dev": {
                    "AZURE_DEPLOYER_CLIENT_ID": rehearsal.env_vars["dev-preview"]["AZURE_PREVIEW_CLIENT_ID"]
                }
            },
        ),
        "AADSTS70021",
        "id-ml-demo-dev-preview",
    )
    assert [o["result"] for o in refused.operations if o["operation"] == "az login"] == ["refused"]
    assert [o for o in refused.operations if o["operation"] == "pulumi up"] == []
