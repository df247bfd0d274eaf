"""An interrupted `fleet update` is finished by running it again, with no duplicate branch or commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet_repos import branches, run_git

from generator.cli import main

CRASH = "MLOPS_FORGE_TEST_CRASH"
CRASH_PATH = str(Path(__file__).parent / "crash")


def crash_env(spec: str) -> dict[str, str]:
    """Environment that makes a fleet process die (or be interrupted) after its n-th copier update."""
    path = os.pathsep.join(filter(None, [CRASH_PATH, os.environ.get("PYTHONPATH")]))
    return {CRASH: spec, "PYTHONPATH": path}


BRANCH = "template-update/v2.0.0"


def test_killed_run_is_resumed(make_project, tmp_path: Path):
    repos = [make_project(name) for name in ("a", "b", "c")]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--jobs", "1", "--report", str(report), *map(str, repos)]
    # The process dies (as with kill -9) in the middle of the second repository's update.
    env = {**os.environ, **crash_env("2:exit")}
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
    import copier

    repos = [make_project(name) for name in ("x", "y")]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--jobs", "1", "--report", str(report), *map(str, repos)]
    real, calls = copier.run_update, []

    def interrupted_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(copier, "run_update", interrupted_on_the_second)

    assert main(command) == 130

    out = capsys.readouterr().out
    assert "1 updated, 1 cancelled" in out
    results = json.loads(report.read_text())["repositories"]
    assert results[1]["outcome"] == "cancelled" and "run the same command again" in results[1]["error"]
    assert branches(repos[1]) == ["main"]
    assert run_git(repos[1], "status", "--porcelain") == ""

    monkeypatch.setattr(copier, "run_update", real)
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
    for key, value in crash_env("1:exit").items():  # each worker dies on its first update
        monkeypatch.setenv(key, value)

    assert main(command) == 1

    results = json.loads(report.read_text())["repositories"]
    assert {r["outcome"] for r in results} == {"error"}
    assert all("worker" in r["error"] for r in results)
    for repo in repos:
        assert branches(repo) == ["main"]
        assert run_git(repo, "status", "--porcelain") == ""

    monkeypatch.delenv(CRASH)
    assert main(command) == 0
    assert [r["outcome"] for r in json.loads(report.read_text())["repositories"]] == ["updated"] * 3
