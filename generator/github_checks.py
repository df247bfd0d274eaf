"""Read-only GitHub checks `bootstrap` and `doctor` run before anything is created.

The token is `GITHUB_TOKEN`, else `gh auth token` (after `gh auth login`); the API is
`GITHUB_API_URL` (GitHub Enterprise, or a stand-in in tests), else https://api.github.com.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

from generator.project_facts import ProjectFacts, Sourced

API_URL = "https://api.github.com"
# Classic token scopes that let the Pulumi GitHub provider manage environments and variables.
REQUIRED_SCOPES = {"repo"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: object
    headers: dict[str, str]


class GitHubClient:
    def __init__(self, token: str, api_url: str | None = None) -> None:
        self.token = token
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or API_URL).rstrip("/")

    def get(self, path: str) -> Answer:
        request = urllib.request.Request(self.api_url + path)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", "mlops-forge")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(response.status, json.loads(response.read() or b"null"), dict(response.headers))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, None, dict(exc.headers or {}))


def github_token() -> str | None:
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if token:
        return token
    if shutil.which("gh"):
        result = subprocess.run(["gh", "auth", "token"], capture_output=True, text=True, timeout=30)
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    return None


def input_errors(client: GitHubClient, facts: ProjectFacts) -> list[str]:
    """Values in the project's config that name nothing on GitHub: one line each, with its source.

    The owner is checked before the repository and the repository before the reviewers, so one
    typo gives one message rather than a cascade.
    """
    repo = facts.repository
    owner = client.get(f"/users/{facts.owner}")
    if owner.status == 404:
        return [f"GitHub owner {facts.owner!r} does not exist ({repo.source}: {repo.value})"]
    answer = client.get(f"/repos/{repo.value}")
    if answer.status == 404:
        return [
            f"GitHub repository {repo.value!r} does not exist or the token cannot see it ({repo.source}); "
            f"create it with: gh repo create {repo.value} --private"
        ]
    errors = []
    for reviewer in facts.reviewers:
        errors += _reviewer_error(client, facts, reviewer)
    return errors


def _reviewer_error(client: GitHubClient, facts: ProjectFacts, reviewer: Sourced) -> list[str]:
    if "/" in reviewer.value:
        org, slug = reviewer.value.split("/", 1)
        if client.get(f"/orgs/{org}/teams/{slug}").status == 404:
            return [
                f"reviewer team {reviewer.value!r} does not exist ({reviewer.source}); create it with: "
                f"gh api orgs/{org}/teams -f name={slug} -f privacy=closed, and give it access to "
                f"{facts.repository.value}"
            ]
        return []
    if client.get(f"/users/{reviewer.value}").status == 404:
        return [f"reviewer {reviewer.value!r} is not a GitHub user ({reviewer.source})"]
    return []


def token_findings(client: GitHubClient, facts: ProjectFacts) -> list[str]:
    """What the token lacks to manage the repository's environments and variables."""
    user = client.get("/user")
    if user.status == 401:
        return ["the GitHub token is not valid: run `gh auth login` (or set GITHUB_TOKEN)"]
    findings = []
    scopes_header = {k.lower(): v for k, v in user.headers.items()}.get("x-oauth-scopes")
    if scopes_header is not None:  # classic tokens say their scopes; fine-grained ones do not
        scopes = {s.strip() for s in scopes_header.split(",") if s.strip()}
        missing = REQUIRED_SCOPES - scopes
        if missing:
            findings.append(
                f"the GitHub token lacks scope(s) {', '.join(sorted(missing))}: "
                f"run `gh auth refresh --scopes {','.join(sorted(REQUIRED_SCOPES | {'read:org'}))}`"
            )
    repo = client.get(f"/repos/{facts.repository.value}")
    permissions = (repo.body or {}).get("permissions", {}) if isinstance(repo.body, dict) else {}
    if repo.status == 200 and not permissions.get("admin"):
        findings.append(
            f"the GitHub token has no admin rights on {facts.repository.value} (needed to create "
            "environments and protection rules): ask an owner to run `pulumi up`, or to grant you "
            f"admin: gh api -X PUT repos/{facts.repository.value}/collaborators/<you> -f permission=admin"
        )
    return findings
