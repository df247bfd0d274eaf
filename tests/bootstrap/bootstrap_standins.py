"""Local stand-ins for what `bootstrap` and `doctor` talk to: Azure Resource Manager (HTTPS, as the
Azure SDK insists on TLS for bearer tokens), the GitHub API, Pulumi Cloud and the `az` CLI.

They answer the way the real services do for the calls the commands make (status codes, error
bodies, ARM's resource shapes), keep what was created, and record every request so tests can
assert that nothing was written.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "33333333-3333-3333-3333-333333333333"
TENANT = "44444444-4444-4444-4444-444444444444"
CALLER_OID = "55555555-5555-5555-5555-555555555555"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.standin = self  # type: ignore[attr-defined]
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    @property
    def standin(self):
        return self.server.standin

    def _send(self, status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.standin.requests.append((method, parts.path))
        self.standin.handle(self, method, parts.path, parse_qs(parts.query))


# ---- Azure Resource Manager ---------------------------------------------------------------------


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@dataclass
class ArmState:
    caller_roles: list[str] = field(default_factory=lambda: [OWNER])
    caller_scope: str = f"/subscriptions/{SUBSCRIPTION}"  # where the caller's roles are assigned
    unregistered: set[str] = field(default_factory=set)
    taken_names: set[str] = field(default_factory=set)
    # (method, path fragment) → [status, times]: the next `times` matching requests fail.
    failures: dict[tuple[str, str], list] = field(default_factory=dict)
    resources: dict[str, dict] = field(default_factory=dict)  # lower-cased path → resource
    vm_sizes: list[dict] = field(
        default_factory=lambda: [
            {"name": "Standard_DS3_v2", "family": "standardDSv2Family", "vCPUs": 4},
            {"name": "Standard_E4ds_v4", "family": "standardEDSv4Family", "vCPUs": 4},
            {"name": "Standard_NC4as_T4_v3", "family": "standardNCASv3_T4Family", "vCPUs": 4},
        ]
    )
    usages: dict[str, tuple[int, int]] = field(default_factory=dict)  # family → (current, limit)


class FakeArm(_Server):
    def __init__(self, tls: tuple[Path, Path]) -> None:
        self.state = ArmState()
        super().__init__(_Handler, tls)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m in ("PUT", "PATCH", "DELETE")]

    def add_identity(self, resource_group: str, name: str, principal_id: str, subject: str | None) -> None:
        """An identity as a stack creates it, federated with `subject` (None: not federated)."""
        group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}"
        self.state.resources.setdefault(
            group.lower(), {"id": group, "name": resource_group, "location": "westeurope"}
        )
        path = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        self.state.resources[path.lower()] = {
            "id": path,
            "name": name,
            "location": "westeurope",
            "properties": {"principalId": principal_id, "clientId": principal_id, "tenantId": TENANT},
        }
        if subject:
            credential = f"{path}/federatedIdentityCredentials/github"
            self.state.resources[credential.lower()] = {
                "id": credential,
                "name": "github",
                "properties": {
                    "issuer": "https://token.actions.githubusercontent.com",
                    "subject": subject,
                    "audiences": ["api://AzureADTokenExchange"],
                },
            }

    def role_assignments(self) -> list[dict]:
        return [
            r
            for p, r in self.state.resources.items()
            if "/providers/microsoft.authorization/roleassignments/" in p
        ]

    def handle(self, h: _Handler, method: str, path: str, query: dict) -> None:
        if not h.headers.get("Authorization", "").startswith("Bearer "):
            return h._send(401, _error("AuthenticationFailed", "no bearer token"))
        for (fail_method, fragment), spec in self.state.failures.items():
            if method == fail_method and fragment.lower() in path.lower() and spec[1] > 0:
                spec[1] -= 1
                return h._send(spec[0], _error("AuthorizationFailed", f"denied by the stand-in: {path}"))
        lower = path.lower()
        sub = f"/subscriptions/{SUBSCRIPTION}".lower()
        if method == "GET" and lower.startswith(f"{sub}/providers/") and lower.count("/") == 4:
            namespace = path.rsplit("/", 1)[-1]
            state = "NotRegistered" if namespace in self.state.unregistered else "Registered"
            return h._send(200, {"id": path, "namespace": namespace, "registrationState": state})
        if method == "GET" and lower == f"{sub}/providers/microsoft.authorization/roleassignments":
            return h._send(200, {"value": self._caller_assignments(query)})
        if method == "POST" and lower.endswith("/providers/microsoft.storage/checknameavailability"):
            name = h._body().get("name", "")
            exists = any(p.endswith(f"/storageaccounts/{name}") for p in self.state.resources)
            if name in self.state.taken_names and not exists:
                return h._send(
                    200,
                    {
                        "nameAvailable": False,
                        "reason": "AlreadyExists",
                        "message": f"The storage account named {name} is already taken.",
                    },
                )
            return h._send(200, {"nameAvailable": True})
        if "/providers/microsoft.machinelearningservices/locations/" in lower:
            if lower.endswith("/vmsizes"):
                return h._send(200, {"value": self.state.vm_sizes})
            if lower.endswith("/usages"):
                return h._send(200, {"value": self._usages()})
        if method == "PUT":
            return self._put(h, path)
        if method == "GET" and lower.endswith(("/userassignedidentities", "/federatedidentitycredentials")):
            return self._list(h, path)
        if method == "GET":
            resource = self.state.resources.get(lower)
            if resource is None:
                return h._send(404, _error("ResourceNotFound", f"The Resource '{path}' was not found."))
            return h._send(200, resource)
        return h._send(400, _error("BadRequest", f"the stand-in does not know {method} {path}"))

    def _list(self, h: _Handler, path: str) -> None:
        lower = path.lower()
        group = "/".join(lower.split("/")[:5])  # /subscriptions/<id>/resourcegroups/<name>
        if group not in self.state.resources:
            return h._send(
                404,
                _error(
                    "ResourceGroupNotFound",
                    f"Resource group '{group.rsplit('/', 1)[-1]}' could not be found.",
                ),
            )
        depth = lower.count("/") + 1
        items = [
            r for p, r in self.state.resources.items() if p.startswith(lower + "/") and p.count("/") == depth
        ]
        return h._send(200, {"value": items})

    def _caller_assignments(self, query: dict) -> list[dict]:
        if query.get("$filter", [""])[0] != f"atScope() and assignedTo('{CALLER_OID}')":
            return []  # only the caller's assignments at or above the subscription are known here
        scope = self.state.caller_scope
        return [
            {
                "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{role}",
                "name": role,
                "properties": {
                    "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                    "principalId": CALLER_OID,
                    "scope": scope,
                },
            }
            for role in self.state.caller_roles
        ]

    def _usages(self) -> list[dict]:
        return [
            {
                "name": {"value": family, "localizedValue": family},
                "currentValue": current,
                "limit": limit,
                "unit": "Count",
            }
            for family, (current, limit) in self.state.usages.items()
        ]

    def _put(self, h: _Handler, path: str) -> None:
        body = h._body()
        lower = path.lower()
        if "/providers/microsoft.authorization/roleassignments/" in lower:
            props = body.get("properties", {})
            scope = path.split("/providers/Microsoft.Authorization/roleAssignments/")[0]
            for existing in self.role_assignments():
                p = existing["properties"]
                if (p["principalId"], p["roleDefinitionId"], p["scope"].lower()) == (
                    props.get("principalId"),
                    props.get("roleDefinitionId"),
                    scope.lower(),
                ):
                    return h._send(409, _error("RoleAssignmentExists", "The role assignment already exists."))
            body["properties"] = {**props, "scope": scope}
        created = lower not in self.state.resources
        resource = {
            **self.state.resources.get(lower, {}),
            **body,
            "id": path,
            "name": path.rsplit("/", 1)[-1],
        }
        properties = dict(resource.get("properties") or {})
        properties["provisioningState"] = "Succeeded"  # ARM answers synchronously here: no polling
        resource["properties"] = properties
        self.state.resources[lower] = resource
        # As the real APIs: a new resource group, container or role assignment is 201; storage
        # accounts (200 done / 202 in progress) and blob service properties are 200.
        kind = lower.split("/")[-2]
        h._send(
            201 if created and kind in ("resourcegroups", "containers", "roleassignments") else 200, resource
        )


# ---- GitHub and Pulumi Cloud ----------------------------------------------------------------------


@dataclass
class GitHubState:
    owners: set[str] = field(default_factory=lambda: {"my-org", "octocat"})
    organizations: set[str] = field(default_factory=lambda: {"my-org"})
    repositories: dict[str, dict] = field(
        default_factory=lambda: {"my-org/ml-demo": {"admin": True, "visibility": "private"}}
    )
    teams: set[tuple[str, str]] = field(default_factory=lambda: {("my-org", "ml-approvers")})
    plan: str | None = "team"  # the owner's plan; None: the token may not read it
    scopes: str | None = "repo, read:org, workflow"
    token: str = "ghp_standin"
    created: list[tuple[str, str, dict]] = field(default_factory=list)  # (method, path, body) accepted

    def capabilities(self, repository: str):
        from stacks.github_plans import capabilities

        return capabilities(self.repositories[repository]["visibility"], self.plan or "free")


class FakeGitHub(_Server):
    def __init__(self) -> None:
        self.state = GitHubState()
        super().__init__(_Handler)

    def handle(self, h: _Handler, method: str, path: str, query: dict) -> None:
        if h.headers.get("Authorization") != f"Bearer {self.state.token}":
            return h._send(401, {"message": "Bad credentials"})
        parts = path.strip("/").split("/")
        not_found = {"message": "Not Found"}
        if parts == ["user"]:
            headers = {"X-OAuth-Scopes": self.state.scopes} if self.state.scopes is not None else {}
            return h._send(200, {"login": "octocat"}, headers)
        if parts[0] == "orgs" and len(parts) == 2:
            if parts[1] not in self.state.organizations:
                return h._send(404, not_found)
            body = {"login": parts[1]} | ({"plan": {"name": self.state.plan}} if self.state.plan else {})
            return h._send(200, body)
        if method in ("PUT", "POST") and parts[0] == "repos" and len(parts) > 3:
            return self._write(h, method, path, parts)
        if parts[0] == "users" and len(parts) == 2:
            if parts[1] not in self.state.owners:
                return h._send(404, not_found)
            return h._send(200, {"login": parts[1], "id": 1000 + sorted(self.state.owners).index(parts[1])})
        if parts[0] == "repos" and len(parts) == 3:
            repo = self.state.repositories.get(f"{parts[1]}/{parts[2]}")
            if repo is None:
                return h._send(404, not_found)
            return h._send(
                200, {"full_name": f"{parts[1]}/{parts[2]}", "permissions": {"admin": repo["admin"]}}
            )
        if parts[0] == "orgs" and len(parts) == 4 and parts[2] == "teams":
            if (parts[1], parts[3]) not in self.state.teams:
                return h._send(404, not_found)
            return h._send(
                200, {"slug": parts[3], "id": 2000 + sorted(self.state.teams).index((parts[1], parts[3]))}
            )
        return h._send(404, not_found)

    def _write(self, h: _Handler, method: str, path: str, parts: list[str]) -> None:
        """Environments, their branch policies and variables, rulesets: refused as GitHub refuses them."""
        repository = f"{parts[1]}/{parts[2]}"
        body = h._body()
        if repository not in self.state.repositories:
            return h._send(404, {"message": "Not Found"})
        caps = self.state.capabilities(repository)
        kind = parts[3]
        if kind == "environments" and not caps.environments:
            return h._send(404, {"message": "Not Found"})
        protection = body.get("reviewers") or body.get("wait_timer")
        if kind == "environments" and len(parts) == 5 and protection and not caps.reviewers:
            return h._send(
                422,
                {
                    "message": "Failed to create the environment protection rule. Please ensure the "
                    "billing plan supports the required reviewers protection rule."
                },
            )
        policies = len(parts) > 5 and parts[5] == "deployment-branch-policies"
        if kind == "environments" and policies and not caps.branch_policies:
            return h._send(404, {"message": "Not Found"})
        if kind == "rulesets" and not caps.rulesets:
            return h._send(
                403,
                {"message": "Upgrade to GitHub Pro or make this repository public to enable this feature."},
            )
        self.state.created.append((method, path, body))
        return h._send(201 if method == "POST" else 200, {**body, "id": len(self.state.created)})


class FakePulumiCloud(_Server):
    token = "pul-standin"

    def __init__(self) -> None:
        super().__init__(_Handler)

    def handle(self, h: _Handler, method: str, path: str, query: dict) -> None:
        if path == "/api/user" and h.headers.get("Authorization") == f"token {self.token}":
            return h._send(200, {"githubLogin": "octocat", "name": "The Octocat"})
        return h._send(401, {"code": 401, "message": "Unauthorized: No credentials provided or are invalid."})


# ---- the az CLI -----------------------------------------------------------------------------------

FAKE_AZ = """#!{python}
# Stand-in for the Azure CLI: `account show` and `account get-access-token`, from a JSON state file.
import base64, json, os, sys, time
state = json.load(open(os.environ["FAKE_AZ_STATE"]))
args = [a for a in sys.argv[1:]]
if not state["logged_in"]:
    print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
    sys.exit(1)
