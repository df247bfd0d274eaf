"""Day one of every other render of the template tests' matrix, run for real under act.

The default render has one scenario per behaviour, each fault injected on its own
(test_scenarios.py: rollbacks, a missing variable, a wrong identity, prod from a hosted runner);
every fault injection stays there, as a fault exercises a script or a rule the answers do not change.
Every other render of the matrix (`CASES` of tests/template/conftest.py) lives the whole path it
supports once, from an empty Azure double, in the order a team would: CI green on a pull
request; infrastructure previewed on a pull request and applied in promotion order; a first
training registers a model, a second one on the same data registers nothing; the model is
promoted through the shared registry and deployed to every later environment (online: smoke test,
then all traffic; batch: the batch path); production inputs drift, the drift check starts
training on the new data, the retrained model wins and (online) its deployment shifts traffic
gradually and removes the old slot. A render that serves nothing has no deploy workflow at all.

Runs of one render depend on each other; renders do not, so all lives run at once: each is
mostly one process at a time (act, then a job's step), so together they keep every core busy
and none waits for another to finish. Each test asserts on the results and on the double's state
recorded after each run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from forge_rehearse import act, world

from .conftest import NEEDS_ACT, render_project, trusted_token
from .drifted import drifted


def _template_cases() -> list[Any]:
    """The template tests' matrix, read from tests/template/conftest.py (one list, not a copy)."""
    path = Path(__file__).parents[1] / "template" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_template_matrix", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.CASES


CASES = _template_cases()
OTHERS = [case for case in CASES if case.data]  # the default render has test_scenarios.py
EXISTING_REGISTRY = next(c for c in CASES if c.answer("registry", "create") == "existing").data["registry_id"]

pytestmark = NEEDS_ACT


