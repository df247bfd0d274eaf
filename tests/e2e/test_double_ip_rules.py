"""IP rules in the Azure test double: the workspace's (`az ml workspace network-rule`), the storage
account's, key vault's and container registry's (from the plan), checked against the runner's
public egress address; and the harness around them (egress in the jobs, the pulumi stand-in's outputs).
Fast: one extra offline plan (test in `ip-allowlist` mode); only the last three tests run act (~10 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from forge_rehearse import access, act, az, standins
from forge_rehearse.world import World, from_plans
from stacks import permissions

from .conftest import NEEDS_ACT, double_calls

ALLOWED = "16.17.18.0/24"  # Microsoft's own example range (a public, non-reserved block)
LISTED = "16.17.18.77"
UNLISTED = "20.50.60.70"
ENV = "test"  # the environment in ip-allowlist mode here


@pytest.fixture(scope="module")
def allowlist_program(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project's Pulumi program with ENV in `ip-allowlist` mode."""
    program = tmp_path_factory.mktemp("allowlist") / "infra"
    shutil.copytree(default_project / "infra", program, ignore=shutil.ignore_patterns("__pycache__"))
    stack = program / f"Pulumi.{ENV}.yaml"
    data = yaml.safe_load(stack.read_text())
    data["config"].update(
        {
            "forge:networkMode": "ip-allowlist",
            "forge:allowedIps": [ALLOWED],
            "forge:containerRegistrySku": "Premium",  # the registry's IP rules need Premium
        }
    )
    stack.write_text(yaml.safe_dump(data))
    return program


@pytest.fixture(scope="module")
def allowlist_world(allowlist_program: Path) -> World:
    from stacks.testing import plan_program

    return from_plans([plan_program(allowlist_program, ENV)])


@pytest.fixture()
def double(allowlist_world, default_project: Path, tmp_path: Path, monkeypatch, capsys):
    """The double over ENV in `ip-allowlist` mode."""
    return double_calls(allowlist_world, default_project, tmp_path / "double", monkeypatch, capsys)


@pytest.fixture()
def public_double(default_world, default_project: Path, tmp_path: Path, monkeypatch, capsys):
    """The double over the default project's environments (dev is `public`)."""
    return double_calls(default_world, default_project, tmp_path / "double", monkeypatch, capsys)


def rule(double, verb: str, address: str, env: str = ENV) -> tuple[int, str, str]:
    return double("ml", "workspace", "network-rule", verb, *double.ws(env), "--ip-address", address,
                  "--output", "none")  # fmt: skip


def listed(double, env: str = ENV) -> list[dict[str, str]]:
    code, out, err = double("ml", "workspace", "network-rule", "list", *double.ws(env),
                            "--query", "ipRules", "--output", "json")  # fmt: skip
    assert code == 0, err
    return json.loads(out)


# ------------------------------------------------------------------------------------------------
# Who may set the rules
# ------------------------------------------------------------------------------------------------


def test_the_deployer_role_writes_the_workspace_and_the_data_scientist_role_does_not(allowlist_world):
    """The facts behind who may run `network-rule add/remove`, on the roles as the plan defines them."""
    write = "Microsoft.MachineLearningServices/workspaces/write"
    for name in ("az ml workspace network-rule add", "az ml workspace network-rule remove"):
        assert write in permissions.OPERATIONS[name].actions
        assert permissions.OPERATIONS[name].plane == "arm"
        assert permissions.OPERATIONS[name].scope == "workspace"
    assert write not in permissions.OPERATIONS["az ml workspace network-rule list"].actions
    deployer = next(r for r in allowlist_world.role_definitions.values() if "deployer" in r["roleName"])
    assert permissions.grants(deployer, write)
    assert write in permissions.AZUREML_DATA_SCIENTIST.not_actions
    assert not permissions.grants(permissions.AZUREML_DATA_SCIENTIST, write)


def test_the_deployer_adds_rules_and_the_ml_operator_is_refused(double):
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = rule(double, "add", ALLOWED)
    assert code == 1 and "AuthorizationFailed" in err
    assert "Microsoft.MachineLearningServices/workspaces/write" in err and "AzureML Data Scientist" in err
    assert (
        not (double.home / "state.json").is_file()
        or "network_acls" not in (double.home / "state.json").read_text()
    )
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    assert rule(double, "add", ALLOWED)[0] == 0
    assert listed(double) == [{"value": ALLOWED}]
    log = [json.loads(line) for line in (double.home / "operations.jsonl").read_text().splitlines()]
    verdicts = [
        (o["caller"], o["result"]) for o in log if o["operation"] == "az ml workspace network-rule add"
    ]
    assert verdicts == [(f"id-ml-demo-{ENV}-mlops", "refused"), (f"id-ml-demo-{ENV}-github", "ok")]