if args[:2] == ["account", "show"]:
    print(json.dumps({{"id": state["subscription"], "tenantId": state["tenant"], "isDefault": True,
                      "user": {{"name": "admin@contoso.example", "type": "user"}}}}))
elif args[:2] == ["account", "get-access-token"]:
    claims = base64.urlsafe_b64encode(json.dumps({{"oid": state["oid"], "tid": state["tenant"]}}).encode()).decode().rstrip("=")
    expires = int(time.time()) + 3600
    print(json.dumps({{"accessToken": "eyJhbGciOiJub25lIn0." + claims + ".sig", "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
                      "expires_on": expires, "subscription": state["subscription"], "tenant": state["tenant"], "tokenType": "Bearer"}}))
else:
    print("az stand-in: unsupported " + " ".join(args), file=sys.stderr)
    sys.exit(2)
"""


def install_fake_az(bin_dir: Path) -> Path:
    """Write `az` into `bin_dir` and return its state file (logged in as CALLER_OID by default)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "az"
    script.write_text(FAKE_AZ.format(python=sys.executable))
    script.chmod(0o755)
    state = bin_dir.parent / "az-state.json"
    state.write_text(
        json.dumps({"logged_in": True, "subscription": SUBSCRIPTION, "tenant": TENANT, "oid": CALLER_OID})
    )
    return state


def set_az(state: Path, **changes) -> None:
    """Change the az stand-in's state (e.g. `logged_in=False`)."""
    data = json.loads(state.read_text())
    state.write_text(json.dumps({**data, **changes}))


def render(dest: Path, data: dict) -> Path:
    """This checkout's template (working tree included) rendered with `data` and defaults."""
    import warnings

    import copier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(REPO), dest, data=data, defaults=True, vcs_ref="HEAD", quiet=True)
    return dest
