"""`mlops-forge plan --access`: the access matrix, its checks and its failure modes."""

from __future__ import annotations

import json
from dataclasses import replace

from generator import plan_access
from generator.cli import main
from stacks.testing import Plan

ORDER = ("dev", "test", "prod")


def plans(example_plans) -> list[Plan]:
    return [example_plans[env] for env in ORDER]


def test_the_example_is_fully_granted_reachable_and_without_unused_grants(example_plans) -> None:
    matrix = plan_access.build(plans(example_plans))
    assert matrix.problems == []
    rows = {(r.environment, r.job, r.operation, r.action): r for r in matrix.rows}
    # Who does what: training in dev as the ML operator, through Data Scientist and blob data roles.
    upload = rows[
        (
            "dev",
            "train",
            "blob upload",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        )
    ]
    assert upload.identity == "ml-operator" and upload.granted_by == ["Storage Blob Data Contributor"]
    create = rows[
        ("dev", "train", "az ml job create", "Microsoft.MachineLearningServices/workspaces/jobs/write")
    ]
    assert create.granted_by == ["AzureML Data Scientist"] and create.path == "control plane (public ARM)"
    # Prod's data planes only through the VNet runners.
    invoke = rows[
        (
            "prod",
            "deploy",
            "az ml online-endpoint invoke",
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action",
        )
    ]
    assert invoke.path == "VNet runner" and invoke.reachable
    assert rows[("test", "deploy", "blob upload", upload.action)].path == "hosted runner"
    # The drift check runs in the last environment only, as the read-only monitor.
    drift = [r for r in matrix.rows if r.job == "drift"]
    assert {r.environment for r in drift} == {"prod"} and {r.identity for r in drift} == {"monitor"}
    # Pull-request previews read with Reader only.
    assert {tuple(r.granted_by) for r in matrix.rows if r.identity == "previewer"} == {("Reader",)}
    assert all(g.used for g in matrix.grants)


def _drop_assignment(plan: Plan, name: str) -> Plan:
    return Plan(plan.project, plan.environment, [r for r in plan.resources if r.name != name], plan.outputs)


def test_a_missing_grant_is_reported(example_plans) -> None:
    broken = [
        _drop_assignment(example_plans["dev"], "ml-ci-mlops-blob"),
        example_plans["test"],
        example_plans["prod"],
    ]
    problems = plan_access.build(broken).problems
    assert any("[dev] train.yml/train: blob upload needs" in p and "by no role" in p for p in problems), (
        problems
    )


def test_an_unused_grant_is_reported(example_plans) -> None:
    prod = example_plans["prod"]
    # Give the previewer a blob data role no preview operation needs.
    blob = next(r for r in prod.resources if r.name == "ml-ci-mlops-blob")
    reader = next(r for r in prod.resources if r.name == "ml-ci-preview-reader")
    extra = replace(
        blob, name="extra", properties={**blob.properties, "principalId": reader.properties["principalId"]}
    )
    matrix = plan_access.build(
        [example_plans["dev"], example_plans["test"], Plan(prod.project, "prod", [*prod.resources, extra])]
    )
    assert any(
        "previewer holds Storage Blob Data Contributor" in p and "used by no operation" in p
        for p in matrix.problems
    )


def test_a_private_environment_is_unreachable_from_hosted_runners(example_plans) -> None:
    matrix = plan_access.build(plans(example_plans), routed=set())
    unreachable = {(r.environment, r.operation) for r in matrix.rows if not r.reachable}
    assert ("prod", "az ml online-endpoint invoke") in unreachable and (
        "prod",
        "blob download",
    ) in unreachable
    assert not any(env != "prod" for env, _ in unreachable)
    # Azure Resource Manager stays reachable.
    assert ("prod", "pulumi up") not in unreachable


def test_workflow_drift_from_the_jobs_table_is_reported(tmp_path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "train.yml").write_text(
        "jobs:\n  train:\n    runs-on: ubuntu-24.04\n    steps: []\n    # vars.AZURE_CLIENT_ID\n"
    )
    problems = plan_access.check_workflows(workflows, "none")
    assert any(
        "train.yml: job 'train' should log in as ml-operator (vars.AZURE_ML_OPERATOR_CLIENT_ID)" in p
        for p in problems
    )
    assert any("train.yml: runs-on does not follow" in p for p in problems)
    assert any("monitor.yml: missing" in p for p in problems)