# ------------------------------------------------------------------------------------------------
# What Azure refuses as a rule
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.20.0.0/16",
        "192.168.1.0/24",
        "100.64.0.1",
        "127.0.0.1",
        "169.254.1.1",
        "203.0.113.0/24",
        "224.0.0.1",
        "8.0.0.0/5",
    ],
)
def test_a_reserved_or_private_range_is_refused(double, address):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    code, _, err = rule(double, "add", address)
    assert code == 1 and "only for public internet addresses" in err and "reserved range" in err
    assert listed(double) == []


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("not-an-ip", "not an IPv4 address or a CIDR range"),
        ("16.17.18.0/33", "not an IPv4 address or a CIDR range"),
        ("16.17.18.19/24", "no host bits set"),
        ("16.17.18", "not an IPv4 address or a CIDR range"),
        ("2603:1030::/48", "IPv4 addresses only"),
    ],
)
def test_an_address_that_is_no_ipv4_address_or_range_is_refused(double, address, why):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    code, _, err = rule(double, "add", address)
    assert code == 1 and why in err
    assert listed(double) == []


def test_the_ip_address_is_required_and_unknown_flags_are_usage_errors(double):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    code, _, err = double("ml", "workspace", "network-rule", "add", *double.ws(ENV))
    assert code == 2 and "required: --ip-address" in err
    code, _, err = double("ml", "workspace", "network-rule", "add", *double.ws(ENV), "--ip", "16.17.18.19")
    assert code == 2 and "unrecognized arguments: --ip" in err
    code, _, err = double("ml", "workspace", "network-rule", "show", *double.ws(ENV))
    assert code == 2 and "'show' is not in the 'az ml workspace network-rule' command group" in err


def test_a_public_address_and_range_are_accepted_and_listed(double):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    code, out, _ = double("ml", "workspace", "network-rule", "list", *double.ws(ENV))
    assert code == 0 and json.loads(out) == {"defaultAction": "Allow", "ipRules": []}
    assert listed(double) == []
    assert rule(double, "add", "16.17.18.19")[0] == 0
    assert rule(double, "add", "52.0.0.0/16")[0] == 0
    code, out, _ = double("ml", "workspace", "network-rule", "list", *double.ws(ENV))
    assert json.loads(out) == {
        "defaultAction": "Deny",
        "ipRules": [{"value": "16.17.18.19"}, {"value": "52.0.0.0/16"}],
    }


def test_adding_a_rule_twice_keeps_one(double):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    for address in ("16.17.18.19", "16.17.18.19", "16.17.18.19/32"):
        assert rule(double, "add", address)[0] == 0
    assert listed(double) == [{"value": "16.17.18.19"}]


def test_the_201st_rule_is_refused(double):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    assert rule(double, "add", "16.17.18.19")[0] == 0
    # 199 more, written straight into the state (199 CLI calls would only make the test slow).
    state = json.loads((double.home / "state.json").read_text())
    acls = state["workspaces"][double.vars[ENV]["AZURE_ML_WORKSPACE"]]["network_acls"]
    acls["ipRules"] += [{"value": f"52.{i // 250}.{i % 250}.1"} for i in range(199)]
    (double.home / "state.json").write_text(json.dumps(state))
    code, _, err = rule(double, "add", "40.1.2.3")
    assert code == 1 and "already has 200 IP rules" in err
    assert len(listed(double)) == 200
    # Adding one it already has is no new rule.
    assert rule(double, "add", "16.17.18.19")[0] == 0
    assert rule(double, "remove", "52.0.0.1")[0] == 0
    assert rule(double, "add", "40.1.2.3")[0] == 0
    assert len(listed(double)) == 200


