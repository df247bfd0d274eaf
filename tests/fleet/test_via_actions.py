"""`fleet update --via actions`: each repository's own template-update.yml run does the update.

The GitHub stand-in runs the generated workflow's update step for real (a checkout of the
repository, the step's own script and environment) and enforces a secondary rate limit on
dispatches; the fleet dispatches, follows the runs and reports like the local mode.
"""

from __future__ import annotations

import json
from pathlib import Path

from fleet_repos import remote_branches, with_remote
from github_standin import run_workflow_update_step

from generator.cli import main

BRANCH = "template-update/v2.0.0"


def test_dispatch_follow_report_and_resume_without_dispatching_twice(make_project, tmp_path: Path, github):
    bares = {}
    for name in ("d0", "d1", "d2"):
        repo = make_project(name)
        bares[name] = with_remote(repo, tmp_path / "acme" / f"{name}.git")
        github.repos[("acme", name)] = bares[name]
    github.run_step = run_workflow_update_step
    github.dispatch_limit = (2, 3.0)  # the third dispatch within 3 s is refused: secondary limit
    targets = [f"https://github.com/acme/{name}" for name in bares]
    report = tmp_path / "r.json"
    command = ["fleet", "update", "--via", "actions", "--to", "v2.0.0", "--poll", "0.3", "--github-pace", "0"]

    code = main([*command, "--report", str(report), *targets])

    results = json.loads(report.read_text())["repositories"]
    assert code == 0, results
    assert [r["outcome"] for r in results] == ["updated"] * 3
    assert all(r["branch"] == BRANCH and r["pushed"] and r["pull_request"] for r in results)
    assert github.rate_limited >= 1  # the limit was hit, and waited out
    dispatched = [r["path"] for r in github.calls("POST") if r["path"].endswith("/dispatches")]
    accepted = [run["repo"] for run in github.runs]
    assert sorted(accepted) == [("acme", "d0"), ("acme", "d1"), ("acme", "d2")]  # once each
    assert len(dispatched) == 3 + github.rate_limited
    for bare in bares.values():
        assert remote_branches(bare) == ["main", BRANCH]
    assert len(github.pulls) == 3

    # Run again: every run for v2.0.0 is found (done), none is dispatched again.
    assert main([*command, "--report", str(report), *targets]) == 0
    assert len(github.runs) == 3
    assert [r["outcome"] for r in json.loads(report.read_text())["repositories"]] == ["updated"] * 3


def test_via_actions_refuses_local_flags_and_paths(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    url = "https://github.com/acme/x"
    assert main(["fleet", "update", "--via", "actions", url]) == 2
    assert "--to" in capsys.readouterr().err
    assert main(["fleet", "update", "--via", "actions", "--to", "v2", "--push", url]) == 2
    assert "--push" in capsys.readouterr().err
    assert main(["fleet", "update", "--via", "actions", "--to", "v2", str(tmp_path)]) == 2
    assert "URLs" in capsys.readouterr().err
