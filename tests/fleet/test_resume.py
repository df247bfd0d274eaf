"""An interrupted `fleet update` is finished by running it again, with no duplicate branch or commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet_repos import branches, run_git

from generator.cli import main
from generator.fleet.update import TEST_HOOK_ENV

BRANCH = "template-update/v2.0.0"


def test_killed_run_is_resumed(make_project, tmp_path: Path):
    repos = [make_project(name) for name in ("a", "b", "c")]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--jobs", "1", "--report", str(report), *map(str, repos)]
    # The process dies (as with kill -9) in the middle of the second repository's update.
    env = {**os.environ, TEST_HOOK_ENV: "before-commit:2:exit"}
    killed = subprocess.run(
        [sys.executable, "-m", "generator", *command], env=env, capture_output=True, check=False
    )
    assert killed.returncode == 9
    assert branches(repos[0]) == ["main", BRANCH]
    first_tip = run_git(repos[0], "rev-parse", BRANCH).strip()
    for repo in repos[1:]:
        assert branches(repo) == ["main"]
    for repo in repos:
        assert run_git(repo, "status", "--porcelain") == ""
        assert run_git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"

    assert main(command) == 0

    results = json.loads(report.read_text())["repositories"]
    assert [r["outcome"] for r in results] == ["updated"] * 3
    assert [r["resumed"] for r in results] == [True, False, False]
    assert run_git(repos[0], "rev-parse", BRANCH).strip() == first_tip
    for repo in repos:
        assert branches(repo) == ["main", BRANCH]
        assert run_git(repo, "rev-list", "--count", f"main..{BRANCH}").strip() == "1"

    assert main(command) == 0  # and once more: nothing new
    assert run_git(repos[0], "rev-parse", BRANCH).strip() == first_tip


def test_ctrl_c_prints_the_summary_and_exits_130(make_project, tmp_path: Path, monkeypatch, capsys):
    repos = [make_project(name) for name in ("x", "y")]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--jobs", "1", "--report", str(report), *map(str, repos)]
    monkeypatch.setenv(TEST_HOOK_ENV, "before-commit:2:interrupt")

    assert main(command) == 130

    out = capsys.readouterr().out
    assert "1 updated, 1 error" in out
    results = json.loads(report.read_text())["repositories"]
    assert results[1]["outcome"] == "error" and "interrupted" in results[1]["error"]
    assert branches(repos[1]) == ["main"]
    assert run_git(repos[1], "status", "--porcelain") == ""

    monkeypatch.delenv(TEST_HOOK_ENV)
    assert main(command) == 0
    assert [r["outcome"] for r in json.loads(report.read_text())["repositories"]] == ["updated", "updated"]


def test_half_done_branch_is_cleaned_and_redone(make_project, tmp_path: Path):
    repo = make_project("stale")
    run_git(repo, "branch", BRANCH)  # a branch without the update commit

    assert main(["fleet", "update", "--jobs", "1", str(repo)]) == 0

    assert run_git(repo, "rev-list", "--count", f"main..{BRANCH}").strip() == "1"
    assert "_commit: v2.0.0" in run_git(repo, "show", f"{BRANCH}:.copier-answers.yml")


def test_killed_worker_processes_are_reported_and_the_rerun_finishes(
    make_project, tmp_path: Path, monkeypatch
):
    repos = [make_project(name) for name in ("k1", "k2", "k3")]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--jobs", "2", "--report", str(report), *map(str, repos)]
    monkeypatch.setenv(TEST_HOOK_ENV, "before-commit:1:exit")  # each worker dies on its first commit

    assert main(command) == 1

    results = json.loads(report.read_text())["repositories"]
    assert {r["outcome"] for r in results} == {"error"}
    assert all("worker" in r["error"] for r in results)
    for repo in repos:
        assert branches(repo) == ["main"]
        assert run_git(repo, "status", "--porcelain") == ""

    monkeypatch.delenv(TEST_HOOK_ENV)
    assert main(command) == 0
    assert [r["outcome"] for r in json.loads(report.read_text())["repositories"]] == ["updated"] * 3