def test_removing_rules_never_reopens_the_workspace(double):
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    code, _, err = rule(double, "remove", "16.17.18.19")
    assert code == 1 and "has no IP rule for 16.17.18.19" in err
    assert rule(double, "add", "16.17.18.19")[0] == 0
    assert rule(double, "remove", "16.17.18.19/32")[0] == 0
    code, out, _ = double("ml", "workspace", "network-rule", "list", *double.ws(ENV))
    assert json.loads(out) == {"defaultAction": "Deny", "ipRules": []}
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double("ml", "job", "stream", "--name", "nope", *double.ws(ENV), egress=LISTED)
    assert code == 1 and "IP rules (none)" in err


# ------------------------------------------------------------------------------------------------
# Enforcement: the runner's egress against the rules
# ------------------------------------------------------------------------------------------------


def test_the_workspace_accepts_only_listed_egress_once_rules_exist(double):
    stream = ("ml", "job", "stream", "--name", "nope", *double.ws(ENV))
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    # Before the step that sets the rules runs, the workspace is open: Azure's real behaviour.
    for egress in (UNLISTED, None):
        code, _, err = double(*stream, egress=egress)
        assert code == 1 and "job nope not found" in err  # reached, and answered
    double.login(ENV, "AZURE_DEPLOYER_CLIENT_ID")
    assert rule(double, "add", ALLOWED)[0] == 0
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    workspace = double.vars[ENV]["AZURE_ML_WORKSPACE"]
    code, _, err = double(*stream, egress=UNLISTED)
    assert code == 1 and "(Forbidden)" in err
    assert f"workspace {workspace}" in err and UNLISTED in err and ALLOWED in err
    code, _, err = double(*stream)
    assert code == 1 and "a GitHub-hosted runner without a fixed address" in err
    code, _, err = double(*stream, egress=LISTED)
    assert code == 1 and "job nope not found" in err
    # Resource Manager calls are not behind the workspace's rules (listing them, say).
    assert double("ml", "model", "list", *double.ws(ENV), egress=UNLISTED)[0] == 0
    log = [json.loads(line) for line in (double.home / "operations.jsonl").read_text().splitlines()]
    refused = [o for o in log if o["result"] == "refused" and o["operation"] == "az ml job stream"]
    assert [(o["reason"], o.get("egress")) for o in refused] == [("network", UNLISTED), ("network", None)]


def test_storage_rules_from_the_plan_refuse_an_unlisted_egress(double):
    world = World.from_json((double.home / "world.json").read_text())
    account = world.of_kind("storage", ENV)[0]
    upload = ("ml", "data", "create", "--name", "d", "--type", "uri_file", "--path", "data/churn.csv",
              *double.ws(ENV))  # fmt: skip
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double(*upload, egress=UNLISTED)
    assert code == 1 and "blob upload" in err and f"storage {account.name}" in err and UNLISTED in err
    code, _, err = double(*upload)
    assert code == 1 and "a GitHub-hosted runner without a fixed address" in err
    code, _, err = double(*upload, egress=LISTED)
    assert code == 0, err


def test_the_plan_gives_storage_vault_and_registry_their_ip_rules(allowlist_world, default_world):
    for kind in ("storage", "key-vault", "acr"):
        (found,) = allowlist_world.of_kind(kind, ENV)
        assert found.public and found.allowed_ips == (ALLOWED,), kind
    # The workspace's rules are not in the plan: the pulumi-azure-native Workspace takes none.
    (workspace,) = allowlist_world.of_kind("workspace", ENV)
    assert workspace.public and workspace.allowed_ips is None
    # Public dev and test: no restriction; private prod: deny-by-default without rules, behind its private endpoints.
    assert all(r.allowed_ips is None for r in default_world.resources if r.environment in ("dev", ENV))
    (private,) = default_world.of_kind("storage", "prod")
    assert not private.public and private.allowed_ips == ()
    # Through JSON, and from JSON written before IP rules existed.
    assert World.from_json(allowlist_world.to_json()).of_kind("storage", ENV)[0].allowed_ips == (ALLOWED,)
    old = json.loads(allowlist_world.to_json())
    for resource in old["resources"]:
        resource.pop("allowed_ips")
    assert all(r.allowed_ips is None for r in World.from_json(json.dumps(old)).resources)


