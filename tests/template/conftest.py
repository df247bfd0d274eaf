"""Render each answer set of the matrix once per test run; tests share the rendered projects."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXISTING_REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-shared-ml/providers/"
    "Microsoft.MachineLearningServices/registries/mlr-shared"
)


@dataclass(frozen=True)
class Case:
    name: str
    data: dict[str, object] = field(default_factory=dict)

    def answer(self, key: str, default: object) -> object:
        return self.data.get(key, default)


CASES = [
    Case("defaults"),
    Case("batch-gpu", {"serving": "batch", "gpu": True, "gpu_vm_size": "Standard_NC6s_v3"}),
    Case(
        "existing-registry-pulumi-cloud",
        {
            "registry": "existing",
            "registry_id": EXISTING_REGISTRY,
            "state_backend": "pulumi-cloud",
            "serving": "none",
        },
    ),
    # Also the plan without GitHub environments (private on Free): workflows without `environment:`.
    Case(
        "two-environments",
        {
            "environments": ["dev", "prod"],
            "azure_location": "swedencentral",
            "github_visibility": "private",
            "github_plan": "free",
            "accept_unguarded_prod": True,
        },
    ),
    Case(
        "longest-name",
        {
            "project_name": "churn-forecast-eu-01",
            "environments": ["sandbox", "staging", "live"],
            "github_org": "Contoso",
        },
    ),
]


def render(dest: Path, data: dict[str, object], template: Path = REPO, vcs_ref: str = "HEAD") -> Path:
    import copier
    from copier.errors import DirtyLocalWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(str(template), dest, data=data, defaults=True, vcs_ref=vcs_ref, quiet=True)
    return dest


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session", params=CASES, ids=[c.name for c in CASES])
def case(request) -> Case:
    return request.param


@pytest.fixture(scope="session")
def project(case: Case, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp(case.name) / "project"
    render(dest, case.data)
    yield dest
    shutil.rmtree(dest, ignore_errors=True)
