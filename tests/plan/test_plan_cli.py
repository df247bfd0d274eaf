"""`mlops-forge plan`: output formats, policy check and error paths, through `main`."""

import json
import shutil
from pathlib import Path

import pytest

from generator.cli import main


@pytest.fixture
def program(tmp_path: Path, example_dir: Path) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(example_dir, target)
    return target


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_follows_the_contract(capsys, example_dir) -> None:
    code, out, _ = run(capsys, "plan", str(example_dir), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["project"] == "churn-model" and set(doc["environments"]) == {"dev", "test", "prod"}
    for env in doc["environments"].values():
        names = {r["name"] for r in env["resources"]}
        for resource in env["resources"]:
            assert set(resource) == {"type", "name", "parent", "properties"}
            assert resource["type"].startswith(("azure-native:", "mlopsforge:"))
            assert resource["parent"] is None or resource["parent"] in names
        for violation in env["violations"]:
            assert set(violation) == {"policy", "resource", "level", "message"}
            assert violation["level"] in ("mandatory", "advisory")
    storage = next(
        r for r in doc["environments"]["prod"]["resources"] if r["type"].endswith("StorageAccount")
    )
    assert storage["properties"]["minimumTlsVersion"] == "TLS1_2"  # camelCase inputs, as sent


def test_table_groups_by_environment(capsys, example_dir) -> None:
    code, out, _ = run(capsys, "plan", str(example_dir))
    assert code == 0
    for env in ("dev", "test", "prod"):
        assert f"== {env}:" in out and f"mlw-churn-model-{env}" in out
    assert out.index("== dev:") < out.index("== test:") < out.index("== prod:")  # promotion order
    assert "Quota Utilization Percentage" in out


def test_single_environment_and_mermaid(capsys, example_dir) -> None:
    code, out, _ = run(capsys, "plan", str(example_dir), "--env", "prod", "--format", "mermaid")
    assert code == 0
    assert out.startswith("```mermaid\nflowchart")
    assert 'subgraph prod_env["prod"]' in out and "dev_env" not in out
    assert "prod_ml --> prod_ml_ml" in out


def test_default_program_dir_is_infra(capsys, program, monkeypatch) -> None:
    monkeypatch.chdir(program.parent)
    code, out, _ = run(capsys, "plan", "--env", "dev")
    assert code == 0 and "mlw-churn-model-dev" in out


def test_check_passes_on_defaults(capsys, example_dir) -> None:
    code, _, err = run(capsys, "plan", str(example_dir), "--check")
    assert code == 0 and "violation" not in err


def test_check_fails_on_a_mandatory_violation(capsys, program) -> None:
    stack = program / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "  forge:privateNetwork: false\n")
    code, out, err = run(capsys, "plan", str(program), "--check")
    assert code == 1
    assert "workspace-private-network" in err and "[prod]" in err
    assert "[mandatory] workspace-private-network" in out


def test_dev_relaxations_do_not_fail_the_check(capsys, program) -> None:
    code, out, _ = run(capsys, "plan", str(program), "--env", "dev", "--check")
    assert code == 0 and "[advisory]" in out


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: shutil.rmtree(p), "no such directory"),
        (lambda p: (p / "Pulumi.yaml").unlink(), "Pulumi.yaml: not found"),
        (lambda p: [f.unlink() for f in p.glob("Pulumi.*.yaml")], "no stack files"),
        (lambda p: (p / "Pulumi.dev.yaml").write_text("config: [unclosed\n"), "not valid YAML"),
        (
            lambda p: (p / "Pulumi.dev.yaml").write_text(
                "config:\n  forge:project: churn-model\n"
                "  forge:githubRepository: a/b\n"
                "  azure-native:location: westeurope\n"
                "  forge:gpu: sometimes\n"
            ),
            "Pulumi.dev.yaml:5: forge:gpu: expected true or false",
        ),
        (
            lambda p: (p / "Pulumi.dev.yaml").write_text(
                "config:\n  forge:project: Churn_Model\n"
                "  forge:githubRepository: a/b\n"
                "  azure-native:location: westeurope\n"
            ),
            "Pulumi.dev.yaml:2: forge:project",
        ),
        (
            lambda p: (p / "__main__.py").write_text("raise RuntimeError('boom')\n"),
            "the program failed for stack 'dev': RuntimeError: boom",
        ),
        (lambda p: (p / "Pulumi.yaml").write_text("name: x\nruntime: nodejs\n"), "runtime must be python"),
    ],
)
def test_errors_are_one_clear_line_and_exit_2(capsys, program, mutate, expected) -> None:
    mutate(program)
    code, out, err = run(capsys, "plan", str(program), "--env", "all" if "stack files" in expected else "dev")
    assert code == 2
    assert expected in err
    assert "Traceback" not in err and out == ""
    assert len(err.strip().splitlines()) == 1


def test_unknown_environment_names_the_missing_file(capsys, example_dir) -> None:
    code, _, err = run(capsys, "plan", str(example_dir), "--env", "staging")
    assert code == 2 and "Pulumi.staging.yaml: not found (stacks here: dev, test, prod)" in err


def test_bad_format_is_a_usage_error(capsys, example_dir) -> None:
    with pytest.raises(SystemExit) as info:
        main(["plan", str(example_dir), "--format", "yaml"])
    assert info.value.code == 2
