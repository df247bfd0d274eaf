"""The access matrix of every rendered project: each job's identity holds what its operations need."""

import json
import re
import sys
from pathlib import Path

import yaml

from .test_template_render import run

DIRECT = re.compile(r"\$\{\{ fromJSON\(vars\.RUNNERS \|\| '\{\}'\)\.(\w+) \|\| 'ubuntu-24\.04' \}\}")
PASSED = re.compile(
    r"\$\{\{ toJSON\(fromJSON\(vars\.RUNNERS \|\| '\{\}'\)\.(\w+) \|\| 'ubuntu-24\.04'\) \}\}"
)


def test_plan_access_check_passes(project: Path):
    result = run(
        [sys.executable, "-m", "generator", "plan", "--access", "--check", "--format", "json"], project
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    matrix = json.loads(result.stdout)
    assert matrix["rows"] and not matrix["problems"]
    assert {row["identity"] for row in matrix["rows"]} >= {"deployer", "previewer", "ml-operator"}


def test_each_azure_job_logs_in_as_its_own_identity_and_follows_the_runner_labels(project: Path):
    for path in (project / ".github" / "workflows").glob("*.yml"):
        text = path.read_text()
        assert "vars.AZURE_CLIENT_ID" not in text, path.name
        for job in yaml.safe_load(text)["jobs"].values():
            if any("azure/login@" in step.get("uses", "") for step in job.get("steps", [])):
                runs_on = job["runs-on"]
                assert runs_on == "${{ fromJSON(inputs.runner) }}" or DIRECT.fullmatch(runs_on), (
                    path.name,
                    runs_on,
                )
                if job.get("environment") and DIRECT.fullmatch(runs_on):
                    # `<env>-monitor` (the drift check's own environment) runs on `<env>`'s runners.
                    stack = job["environment"].removesuffix("-monitor")
                    assert DIRECT.fullmatch(runs_on).group(1) == stack, path.name
            # Callers of the reusable workflows pass each environment's own labels.
            if ".github/workflows/" in job.get("uses", ""):
                passed = PASSED.fullmatch(job["with"]["runner"])
                assert passed and passed.group(1) == str(job["with"]["environment"]), path.name
