"""A local stand-in for the parts of GitHub's REST API `fleet update --pr` uses.

Real HTTP on 127.0.0.1, answered the way GitHub answers (pulls listed by head, 422 for a second
pull request from the same head, rate-limit headers), plus what tests need to provoke: scripted
faults, 307 redirects to the same host or to a second host that records any `Authorization`
header it receives, and merging a pull request upstream in a bare repository.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_PULLS = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls(?:/(?P<number>\d+))?$")
_REPO = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)$")
_WORKFLOW = re.compile(
    r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<workflow>[^/]+)/(?P<what>dispatches|runs)$"
)
_RUN = re.compile(
    r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<id>\d+)(?P<artifacts>/artifacts)?$"
)
_ARTIFACT = re.compile(r"^/artifacts/(?P<id>\d+)\.zip$")
SECONDARY_LIMIT = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@dataclass
class Fault:
    """Answer the next `times` requests of `method` with this instead of the real thing."""

    method: str
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: GitHubStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, payload: object = None, headers: dict[str, str] | None = None) -> None:
        raw = isinstance(payload, bytes)
        body = payload if raw else json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/zip" if raw else "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        standin = self.server.standin
        entry = {
            "method": self.command,
            "path": self.path,
            "auth": self.headers.get("Authorization"),
            "json": json.loads(raw) if raw else None,
            "at": time.monotonic(),
            "host": self.headers.get("Host"),
        }
        with standin.lock:
            standin.requests.append(entry)
            status, payload, headers = standin.answer(entry)
        self._send(status, payload, headers)

    do_GET = do_POST = do_PATCH = _handle


class _Recorder(BaseHTTPRequestHandler):
    """The second host: records what it was sent and answers 401 (it knows no token)."""

    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        self.server.standin.other_host_requests.append(
            {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization")}
        )
        body = b'{"message": "Bad credentials"}'
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _handle


class GitHubStandIn:
    """Start with `start()`, stop with `stop()`; `url` is the API base the fleet is given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.other_host_requests: list[dict] = []
        self.pulls: list[dict] = []
        self.faults: list[Fault] = []
        self.redirect: str | None = None  # "same" or "other": 307 before answering
        self._servers: list[_Server] = []
        # Actions: repositories (owner/name -> bare repository), runs, artifacts, and the
        # secondary rate limit on dispatches: at most `limit` per `window` seconds.
        self.repos: dict[tuple[str, str], Path] = {}
        self.runs: list[dict] = []
        self.artifacts: dict[int, bytes] = {}
        self.dispatch_limit: tuple[int, float] | None = None
        self.rate_limited = 0
        self.run_step: object = (
            None  # callable(standin, owner, name, bare, version) -> (code, report bytes | None)
        )
        self.runners = threading.Semaphore(2)  # runs at once, like a small pool of runners

    def start(self) -> GitHubStandIn:
        for handler in (_Handler, _Recorder):
            server = _Server(("127.0.0.1", 0), handler)
            server.standin = self
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_port}"

    @property
    def other_url(self) -> str:
        # Another name for another host: the fleet must not treat it as the API's host.
        return f"http://localhost:{self._servers[1].server_port}"

    def calls(self, method: str | None = None) -> list[dict]:
        return [r for r in self.requests if method is None or r["method"] == method]

    # The API ------------------------------------------------------------------------------

    def answer(self, entry: dict) -> tuple[int, object, dict[str, str]]:
        path = entry["path"]
        if self.redirect and not path.startswith("/moved"):
            base = self.url if self.redirect == "same" else self.other_url
            return 307, None, {"Location": f"{base}/moved{path}"}
        path = path.removeprefix("/moved")
        for fault in self.faults:
            if fault.method == entry["method"] and fault.times > 0:
                fault.times -= 1
                return fault.status, fault.body, fault.headers
        split = urllib.parse.urlsplit(path)
        actions = self._actions(entry, split)
        if actions is not None:
            return actions
        match = _PULLS.match(split.path)
        if not match:
            return 404, {"message": "Not Found"}, {}
        owner, repo, number = match["owner"], match["repo"], match["number"]
        if entry["method"] == "GET":
            query = dict(urllib.parse.parse_qsl(split.query))
            found = [
                p
                for p in self.pulls
                if (p["owner"], p["repo"]) == (owner, repo)
                and p["state"] == query.get("state", "open")
                and ("head" not in query or f"{owner}:{p['head']}" == query["head"])
            ]
            return 200, found, {}
        if entry["method"] == "POST":
            body = entry["json"]
            if any(
                (p["owner"], p["repo"], p["head"], p["state"]) == (owner, repo, body["head"], "open")
                for p in self.pulls
            ):
                message = f"A pull request already exists for {owner}:{body['head']}."
                return 422, {"message": "Validation Failed", "errors": [{"message": message}]}, {}
            pull = {
                **body,
                "owner": owner,
                "repo": repo,
                "number": len(self.pulls) + 1,
                "state": "open",
                "merged": False,
            }
            pull["html_url"] = f"https://github.example/{owner}/{repo}/pull/{pull['number']}"
            self.pulls.append(pull)
            return 201, pull, {}
        if entry["method"] == "PATCH" and number:
            for pull in self.pulls:
                if (pull["owner"], pull["repo"], pull["number"]) == (owner, repo, int(number)):
                    pull.update(entry["json"])
                    return 200, pull, {}
        return 404, {"message": "Not Found"}, {}

    def _actions(
        self, entry: dict, split: urllib.parse.SplitResult
    ) -> tuple[int, object, dict[str, str]] | None:
        method = entry["method"]
        if (m := _ARTIFACT.match(split.path)) and method == "GET":
            return 200, self.artifacts[int(m["id"])], {}
        if (m := _REPO.match(split.path)) and method == "GET":
            return 200, {"full_name": f"{m['owner']}/{m['repo']}", "default_branch": "main"}, {}
        if m := _WORKFLOW.match(split.path):
            key = (m["owner"], m["repo"])
            if m["what"] == "runs" and method == "GET":
                runs = [r for r in self.runs if r["repo"] == key]
                return 200, {"total_count": len(runs), "workflow_runs": list(reversed(runs))}, {}
            if m["what"] == "dispatches" and method == "POST":
                return self._dispatch(key, entry)
        if (m := _RUN.match(split.path)) and method == "GET":
            run = next((r for r in self.runs if r["id"] == int(m["id"])), None)
            if run is None:
                return 404, {"message": "Not Found"}, {}
            if m["artifacts"]:
                found = [a for a in run["artifacts"]]
                return 200, {"total_count": len(found), "artifacts": found}, {}
            return 200, run, {}
        return None

    def _dispatch(self, key: tuple[str, str], entry: dict) -> tuple[int, object, dict[str, str]]:
        now = time.monotonic()
        if self.dispatch_limit is not None:
            limit, window = self.dispatch_limit
            recent = [r for r in self.runs if now - r["dispatched_at"] < window]
            if len(recent) >= limit:
                self.rate_limited += 1
                return 403, {"message": SECONDARY_LIMIT}, {"Retry-After": "1"}
        if key not in self.repos:
            return 404, {"message": "Not Found"}, {}
        version = (entry["json"].get("inputs") or {}).get("version", "")
        run = {
            "id": 1000 + len(self.runs),
            "repo": key,
            "status": "queued",
            "conclusion": None,
            "event": "workflow_dispatch",
            "display_title": run_name(version),
            "head_branch": entry["json"]["ref"],
            "html_url": f"https://github.example/{key[0]}/{key[1]}/actions/runs/{1000 + len(self.runs)}",
            "artifacts": [],
            "dispatched_at": now,
        }
        self.runs.append(run)
        threading.Thread(target=self._execute, args=(run, version), daemon=True).start()
        return 204, None, {}

    def _execute(self, run: dict, version: str) -> None:
        with self.runners:
            run["status"] = "in_progress"
            owner, name = run["repo"]
            try:
                code, report = self.run_step(self, owner, name, self.repos[run["repo"]], version)  # type: ignore[operator]
            except Exception as exc:  # a crashed runner still ends its run, as on GitHub
                print(f"stand-in runner crashed: {exc!r}", file=sys.stderr)
                code, report = 1, None
            if report is not None:
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w") as bundle:
                    bundle.writestr("fleet-report.json", report)
                artifact_id = 5000 + len(self.artifacts)
                self.artifacts[artifact_id] = buffer.getvalue()
                run["artifacts"].append(
                    {
                        "id": artifact_id,
                        "name": "fleet-report",
                        "archive_download_url": f"{self.url}/artifacts/{artifact_id}.zip",
                    }
                )
            run["conclusion"] = "success" if code == 0 else "failure"
            run["status"] = "completed"

    def merge(self, number: int, bare: Path) -> None:
        """Merge pull request `number` upstream: its head into its base in `bare`, head deleted."""
        pull = next(p for p in self.pulls if p["number"] == number)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "merge"
            _git(Path(tmp), "clone", "--quiet", "--branch", pull["base"], str(bare), str(work))
            _git(
                work,
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                f"Merge pull request #{number}",
                f"origin/{pull['head']}",
            )
            _git(work, "push", "--quiet", "origin", f"HEAD:{pull['base']}", f":{pull['head']}")
        pull.update(state="closed", merged=True)


