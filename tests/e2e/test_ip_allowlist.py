"""`networkMode: ip-allowlist` under act: the infra workflow closes the workspace after `pulumi up`.

The default render with prod switched to `ip-allowlist` (`forge:allowedIps`) and its jobs routed,
through the host stack's `forge:allowlistRunners`, to runners whose egress is in that list (the
double gives jobs on those runners an address of the list; `egress_ip=` plays any other runner).
The double keeps the workspace's IP rules the step sets and refuses, on every data plane, a
runner whose address is in no rule (storage and container registry from the plan, the workspace
from the rules). Its rules one by one are in test_double_ip_rules.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from forge_rehearse import act, az

from .conftest import NEEDS_ACT, trusted_token

pytestmark = NEEDS_ACT

ALLOWED = "16.17.18.0/24"  # Microsoft's example range
OUTSIDE_IP = "20.60.1.77"  # a runner whose address is in no rule
STALE = "16.17.19.0/24"  # a rule left from an earlier allow list
LABEL = "prod-static-egress"


def _set_config(project: Path, env: str, config: dict) -> None:
    path = project / "infra" / f"Pulumi.{env}.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"].update(config)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def allowlist_project(default_project: Path, tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("allowlist") / "ml-demo"
    shutil.copytree(default_project, project, symlinks=True)
    _set_config(project, "prod", {"forge:networkMode": "ip-allowlist", "forge:allowedIps": [ALLOWED]})
    _set_config(project, "dev", {"forge:runnerEnvironments": [], "forge:allowlistRunners": [f"prod={LABEL}"]})
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-q", "-am", "prod: ip-allowlist"], check=True)
    return project


@pytest.fixture(scope="module")
def allowlist_world(allowlist_project: Path):
    from forge_rehearse.act import stack_environments
    from forge_rehearse.world import build

    return build(allowlist_project / "infra", stack_environments(allowlist_project))


@pytest.fixture()
def rehearsal(allowlist_project: Path, allowlist_world, tmp_path: Path):
    rehearsal = act.prepare(allowlist_project, tmp_path / "rehearsal", world=allowlist_world)
    yield rehearsal
    rehearsal.close()


def green(result: act.Result) -> act.Result:
    assert result.ok, "\n".join(result.errors()) or result.output[-4000:]
    return result


def rules(rehearsal: act.Rehearsal, env: str) -> list[str]:
    workspace = (
        rehearsal.state().get("workspaces", {}).get(rehearsal.variables_of(env)["AZURE_ML_WORKSPACE"], {})
    )
    return [rule["value"] for rule in (workspace.get("network_acls") or {}).get("ipRules", [])]


def as_deployer(rehearsal: act.Rehearsal, env: str, *argv: str, monkeypatch) -> int:
    """Call the double directly as `env`'s deployer (what someone with its rights did by hand)."""
    monkeypatch.setenv("FORGE_DOUBLE_HOME", str(rehearsal.double))
    client = rehearsal.variables_of(env)["AZURE_DEPLOYER_CLIENT_ID"]
    login = ["login", "--service-principal", "-u", client, "--tenant", "t"]
    assert az.main([*login, "--federated-token", trusted_token(rehearsal.world, client)]) == 0
    variables = rehearsal.variables_of(env)
    return az.main([*argv, "-g", variables["AZURE_RESOURCE_GROUP"], "-w", variables["AZURE_ML_WORKSPACE"]])


def test_the_runners_variable_routes_prod_to_the_allow_listed_runners(rehearsal) -> None:
    assert yaml.safe_load(rehearsal.repo_vars["RUNNERS"]) == {"prod": [LABEL]}


def test_infra_up_leaves_the_workspace_accepting_exactly_the_allowed_addresses(
    rehearsal, monkeypatch
) -> None:
    # The workspace exists with a rule from an earlier list, added by hand.
    assert as_deployer(rehearsal, "prod", "ml", "workspace", "network-rule", "add", "--ip-address", STALE,
                       monkeypatch=monkeypatch) == 0  # fmt: skip
    assert rules(rehearsal, "prod") == [STALE]
    up = green(act.run(rehearsal, "infra.yml", "push"))
    assert rules(rehearsal, "prod") == [ALLOWED], up.output[-6000:]
    changed = [
        (o["operation"], o["caller"], o["result"])
        for o in up.operations
        if o["operation"].startswith("az ml workspace network-rule")
    ]
    deployer = "id-ml-demo-prod-github"
    assert changed == [
        ("az ml workspace network-rule list", deployer, "ok"),
        ("az ml workspace network-rule add", deployer, "ok"),  # the new address first ...
        ("az ml workspace network-rule remove", deployer, "ok"),  # ... then the stale one goes
    ]
    # Public dev and test export no address: their step changes nothing.
    assert rules(rehearsal, "dev") == rules(rehearsal, "test") == []
    assert "nothing to do" in up.output
    # A second `up` finds nothing to change.
    again = green(act.run(rehearsal, "infra.yml", "push"))
    assert [o["operation"] for o in again.operations if "network-rule" in o["operation"]] == [
        "az ml workspace network-rule list"
    ]