def test_a_private_resource_is_reached_from_vnet_runners_whatever_its_ip_rules(default_world):
    (storage,) = default_world.of_kind("storage", "prod")
    operator = next(i for i in default_world.identities if i.name == "id-ml-demo-prod-mlops")
    vnet = access.Caller(operator.client_id, operator.principal_id, operator.name, False, None)
    access.check(default_world, vnet, "blob upload", storage)  # no exception: private endpoint
    hosted = access.Caller(operator.client_id, operator.principal_id, operator.name, True, LISTED)
    with pytest.raises(access.Refused, match="PublicNetworkAccessDisabled"):
        access.check(default_world, hosted, "blob upload", storage)


def test_a_public_world_is_unaffected_by_egress(public_double):
    public_double.login("dev", "AZURE_ML_OPERATOR_CLIENT_ID")
    for egress in (UNLISTED, None):
        code, _, err = public_double("ml", "data", "create", "--name", "d", "--type", "uri_file", "--path",
                                     "data/churn.csv", *public_double.ws("dev"), egress=egress)  # fmt: skip
        assert code == 0, err


def test_an_egress_that_is_no_ipv4_address_is_a_usage_error(double):
    double.login(ENV, "AZURE_ML_OPERATOR_CLIENT_ID")
    code, _, err = double("ml", "model", "list", *double.ws(ENV), egress="somewhere")
    assert code == 2 and "FORGE_RUNNER_EGRESS_IP='somewhere' is not an IPv4 address" in err


# ------------------------------------------------------------------------------------------------
# The harness and the pulumi/actions stand-in
# ------------------------------------------------------------------------------------------------