def run_name(version: str) -> str:
    """template-update.yml's `run-name`, evaluated the way GitHub would for this input."""
    return f"template update to {version}" if version else "template update"


WORKFLOW_FILE = (
    Path(__file__).parents[2]
    / "templates"
    / "ml-project"
    / ".github"
    / "workflows"
    / "template-update.yml.jinja"
)
STEP = "Update and open a pull request"


def run_workflow_update_step(standin: GitHubStandIn, owner: str, name: str, bare: Path, version: str):  # type: ignore[no-untyped-def]
    """What a runner does for a dispatched template-update.yml: check out the repository and run
    the workflow's own update step (its `run` script, its `env`), then keep `fleet-report.json`
    as the artifact the upload step would keep."""
    import os
    import sys

    import jinja2
    import yaml

    # The template's file as a project with GitHub environments gets it (copier renders it).
    workflow = yaml.safe_load(
        jinja2.Environment().from_string(WORKFLOW_FILE.read_text()).render(github_environments=True)
    )
    expected = (
        "${{ inputs.version && format('template update to {0}', inputs.version) || 'template update' }}"
    )
    assert workflow["run-name"] == expected, "run-name changed: teach the stand-in its new form"
    [step] = [s for s in workflow["jobs"]["update"]["steps"] if s.get("name") == STEP]
    expressions = {
        "${{ steps.app.outputs.token || github.token }}": os.environ["GITHUB_TOKEN"],
        "${{ inputs.version }}": version,
    }
    env = {key: expressions[value] for key, value in step["env"].items()}
    with tempfile.TemporaryDirectory(prefix="runner-") as tmp:
        checkout = Path(tmp) / name
        _git(Path(tmp), "clone", "--quiet", str(bare), str(checkout))
        summary = Path(tmp) / "summary.md"
        bin_dir = str(Path(sys.executable).parent)
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=checkout,
            env={
                **os.environ,
                **env,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "GITHUB_API_URL": standin.url,
                "GITHUB_STEP_SUMMARY": str(summary),
            },
            capture_output=True,
            check=False,
        )
        report = checkout / "fleet-report.json"
        return done.returncode, report.read_bytes() if report.exists() else None


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True)