def test_cli_table_json_and_check(capsys, example_dir) -> None:
    assert main(["plan", str(example_dir), "--access", "--check"]) == 0
    out, _ = capsys.readouterr()
    assert "network path" in out and "VNet runner" in out and "(UNUSED)" not in out
    assert main(["plan", str(example_dir), "--access", "--format", "json", "--env", "prod"]) == 0
    doc = json.loads(capsys.readouterr()[0])
    assert doc["problems"] == [] and {r["environment"] for r in doc["rows"]} == {"prod"}
    # Prod is still the last stage when planned alone: deploy and drift run there, training doesn't.
    assert {r["job"] for r in doc["rows"]} == {"deploy", "drift", "pulumi (preview)", "pulumi (up)"}


def test_cli_rejects_mermaid_with_access(capsys, example_dir) -> None:
    assert main(["plan", str(example_dir), "--access", "--format", "mermaid"]) == 2
    assert "--access prints a table or JSON" in capsys.readouterr()[1]


def test_placement_read_from_the_workflows_decides_where_each_job_runs(example_plans, tmp_path) -> None:
    import yaml

    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    job = {"environment": "test"}
    (workflows / "train.yml").write_text(yaml.safe_dump({"jobs": {"train": job}}))
    (workflows / "monitor.yml").write_text(yaml.safe_dump({"jobs": {"drift": {"environment": "prod"}}}))
    (workflows / "infra.yml").write_text(
        yaml.safe_dump(
            {
                "jobs": {
                    f"up-{e}": {"uses": "./.github/workflows/pulumi-stack.yml", "with": {"environment": e}}
                    for e in ORDER
                }
            }
        )
    )
    placement = plan_access.job_placement(workflows)
    assert placement[("train.yml", "train")] == {"test"} and placement[
        ("pulumi-stack.yml", "pulumi (up)")
    ] == set(ORDER)
    matrix = plan_access.build(plans(example_plans), serving="none", placement=placement)
    assert {r.environment for r in matrix.rows if r.job == "train"} == {"test"}
    # Training placed where the stack made no ML operator grants for it is caught.
    test_plan = Plan(
        "churn-model", "test", [r for r in example_plans["test"].resources if "-mlops-" not in r.name]
    )
    matrix = plan_access.build(
        [example_plans["dev"], test_plan, example_plans["prod"]], serving="none", placement=placement
    )
    assert any("[test] train.yml/train" in p and "by no role" in p for p in matrix.problems)


def test_the_deployer_writes_locks_through_its_lock_role_and_cannot_list_keys(example_plans) -> None:
    """Contributor lacks `Microsoft.Authorization/locks/*`; the stack's lock-manager role grants
    exactly that, and the deployer's main role is Contributor minus the key-listing actions."""
    matrix = plan_access.build(plans(example_plans))
    assert matrix.problems == []
    locks = [r for r in matrix.rows if r.operation == "pulumi up (locks)"]
    # Prod (strict) locks its data stores; dev and test lock nothing of their own.
    assert {r.environment for r in locks} == {"prod"}
    write = next(r for r in locks if r.action == "Microsoft.Authorization/locks/write")
    assert write.granted_by == ["mlops-forge lock manager (churn-model-prod)"] and write.ok
    # The registry host writes the registry's lock in the registry's own group.
    host = next(
        r
        for r in matrix.rows
        if r.operation == "pulumi up (registry host)" and r.action == "Microsoft.Authorization/locks/write"
    )
    assert host.environment == "dev" and host.granted_by == [
        "mlops-forge lock manager (churn-model registry)"
    ]
    # Nobody holds Contributor; the deployer's roles never grant a key-listing action.
    assert not [g for g in matrix.grants if g.role == "Contributor"]
    from stacks import permissions

    for plan in plans(example_plans):
        for role in permissions.custom_roles(plan.resources).values():
            for action in permissions.KEY_ACTIONS:
                assert not permissions.grants(role, action), (role.name, action)


def test_without_the_lock_role_the_lock_write_is_reported(example_plans) -> None:
    prod = example_plans["prod"]
    broken = _drop_assignment(prod, "ml-ci-lock-manager")
    problems = plan_access.build([example_plans["dev"], example_plans["test"], broken]).problems
    assert any(
        "pulumi up (locks) needs Microsoft.Authorization/locks/write" in p and p.startswith("[prod]")
        for p in problems
    ), problems
