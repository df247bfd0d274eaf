"""Every case of the answer matrix renders a project that passes its own checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from .conftest import Case

BIN = Path(sys.executable).parent
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#")


def run(args: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def text_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts and p.suffix != ".csv"]


def test_no_unrendered_jinja(project: Path):
    leftovers = {
        str(p.relative_to(project)): UNRENDERED.findall(p.read_text(encoding="utf-8"))
        for p in text_files(project)
    }
    assert {k: v for k, v in leftovers.items() if v} == {}
    assert not [p for p in project.rglob("*") if UNRENDERED.search(p.name) or p.name.endswith(".jinja")]


def test_expected_files(project: Path, case: Case):
    package = str(case.answer("project_name", "ml-demo")).replace("-", "_")
    environments = case.answer("environments", ["dev", "test", "prod"])
    serving = case.answer("serving", "online")
    always = [
        ".copier-answers.yml",
        "README.md",
        "CHANGELOG.md",
        "Makefile",
        "pyproject.toml",
        ".pre-commit-config.yaml",
        ".github/dependabot.yml",
        "data/churn.csv",
        f"src/{package}/data.py",
        f"src/{package}/train.py",
        f"src/{package}/evaluate.py",
        f"src/{package}/score.py",
        f"src/{package}/tracking.py",
        "tests/test_data.py",
        "tests/test_train.py",
        "tests/test_score.py",
        "tests/test_infra.py",
        "azureml/environment.yml",
        "azureml/train-job.yml",
        "azureml/monitor-schedule.yml",
        "infra/Pulumi.yaml",
        "infra/__main__.py",
        "infra/requirements.txt",
        *[
            f".github/workflows/{w}.yml"
            for w in ("ci", "infra", "pulumi-stack", "train", "monitor", "template-update", "rehearse")
        ],
    ]
    online = ["azureml/online-endpoint.yml", "azureml/online-deployment.yml", "src/online_entry.py"]
    batch = ["azureml/batch-endpoint.yml", "azureml/batch-deployment.yml", "src/batch_entry.py"]
    deploy = [".github/workflows/deploy.yml", ".github/workflows/deploy-stage.yml", "scripts/deploy.sh"]
    expected = always + {"online": online + deploy, "batch": batch + deploy, "none": []}[serving]
    absent = [f for f in online + batch + deploy if f not in expected]
    assert [f for f in expected if not (project / f).is_file()] == []
    assert [f for f in absent if (project / f).exists()] == []
    stacks = sorted(p.name for p in (project / "infra").glob("Pulumi.*.yaml"))
    assert stacks == sorted(f"Pulumi.{env}.yaml" for env in environments)


def test_stack_config_follows_the_contract(project: Path, case: Case):
    environments = case.answer("environments", ["dev", "test", "prod"])
    configs = {
        env: yaml.safe_load((project / "infra" / f"Pulumi.{env}.yaml").read_text())["config"]
        for env in environments
    }
    for env, config in configs.items():
        assert config["forge:project"] == case.answer("project_name", "ml-demo")
        assert config["azure-native:location"] == case.answer("azure_location", "westeurope")
        assert config["forge:gpu"] is bool(case.answer("gpu", False))
        if case.answer("registry", "create") == "existing":
            assert config["forge:registry"] == "existing"
            assert config["forge:registryId"] == case.answer("registry_id", None)
            assert "forge:registryHost" not in config
        else:
            assert config["forge:registry"] == "create"
            assert config.get("forge:registryHost", False) is (env == environments[0])
    requirements = (project / "infra" / "requirements.txt").read_text()
    # By version from a package index, never a git URL.
    assert re.search(r"^mlops-forge-azure==\d+\.\d+\.\d+$", requirements, re.M)
    assert "git+" not in requirements


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_workflows_have_no_zizmor_findings(project: Path, persona: str):
    result = run(
        [str(BIN / "zizmor"), "--offline", "--persona", persona, "--format", "json", ".github"], project
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['ident']}: {f['desc']}" for f in findings)
    assert result.returncode == 0, result.stderr[-2000:]


def test_workflows_validate_against_the_github_schema(project: Path):
    workflows = sorted(str(p) for p in (project / ".github" / "workflows").glob("*.yml"))
    result = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows], project
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dependabot = project / ".github" / "dependabot.yml"
    result = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(dependabot)], project
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_are_locked_down(project: Path):
    for path in (project / ".github" / "workflows").glob("*.yml"):
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, path.name
        text = path.read_text()
        assert "client-secret" not in text and "creds:" not in text, path.name
        for uses in re.findall(r"uses:\s*(\S+)", text):
            assert uses.startswith("$/") or re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), f"{path.name}: expression inside run:"
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_azure_ml_specs_load_with_the_sdk(project: Path):
    from azure.ai.ml import (
        load_batch_deployment,
        load_batch_endpoint,
        load_environment,
        load_job,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities._load_functions import load_schedule

    loaders = {
        "environment.yml": load_environment,
        "train-job.yml": load_job,
        "online-endpoint.yml": load_online_endpoint,
        "online-deployment.yml": load_online_deployment,
        "batch-endpoint.yml": load_batch_endpoint,
        "batch-deployment.yml": load_batch_deployment,
        "monitor-schedule.yml": load_schedule,
    }
    specs = sorted(p for p in (project / "azureml").glob("*.yml") if p.name != "conda.yml")
    assert specs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spec in specs:
            assert yaml.safe_load(spec.read_text())["$schema"].startswith(
                "https://azuremlschemas.azureedge.net/"
            )
            loaded = loaders[spec.name](spec)
            assert loaded is not None, spec.name


def test_generated_code_is_ruff_clean(project: Path):
    check = run([str(BIN / "ruff"), "check", "--no-cache", "."], project)
    assert check.returncode == 0, check.stdout
    fmt = run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], project)
    assert fmt.returncode == 0, fmt.stdout


def test_generated_test_suite_passes(project: Path):
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"], project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
    assert "failed" not in result.stdout.splitlines()[-1]


def test_plan_check_passes(project: Path):
    result = run([sys.executable, "-m", "generator", "plan", "--env", "all", "--check"], project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
