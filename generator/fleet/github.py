"""Pull requests for update branches through the GitHub REST API (standard library only).

One pull request per branch: an open one for the same head is updated (PATCH), not duplicated.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from generator.fleet.results import FileChanges

DEFAULT_API_URL = "https://api.github.com"
_MAX_LISTED = 50


class GitHubError(Exception):
    """The API refused or could not be reached; the message says which call and why."""


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)


def repository_of(remote_url: str) -> tuple[str, str]:
    """`(owner, name)` from a remote URL: the last two path parts, `.git` dropped.

    Covers https://host/owner/name.git, git@host:owner/name.git and ssh://git@host/owner/name.
    """
    path = re.sub(r"^[\w.-]+@[\w.-]+:", "", remote_url) if "://" not in remote_url else remote_url
    if "://" in path:
        path = urllib.parse.urlsplit(path).path
    parts = [part for part in path.removesuffix("/").removesuffix(".git").split("/") if part]
    if len(parts) < 2:
        raise GitHubError(f"cannot tell owner/repository from remote URL {remote_url!r}")
    return parts[-2], parts[-1]


def _listing(title: str, paths: tuple[str, ...]) -> list[str]:
    if not paths:
        return []
    lines = [f"**{title}** ({len(paths)})", ""]
    lines += [f"- `{path}`" for path in paths[:_MAX_LISTED]]
    if len(paths) > _MAX_LISTED:
        lines.append(f"- … and {len(paths) - _MAX_LISTED} more")
    return [*lines, ""]


def pull_request_body(
    template: str, old: str, new: str, changes: FileChanges, conflicts: tuple[str, ...]
) -> str:
    lines = [f"Updates the project template **{old} → {new}** (`{template}`).", ""]
    if conflicts:
        lines += [
            "⚠️ The update conflicts with changes made in this project. The files below hold "
            "`<<<<<<< before updating` … `>>>>>>> after updating` markers: resolve them on this "
            "branch before merging.",
            "",
        ]
        lines += _listing("Conflicts", conflicts)
    lines += _listing("Changed", changes.modified)
    lines += _listing("Added", changes.added)
    lines += _listing("Removed", changes.removed)
    lines.append("Opened by `mlops-forge fleet update`.")
    return "\n".join(lines)


def _call(settings: GitHubSettings, method: str, path: str, payload: dict | None = None) -> object:
    url = settings.api_url.rstrip("/") + path
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    request.add_header("Authorization", f"Bearer {settings.token}")
    request.add_header("User-Agent", "mlops-forge-fleet")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        raise GitHubError(f"GitHub API {method} {path}: HTTP {exc.code} {detail}".strip()) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise GitHubError(f"GitHub API {method} {path}: {exc}") from exc


def upsert_pull_request(
    settings: GitHubSettings, remote_url: str, head: str, base: str, title: str, body: str
) -> str:
    """Open a pull request from `head` into `base`, or update the open one; returns its URL."""
    owner, name = repository_of(remote_url)
    pulls = f"/repos/{owner}/{name}/pulls"
    query = urllib.parse.urlencode({"head": f"{owner}:{head}", "state": "open"})
    existing = _call(settings, "GET", f"{pulls}?{query}")
    if isinstance(existing, list) and existing:
        number = existing[0]["number"]
        pull = _call(settings, "PATCH", f"{pulls}/{number}", {"title": title, "body": body})
    else:
        pull = _call(settings, "POST", pulls, {"title": title, "head": head, "base": base, "body": body})
    if not isinstance(pull, dict):
        raise GitHubError(f"GitHub API {pulls}: unexpected answer {pull!r:.100}")
    return str(pull.get("html_url") or pull.get("url") or "")
