"""Small pure pieces: target kinds, owner/repo from remote URLs, credentials for pushes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fleet_repos import run_git

from generator.fleet.git import token_env
from generator.fleet.github import GitHubError, repository_of
from generator.fleet.targets import Target


@pytest.mark.parametrize(
    ("spec", "is_url"),
    [
        ("https://github.com/acme/widgets.git", True),
        ("git@github.com:acme/widgets.git", True),
        ("ssh://git@host/acme/widgets", True),
        ("file:///srv/git/widgets.git", True),
        ("../widgets", False),
        ("/srv/projects/widgets", False),
        (".", False),
    ],
)
def test_target_kind(spec: str, is_url: bool):
    assert Target(spec).is_url is is_url


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/widgets.git",
        "https://x-access-token:t@github.com/acme/widgets",
        "git@github.com:acme/widgets.git",
        "ssh://git@ghe.example.com/acme/widgets.git",
        "/srv/remotes/acme/widgets.git",
    ],
)
def test_repository_of_remote_urls(url: str):
    assert repository_of(url) == ("acme", "widgets")


def test_repository_of_a_url_without_owner():
    with pytest.raises(GitHubError):
        repository_of("/widgets.git")


def test_token_is_sent_only_to_its_own_https_host(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "--quiet")
    env = token_env(repo, "https://github.com/acme/widgets.git", "s3cret", ["github.com"])
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    expected = base64.b64encode(b"x-access-token:s3cret").decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: basic {expected}"
    assert token_env(repo, "https://gitlab.com/acme/widgets.git", "s3cret", ["github.com"]) == {}
    assert token_env(repo, "/srv/remotes/widgets.git", "s3cret", ["github.com"]) == {}
    assert token_env(repo, "https://github.com/acme/widgets.git", "", ["github.com"]) == {}
    run_git(repo, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic xyz")
    assert token_env(repo, "https://github.com/acme/widgets.git", "s3cret", ["github.com"]) == {}


def test_only_public_copier_api_is_used():
    """`copier._…` modules are copier's internals: a minor release may change them silently."""
    import re

    package = Path(__file__).parents[2] / "generator"
    private = [
        f"{path.relative_to(package)}: {line.strip()}"
        for path in package.rglob("*.py")
        for line in path.read_text().splitlines()
        if re.search(r"\bcopier\._|from copier\._|import copier\._", line)
    ]
    assert private == []


def test_multi_line_messages_never_break_the_summary_tables():
    from generator.fleet.report import status_table, update_summary
    from generator.fleet.results import Outcome, State, StatusResult, UpdateResult

    message = "fatal: first line\n  hint: second line\r\nthird"
    updates = [
        UpdateResult("a", Outcome.ERROR, error=message),
        UpdateResult("b", Outcome.UPDATED, pull_request_error=message),
    ]
    table = update_summary(updates, dry_run=False, elapsed=1.0).splitlines()
    assert len(table) == 2 + 2 + 2  # header, rule, two rows, blank, counts
    statuses = status_table([StatusResult("c", State.ERROR, error=message)]).splitlines()
    assert len(statuses) == 2 + 1 + 2
