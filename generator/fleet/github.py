"""Pull requests for update branches through the GitHub REST API (standard library only).

One pull request per branch: an open one for the same head is updated (PATCH), not duplicated,
also when GitHub answers a create with 422 "A pull request already exists".

The token goes to the configured API host only: redirects are followed by hand, and one to
another host is followed without the `Authorization` header. Every request has a timeout; 5xx
answers and GitHub's primary and secondary rate limits are retried after the wait GitHub asks
for (`Retry-After`, `X-RateLimit-Reset`), within a total the user caps (`max_wait`).
Content-creating requests are paced across all worker processes (`pace`, one per second by
default, as GitHub's "best practices for using the REST API" ask).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from generator.fleet.results import FileChanges

DEFAULT_API_URL = "https://api.github.com"
_MAX_LISTED = 50
_MAX_REDIRECTS = 5
_WRITES = {"POST", "PATCH", "PUT", "DELETE"}
# GitHub: "wait at least one minute" before retrying a secondary rate limit without Retry-After.
_SECONDARY_WAIT = 60.0


class GitHubError(Exception):
    """The API refused or could not be reached; the message says which call and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)
    timeout: float = 30.0  # seconds per request
    max_wait: float = 900.0  # seconds one call may spend waiting on rate limits and retries
    pace: float = 1.0  # seconds between content-creating requests, across the whole run
    pace_file: Path | None = None  # shared by the run's processes; None paces this process only


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
    template: str,
    old: str,
    new: str,
    changes: FileChanges,
    conflicts: tuple[str, ...],
    release_notes: str | None = None,
) -> str:
    """The pull request's description; `release_notes` (the changelog between the versions)
    comes first, because it is what a reviewer needs before the file lists."""
    lines = [release_notes.rstrip(), ""] if release_notes else []
    lines += [f"Updates the project template **{old} → {new}** (`{template}`).", ""]
    if conflicts:
        lines += [
            "⚠️ The update conflicts with changes made in this project. Text files below hold "
            "`<<<<<<< before updating` … `>>>>>>> after updating` markers; binary files, links "
            "and files the template deleted keep this project's version. Resolve them on this "
            "branch before merging.",
            "",
        ]
        lines += _listing("Conflicts", conflicts)
    lines += _listing("Changed", changes.modified)
    lines += _listing("Added", changes.added)
    lines += _listing("Removed", changes.removed)
    lines.append("Opened by `mlops-forge fleet update`.")
    return "\n".join(lines)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back to `_send`, which decides what the next request carries."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


# Requests sent in this process (each redirect hop counts): the benchmark reports it.
REQUESTS_SENT = [0]


def _send(settings: GitHubSettings, method: str, url: str, data: bytes | None) -> tuple[int, bytes]:
    """One request, redirects followed by hand; the token only ever goes to the API's host."""
    api_host = _host(settings.api_url)
    for _ in range(_MAX_REDIRECTS + 1):
        REQUESTS_SENT[0] += 1
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "mlops-forge-fleet")
        if _host(url) == api_host:
            request.add_header("Authorization", f"Bearer {settings.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _OPENER.open(request, timeout=settings.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location")
            if exc.code in {301, 302, 307, 308} and location:
                url = urllib.parse.urljoin(url, location)
                continue
            raise
    raise GitHubError(f"GitHub API {method}: more than {_MAX_REDIRECTS} redirects")


def _wait_for(exc: urllib.error.HTTPError, detail: str, attempt: int) -> float | None:
    """Seconds to wait before retrying `exc`, or None when it is not worth retrying."""
    headers = exc.headers
    if exc.code in {403, 429}:
        if headers.get("Retry-After", "").strip().isdigit():
            return float(headers["Retry-After"])
        if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset", "").isdigit():
            return max(0.0, float(headers["X-RateLimit-Reset"]) - time.time()) + 1.0
        if "secondary rate limit" in detail.lower() or exc.code == 429:
            return _SECONDARY_WAIT * 2**attempt
        return None
    if exc.code >= 500:
        return float(2**attempt)
    return None


@contextlib.contextmanager
def _paced(settings: GitHubSettings, method: str):  # type: ignore[no-untyped-def]
    """Space content-creating requests `settings.pace` apart across the run's processes."""
    if method not in _WRITES or settings.pace <= 0 or settings.pace_file is None:
        yield
        return
    with open(settings.pace_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        last = float(handle.read().strip() or 0)
        time.sleep(max(0.0, last + settings.pace - time.time()))
        handle.seek(0)
        handle.truncate()
        handle.write(str(time.time()))
        handle.flush()
        yield


def _detail(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:200].strip()
    if not isinstance(payload, dict):
        return ""
    parts = [str(payload.get("message", ""))]
    parts += [str(e.get("message", e)) for e in payload.get("errors", []) if isinstance(e, dict)]
    return ": ".join(part for part in parts if part)


def call(settings: GitHubSettings, method: str, path: str, payload: dict | None = None) -> object:
    """One API call (a path under the API, or a full URL), JSON in and out, with the retries above."""
    body = call_raw(settings, method, path, payload)
    return json.loads(body or b"null")


def call_raw(settings: GitHubSettings, method: str, path: str, payload: dict | None = None) -> bytes:
    url = path if "://" in path else settings.api_url.rstrip("/") + path
    data = json.dumps(payload).encode() if payload is not None else None
    waited, attempt = 0.0, 0
    while True:
        try:
            with _paced(settings, method):
                _, body = _send(settings, method, url, data)
            return body
        except urllib.error.HTTPError as exc:
            detail = _detail(exc.read())
            wait = _wait_for(exc, detail, attempt)
            if wait is None or waited + wait > settings.max_wait:
                if wait is not None:
                    detail += f" (retry needs {wait:.0f}s more: over the --github-max-wait of {settings.max_wait:g}s)"
                raise GitHubError(
                    f"GitHub API {method} {path}: HTTP {exc.code} {detail}".strip(), exc.code
                ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            wait = float(2**attempt)
            refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
            if refused or waited + wait > settings.max_wait or attempt >= 3:
                reason = getattr(exc, "reason", exc)
                raise GitHubError(f"GitHub API {method} {path}: {reason}") from exc
        time.sleep(wait)
        waited += wait
        attempt += 1


def _open_pull(settings: GitHubSettings, pulls: str, owner: str, head: str) -> dict | None:
    query = urllib.parse.urlencode({"head": f"{owner}:{head}", "state": "open"})
    existing = call(settings, "GET", f"{pulls}?{query}")
    return existing[0] if isinstance(existing, list) and existing else None


def upsert_pull_request(
    settings: GitHubSettings, remote_url: str, head: str, base: str, title: str, body: str
) -> str:
    """Open a pull request from `head` into `base`, or update the open one; returns its URL."""
    owner, name = repository_of(remote_url)
    pulls = f"/repos/{owner}/{name}/pulls"
    existing = _open_pull(settings, pulls, owner, head)
    if existing is None:
        try:
            pull = call(settings, "POST", pulls, {"title": title, "head": head, "base": base, "body": body})
        except GitHubError as exc:
            # Another run (or a listing that lagged) made it first: find it and update it.
            if exc.status != 422 or "already exists" not in str(exc):
                raise
            existing = _open_pull(settings, pulls, owner, head)
            if existing is None:
                raise
    if existing is not None:
        pull = call(settings, "PATCH", f"{pulls}/{existing['number']}", {"title": title, "body": body})
    if not isinstance(pull, dict):
        raise GitHubError(f"GitHub API {pulls}: unexpected answer {pull!r:.100}")
    return str(pull.get("html_url") or pull.get("url") or "")