@dataclass
class Life:
    """One render's day one: each run's result and the double's state right after it."""

    case: Any
    project: Path
    environments: list[str]
    serving: str
    rehearsal: act.Rehearsal
    plans: dict[str, Any]
    runs: dict[str, act.Result] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    states: dict[str, dict] = field(default_factory=dict)
    dispatches: dict[str, list] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def package(self) -> str:
        return self.project.name

    @property
    def deploy_environments(self) -> list[str]:
        return self.environments[1:] or self.environments

    def run(self, key: str, workflow: str, event: str = "workflow_dispatch", **kwargs: Any) -> act.Result:
        start = time.perf_counter()
        result = act.run(self.rehearsal, workflow, event, **kwargs)
        self.seconds[key] = round(time.perf_counter() - start, 1)
        self.runs[key] = result
        self.states[key] = self.rehearsal.state()
        self.dispatches[key] = self.rehearsal.dispatches()
        return result

    def workspace(self, key: str, env: str) -> dict:
        return self.states[key]["workspaces"][self.rehearsal.variables_of(env)["AZURE_ML_WORKSPACE"]]

    def environment_of(self, caller: str) -> str:
        return next(i.environment for i in self.rehearsal.world.identities if i.name == caller)

    def as_operator(self, env: str, *argv: str) -> None:
        """Call the double as `env`'s ML operator from that environment's runners (a person or a
        job outside the workflows: production traffic, new labelled data)."""
        runners = json.loads(self.rehearsal.repo_vars.get("RUNNERS") or "{}")
        variables = self.rehearsal.variables_of(env)
        environ = {
            **os.environ,
            "FORGE_DOUBLE_HOME": str(self.rehearsal.double),
            "FORGE_RUNS_ON": json.dumps(runners.get(env, "ubuntu-24.04")),
            "PATH": f"{self.rehearsal.home / 'bin'}{os.pathsep}{os.environ['PATH']}",
        }
        client = variables["AZURE_ML_OPERATOR_CLIENT_ID"]
        token = trusted_token(self.rehearsal.world, client)
        login = ["login", "--service-principal", "-u", client, "--federated-token", token]
        workspace = ["-g", variables["AZURE_RESOURCE_GROUP"], "-w", variables["AZURE_ML_WORKSPACE"]]
        for command in ([*login, "--tenant", "t"], [*argv, *workspace]):
            done = subprocess.run(["az", *command], env=environ, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"az {' '.join(command)}: {done.stderr}"


def prepare(case: Any, home: Path) -> Life:
    """Render `case`, plan each stack once and set up its rehearsal (in the calling thread: the
    Pulumi SDK's mock runtime is not thread-safe)."""
    from stacks.testing import plan_program

    project = render_project(home / str(case.answer("project_name", "ml-demo")), **case.data)
    environments = list(case.answer("environments", ["dev", "test", "prod"]))
    plans = {env: plan_program(project / "infra", env) for env in environments}
    rehearsal = act.prepare(project, home / "rehearsal", world=world.from_plans(list(plans.values())))
    return Life(case, project, environments, str(case.answer("serving", "online")), rehearsal, plans)


def live(life: Life) -> Life:
    """Run the render's workflows in the order of a team's first day."""
    rehearsal, environments, home = life.rehearsal, life.environments, life.rehearsal.home
    try:
        life.run("ci", "ci.yml", "pull_request")
        life.run("up", "infra.yml", "push")
        life.run("preview", "infra.yml", "pull_request")
        life.run("train", "train.yml", inputs={"reason": "manual"})
        life.run("train-again", "train.yml", inputs={"reason": "manual"})
        if life.serving == "none":
            return life
        life.run("deploy", "deploy.yml")
        new_customers = drifted()
        inputs = new_customers.drop(columns="churned")
        last = environments[-1]
        if life.serving == "online":
            # Production traffic from new customers; the scoring script's data collector keeps it.
            request = home / "request.json"
            request.write_text(json.dumps({"data": inputs.head(80).to_dict(orient="records")}))
            endpoint = rehearsal.variables_of(last)["AZURE_ML_ENDPOINT"]
            life.as_operator(
                last, "ml", "online-endpoint", "invoke", "-n", endpoint, "--request-file", str(request)
            )
        else:
            # Batch: the inputs of the team's scoring jobs, kept as the production data asset.
            scored = home / "scored.csv"
            inputs.head(80).to_csv(scored, index=False)
            asset = f"{life.package}-production"
            life.as_operator(
                last, "ml", "data", "create", "-n", asset, "--type", "uri_file", "--path", str(scored)
            )
        life.run("monitor", "monitor.yml")
        # The labelled new data arrives as a new version of the training data asset.
        labelled = home / "labelled.csv"
        new_customers.to_csv(labelled, index=False)
        training = f"{life.package}-training"
        life.as_operator(
            environments[0],
            "ml",
            "data",
            "create",
            "-n",
            training,
            "--type",
            "uri_file",
            "--path",
            str(labelled),
        )
        life.run("retrain", "train.yml", inputs={"reason": "drift"})
        if life.serving == "online":  # batch has no traffic to shift: its first deploy showed its path
            life.run("redeploy", "deploy.yml")
        return life
    finally:
        rehearsal.close()


@pytest.fixture(scope="module")
def lives(tmp_path_factory: pytest.TempPathFactory):
    """Every other render's life, all at once; a test waits for its own."""
    prepared = [prepare(case, tmp_path_factory.mktemp(case.name)) for case in OTHERS]
    with ThreadPoolExecutor(max_workers=len(prepared), thread_name_prefix="life") as pool:
        futures: dict[str, Future[Life]] = {life.name: pool.submit(live, life) for life in prepared}
        yield futures


def green(result: act.Result) -> act.Result:
    assert result.ok, "\n".join(result.errors()) or result.output[-4000:]
    return result


@pytest.mark.parametrize("name", [case.name for case in OTHERS])
def test_day_one(lives, name: str) -> None:
    life = lives[name].result()
    print(f"{name}: seconds per run {life.seconds}")
    runs, envs, package = life.runs, life.environments, life.package

    assert green(runs["ci"]).operations == []  # CI needs no Azure at all

    applied = [o for o in green(runs["up"]).operations if o["operation"] == "pulumi up"]
    assert [life.environment_of(o["caller"]) for o in applied] == envs  # promotion order
    assert all(o["caller"].endswith("-github") and o["result"] == "ok" for o in applied)
    previewed = [o for o in green(runs["preview"]).operations if o["operation"].startswith("pulumi ")]
    assert sorted(life.environment_of(o["caller"]) for o in previewed) == sorted(envs)
    assert all(o["operation"] == "pulumi preview" and o["caller"].endswith("-preview") for o in previewed)

    first = green(runs["train"])
    assert "better=true" in first.output
    models = life.workspace("train", envs[0])["models"][package]
    assert [(m["version"], m["type"]) for m in models] == [(1, "mlflow_model")]
    jobs = life.workspace("train", envs[0])["jobs"]
    gpu = bool(life.case.answer("gpu", False))
    assert {j["compute"] for j in jobs.values()} == {"gpu-cluster" if gpu else "cpu-cluster"}
    again = green(runs["train-again"])
    assert "better=false" in again.output
    assert len(life.workspace("train-again", envs[0])["models"][package]) == 1
    assert "az ml model create" not in {o["operation"] for o in again.operations}

    workflows = {p.name for p in (life.rehearsal.repo / ".github" / "workflows").iterdir()}
    if life.serving == "none":
        assert "deploy.yml" not in workflows and "deploy-stage.yml" not in workflows
        with pytest.raises(act.RehearsalError, match=r"no workflow deploy\.yml"):
            act.run(life.rehearsal, "deploy.yml")
        return

    # Promotion through the shared registry, then every later environment, each on its runners.
    deploy = green(runs["deploy"])
    registry = life.states["deploy"]["registries"][life.rehearsal.repo_vars["AZURE_ML_REGISTRY"]]
    assert [m["version"] for m in registry["models"][package]] == [1]
    runners = json.loads(life.rehearsal.repo_vars.get("RUNNERS") or "{}")
    for operation in deploy.operations:
        if "hosted" in operation:
            assert operation["hosted"] == (life.environment_of(operation["caller"]) not in runners), operation
    for env in life.deploy_environments:
        assert _serving(life, "deploy", env) == {"blue": 100}, env

    # Production inputs drift: the read-only monitor identity starts training on the new data.
    monitor = green(runs["monitor"])
    assert "drift=true" in monitor.output
    assert {life.environment_of(o["caller"]) for o in monitor.operations} == {envs[-1]}
    assert all(o["caller"].endswith("-monitor") for o in monitor.operations)
    assert life.dispatches["monitor"] == [
        {"workflow": "train.yml", "ref": "main", "inputs": {"reason": "drift"}}
    ]
    retrain = green(runs["retrain"])
    assert f"on {package}-training:2" in retrain.output and "better=true" in retrain.output
    models = life.workspace("retrain", envs[0])["models"][package]
    assert [m["version"] for m in models] == [1, 2]
    assert models[1]["tags"]["training_data"] == f"{package}-training:2"

    if life.serving != "online":
        return
    # The retrained model replaces the first one everywhere, gradually.
    redeploy = green(runs["redeploy"])
    registry = life.states["redeploy"]["registries"][life.rehearsal.repo_vars["AZURE_ML_REGISTRY"]]
    assert [m["version"] for m in registry["models"][package]] == [1, 2]
    assert "Traffic: green=10 blue=90" in redeploy.output and "Traffic: green=100 blue=0" in redeploy.output
    assert redeploy.output.count("Deleted the old slot blue") == len(life.deploy_environments)
    for env in life.deploy_environments:
        assert _serving(life, "redeploy", env) == {"green": 100}, env


def _serving(life: Life, key: str, env: str) -> dict[str, int]:
    """Online: the endpoint's traffic (only the slots that exist); batch: the default deployment,
    whose last scoring job completed."""
    workspace = life.workspace(key, env)
    name = life.rehearsal.variables_of(env)["AZURE_ML_ENDPOINT"]
    if life.serving == "online":
        endpoint = workspace["online_endpoints"][name]
        assert set(endpoint["deployments"]) == set(endpoint["traffic"])  # the old slot is gone
        return endpoint["traffic"]
    batch = workspace["batch_endpoints"][name]
    scored = [j for j in workspace["jobs"].values() if j["name"].startswith("batchjob")]
    assert scored and scored[-1]["status"] == "Completed"
    return {batch["defaults"]["deployment_name"]: 100}


@pytest.mark.parametrize("name", ["defaults", "existing-registry-pulumi-cloud"])
def test_the_registry_name_is_a_stack_output(name: str, lives, default_project: Path) -> None:
    """`pulumi stack output registry` names the registry `--registry-name` takes, in every
    stack: the one the host stack creates, or the existing one the answers name."""
    from stacks.testing import plan_program

    if name == "defaults":
        plans = {env: plan_program(default_project / "infra", env) for env in ("dev", "test", "prod")}
    else:
        plans = lives[name].result().plans
    for env, plan in plans.items():
        outputs = plan.outputs
        assert outputs["registryId"].rsplit("/registries/", 1)[-1] == outputs["registry"], env
        if name == "defaults":
            created = plans["dev"].of_type("azure-native:machinelearningservices:Registry")
            assert [r.properties["registryName"] for r in created] == [outputs["registry"]]
            assert outputs["registryId"].split("/")[4] == created[0].properties["resourceGroupName"]
        else:
            assert outputs["registryId"] == EXISTING_REGISTRY and outputs["registry"] == "mlr-shared"
            assert not plan.of_type("azure-native:machinelearningservices:Registry")
