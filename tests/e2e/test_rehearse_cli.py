"""`mlops-forge rehearse` in a generated project: green when the workflows work, red naming the cause."""

from __future__ import annotations

import shutil
from pathlib import Path

from generator.cli import main


def test_outside_a_project_is_a_usage_error(tmp_path, capsys):
    assert main(["rehearse", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no .github/workflows" in err[0]


def test_an_unknown_workflow_is_named(default_project, capsys):
    assert main(["rehearse", "nightly.yml", "--project", str(default_project)]) == 2
    err = capsys.readouterr().err
    assert "no workflow nightly.yml" in err and "train.yml" in err


def test_rehearse_runs_a_workflow_and_shows_its_azure_operations(default_project, capsys):
    assert main(["rehearse", "train.yml", "--project", str(default_project), "--input", "reason=manual"]) == 0
    out = capsys.readouterr().out
    assert "train.yml (workflow_dispatch)" in out
    assert "azure: ok      az ml job create as id-ml-demo-dev-mlops (GitHub-hosted runner)" in out
    assert "Job succeeded" in out and "1 workflow(s) green" in out


def test_a_script_the_real_cli_would_reject_fails_the_rehearsal(default_project, tmp_path, capsys):
    project = tmp_path / "project"
    shutil.copytree(default_project, project)
    script = project / "scripts" / "train.sh"
    script.write_text(
        script.read_text().replace("--query name --output tsv)", "--query name --output tsv --wait)", 1)
    )
    assert main(["rehearse", "train.yml", "--project", str(project), "--input", "reason=manual"]) == 1
    err = capsys.readouterr().err
    assert "rehearse: train.yml failed" in err and "unrecognized arguments: --wait" in err


def test_keep_leaves_the_double_state_for_inspection(default_project, tmp_path, capsys):
    keep = tmp_path / "kept"
    assert main(["rehearse", "ci.yml", "--project", str(default_project), "--keep", str(keep)]) == 0
    assert (keep / "double" / "world.json").is_file()
    assert Path(keep / "repo" / ".github" / "workflows" / "ci.yml").is_file()
