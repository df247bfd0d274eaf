"""Pull requests and pushes against the GitHub API stand-in and bare remotes: the token stays on
its host, every fact survives a failed pull request, GitHub's limits are waited out, and an
update merged upstream is never proposed again."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fleet_repos import remote_branches, run_git, with_remote
from github_standin import SECONDARY_LIMIT, Fault

from generator.cli import main

BRANCH = "template-update/v2.0.0"
TOKEN = "ghp_test-token-0123456789"


def update(*args: str, report: Path) -> tuple[int, dict]:
    code = main(["fleet", "update", "--jobs", "1", "--report", str(report), *args])
    return code, json.loads(report.read_text())


def pr_command(repo: Path, *extra: str) -> list[str]:
    return ["--push", "--pr", "--github-pace", "0", *extra, str(repo)]


def test_same_host_redirect_is_followed_with_the_token(make_project, tmp_path: Path, github):
    repo = make_project("moved")
    with_remote(repo, tmp_path / "acme" / "moved.git")
    github.redirect = "same"

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["pull_request_error"]) == (0, "updated", None)
    followed = [r for r in github.requests if r["path"].startswith("/moved/")]
    assert followed and all(r["auth"] == f"Bearer {TOKEN}" for r in followed)
    assert len(github.pulls) == 1


def test_token_is_never_sent_to_another_host(make_project, tmp_path: Path, github, capsys):
    repo = make_project("elsewhere")
    with_remote(repo, tmp_path / "acme" / "elsewhere.git")
    github.redirect = "other"

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    assert github.other_host_requests, "the redirect was not followed at all"
    assert all(r["auth"] is None for r in github.other_host_requests)
    [result] = report["repositories"]
    # The branch is made and pushed; only the pull request failed, and the report says so.
    assert (code, result["outcome"], result["pushed"], result["branch"]) == (1, "updated", True, BRANCH)
    assert "401" in result["pull_request_error"]
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err + (tmp_path / "r.json").read_text()


def test_existing_pull_request_answered_422_is_found_and_updated(make_project, tmp_path: Path, github):
    repo = make_project("raced")
    with_remote(repo, tmp_path / "acme" / "raced.git")
    github.pulls.append(
        {
            "owner": "acme",
            "repo": "raced",
            "number": 1,
            "state": "open",
            "head": BRANCH,
            "base": "main",
            "title": "old",
            "html_url": "https://github.example/acme/raced/pull/1",
        }
    )
    github.faults.append(Fault("GET", 200, []))  # a listing that lags behind: the create gets 422

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["pull_request"]) == (0, "https://github.example/acme/raced/pull/1")
    assert [r["method"] for r in github.requests] == ["GET", "POST", "GET", "PATCH"]
    assert len(github.pulls) == 1 and github.pulls[0]["title"].startswith("Update template")


def test_update_merged_upstream_is_not_proposed_again_from_a_stale_clone(
    make_project, tmp_path: Path, github
):
    repo = make_project("merged")
    bare = with_remote(repo, tmp_path / "acme" / "merged.git")
    code, report = update(*pr_command(repo), report=tmp_path / "r.json")
    assert (code, len(github.pulls)) == (0, 1)
    github.merge(1, bare)
    assert remote_branches(bare) == ["main"]
    refs_before = run_git(bare, "for-each-ref")
    writes_before = len(github.calls("POST")) + len(github.calls("PATCH"))
    # The local clone's main is stale (not pulled), and its update branch was deleted upstream.
    run_git(repo, "branch", "-D", BRANCH)

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"]) == (0, "skipped-current")
    assert "pull" in result["error"]
    assert len(github.calls("POST")) + len(github.calls("PATCH")) == writes_before
    assert len(github.pulls) == 1
    assert run_git(bare, "for-each-ref") == refs_before  # nothing pushed


def test_server_errors_and_rate_limits_are_waited_out(make_project, tmp_path: Path, github):
    repo = make_project("limited")
    with_remote(repo, tmp_path / "acme" / "limited.git")
    github.faults += [
        Fault("POST", 500, {"message": "Server Error"}),
        Fault("POST", 403, {"message": SECONDARY_LIMIT}, {"Retry-After": "0"}),
        Fault(
            "POST",
            403,
            {"message": "API rate limit exceeded"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()))},
        ),
    ]

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["pull_request_error"]) == (0, "updated", None)
    assert len(github.calls("POST")) == 4 and len(github.pulls) == 1


def test_rate_limit_beyond_the_cap_fails_the_pull_request_at_once_and_a_rerun_opens_it(
    make_project, tmp_path: Path, github
):
    repo = make_project("capped")
    with_remote(repo, tmp_path / "acme" / "capped.git")
    reset = str(int(time.time()) + 3600)
    github.faults.append(
        Fault(
            "POST",
            403,
            {"message": "API rate limit exceeded"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )
    )

    started = time.monotonic()
    code, report = update(*pr_command(repo, "--github-max-wait", "5"), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert time.monotonic() - started < 60
    assert (code, result["outcome"], result["pushed"]) == (1, "updated", True)
    assert (
        "rate limit" in result["pull_request_error"] and "--github-max-wait" in result["pull_request_error"]
    )

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")  # finishes what is missing

    [result] = report["repositories"]
    assert (code, result["resumed"], result["pull_request_error"]) == (0, True, None)
    assert result["pull_request"] and len(github.pulls) == 1


def test_content_creating_requests_are_paced(make_project, tmp_path: Path, github):
    repos = [make_project(f"paced{i}") for i in range(2)]
    for repo in repos:
        with_remote(repo, tmp_path / "acme" / f"{repo.name}.git")

    code = main(["fleet", "update", "--jobs", "2", "--push", "--pr", "--github-pace", "1", *map(str, repos)])

    assert code == 0
    first, second = sorted(r["at"] for r in github.calls("POST"))
    assert second - first >= 0.95


def test_pull_request_goes_to_the_configured_repository_behind_a_mirror(make_project, tmp_path: Path, github):
    repo = make_project("mirrored")
    mirror = tmp_path / "mirrors"
    bare = with_remote(repo, mirror / "acme-real.git")
    run_git(repo, "remote", "set-url", "origin", "https://github.com/acme/real.git")
    run_git(repo, "config", f"url.{mirror}/acme-.insteadOf", "https://github.com/acme/")

    code, report = update(*pr_command(repo), report=tmp_path / "r.json")

    assert code == 0, report
    assert remote_branches(bare) == ["main", BRANCH]  # pushed through the mirror
    assert {r["path"].split("?")[0] for r in github.requests} == {"/repos/acme/real/pulls"}


def test_password_in_a_target_url_is_never_printed(tmp_path: Path, capsys):
    url = "https://deploy:s3cr3t-pw@127.0.0.1:1/acme/widgets.git"
    report = tmp_path / "r.json"

    code = main(["fleet", "update", "--jobs", "1", "--push", "--timeout", "10", "--report", str(report), url])

    assert code == 1
    captured = capsys.readouterr()
    written = report.read_text()
    assert "s3cr3t-pw" not in captured.out + captured.err + written
    assert (
        json.loads(written)["repositories"][0]["target"] == "https://deploy:***@127.0.0.1:1/acme/widgets.git"
    )


def test_a_silent_remote_times_out(make_project, tmp_path: Path, silent_remote: str):
    repo = make_project("silent")
    run_git(repo, "remote", "add", "origin", silent_remote)
    report = tmp_path / "r.json"

    started = time.monotonic()
    code = main(
        ["fleet", "update", "--jobs", "1", "--push", "--timeout", "2", "--report", str(report), str(repo)]
    )

    assert code == 1 and time.monotonic() - started < 30
    [result] = json.loads(report.read_text())["repositories"]
    assert result["outcome"] == "error" and "timed out" in result["error"]


def test_pull_request_body_puts_release_notes_first():
    from generator.fleet.github import pull_request_body
    from generator.fleet.results import FileChanges

    body = pull_request_body(
        "gh:acme/t", "v1", "v2", FileChanges(added=("a",)), (), release_notes="## v2\n- new"
    )

    assert body.startswith("## v2\n- new")
    assert body.index("- new") < body.index("**Added**")
    assert not pull_request_body("gh:acme/t", "v1", "v2", FileChanges(), ()).startswith("\n")


def test_failed_push_keeps_the_branch_and_says_so(make_project, tmp_path: Path):
    repo = make_project("refused")
    bare = with_remote(repo, tmp_path / "remotes" / "refused.git")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: pushes refused' >&2\nexit 1\n")
    hook.chmod(0o755)

    code, report = update("--push", str(repo), report=tmp_path / "r.json")

    [result] = report["repositories"]
    assert (code, result["outcome"], result["branch"], result["pushed"]) == (1, "updated", BRANCH, False)
    assert "push failed" in result["error"]
    assert BRANCH in run_git(repo, "branch")

    hook.unlink()
    code, report = update("--push", str(repo), report=tmp_path / "r.json")  # finishes what is missing

    [result] = report["repositories"]
    assert (code, result["resumed"], result["pushed"], result["error"]) == (0, True, True, None)
    assert remote_branches(bare) == ["main", BRANCH]