def test_prod_deploys_from_allow_listed_runners_and_is_refused_from_any_other(rehearsal) -> None:
    green(act.run(rehearsal, "infra.yml", "push"))
    green(act.run(rehearsal, "train.yml", inputs={"reason": "manual"}))
    refused = act.run(rehearsal, "deploy.yml", egress_ip=OUTSIDE_IP)
    assert not refused.ok, "prod took a deployment from an address outside forge:allowedIps"
    errors = "\n".join(refused.errors())
    assert OUTSIDE_IP in errors and ALLOWED in errors, errors or refused.output[-3000:]
    prod = [o for o in refused.operations if o.get("result") == "refused"]
    assert prod and all("prod" in o["target"] for o in prod), prod
    green(act.run(rehearsal, "deploy.yml"))


def _plans(project: Path) -> list:
    from stacks.offline import plan_programs

    return plan_programs(project / "infra", ["dev", "test", "prod"])


def test_the_access_matrix_reaches_prod_only_from_the_allow_listed_runners(
    allowlist_project, tmp_path
) -> None:
    """GitHub-hosted standard runners have no fixed address: without `forge:allowlistRunners` every
    data-plane call of the ip-allowlist environment is unreachable; with them, reachable. Either
    way the deployer sets the workspace's IP rules after `up`, granted by its custom role."""
    from generator import plan_access

    routed = plan_access.build(_plans(allowlist_project))
    assert routed.problems == []
    prod = [r for r in routed.rows if r.environment == "prod"]
    assert {r.path for r in prod if r.operation == "blob upload"} == {f"allow-listed runner ({LABEL})"}
    rules = {r.operation: r for r in prod if r.operation.startswith("az ml workspace network-rule")}
    assert set(rules) == set(plan_access.WORKSPACE_IP_RULES)
    assert all(r.identity == "deployer" and r.granted_by for r in rules.values()), rules

    hosted_project = tmp_path / "ml-demo"
    shutil.copytree(allowlist_project, hosted_project, symlinks=True)
    _set_config(hosted_project, "dev", {"forge:allowlistRunners": []})
    hosted = plan_access.build(_plans(hosted_project))
    unreachable = {(r.environment, r.operation) for r in hosted.rows if not r.reachable}
    assert ("prod", "blob upload") in unreachable and ("prod", "az ml online-endpoint invoke") in unreachable
    assert ("prod", "pulumi up") not in unreachable  # Azure Resource Manager stays reachable
    assert not any(env != "prod" for env, _ in unreachable)
    assert any("unreachable" in p and "prod" in p for p in hosted.problems), hosted.problems


def test_a_throttled_rule_change_turns_the_run_red_and_narrows_nothing(rehearsal, monkeypatch) -> None:
    """429 from Resource Manager on the first `network-rule add`: the run is red, names the step's
    cause, and the workspace keeps its old rules (adds come before removes, so a failure never
    leaves the workspace accepting fewer addresses than both lists share)."""
    assert as_deployer(rehearsal, "prod", "ml", "workspace", "network-rule", "add", "--ip-address", STALE,
                       monkeypatch=monkeypatch) == 0  # fmt: skip
    rehearsal.inject(throttle="az ml workspace network-rule add")
    result = act.run(rehearsal, "infra.yml", "push")
    assert not result.ok, "a throttled rule change passed"
    errors = "\n".join(result.errors())
    assert "workspace IP rules" in errors and "TooManyRequests" in errors, errors or result.output[-3000:]
    assert rules(rehearsal, "prod") == [STALE]
    applied = [
        o["caller"] for o in result.operations if o["operation"] == "pulumi up" and o["result"] == "ok"
    ]
    assert applied == [f"id-ml-demo-{env}-github" for env in ("dev", "test", "prod")]  # infra itself went on
