"""Bad answers stop `mlops-forge new` before anything is written, with one line naming the field."""

from __future__ import annotations

import pytest

from generator.cli import main

from .conftest import REPO

VALID_REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/registries/shared"
)

BAD_ANSWERS = [
    ("project_name", ["project_name=Churn"]),
    ("project_name", ["project_name=ab"]),
    ("project_name", ["project_name=churn-forecast-europe-1"]),  # 22 characters
    ("project_name", ["project_name=churn--model"]),
    ("project_name", ["project_name=1churn"]),
    ("package_name", ["package_name=my-package"]),
    ("package_name", ["package_name=class"]),
    ("description", ["description="]),
    ("description", ['description=say "hi"']),
    ("owner", ["owner=   "]),
    ("github_org", ["github_org=-contoso"]),
    ("github_repo", ["github_repo=my repo"]),
    ("azure_location", ["azure_location=mars-central"]),
    ("environments", ["environments=[]"]),
    ("environments", ["environments=[dev, dev]"]),
    ("environments", ["environments=[Dev]"]),
    ("environments", ["environments=[d]"]),
    ("environments", ["environments=dev"]),
    ("environments", ["environments=[a, b, c, d, e, f, g]"]),
    ("gpu", ["gpu=maybe"]),
    ("gpu_vm_size", ["gpu=true", "gpu_vm_size=Standard_D4s_v5"]),
    ("registry", ["registry=shared"]),
    ("registry_id", ["registry=existing"]),
    (
        "registry_id",
        ["registry=existing", "registry_id=" + VALID_REGISTRY.replace("registries", "workspaces")],
    ),
    ("alert_emails", ["alert_emails=[]"]),
    ("alert_emails", ["alert_emails=[not-an-address]"]),
    ("monthly_budget_usd", ["monthly_budget_usd=0"]),
    ("monthly_budget_usd", ["monthly_budget_usd=lots"]),
    ("serving", ["serving=realtime"]),
    ("state_backend", ["state_backend=s3"]),
    ("forge_version", ["forge_version=latest"]),
    ("package_index", ["package_index=ftp://pypi.example.com/simple/"]),
    ("package_index", ["package_index=https://user:token@pkgs.example.com/simple/"]),
]


@pytest.mark.parametrize(("field", "data"), BAD_ANSWERS, ids=[f"{f}:{d[-1]}" for f, d in BAD_ANSWERS])
def test_bad_answer_is_rejected_cleanly(field, data, tmp_path, capsys):
    dest = tmp_path / "project"
    args = ["new", str(dest), "--template", str(REPO), "--vcs-ref", "HEAD", "--defaults"]
    for item in data:
        args += ["--data", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert field in lines[0]
    assert "Traceback" not in err
    assert not dest.exists()


def test_at_least_twenty_distinct_bad_answers():
    assert len({tuple(data) for _, data in BAD_ANSWERS}) >= 20
    assert len({field for field, _ in BAD_ANSWERS}) >= 15


def test_bad_answer_leaves_a_pre_existing_empty_directory_alone(tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    assert main(["new", str(dest), "--defaults", "--data", "serving=realtime"]) == 2
    assert dest.is_dir() and list(dest.iterdir()) == []
