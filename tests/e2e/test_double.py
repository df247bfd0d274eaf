"""The Azure test double says no where Azure would: one test per rule (fast: no act, no workflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forge_rehearse import az

from .conftest import double_calls


@pytest.fixture()
def double(default_world, default_project: Path, tmp_path: Path, monkeypatch, capsys):
    return double_calls(default_world, default_project, tmp_path / "double", monkeypatch, capsys)


def ws(env: str, per_env) -> list[str]:
    return [
        "--resource-group",
        per_env[env]["AZURE_RESOURCE_GROUP"],
        "--workspace-name",
        per_env[env]["AZURE_ML_WORKSPACE"],
    ]


def test_unknown_command_and_flag_are_usage_errors(double):
    double.login("dev", "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double("ml", "jobs", "create")
    assert code == 2 and "'jobs' is not in the 'az ml' command group" in err
    code, _, err = double("ml", "job", "show", "--name", "x", "--colour", "red", *ws("dev", double.vars))
    assert code == 2 and "unrecognized arguments: --colour" in err
    code, _, err = double("ml", "job", "show", *ws("dev", double.vars))
    assert code == 2 and "required: --name" in err
    code, _, err = double("ml", "model", "list", *ws("dev", double.vars), "--output", "xml")
    assert code == 2 and "invalid choice" in err


def test_an_unknown_client_id_cannot_log_in(double):
    code, _, err = double("login", "--service-principal", "--username", "11111111-1111-1111-1111-111111111111",
                          "--tenant", "t", "--federated-token", "x")  # fmt: skip
    assert code == 1 and "AADSTS700016" in err


def test_a_token_that_is_no_jwt_cannot_log_in(double):
    client = double.vars["dev"]["AZURE_ML_OPERATOR_CLIENT_ID"]
    code, _, err = double("login", "--service-principal", "--username", client, "--tenant", "t",
                          "--federated-token", "not-a-jwt")  # fmt: skip
    assert code == 1 and "AADSTS50027" in err


def test_a_read_only_identity_cannot_submit_jobs(double):
    double.login("prod-monitor", "AZURE_MONITOR_CLIENT_ID")
    code, _, err = double("ml", "job", "create", "--file", "azureml/train-job.yml", *ws("prod", double.vars))
    assert code == 1
    assert "AuthorizationFailed" in err and "Microsoft.MachineLearningServices/workspaces/jobs/write" in err
    assert "id-ml-demo-prod-monitor" in err
    # The read it is meant for is granted.
    assert double("ml", "data", "list", "--name", "x", *ws("prod", double.vars))[0] == 0


def test_uploading_data_needs_a_storage_data_role(double):
    # The deployer is Contributor on the group: control plane only, no blob data actions.
    double.login("dev", "AZURE_DEPLOYER_CLIENT_ID")
    code, _, err = double("ml", "data", "create", "--name", "d", "--type", "uri_file", "--path", "data/churn.csv",
                          *ws("dev", double.vars))  # fmt: skip
    assert code == 1
    assert "data action 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'" in err


def test_a_private_workspace_is_unreachable_from_a_hosted_runner(double, monkeypatch):
    double.login("prod", "AZURE_ML_OPERATOR_CLIENT_ID")
    args = ("ml", "job", "stream", "--name", "nope", *ws("prod", double.vars))
    code, _, err = double(*args)
    assert code == 1 and "PublicNetworkAccessDisabled" in err and "mlw-ml-demo-prod" in err
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps(["self-hosted", "forge-prod"]))
    code, _, err = double(*args)
    assert code == 1 and "job nope not found" in err  # reached, and answered


def test_a_compute_the_stack_does_not_create_is_refused(double, tmp_path):
    double.login("dev", "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double("ml", "job", "create", "--file", "azureml/train-job.yml", "--set",
                          "compute=azureml:gpu-cluster", *ws("dev", double.vars))  # fmt: skip
    assert code == 1 and "compute gpu-cluster does not exist" in err


def test_registering_a_folder_without_mlmodel_as_mlflow_model_is_refused(double):
    double.login("dev", "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double("ml", "model", "create", "--name", "m", "--type", "mlflow_model", "--path", "src",
                          *ws("dev", double.vars))  # fmt: skip
    assert code == 1 and "not an MLflow model" in err


def test_traffic_must_add_up_and_a_serving_deployment_cannot_be_deleted(double):
    double.login("test", "AZURE_ML_OPERATOR_CLIENT_ID")
    state = {"workspaces": {double.vars["test"]["AZURE_ML_WORKSPACE"]: {
        **az._empty_workspace(),
        "online_endpoints": {"ep": {"traffic": {"blue": 100}, "auth_mode": "key", "calls": 0,
                                    "deployments": {"blue": {"name": "blue"}, "green": {"name": "green"}}}},
    }}, "login": double.vars["test"]["AZURE_ML_OPERATOR_CLIENT_ID"], "registries": {}, "counter": 0, "faults": {}}  # fmt: skip
    (double.home / "state.json").write_text(json.dumps(state))
    code, _, err = double("ml", "online-endpoint", "update", "--name", "ep", "--traffic", "blue=50 green=40",
                          *ws("test", double.vars))  # fmt: skip
    assert code == 1 and "add up to 100" in err
    code, _, err = double("ml", "online-endpoint", "update", "--name", "ep", "--traffic", "purple=100",
                          *ws("test", double.vars))  # fmt: skip
    assert code == 1 and "do not exist: purple" in err
    code, _, err = double("ml", "online-deployment", "delete", "--name", "blue", "--endpoint-name", "ep", "--yes",
                          *ws("test", double.vars))  # fmt: skip
    assert code == 1 and "still receives 100%" in err
    code, out, _ = double("ml", "online-endpoint", "show", "--name", "ep", "--query", "traffic.blue", "-o", "tsv",
                          *ws("test", double.vars))  # fmt: skip
    assert code == 0 and out.strip() == "100"


def test_every_call_is_recorded_with_its_caller_and_result(double):
    double.login("prod-monitor", "AZURE_MONITOR_CLIENT_ID")
    double("ml", "job", "create", "--file", "azureml/train-job.yml", *ws("prod", double.vars))
    log = [json.loads(line) for line in (double.home / "operations.jsonl").read_text().splitlines()]
    assert log[-1]["operation"] == "az ml job create" and log[-1]["result"] == "refused"
    assert log[-1]["caller"] == "id-ml-demo-prod-monitor" and log[-1]["reason"] == "permission"
