"""`fleet update --rehearse`: each updated branch's workflows run offline (act, the Azure double)
before it is pushed; a branch whose rehearsal fails is kept here, not pushed, not proposed.

The template's one workflow is the cheapest that proves it (a check of the project's config,
well under a second under act), and two repositories are rehearsed in all: act is slow enough.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import copier
import pytest
from fleet_repos import (
    branches,
    commit_all,
    remote_branches,
    run_git,
    tagged_template,
    with_remote,
)

from generator.cli import main

BRANCH = "template-update/v2.0.0"

CI = """\
name: ci
on:
  pull_request:
permissions: {}
jobs:
  check:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - name: Check the configuration
        run: python check.py
"""
CHECK_V1 = """\
import yaml

config = yaml.safe_load(open("config.yaml"))
assert config["retries"] >= 1, "retries must be at least 1"
print("configuration ok")
"""
# v2 tightens the check: a project that raised its timeout past the new bound no longer passes.
CHECK_V2 = CHECK_V1.replace(
    'print("configuration ok")',
    'if config["timeout"] > 60:\n    raise SystemExit("timeout must be at most 60 s since v2")\nprint("configuration ok")',
)
V1 = {
    "copier.yml": "project_name:\n  type: str\n  help: Name\n  default: demo\n",
    "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
    ".github/workflows/ci.yml": CI,
    "check.py": CHECK_V1,
    "config.yaml": "retries: 2\ntimeout: 30\n",
    "README.md": "# project\n",
}
V2 = {**V1, "check.py": CHECK_V2, "README.md": "# project\n\nChecked by ci.yml.\n"}


@pytest.fixture(scope="session")
def ci_template(_git_identity: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tagged_template(tmp_path_factory.mktemp("ci-template") / "template", {"v1.0.0": V1, "v2.0.0": V2})


def project(template: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / "projects" / name
    copier.run_copy(str(template), dest, vcs_ref="v1.0.0", defaults=True, quiet=True)
    run_git(dest, "init", "--quiet", "-b", "main")
    commit_all(dest, "generated")
    return dest


def test_a_branch_that_fails_its_rehearsal_is_kept_and_not_proposed(
    ci_template: Path, tmp_path: Path, github
):
    green = project(ci_template, tmp_path, "green")
    red = project(ci_template, tmp_path, "red")
    config = red / "config.yaml"
    config.write_text(config.read_text().replace("timeout: 30", "timeout: 120"))
    red_main = commit_all(red, "our jobs need two minutes")
    remotes = {repo.name: with_remote(repo, tmp_path / "acme" / f"{repo.name}.git") for repo in (green, red)}
    report_file = tmp_path / "r.json"

    # Two workers: rehearsals run (and their reports travel back) in worker processes.
    code = main(
        [
            *("fleet", "update", "--jobs", "2", "--rehearse", "--push", "--pr", "--github-pace", "0"),
            *("--report", str(report_file), str(green), str(red)),
        ]
    )

    results = {Path(r["target"]).name: r for r in json.loads(report_file.read_text())["repositories"]}
    assert code == 1
    ok = results["green"]
    assert (ok["outcome"], ok["pushed"], ok["error"]) == ("updated", True, None)
    assert ok["rehearsal"]["ok"] and ok["rehearsal"]["workflows"] == ["ci.yml"]
    assert ok["pull_request"] and [p["head"] for p in github.pulls] == [BRANCH]
    assert BRANCH in remote_branches(remotes["green"])

    failed = results["red"]
    assert failed["outcome"] == "rehearsal-failed"
    assert (failed["branch"], failed["pushed"], failed["pull_request"]) == (BRANCH, False, None)
    rehearsal = failed["rehearsal"]
    assert (rehearsal["ok"], rehearsal["failed_workflow"]) == (False, "ci.yml")
    assert (rehearsal["job"], rehearsal["step"]) == ("check", "Check the configuration")
    assert rehearsal["cause"] == "timeout must be at most 60 s since v2"
    assert "timeout must be at most 60 s since v2" in failed["error"] and rehearsal["log"] in failed["error"]
    log = Path(rehearsal["log"])
    assert log.is_file() and "timeout must be at most 60 s since v2" in log.read_text()
    assert log.is_relative_to(red / ".git")  # out of the working tree, kept after the run
    # Nothing pushed or proposed; the branch is here to inspect, the project as it was.
    assert remote_branches(remotes["red"]) == ["main"]
    assert all(p["repo"] != "red" for p in github.pulls)
    assert BRANCH in branches(red)
    assert "timeout: 120" in run_git(red, "show", f"{BRANCH}:config.yaml")
    assert "since v2" in run_git(red, "show", f"{BRANCH}:check.py")
    assert run_git(red, "rev-parse", "main").strip() == red_main
    assert run_git(red, "status", "--porcelain") == ""

    # What a person does next: fix it on the branch, run the same command again. The fixed
    # branch is rehearsed, then pushed and proposed; the fix is kept, nothing is redone.
    run_git(red, "switch", "--quiet", BRANCH)
    config.write_text(config.read_text().replace("timeout: 120", "timeout: 60"))
    fixed = commit_all(red, "stay within v2's timeout bound")
    run_git(red, "switch", "--quiet", "main")
    rerun = tmp_path / "rerun.json"
    code = main(
        [
            *("fleet", "update", "--jobs", "1", "--rehearse", "--push", "--pr", "--github-pace", "0"),
            *("--report", str(rerun), str(red)),
        ]
    )
    [again] = json.loads(rerun.read_text())["repositories"]
    assert (code, again["outcome"], again["resumed"], again["pushed"]) == (0, "updated", True, True)
    assert again["rehearsal"]["ok"] and again["pull_request"]
    assert run_git(remotes["red"], "rev-parse", BRANCH).strip() == fixed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rehearse-workflow", "ci.yml"], "add --rehearse"),
        (["--rehearse", "--dry-run"], "--dry-run makes none"),
        (["--rehearse", "--rehearse-workflow", "../ci.yml"], "give a workflow file name"),
        (["https://github.com/acme/churn.git", "--rehearse", "--push"], "add --workdir DIR"),
        (["--rehearse", "--via", "actions", "--to", "v2.0.0"], "drop --rehearse"),
    ],
)
def test_rehearse_usage_errors_touch_nothing(make_project, flags, message, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test-token-0123456789")
    repo = make_project("untouched")
    targets = ["https://github.com/acme/churn"] if "actions" in flags else [str(repo)]
    assert main(["fleet", "update", *targets, *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert branches(repo) == ["main"]


def test_rehearse_without_act_is_a_usage_error_before_anything_is_touched(
    make_project, tmp_path: Path, capsys, monkeypatch
):
    repo = make_project("no-act")
    # No act beside this interpreter nor on PATH (git only): a machine without the extra.
    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    monkeypatch.setenv("PATH", str(only_git))

    assert main(["fleet", "update", "--rehearse", str(repo)]) == 2

    err = capsys.readouterr().err
    assert "act is not installed" in err and "[rehearse]" in err
    assert branches(repo) == ["main"]


def test_a_named_workflow_the_branch_lacks_fails_its_rehearsal(ci_template: Path, tmp_path: Path):
    repo = project(ci_template, tmp_path, "lacking")
    report = tmp_path / "r.json"

    code = main(
        [
            *("fleet", "update", "--jobs", "1", "--rehearse", "--rehearse-workflow", "train.yml"),
            *("--report", str(report), str(repo)),
        ]
    )

    [result] = json.loads(report.read_text())["repositories"]
    assert (code, result["outcome"], result["branch"]) == (1, "rehearsal-failed", BRANCH)
    assert result["rehearsal"]["failed_workflow"] == "train.yml"
    assert result["rehearsal"]["cause"] == "the updated branch has no workflow train.yml"
    assert "could not start" in Path(result["rehearsal"]["log"]).read_text()
    assert BRANCH in branches(repo)
