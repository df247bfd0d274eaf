"""Pushing update branches, git URL targets, unreachable remotes, and pull requests against a
local stand-in for the GitHub REST API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fleet_repos import commit_all, run_git

from generator.cli import main

BRANCH = "template-update/v2.0.0"


def with_remote(repo: Path, bare: Path) -> Path:
    bare.parent.mkdir(parents=True, exist_ok=True)
    run_git(repo.parent, "clone", "--quiet", "--bare", str(repo), str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "remote", "set-head", "origin", "main")
    return bare


def remote_branches(bare: Path) -> list[str]:
    return run_git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


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


class FakeGitHub(BaseHTTPRequestHandler):
    """Just enough of the pulls API: list open pulls by head, create, update."""

    requests: list[dict]
    pulls: list[dict]

    def _answer(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        entry = {
            "method": self.command,
            "path": self.path,
            "auth": self.headers.get("Authorization"),
            "json": json.loads(self.rfile.read(length)) if length else None,
        }
        self.requests.append(entry)
        return entry

    def do_GET(self) -> None:
        self._record()
        self._answer(200, [p for p in self.pulls if p["state"] == "open"])

    def do_POST(self) -> None:
        entry = self._record()
        pull = {"number": 7, "state": "open", "html_url": "http://example.invalid/pull/7", **entry["json"]}
        self.pulls.append(pull)
        self._answer(201, pull)

    def do_PATCH(self) -> None:
        entry = self._record()
        self.pulls[0].update(entry["json"])
        self._answer(200, self.pulls[0])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeGitHub]]:
    handler = type("Handler", (FakeGitHub,), {"requests": [], "pulls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{server.server_port}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


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
    assert get["auth"] == "Bearer test-token"
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
    assert report["repositories"][0]["pull_request"] == "http://example.invalid/pull/7"

    assert main(command) == 1

    assert [r["method"] for r in github.requests] == ["GET", "POST", "GET", "PATCH"]
    assert github.requests[-1]["path"] == "/repos/acme/widgets/pulls/7"
    assert len(github.pulls) == 1


def test_pull_request_failure_is_an_error_not_a_crash(make_project, tmp_path: Path, monkeypatch):
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
    assert result["outcome"] == "error" and "GitHub API" in result["error"]