def read_step_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `name<<DELIMITER`, the value's lines, `DELIMITER`."""
    lines = path.read_text().split("\n")
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        found[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return found


def test_stack_outputs_are_written_as_pulumi_actions_writes_them(tmp_path):
    out = tmp_path / "github_output"
    out.write_text("earlier=kept\n")
    standins.set_outputs(
        {"workspace": "mlw-x", "workspaceAllowedIps": ["16.17.18.0/24"], "none": None, "count": 2,
         "flag": True, "map": {"a": "é"}, "text": "two\nlines"},
        out,
    )  # fmt: skip
    assert out.read_text().startswith("earlier=kept\nworkspace<<ghadelimiter_")
    only = tmp_path / "only"
    only.write_text(out.read_text().split("\n", 1)[1])  # what the stand-in appended
    assert read_step_outputs(only) == {
        "workspace": "mlw-x",
        "workspaceAllowedIps": '["16.17.18.0/24"]',
        "none": "",
        "count": "2",
        "flag": "true",
        "map": '{"a":"é"}',
        "text": "two\nlines",
    }


def test_the_pulumi_stand_in_sets_the_plans_outputs_on_up(allowlist_program, allowlist_world, tmp_path,
                                                          monkeypatch, capsys):  # fmt: skip
    home = tmp_path / "double"
    home.mkdir()
    (home / "world.json").write_text(allowlist_world.to_json())
    _, per_env = act.default_variables(allowlist_program, allowlist_world)
    out = tmp_path / "github_output"
    out.write_text("")
    monkeypatch.chdir(allowlist_program.parent)
    for key, value in {
        "FORGE_DOUBLE_HOME": str(home), "FORGE_RUNS_ON": json.dumps("ubuntu-24.04"), "GITHUB_OUTPUT": str(out),
        "ARM_CLIENT_ID": per_env[ENV]["AZURE_DEPLOYER_CLIENT_ID"], "STACK": ENV, "WORK_DIR": "infra",
        "PULUMI_COMMAND": "preview",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    assert standins.pulumi() == 0
    assert out.read_text() == ""  # preview sets nothing
    monkeypatch.setenv("PULUMI_COMMAND", "up")
    assert standins.pulumi() == 0, capsys.readouterr()
    outputs = read_step_outputs(out)
    assert outputs["resourceGroup"] == per_env[ENV]["AZURE_RESOURCE_GROUP"]
    assert outputs["workspace"] == per_env[ENV]["AZURE_ML_WORKSPACE"]
    # Lists arrive JSON-encoded, as pulumi/actions' core.setOutput encodes them.
    assert json.loads(outputs["runnerLabels"]) == []
    if "workspaceAllowedIps" in outputs:  # the stack output the lead's change adds
        assert json.loads(outputs["workspaceAllowedIps"]) == [ALLOWED]
    declared = yaml.safe_load((Path(act.ACTIONS) / "pulumi" / "action.yml").read_text())
    assert set(declared["outputs"]) == {"resourceGroup", "workspace", "workspaceAllowedIps"}
    assert {o["value"] for o in declared["outputs"].values()} == {
        f"${{{{ steps.pulumi.outputs.{name} }}}}" for name in declared["outputs"]
    }
    # GitHub passes on only declared outputs, read from the inner step with that id (act is laxer).
    assert [step.get("id") for step in declared["runs"]["steps"]] == ["pulumi"]


def test_a_rehearsal_refuses_an_egress_that_is_no_ipv4_address(tmp_path):
    workflows = tmp_path / "home" / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "x.yml").write_text("on: push\njobs: {}\n")
    rehearsal = act.Rehearsal(tmp_path, tmp_path / "home", World(), {}, {}, egress_ip="16.17.18.300")
    with pytest.raises(act.RehearsalError, match=r"egress_ip '16\.17\.18\.300' is not an IPv4 address"):
        act.run(rehearsal, "x.yml")


@pytest.mark.parametrize("egress", [pytest.param(e, marks=NEEDS_ACT) for e in (LISTED, None)])
def test_a_rehearsal_puts_the_runner_egress_in_every_job(tmp_path, egress):
    """Under act, the rehearsal's egress reaches each step's environment, where the double reads it."""
    project = tmp_path / "project"
    (project / ".github" / "workflows").mkdir(parents=True)
    (project / ".github" / "workflows" / "egress.yml").write_text(
        "on: workflow_dispatch\njobs:\n  show:\n    runs-on: ubuntu-24.04\n    steps:\n"
        '      - run: echo "egress=${FORGE_RUNNER_EGRESS_IP:-none}"\n'
    )
    rehearsal = act.prepare(project, tmp_path / "rehearsal", world=World())
    rehearsal.egress_ip = egress
    result = act.run(rehearsal, "egress.yml", timeout=120)
    assert result.ok, result.output
    assert f"egress={egress or 'none'}" in result.step_log


@pytest.mark.parametrize("command", [pytest.param("up", marks=NEEDS_ACT)])
def test_a_later_step_reads_the_stand_ins_outputs_under_act(
    default_project, default_world, tmp_path, command
):
    """The composite stand-in passes its declared outputs on, as the workflows' next step reads them."""
    project = tmp_path / "project"
    shutil.copytree(default_project, project, symlinks=True)
    _, per_env = act.default_variables(project, default_world)
    (project / ".github" / "workflows" / "outputs.yml").write_text(f"""\
on: workflow_dispatch
jobs:
  up:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1
      - id: pulumi
        uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d
        with:
          command: {command}
          stack-name: dev
          work-dir: infra
        env:
          ARM_CLIENT_ID: {per_env["dev"]["AZURE_DEPLOYER_CLIENT_ID"]}
      - run: echo "group=${{{{ steps.pulumi.outputs.resourceGroup }}}} workspace=${{{{ steps.pulumi.outputs.workspace }}}}"
""")
    rehearsal = act.prepare(project, tmp_path / "rehearsal", world=default_world)
    result = act.run(rehearsal, "outputs.yml", timeout=300)
    assert result.ok, result.output
    expected = (
        f"group={per_env['dev']['AZURE_RESOURCE_GROUP']} workspace={per_env['dev']['AZURE_ML_WORKSPACE']}"
    )
    assert expected in result.step_log


def test_jobs_on_the_allow_listed_runners_get_an_address_of_the_list(allowlist_world, monkeypatch) -> None:
    """Without FORGE_RUNNER_EGRESS_IP, a job on the runners RUNNERS names for an ip-allowlist
    environment egresses from that environment's list; any other job has no fixed address."""
    world = World.from_json(allowlist_world.to_json())
    world.variables.setdefault("", {})["RUNNERS"] = json.dumps({ENV: ["self-hosted", "static-egress"]})
    monkeypatch.delenv("FORGE_RUNNER_EGRESS_IP", raising=False)
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps(["self-hosted", "static-egress"]))
    assert az._runner_egress(world) == "16.17.18.1"
    monkeypatch.setenv("FORGE_RUNS_ON", json.dumps("ubuntu-24.04"))
    assert az._runner_egress(world) is None
    monkeypatch.setenv("FORGE_RUNNER_EGRESS_IP", UNLISTED)  # a rehearsal playing another runner
    assert az._runner_egress(world) == UNLISTED
