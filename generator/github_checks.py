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
from stacks.github_plans import API_PLAN_NAMES, PLANS, VISIBILITIES, Capabilities, capabilities

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


def reviewer_ids(client: GitHubClient, facts: ProjectFacts) -> dict[str, int]:
    """GitHub's numeric ID of every reviewer (environments name reviewers by ID)."""
    ids = {}
    for reviewer in facts.reviewers:
        if "/" in reviewer.value:
            org, slug = reviewer.value.split("/", 1)
            answer = client.get(f"/orgs/{org}/teams/{slug}")
        else:
            answer = client.get(f"/users/{reviewer.value}")
        if answer.status == 200 and isinstance(answer.body, dict) and isinstance(answer.body.get("id"), int):
            ids[reviewer.value] = answer.body["id"]
    return ids


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


@dataclass(frozen=True)
class PlanReport:
    """The repository's visibility and owner's plan as GitHub says (or the config, where unreadable)."""

    visibility: str
    plan: str
    plan_source: str  # "GitHub" or the config key it fell back to
    capabilities: Capabilities
    errors: tuple[str, ...]  # the config asks for what the repository cannot have
    notes: tuple[str, ...]  # the repository could have more than the config asks for

    def summary(self) -> str:
        guard = {
            "reviewers": "environment reviewers",
            "ruleset": "a ruleset on the default branch + CODEOWNERS",
            "none": "nothing on GitHub",
        }[self.capabilities.prod_guard]
        return (
            f"{self.visibility} repository on GitHub {self.plan} ({self.plan_source}): "
            f"{self.capabilities.describe()}; prod is guarded by {guard}"
        )


def _owner_plan(client: GitHubClient, owner: str) -> str | None:
    """The owner's plan, where the token may read it (an organization's: its owners only)."""
    org = client.get(f"/orgs/{owner}")
    if org.status == 200 and isinstance(org.body, dict):
        name = (org.body.get("plan") or {}).get("name")
    else:  # a user account: only the user's own token sees the plan
        me = client.get("/user")
        body = me.body if isinstance(me.body, dict) else {}
        name = (
            (body.get("plan") or {}).get("name") if body.get("login", "").lower() == owner.lower() else None
        )
    return API_PLAN_NAMES.get(str(name).lower()) if name else None


def plan_report(client: GitHubClient, facts: ProjectFacts) -> PlanReport:
    configured_visibility, configured_plan = facts.visibility.value, facts.plan.value
    if configured_visibility not in VISIBILITIES or configured_plan not in PLANS:
        return PlanReport(
            configured_visibility,
            configured_plan,
            "config",
            capabilities("private", "free"),
            (f"{facts.visibility.source} / {facts.plan.source}: unknown visibility or plan",),
            (),
        )
    repo = client.get(f"/repos/{facts.repository.value}")
    visibility = (repo.body or {}).get("visibility") if isinstance(repo.body, dict) else None
    visibility = visibility if visibility in VISIBILITIES else configured_visibility
    plan = _owner_plan(client, facts.owner)
    source = "GitHub"
    notes = []
    if plan is None:
        plan, source = configured_plan, facts.plan.source
        notes.append(
            f"GitHub shows {facts.owner}'s plan only to its owners: taking {plan} from {facts.plan.source}"
        )
    actual = capabilities(visibility, plan)
    configured = capabilities(configured_visibility, configured_plan)
    errors = []
    for feature, label in (
        ("environments", "environments"),
        ("branch_policies", "deployment branch restrictions"),
        ("reviewers", "required reviewers"),
        ("rulesets", "rulesets"),
    ):
        if getattr(configured, feature) and not getattr(actual, feature):
            errors.append(
                f"{facts.plan.source} and forge:githubVisibility say a {configured_visibility} repository on "
                f"{configured_plan}, but {facts.repository.value} is {visibility} on {plan}, which has no "
                f"{label}: set github_plan={plan} and github_visibility={visibility} (copier update) before "
                "`pulumi up`, or GitHub refuses it half-way"
            )
            break
    if not errors and actual.prod_guard != configured.prod_guard:
        notes.append(
            f"{facts.repository.value} could be guarded by {actual.prod_guard} (it is {visibility} on {plan}): "
            f"set github_plan={plan} and github_visibility={visibility}"
        )
    return PlanReport(visibility, plan, source, actual, tuple(errors), tuple(notes))


def unguarded_prod_error(report: PlanReport, facts: ProjectFacts) -> str | None:
    if report.capabilities.prod_guard != "none" or not facts.strict_environments:
        return None
    return (
        f"{facts.repository.value} is a {report.visibility} repository on GitHub {report.plan}: nothing on "
        f"GitHub can make a second person approve {', '.join(facts.strict_environments)} (no environments, "
        "no rulesets, no branch protection). Make it public or move to Pro/Team/Enterprise"
    )
