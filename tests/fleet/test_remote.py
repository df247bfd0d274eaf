"""Pushing update branches, git URL targets, unreachable remotes, and pull requests against a
local stand-in for the GitHub REST API."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_repos import commit_all, remote_branches, run_git, with_remote

from generator.cli import main

BRANCH = "template-update/v2.0.0"


def test_push_to_a_bare_remote_and_again_without_duplicates(make_project, tmp_path: Path):
    repo = make_project("pushed")
    bare = with_remote(repo, tmp_path / "remotes" / "pushed.git")
    report = tmp_path / "r.json"

    assert main(["fleet", "update", "--jobs", "1", "--push", "--report", str(report), str(repo)]) == 0

    assert remote_branches(bare) == ["main", BRANCH]
    tip = run_git(bare, "rev-parse", BRANCH).strip()
    assert tip == run_git(repo, "rev-parse", BRANCH).strip()
    assert json.loads(report.read_text())["repositories"][0]["pushed"] is True

    # A fresh checkout (as CI has on every scheduled run) finds the pushed branch and reuses it.
    fresh = tmp_path / "fresh"
    run_git(tmp_path, "clone", "--quiet", str(bare), str(fresh))
    assert main(["fleet", "update", "--jobs", "1", "--push", "--report", str(report), str(fresh)]) == 0
    assert json.loads(report.read_text())["repositories"][0]["resumed"] is True
    assert run_git(bare, "rev-parse", BRANCH).strip() == tip


def test_url_target_is_cloned_updated_and_pushed(make_project, tmp_path: Path):
    repo = make_project("by-url")
    bare = with_remote(repo, tmp_path / "remotes" / "by-url.git")
    report = tmp_path / "r.json"
    url = f"file://{bare}"

    code = main(["fleet", "update", "--jobs", "1", "--push", "--report", str(report), url])

    assert code == 0
    [result] = json.loads(report.read_text())["repositories"]
    assert (result["target"], result["outcome"]) == (url, "updated")
    assert remote_branches(bare) == ["main", BRANCH]
    assert "_commit: v2.0.0" in run_git(bare, "show", f"{BRANCH}:.copier-answers.yml")


def test_unreachable_remotes_are_errors(make_project, tmp_path: Path):
    repo = make_project("lost")
    run_git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    report = tmp_path / "r.json"
    missing_url = f"file://{tmp_path}/nowhere.git"

    code = main(["fleet", "update", "--jobs", "1", "--push", "--report", str(report), str(repo), missing_url])

    assert code == 1
    results = json.loads(report.read_text())["repositories"]
    assert [r["outcome"] for r in results] == ["error", "error"]
    assert "gone.git" in results[0]["error"] or "remote" in results[0]["error"]
    assert "nowhere.git" in results[1]["error"]
    assert run_git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split() == ["main"]


def test_pull_request_is_opened_then_updated_not_duplicated(make_project, tmp_path: Path, github):
    repo = make_project("widgets")
    config = repo / "config.yaml"
    config.write_text(config.read_text().replace("retries: 2", "retries: 9"))
    commit_all(repo, "tune retries")
    with_remote(repo, tmp_path / "acme" / "widgets.git")
    command = [
        "fleet",
        "update",
        "--jobs",
        "1",
        "--push",
        "--pr",
        "--report",
        str(tmp_path / "r.json"),
        str(repo),
    ]

    assert main(command) == 1  # conflicted

    get, post = github.requests
    assert get["method"] == "GET"
    assert get["path"] == f"/repos/acme/widgets/pulls?head=acme%3A{BRANCH.replace('/', '%2F')}&state=open"
    assert get["auth"] == "Bearer ghp_test-token-0123456789"
    assert post["method"] == "POST" and post["path"] == "/repos/acme/widgets/pulls"
    payload = post["json"]
    assert (payload["head"], payload["base"]) == (BRANCH, "main")
    assert "v1.0.0" in payload["title"] and "v2.0.0" in payload["title"]
    body = payload["body"]
    assert "v1.0.0 → v2.0.0" in body
    assert "`config.yaml`" in body.split("**Conflicts**")[1]
    assert "`added.txt`" in body.split("**Added**")[1]
    assert "`obsolete.txt`" in body.split("**Removed**")[1]
    assert "`src/app.py`" in body.split("**Changed**")[1]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["repositories"][0]["pull_request"] == "https://github.example/acme/widgets/pull/1"

    assert main(command) == 1

    assert [r["method"] for r in github.requests] == ["GET", "POST", "GET", "PATCH"]
    assert github.requests[-1]["path"] == "/repos/acme/widgets/pulls/1"
    assert len(github.pulls) == 1


def test_pull_request_failure_keeps_every_fact_of_the_pushed_branch(
    make_project, tmp_path: Path, monkeypatch
):
    repo = make_project("nogithub")
    with_remote(repo, tmp_path / "acme" / "nogithub.git")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    report = tmp_path / "r.json"
    api = "http://127.0.0.1:9"  # discard port: nothing listens

    code = main(
        [
            "fleet",
            "update",
            "--jobs",
            "1",
            "--push",
            "--pr",
            "--github-api-url",
            api,
            "--report",
            str(report),
            str(repo),
        ]
    )

    assert code == 1
    [result] = json.loads(report.read_text())["repositories"]
    # The branch was made and pushed: that is still true when the pull request could not be opened.
    assert (result["outcome"], result["branch"], result["pushed"]) == ("updated", BRANCH, True)
    assert result["pull_request"] is None
    assert "GitHub API" in result["pull_request_error"]


CHANGELOG_V2 = """# Changelog

## [2.0.0] - 2026-11-25

### Upgrade notes

- Rename `timeout` to `timeout_seconds` in config.yaml by hand.

### Changed

- Retries default to 5.

## [1.0.0] - 2026-11-01

### Upgrade notes

- None: first release.
"""


def test_pull_request_body_carries_the_changelog_between_the_versions(tmp_path: Path, github):
    import copier
    from fleet_repos import V1, V2, write_tree

    template = tmp_path / "noted-template"
    template.mkdir()
    run_git(template, "init", "--quiet", "-b", "main")
    # The project is rendered from a subdirectory, so the changelog stays the template's own.
    subdirectory = {"copier.yml": V1["copier.yml"] + "_subdirectory: project\n"}
    write_tree(template, {**subdirectory, **{f"project/{k}": v for k, v in V1.items() if k != "copier.yml"}})
    commit_all(template, "v1")
    run_git(template, "tag", "v1.0.0")
    write_tree(template, {f"project/{k}": v for k, v in V2.items() if k != "copier.yml"})
    write_tree(template, {"CHANGELOG.md": CHANGELOG_V2})
    commit_all(template, "v2")
    run_git(template, "tag", "v2.0.0")
    repo = tmp_path / "projects" / "noted"
    copier.run_copy(str(template), repo, vcs_ref="v1.0.0", defaults=True, quiet=True)
    run_git(repo, "init", "--quiet", "-b", "main")
    commit_all(repo, "generated")
    with_remote(repo, tmp_path / "acme" / "noted.git")

    assert main(["fleet", "update", "--jobs", "1", "--push", "--pr", str(repo)]) == 0

    body = github.requests[-1]["json"]["body"]
    assert body.index("timeout_seconds") < body.index("v1.0.0 → v2.0.0")
    assert "Retries default to 5." in body
    assert "first release" not in body  # 1.0.0 is where the project already is
