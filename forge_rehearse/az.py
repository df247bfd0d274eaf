"""`az`, the Azure test double: the subset of the Azure CLI (ml extension) the workflows call.

It keeps state under $FORGE_DOUBLE_HOME (workspaces and their IP rules, jobs, models and versions,
registry assets, data assets, environments, endpoints, deployments and traffic, schedules, and a
blob store), and it refuses what Azure would refuse:

- an unknown command or flag, or a missing required flag (exit 2, like the CLI);
- a call the caller's role assignments in the environment's plan do not grant, or a data-plane
  call from a GitHub-hosted runner to a resource whose public network access is disabled
  (`forge_rehearse.access`; exit 1 with Azure's error code), or a data-plane call from a runner
  whose egress address ($FORGE_RUNNER_EGRESS_IP) no IP rule of the resource lists;
- a reference to something that does not exist (a compute cluster the stack does not create, a
  model, a data asset, a deployment), a traffic split that does not add up, deleting a
  deployment that still has traffic.

Where Azure would run the project's code, the double runs it: a command job runs its command
on its inputs, an online deployment runs the scoring script's `init()` when created and `run()`
for every `invoke`, with a data collector that writes JSONL like Azure ML's; a batch invocation
runs the batch scoring script. Every operation is appended to $FORGE_DOUBLE_HOME/operations.jsonl.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .access import Caller, Refused, check, stacks_module
from .world import Resource, World

COLLECTOR_PATH = Path(__file__).parent / "collector"


class UsageError(Exception):
    """Bad command line: exit 2, as the CLI's argument parser does."""


class AzError(Exception):
    """Azure answered with an error: exit 1."""


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    flags: dict[str, int | str]  # 0 switch, 1 one value, "+" one or more values
    required: tuple[str, ...]
    handler: Callable[[Ctx], Any]


GLOBAL_FLAGS: dict[str, int | str] = {
    "output": 1,
    "query": 1,
    "only-show-errors": 0,
    "verbose": 0,
    "debug": 0,
    "subscription": 1,
}
SHORT = {
    "-o": "output",
    "-g": "resource-group",
    "-w": "workspace-name",
    "-n": "name",
    "-f": "file",
    "-e": "endpoint-name",
    "-v": "version",
    "-l": "label",
    "-p": "path",
    "-t": "type",
    "-u": "username",
    "-y": "yes",
}
WS = {"resource-group": 1, "workspace-name": 1}
WS_REQUIRED = ("resource-group", "workspace-name")
COMMANDS: dict[tuple[str, ...], Command] = {}


def command(path: str, flags: dict[str, int | str], required: tuple[str, ...] = ()) -> Callable:
    def register(handler: Callable[[Ctx], Any]) -> Callable[[Ctx], Any]:
        key = tuple(path.split())
        COMMANDS[key] = Command(key, flags, required, handler)
        return handler

    return register


# ------------------------------------------------------------------------------------------------
# State
# ------------------------------------------------------------------------------------------------


def _empty_workspace() -> dict[str, Any]:
    return {
        "jobs": {},
        "models": {},
        "data": {},
        "environments": {},
        "online_endpoints": {},
        "batch_endpoints": {},
        "schedules": {},
    }


class Store:
    """The double's state: one JSON document and a blob directory, locked per command."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.world = World.from_json((home / "world.json").read_text())
        self._lock = (home / ".lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        path = home / "state.json"
        self.state: dict[str, Any] = (
            json.loads(path.read_text())
            if path.is_file()
            else {"login": None, "workspaces": {}, "registries": {}, "counter": 0, "faults": {}}
        )
        faults = home / "faults.json"
        if faults.is_file():
            self.state["faults"] = json.loads(faults.read_text())

    def save(self) -> None:
        tmp = self.home / "state.json.tmp"
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.home / "state.json")

    def close(self) -> None:
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def workspace(self, name: str) -> dict[str, Any]:
        return self.state["workspaces"].setdefault(name, _empty_workspace())

    def registry(self, name: str) -> dict[str, Any]:
        return self.state["registries"].setdefault(name, {"models": {}})

    def blob(self, *parts: str) -> Path:
        path = self.home / "blobs" / Path(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def next_id(self) -> int:
        self.state["counter"] += 1
        return self.state["counter"]

    def log(self, entry: dict[str, Any]) -> None:
        with (self.home / "operations.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


# ------------------------------------------------------------------------------------------------
# Parsing and output
# ------------------------------------------------------------------------------------------------


def _flag_name(token: str) -> str | None:
    if token.startswith("--"):
        return token[2:]
    return SHORT.get(token)


def parse(argv: list[str]) -> tuple[Command, dict[str, Any]]:
    words: list[str] = []
    for token in argv:
        if token.startswith("-"):
            break
        words.append(token)
    for size in range(len(words), 0, -1):
        cmd = COMMANDS.get(tuple(words[:size]))
        if cmd is not None:
            break
    else:
        for known in range(len(words) - 1, 0, -1):
            prefix = tuple(words[:known])
            if any(k[:known] == prefix and len(k) > known for k in COMMANDS):
                group = " ".join(["az", *prefix])
                raise UsageError(
                    f"{group}: '{words[known]}' is not in the '{group}' command group. See '{group} --help'."
                )
        raise UsageError(f"'{' '.join(words) or '(nothing)'}' is misspelled or not recognized by the system.")
    rest = argv[len(cmd.path) :]
    if size < len(words):
        raise UsageError(f"unrecognized arguments: {' '.join(words[size:])}")
    spec = {**GLOBAL_FLAGS, **cmd.flags}
    args: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        name = _flag_name(rest[i])
        if name is None or name not in spec:
            raise UsageError(f"unrecognized arguments: {rest[i]}")
        arity = spec[name]
        i += 1
        if arity == 0:
            args[name] = True
            continue
        values: list[str] = []
        while i < len(rest) and (_flag_name(rest[i]) is None or (values == [] and arity == 1)):
            if arity == 1 and values:
                break
            values.append(rest[i])
            i += 1
            if arity == 1:
                break
        if not values:
            raise UsageError(
                f"argument --{name}: expected {'one argument' if arity == 1 else 'at least one argument'}"
            )
        if arity == 1:
            args[name] = values[0]
        else:
            args.setdefault(name, []).extend(values)
    missing = [f"--{r}" for r in cmd.required if r not in args]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}")
    if args.get("output", "json") not in ("json", "jsonc", "tsv", "none", "table", "yaml"):
        raise UsageError(f"argument --output/-o: invalid choice: '{args['output']}'")
    return cmd, args


def _tsv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return "\n".join(_tsv(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(_tsv(v) for v in value.values() if not isinstance(v, (dict, list)))
    return str(value)


def render(result: Any, args: dict[str, Any]) -> str | None:
    if "query" in args:
        import jmespath

        try:
            result = jmespath.search(args["query"], result)
        except jmespath.exceptions.JMESPathError as exc:
            raise UsageError(
                f"argument --query: invalid jmespath_type value: {args['query']!r} ({exc})"
            ) from None
    output = args.get("output", "json")
    if output == "none":
        return None
    if output == "tsv":
        return _tsv(result)
    if output == "yaml":
        return yaml.safe_dump(result, sort_keys=False).rstrip()
    if result is None:
        return None
    return json.dumps(result, indent=2)


# ------------------------------------------------------------------------------------------------
# Context: who calls, from where, on what
# ------------------------------------------------------------------------------------------------


def _runner_is_hosted() -> bool:
    """Whether the current job runs on a GitHub-hosted runner (its `runs-on` has no self-hosted)."""
    recorded = os.environ.get("FORGE_RUNS_ON")  # what the job's runs-on resolved to (act.rewrite_workflow)
    if recorded:
        labels = json.loads(recorded)
        return "self-hosted" not in ([labels] if isinstance(labels, str) else labels)
    job = os.environ.get("GITHUB_JOB")
    workflows = Path(os.environ.get("GITHUB_WORKSPACE", ".")) / ".github" / "workflows"
    if not job or not workflows.is_dir():
        return True
    labels: list[list[str]] = []
    for path in workflows.glob("*.y*ml"):
        try:
            jobs = (yaml.safe_load(path.read_text()) or {}).get("jobs") or {}
        except yaml.YAMLError:
            continue
        if job in jobs and "runs-on" in jobs[job]:
            runs_on = jobs[job]["runs-on"]
            labels.append([runs_on] if isinstance(runs_on, str) else list(runs_on))
    return not labels or any("self-hosted" not in group for group in labels)


def _runner_egress(world: World | None = None) -> str | None:
    """The job's public egress address, if its runner has a fixed one: FORGE_RUNNER_EGRESS_IP when
    the rehearsal sets it (`act.run(egress_ip=...)`), else, for a job on the runners RUNNERS names
    for an ip-allowlist environment (`forge:allowlistRunners`), an address of that environment's
    allow list, which is what those runners promise; None for a GitHub-hosted runner."""
    value = os.environ.get("FORGE_RUNNER_EGRESS_IP", "").strip()
    if not value:
        return _allow_listed_egress(world) if world is not None else None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise UsageError(f"FORGE_RUNNER_EGRESS_IP={value!r} is not an IPv4 address") from None


def _allow_listed_egress(world: World) -> str | None:
    recorded = os.environ.get("FORGE_RUNS_ON")
    if not recorded:
        return None
    labels = json.loads(recorded)
    labels = [labels] if isinstance(labels, str) else labels
    routes = json.loads(world.variables.get("", {}).get("RUNNERS") or "{}")
    for environment, routed in routes.items():
        if (routed if isinstance(routed, list) else [routed]) != labels:
            continue
        for account in world.of_kind("storage", environment):
            if account.allowed_ips:
                network = ipaddress.IPv4Network(account.allowed_ips[0], strict=False)
                return str(network.network_address + (1 if network.num_addresses > 1 else 0))
    return None


@dataclass
class Ctx:
    store: Store
    args: dict[str, Any]
    name: str = ""
    performed: list[str] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.store.world

    def caller(self) -> Caller:
        login = self.store.state.get("login")
        if not login:
            raise AzError("Please run 'az login' to setup account.")
        identity = self.world.identity(login)
        if identity is None:
            raise AzError(
                f"(AADSTS700016) Application with identifier '{login}' was not found in the directory: "
                "no identity of any stack has this client ID"
            )
        return Caller(
            identity.client_id,
            identity.principal_id,
            identity.name,
            _runner_is_hosted(),
            _runner_egress(self.world),
        )

    def authorize(self, operation: str, target: Resource) -> None:
        caller = self.caller()
        entry = {"operation": operation, "caller": caller.name, "target": target.id, "hosted": caller.hosted}
        if caller.egress_ip is not None:
            entry["egress"] = caller.egress_ip
        if target.kind == "workspace":
            # The workspace's IP rules live in the double's state (network-rule add), not the plan.
            allowed = allowed_ips(self.store.state["workspaces"].get(target.name, {}).get("network_acls"))
            target = replace(target, allowed_ips=allowed)
        try:
            check(self.world, caller, operation, target)
        except Refused as refused:
            self.store.log({**entry, "result": "refused", "reason": refused.code, "message": str(refused)})
            raise
        if self.store.state["faults"].get("throttle") == operation:
            # Azure Resource Manager's throttling, still there after the CLI's own retries.
            message = f"(TooManyRequests) {operation}: the request was throttled; retry after 60 seconds"
            self.store.log({**entry, "result": "refused", "reason": "throttled", "message": message})
            raise AzError(message)
        self.store.log({**entry, "result": "ok"})

    def workspace(self) -> tuple[Resource, dict[str, Any]]:
        group, name = self.args["resource-group"], self.args["workspace-name"]
        found = self.world.find("workspace", name)
        if found is None or f"/resourcegroups/{group.lower()}/" not in found.id.lower():
            raise AzError(
                f"(ResourceNotFound) The Resource 'Microsoft.MachineLearningServices/workspaces/{name}' under "
                f"resource group '{group}' was not found."
            )
        return found, self.store.workspace(name)

    def storage_of(self, workspace: Resource) -> Resource:
        accounts = self.world.of_kind("storage", workspace.environment)
        if not accounts:
            raise AzError(f"workspace {workspace.name} has no storage account in the plan")
        return accounts[0]

    def registry(self, name: str) -> tuple[Resource, dict[str, Any]]:
        found = self.world.find("registry", name)
        if found is None:
            # An existing registry (not created by these stacks) is known by the roles granted on it.
            scopes = {
                a.scope
                for a in self.world.assignments
                if a.scope.lower().endswith(f"/registries/{name.lower()}")
            }
            if not scopes:
                raise AzError(f"(ResourceNotFound) registry '{name}' was not found.")
            found = Resource("registry", name, scopes.pop(), "shared", True)
        return found, self.store.registry(name)

    def upload(self, workspace: Resource) -> None:
        """A local file goes to the workspace's storage with the caller's own token."""
        self.authorize("blob upload", self.storage_of(workspace))

    def download(self, workspace: Resource) -> None:
        self.authorize("blob download", self.storage_of(workspace))


def _pick(versions: list[dict], what: str, version: str | None, label: str | None) -> dict:
    if not versions:
        raise AzError(f"(UserError) {what} not found.")
    if version is not None:
        for v in versions:
            if str(v["version"]) == str(version):
                return v
        raise AzError(f"(UserError) {what} version {version} not found.")
    if label not in (None, "latest"):
        raise AzError(f"(UserError) {what} has no label {label!r}.")
    return max(versions, key=lambda v: int(v["version"]))


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)


def _load_spec(path: str) -> tuple[dict[str, Any], Path]:
    file = Path(path)
    if not file.is_file():
        raise AzError(f"(UserError) file {path} does not exist")
    try:
        spec = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise AzError(f"(UserError) {path} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise AzError(f"(UserError) {path} is not a YAML mapping")
    return spec, file.parent


def _apply_sets(spec: dict[str, Any], sets: list[str]) -> None:
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"argument --set: expected KEY=VALUE, got {item!r}")
        node = spec
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise AzError(f"(UserError) --set {key}: {part} is not a mapping")
        node[parts[-1]] = value


def _asset_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`azureml:name:version` / `azureml:name@latest` → (name, version, label)."""
    body = ref.removeprefix("azureml:")
    if "@" in body:
        name, label = body.split("@", 1)
        return name, None, label
    name, _, version = body.partition(":")
    return name, version or None, None


# ------------------------------------------------------------------------------------------------
# Session, extension
# ------------------------------------------------------------------------------------------------


@command(
    "login",
    {"service-principal": 0, "username": 1, "tenant": 1, "federated-token": 1, "allow-no-subscriptions": 0},
    ("service-principal", "username", "tenant", "federated-token"),
)
def login(ctx: Ctx) -> Any:
    client_id = ctx.args["username"]
    identity = ctx.world.identity(client_id)
    if identity is None:
        raise AzError(
            f"(AADSTS700016) Application with identifier '{client_id}' was not found in the directory: "
            "no identity of any stack has this client ID (is AZURE_*_CLIENT_ID the stack output?)"
        )
    _check_subject(ctx, identity)
    ctx.store.state["login"] = identity.client_id
    ctx.store.log({"operation": "az login", "caller": identity.name, "result": "ok"})
    return [{"name": identity.name, "user": {"name": identity.client_id, "type": "servicePrincipal"}}]


def _check_subject(ctx: Ctx, identity: Any) -> None:
    """Entra ID exchanges an OIDC token only if a federated credential trusts its subject.

    The azure/login stand-in sends an unsigned JWT carrying the subject the job presents; anything
    that is not a JWT is refused, as Entra ID refuses it, so no login skips the subject check.
    """
    import base64

    parts = ctx.args["federated-token"].split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise AzError("(AADSTS50027) Invalid JWT token: the federated token cannot be decoded") from None
    subject = claims.get("sub", "")
    if subject not in identity.subjects:
        ctx.store.log(
            {"operation": "az login", "caller": identity.name, "result": "refused", "subject": subject}
        )
        raise AzError(
            f"(AADSTS70021) No matching federated identity record found for presented assertion subject "
            f"'{subject}': client '{identity.client_id}' ({identity.name}) trusts "
            f"{', '.join(repr(s) for s in identity.subjects) or 'no subject'}"
        )


@command("account show", {})
def account_show(ctx: Ctx) -> Any:
    caller = ctx.caller()
    return {"user": {"name": caller.client_id, "type": "servicePrincipal"}, "name": caller.name}


@command("extension add", {"name": 1, "upgrade": 0, "yes": 0}, ("name",))
def extension_add(ctx: Ctx) -> Any:
    if ctx.args["name"] != "ml":
        raise AzError(f"The extension {ctx.args['name']} is not available in this test double (only ml).")
    return None


# ------------------------------------------------------------------------------------------------
# Workspace IP rules ("Configure a private endpoint for an Azure Machine Learning workspace",
# "Enable Public Access only from internet IP ranges"): kept in the workspace's networkAcls,
# enforced on its public endpoint by `access.check`.
# ------------------------------------------------------------------------------------------------

addresses = stacks_module("addresses")  # Azure's rules for IP rules, shared with stacks.config


def allowed_ips(acls: dict[str, Any] | None) -> tuple[str, ...] | None:
    """The rules a workspace's networkAcls enforce, or None when it accepts every address."""
    if not acls or str(acls.get("defaultAction", "Allow")).lower() != "deny":
        return None
    return tuple(rule["value"] for rule in acls.get("ipRules") or ())


def _ip_rule(value: str) -> ipaddress.IPv4Network:
    """An IP rule as Azure accepts it: an IPv4 address or CIDR range on the public internet."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError:
        raise AzError(
            f"(BadRequest) --ip-address {value!r} is not an IPv4 address or a CIDR range such as 16.17.18.0/24 "
            "(a range's address must be its first, with no host bits set)"
        ) from None
    if network.version != 4:
        raise AzError(f"(BadRequest) --ip-address {value}: workspace IP rules take IPv4 addresses only")
    reserved = addresses.reserved_overlap(network)
    if reserved is not None:
        raise AzError(
            f"(BadRequest) --ip-address {value}: IP rules are allowed only for public internet addresses, and it "
            f"is in or overlaps the reserved range {reserved}"
        )
    return network


def _rule_index(rules: list[dict[str, str]], network: ipaddress.IPv4Network) -> int | None:
    """Where the rule for `network` is (16.17.18.19 and 16.17.18.19/32 are the same rule)."""
    return next(
        (i for i, rule in enumerate(rules) if ipaddress.ip_network(rule["value"], strict=False) == network),
        None,
    )


def _open() -> dict[str, Any]:
    """The networkAcls of a workspace nobody restricted: it accepts every address."""
    return {"defaultAction": "Allow", "ipRules": []}


NETWORK_RULE = {**WS, "ip-address": 1}


@command("ml workspace network-rule list", WS, WS_REQUIRED)
def network_rule_list(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml workspace network-rule list", ws)
    return state.get("network_acls") or _open()


def _rule_change(ctx: Ctx, verb: str) -> tuple[Resource, dict[str, Any], str, ipaddress.IPv4Network, dict]:
    """What `network-rule add|remove` works on: the workspace, its state, the address as given and
    as a network, and the workspace's networkAcls (open if nobody restricted it yet)."""
    ws, state = ctx.workspace()
    ctx.authorize(f"az ml workspace network-rule {verb}", ws)
    value = ctx.args["ip-address"].strip()
    return ws, state, value, _ip_rule(value), state.get("network_acls") or _open()


@command("ml workspace network-rule add", NETWORK_RULE, (*WS_REQUIRED, "ip-address"))
def network_rule_add(ctx: Ctx) -> Any:
    ws, state, value, network, acls = _rule_change(ctx, "add")
    if _rule_index(acls["ipRules"], network) is None:
        if len(acls["ipRules"]) >= addresses.MAX_IP_RULES:
            raise AzError(
                f"(BadRequest) workspace {ws.name} already has {addresses.MAX_IP_RULES} IP rules, the most a "
                f"workspace supports; {value} was not added"
            )
        acls["ipRules"].append({"value": value})
    # The first rule closes the workspace to every other address.
    acls["defaultAction"] = "Deny"
    state["network_acls"] = acls
    return acls


@command("ml workspace network-rule remove", NETWORK_RULE, (*WS_REQUIRED, "ip-address"))
def network_rule_remove(ctx: Ctx) -> Any:
    ws, _, value, network, acls = _rule_change(ctx, "remove")  # acls: the stored dict
    index = _rule_index(acls["ipRules"], network)
    if index is None:
        raise AzError(f"(BadRequest) workspace {ws.name} has no IP rule for {value}")
    acls["ipRules"].pop(index)
    # Removing rules never reopens the workspace: with none left it accepts no public address.
    # The double does not widen access on its own; reopening is a deliberate, separate change.
    return acls


# ------------------------------------------------------------------------------------------------
# Data assets and environments
# ------------------------------------------------------------------------------------------------


def _data_view(name: str, v: dict) -> dict:
    return {"name": name, "version": str(v["version"]), "type": v["type"], "path": v["uri"]}


@command("ml data list", {**WS, "name": 1}, WS_REQUIRED)
def data_list(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml data list", ws)
    if "name" in ctx.args:
        return [_data_view(ctx.args["name"], v) for v in state["data"].get(ctx.args["name"], [])]
    return [_data_view(n, max(vs, key=lambda v: int(v["version"]))) for n, vs in state["data"].items() if vs]


@command("ml data show", {**WS, "name": 1, "version": 1, "label": 1}, (*WS_REQUIRED, "name"))
def data_show(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml data show", ws)
    name = ctx.args["name"]
    return _data_view(
        name,
        _pick(
            state["data"].get(name, []), f"data asset {name}", ctx.args.get("version"), ctx.args.get("label")
        ),
    )


def register_data(ctx: Ctx, state: dict, name: str, version: str | None, kind: str, local: Path) -> dict:
    versions = state["data"].setdefault(name, [])
    number = int(version) if version else max((int(v["version"]) for v in versions), default=0) + 1
    if any(int(v["version"]) == number for v in versions):
        raise AzError(f"(UserError) data asset {name} version {number} already exists and is immutable")
    stored = ctx.store.blob("data", name, str(number))
    _copy(local, stored)
    entry = {"version": number, "type": kind, "store": str(stored), "uri": f"azureml:{name}:{number}"}
    if local.is_file():
        entry["file"] = str(stored / local.name)
    versions.append(entry)
    return entry


@command(
    "ml data create",
    {**WS, "name": 1, "version": 1, "type": 1, "path": 1, "file": 1, "description": 1},
    WS_REQUIRED,
)
def data_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec: dict[str, Any] = {}
    base = Path(".")
    if "file" in ctx.args:
        spec, base = _load_spec(ctx.args["file"])
    name = ctx.args.get("name", spec.get("name"))
    path = ctx.args.get("path", spec.get("path"))
    kind = ctx.args.get("type", spec.get("type", "uri_folder"))
    if not name or not path:
        raise UsageError("the following arguments are required: --name, --path (or a --file that sets them)")
    if kind not in ("uri_file", "uri_folder", "mltable"):
        raise UsageError(
            f"argument --type: invalid choice: '{kind}' (choose from 'uri_file', 'uri_folder', 'mltable')"
        )
    ctx.authorize("az ml data create", ws)
    local = (base / path) if not str(path).startswith("azureml://") else None
    if local is None or not local.exists():
        raise AzError(f"(UserError) path {path} does not exist")
    if kind == "uri_file" and not local.is_file():
        raise AzError(f"(UserError) a uri_file data asset needs a file, {path} is a folder")
    ctx.upload(ws)
    return _data_view(
        name, register_data(ctx, state, name, ctx.args.get("version", spec.get("version")), kind, local)
    )


@command(
    "ml data download", {**WS, "name": 1, "version": 1, "download-path": 1}, (*WS_REQUIRED, "name", "version")
)
def data_download(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml data download", ws)
    name = ctx.args["name"]
    entry = _pick(state["data"].get(name, []), f"data asset {name}", ctx.args["version"], None)
    ctx.download(ws)
    _copy(Path(entry["store"]), Path(ctx.args.get("download-path", ".")) / name)
    return None


@command("ml environment create", {**WS, "file": 1, "name": 1, "version": 1}, (*WS_REQUIRED, "file"))
def environment_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec, base = _load_spec(ctx.args["file"])
    name = ctx.args.get("name", spec.get("name"))
    if not name or not ("image" in spec or "build" in spec):
        raise AzError("(UserError) an environment needs a name and an image or a build context")
    if "conda_file" in spec and not (base / spec["conda_file"]).is_file():
        raise AzError(f"(UserError) conda_file {spec['conda_file']} does not exist")
    ctx.authorize("az ml environment create", ws)
    versions = state["environments"].setdefault(name, [])
    versions.append({"version": len(versions) + 1, "image": spec.get("image")})
    return {"name": name, "version": str(len(versions))}


# ------------------------------------------------------------------------------------------------
# Jobs: the command runs here, on the job's inputs
# ------------------------------------------------------------------------------------------------


def _resolve_input(ctx: Ctx, ws: Resource, state: dict, base: Path, spec: Any) -> Path:
    path = str(spec.get("path", "")) if isinstance(spec, dict) else str(spec)
    if path.startswith("azureml:") and not path.startswith("azureml://"):
        name, version, label = _asset_ref(path)
        asset = _pick(state["data"].get(name, []), f"data asset {name}", version, label)
        return Path(asset.get("file") or asset["store"])
    local = base / path
    if not local.exists():
        raise AzError(f"(UserError) job input {path} does not exist")
    ctx.upload(ws)
    return local


def _compute_can_read(ctx: Ctx, ws: Resource, compute: Resource) -> str | None:
    """Why the cluster's identity cannot mount the job's data or pull its image, or None."""
    from .access import permissions

    if compute.principal_id is None:
        return None
    needs = [
        (ctx.storage_of(ws), "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", True),
        *[
            (acr, "Microsoft.ContainerRegistry/registries/pull/read", False)
            for acr in ctx.world.of_kind("acr", ws.environment)
        ],
    ]
    for target, action, data in needs:
        held = permissions.held(
            ctx.world.roles_of(compute.principal_id, target.id), ctx.world.role_definitions
        )
        if not any(permissions.grants(r, action, data=data) for r in held):
            return f"compute {compute.name}'s identity lacks '{action}' on {target.id}"
    return None


def _run_command(
    command_text: str, cwd: Path, inputs: dict[str, Path], outputs: dict[str, Path], log: Path
) -> int:
    def substitute(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        table = inputs if kind == "inputs" else outputs
        if name not in table:
            raise AzError(
                f"(UserError) the command uses ${{{{{kind}.{name}}}}}, which the job does not define"
            )
        return str(table[name])

    text = re.sub(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}", substitute, command_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FORGE_DOUBLE"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with log.open("w") as out:
        out.write(f"$ {text}\n")
        out.flush()
        return subprocess.run(
            ["bash", "-c", text],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=900,
            check=False,
        ).returncode


@command("ml job create", {**WS, "file": 1, "set": "+", "name": 1, "stream": 0}, (*WS_REQUIRED, "file"))
def job_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec, base = _load_spec(ctx.args["file"])
    _apply_sets(spec, ctx.args.get("set", []))
    if spec.get("type", "command") != "command":
        raise AzError(f"(UserError) this double runs command jobs only, not {spec.get('type')}")
    for key in ("command", "environment", "compute"):
        if key not in spec:
            raise AzError(f"(UserError) job spec {ctx.args['file']} has no {key}")
    compute_name = str(spec["compute"]).removeprefix("azureml:")
    compute = next((c for c in ctx.world.of_kind("compute", ws.environment) if c.name == compute_name), None)
    if compute is None:
        raise AzError(f"(UserError) compute {compute_name} does not exist in workspace {ws.name}")
    ctx.authorize("az ml job create", ws)
    code = base / str(spec.get("code", "."))
    if not code.is_dir():
        raise AzError(f"(UserError) code folder {spec.get('code')} does not exist")
    ctx.upload(ws)  # the code snapshot
    inputs = {k: _resolve_input(ctx, ws, state, base, v) for k, v in (spec.get("inputs") or {}).items()}
    name = ctx.args.get("name") or f"job-{ctx.store.next_id():04d}"
    root = ctx.store.blob("jobs", name)
    workdir = root / "code"
    shutil.copytree(code, workdir, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    outputs = {k: ctx.store.blob("jobs", name, "outputs", k) for k in (spec.get("outputs") or {})}
    log = root / "log.txt"
    why = _compute_can_read(ctx, ws, compute)
    if why:
        log.write_text(f"Failed to mount the job's data or pull its image: {why}\n")
        status = "Failed"
    else:
        status = (
            "Completed"
            if _run_command(str(spec["command"]), workdir, inputs, outputs, log) == 0
            else "Failed"
        )
    output_types = {k: (v or {}).get("type", "uri_folder") for k, v in (spec.get("outputs") or {}).items()}
    state["jobs"][name] = {
        "name": name,
        "status": status,
        "log": str(log),
        "outputs": {k: str(p) for k, p in outputs.items()},
        "output_types": output_types,
        "compute": compute_name,
    }
    return {"name": name, "status": status, "compute": f"azureml:{compute_name}"}


def _job(ctx: Ctx, state: dict) -> dict:
    job = state["jobs"].get(ctx.args["name"])
    if job is None:
        raise AzError(f"(UserError) job {ctx.args['name']} not found")
    return job


@command("ml job show", {**WS, "name": 1}, (*WS_REQUIRED, "name"))
def job_show(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml job show", ws)
    job = _job(ctx, state)
    return {"name": job["name"], "status": job["status"], "compute": f"azureml:{job['compute']}"}


@command("ml job stream", {**WS, "name": 1}, (*WS_REQUIRED, "name"))
def job_stream(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml job stream", ws)
    job = _job(ctx, state)
    text = Path(job["log"]).read_text()
    print(text, end="" if text.endswith("\n") else "\n")
    if job["status"] != "Completed":
        tail = " | ".join(text.strip().splitlines()[-3:])
        raise AzError(f"(JobFailed) job {job['name']} ended as {job['status']}: {tail}")
    return None


@command(
    "ml job download",
    {**WS, "name": 1, "output-name": 1, "download-path": 1, "all": 0},
    (*WS_REQUIRED, "name"),
)
def job_download(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml job download", ws)
    job = _job(ctx, state)
    names = (
        list(job["outputs"])
        if ctx.args.get("all") or "output-name" not in ctx.args
        else [ctx.args["output-name"]]
    )
    ctx.download(ws)
    for name in names:
        if name not in job["outputs"]:
            raise AzError(f"(UserError) job {job['name']} has no output {name}")
        _copy(Path(job["outputs"][name]), Path(ctx.args.get("download-path", ".")) / "named-outputs" / name)
    return None


# ------------------------------------------------------------------------------------------------
# Models: workspace and registry
# ------------------------------------------------------------------------------------------------


def _model_view(name: str, v: dict) -> dict:
    return {"name": name, "version": str(v["version"]), "type": v["type"], "tags": v.get("tags", {})}


def _model_container(ctx: Ctx, read_op: str) -> tuple[Resource, dict]:
    if "registry-name" in ctx.args:
        registry, state = ctx.registry(ctx.args["registry-name"])
        ctx.authorize(f"{read_op} --registry-name", registry)
        return registry, state["models"]
    ws, state = ctx.workspace()
    ctx.authorize(read_op, ws)
    return ws, state["models"]


MODEL_TARGET = {**WS, "registry-name": 1}


def _needs_target(ctx: Ctx) -> None:
    if "registry-name" not in ctx.args and not all(k in ctx.args for k in WS_REQUIRED):
        raise UsageError(
            "the following arguments are required: --resource-group, --workspace-name (or --registry-name)"
        )


@command("ml model list", {**MODEL_TARGET, "name": 1})
def model_list(ctx: Ctx) -> Any:
    _needs_target(ctx)
    _, models = _model_container(ctx, "az ml model list")
    if "name" in ctx.args:
        return [_model_view(ctx.args["name"], v) for v in models.get(ctx.args["name"], [])]
    return [_model_view(n, max(vs, key=lambda v: int(v["version"]))) for n, vs in models.items() if vs]


@command("ml model show", {**MODEL_TARGET, "name": 1, "version": 1, "label": 1}, ("name",))
def model_show(ctx: Ctx) -> Any:
    _needs_target(ctx)
    _, models = _model_container(ctx, "az ml model show")
    name = ctx.args["name"]
    return _model_view(
        name, _pick(models.get(name, []), f"model {name}", ctx.args.get("version"), ctx.args.get("label"))
    )


@command(
    "ml model create",
    {**WS, "name": 1, "version": 1, "type": 1, "path": 1, "tags": "+", "file": 1, "description": 1},
    (*WS_REQUIRED, "name", "path"),
)
def model_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    kind = ctx.args.get("type", "custom_model")
    if kind not in ("custom_model", "mlflow_model", "triton_model"):
        raise UsageError(f"argument --type: invalid choice: '{kind}'")
    ctx.authorize("az ml model create", ws)
    path = ctx.args["path"]
    found = re.fullmatch(r"azureml://jobs/([^/]+)/outputs/([^/]+)(/.*)?", path)
    if found:
        job = state["jobs"].get(found.group(1))
        if job is None or found.group(2) not in job["outputs"]:
            raise AzError(f"(UserError) {path}: no such job output")
        if job["status"] != "Completed":
            raise AzError(f"(UserError) {path}: job {job['name']} did not complete")
        source = Path(job["outputs"][found.group(2)]) / (found.group(3) or "/").lstrip("/")
    else:
        source = Path(path)
        if not source.exists():
            raise AzError(f"(UserError) path {path} does not exist")
        ctx.upload(ws)
    if kind == "mlflow_model" and not (source / "MLmodel").is_file():
        raise AzError(f"(UserError) {path} is not an MLflow model: it has no MLmodel file at its root")
    name = ctx.args["name"]
    versions = state["models"].setdefault(name, [])
    number = int(ctx.args.get("version") or max((int(v["version"]) for v in versions), default=0) + 1)
    if any(int(v["version"]) == number for v in versions):
        raise AzError(f"(UserError) model {name} version {number} already exists")
    stored = ctx.store.blob("models", ws.name, name, str(number))
    _copy(source, stored)
    tags = dict(t.split("=", 1) if "=" in t else (t, "") for t in ctx.args.get("tags", []))
    entry = {"version": number, "type": kind, "store": str(stored), "tags": tags}
    versions.append(entry)
    return _model_view(name, entry)


@command(
    "ml model download", {**MODEL_TARGET, "name": 1, "version": 1, "download-path": 1}, ("name", "version")
)
def model_download(ctx: Ctx) -> Any:
    _needs_target(ctx)
    target, models = (
        _model_container(ctx, "az ml model download") if "registry-name" not in ctx.args else (None, None)
    )
    if target is None:
        raise AzError("(UserError) downloading registry models is not supported by this double")
    name = ctx.args["name"]
    entry = _pick(models.get(name, []), f"model {name}", ctx.args["version"], None)
    ctx.download(target)
    _copy(Path(entry["store"]), Path(ctx.args.get("download-path", ".")) / name)
    return None


@command(
    "ml model share",
    {**WS, "name": 1, "version": 1, "registry-name": 1, "share-with-name": 1, "share-with-version": 1},
    (*WS_REQUIRED, "name", "version", "registry-name", "share-with-name", "share-with-version"),
)
def model_share(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml model show", ws)  # reads the workspace model
    name = ctx.args["name"]
    entry = _pick(state["models"].get(name, []), f"model {name}", ctx.args["version"], None)
    registry, registry_state = ctx.registry(ctx.args["registry-name"])
    ctx.authorize("az ml model share", registry)  # writes the registry's assets
    target = ctx.args["share-with-name"]
    versions = registry_state["models"].setdefault(target, [])
    if any(str(v["version"]) == str(ctx.args["share-with-version"]) for v in versions):
        raise AzError(f"(UserError) registry model {target}:{ctx.args['share-with-version']} already exists")
    stored = ctx.store.blob("registries", registry.name, target, str(ctx.args["share-with-version"]))
    _copy(Path(entry["store"]), stored)
    shared = {**entry, "version": int(ctx.args["share-with-version"]), "store": str(stored)}
    versions.append(shared)
    return _model_view(target, shared)


def resolve_model_uri(ctx: Ctx, uri: str, ws_state: dict) -> dict:
    found = re.fullmatch(r"azureml://registries/([^/]+)/models/([^/]+)/versions/([^/]+)", uri)
    if found:
        _, registry_state = ctx.registry(found.group(1))
        return _pick(
            registry_state["models"].get(found.group(2), []),
            f"registry model {found.group(2)}",
            found.group(3),
            None,
        )
    if uri.startswith("azureml:"):
        name, version, label = _asset_ref(uri)
        return _pick(ws_state["models"].get(name, []), f"model {name}", version, label)
    raise AzError(
        f"(UserError) model reference {uri!r} is neither azureml:<name>... nor a registry model URI"
    )


# ------------------------------------------------------------------------------------------------
# Online endpoints: the scoring script serves every invoke
# ------------------------------------------------------------------------------------------------


def _scorer_socket(store: Store, key: str) -> str:
    import hashlib
    import tempfile

    # Unix socket paths are limited to ~100 characters: a short name in the temp directory.
    digest = hashlib.sha1(f"{store.home}/{key}".encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"forge-scorer-{digest}.sock")


def start_scorer(store: Store, deployment: dict) -> tuple[bool, str]:
    """Start the deployment's scoring process (it runs `init()`); (ready, why not)."""
    socket_path = _scorer_socket(store, deployment["source"] + deployment["code"])
    log = Path(deployment["code"]).parent / "scorer.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FORGE_DOUBLE"))}
    env["AZUREML_MODEL_DIR"] = deployment["model_store"]
    if deployment.get("collections"):
        env["FORGE_SCORER_PATH"] = str(COLLECTOR_PATH)
        env["FORGE_COLLECTOR_DIR"] = deployment["collector_dir"]
        env["FORGE_COLLECTOR_SOURCE"] = deployment["source"]
    Path(socket_path).unlink(missing_ok=True)
    entry = Path(deployment["scoring_script"]).stem
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "forge_rehearse.scorer", socket_path, deployment["code"], entry],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    pid_file = store.home / "scorers" / f"{process.pid}.pid"
    pid_file.parent.mkdir(exist_ok=True)
    pid_file.write_text(socket_path)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if Path(socket_path).exists():
            deployment["socket"], deployment["pid"] = socket_path, process.pid
            return True, ""
        if process.poll() is not None:
            pid_file.unlink(missing_ok=True)
            return False, " | ".join(log.read_text().strip().splitlines()[-3:])
        time.sleep(0.05)
    stop_scorer(store, {"pid": process.pid, "socket": socket_path})
    return False, "init() did not finish within 180 s"


def stop_scorer(store: Store, deployment: dict) -> None:
    """Stop a deployment's scoring process (the double started it; its pid file says so)."""
    import signal

    pid = deployment.get("pid")
    if pid and (store.home / "scorers" / f"{pid}.pid").is_file():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        (store.home / "scorers" / f"{pid}.pid").unlink(missing_ok=True)
    if deployment.get("socket"):
        Path(deployment["socket"]).unlink(missing_ok=True)


def stop_all_scorers(home: Path) -> None:
    """Stop every scoring process this double started (end of a rehearsal)."""
    import signal

    for pid_file in (home / "scorers").glob("*.pid") if (home / "scorers").is_dir() else []:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.stem), signal.SIGTERM)
        Path(pid_file.read_text().strip()).unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)


def _score(store: Store, deployment: dict, body: str) -> tuple[bool, Any]:
    from .scorer import request

    for attempt in (1, 2):
        try:
            answer = request(deployment["socket"], {"body": body})
        except (OSError, KeyError, json.JSONDecodeError):
            if attempt == 2:
                raise
            # The container was recycled (idle timeout, or a rehearsal restarted): start it again.
            ready, why = start_scorer(store, deployment)
            if not ready:
                return False, why
            continue
        return bool(answer.get("ok")), answer.get("answer") if answer.get("ok") else answer.get("error", "")
    return False, "unreachable"


def _endpoint(state: dict, name: str, kind: str = "online_endpoints") -> dict:
    endpoint = state[kind].get(name)
    if endpoint is None:
        raise AzError(f"(ResourceNotFound) endpoint {name} not found")
    return endpoint


@command("ml online-endpoint list", WS, WS_REQUIRED)
def online_endpoint_list(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-endpoint list", ws)
    return [{"name": n, "traffic": e["traffic"]} for n, e in state["online_endpoints"].items()]


@command("ml online-endpoint show", {**WS, "name": 1}, (*WS_REQUIRED, "name"))
def online_endpoint_show(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-endpoint show", ws)
    endpoint = _endpoint(state, ctx.args["name"])
    return {"name": ctx.args["name"], "traffic": endpoint["traffic"], "auth_mode": endpoint["auth_mode"]}


@command("ml online-endpoint create", {**WS, "file": 1, "name": 1}, (*WS_REQUIRED, "file"))
def online_endpoint_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec, _ = _load_spec(ctx.args["file"])
    name = ctx.args.get("name", spec.get("name"))
    if not name or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{1,31}", name):
        raise AzError(
            f"(UserError) endpoint name {name!r}: 2-32 letters, digits or '-', starting with a letter"
        )
    ctx.authorize("az ml online-endpoint create", ws)
    if name in state["online_endpoints"]:
        raise AzError(f"(UserError) endpoint {name} already exists")
    state["online_endpoints"][name] = {
        "traffic": {},
        "auth_mode": spec.get("auth_mode", "key"),
        "deployments": {},
        "calls": 0,
    }
    return {"name": name, "traffic": {}}


def _parse_traffic(items: list[str]) -> dict[str, int]:
    traffic: dict[str, int] = {}
    for item in " ".join(items).split():
        key, sep, value = item.partition("=")
        if not sep or not value.isdigit():
            raise UsageError(f"argument --traffic: expected NAME=PERCENT, got {item!r}")
        traffic[key] = int(value)
    return traffic


@command("ml online-endpoint update", {**WS, "name": 1, "traffic": "+", "file": 1}, (*WS_REQUIRED, "name"))
def online_endpoint_update(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-endpoint update", ws)
    endpoint = _endpoint(state, ctx.args["name"])
    if "traffic" in ctx.args:
        traffic = _parse_traffic(ctx.args["traffic"])
        unknown = sorted(set(traffic) - set(endpoint["deployments"]))
        if unknown:
            raise AzError(f"(BadRequest) traffic names deployments that do not exist: {', '.join(unknown)}")
        new = {name: traffic.get(name, 0) for name in endpoint["deployments"]}
        if sum(new.values()) not in (0, 100):
            raise AzError(f"(BadRequest) traffic must add up to 100 (or 0), got {sum(new.values())}: {new}")
        endpoint["traffic"] = {k: v for k, v in new.items() if v or k in traffic}
        for name, percent in new.items():
            fault = ctx.store.state["faults"].get("fail-after-shift")
            if fault == name and percent > 0:
                endpoint["deployments"][name]["broken"] = True
    return {"name": ctx.args["name"], "traffic": endpoint["traffic"]}


def _route(endpoint: dict) -> str:
    """Weighted round robin over the traffic split (deterministic, unlike Azure's random routing)."""
    live = [(n, p) for n, p in sorted(endpoint["traffic"].items()) if p > 0]
    if not live:
        raise AzError(
            "(UserError) No valid deployments to route to. Please check that the endpoint has at least one deployment with positive weight values or use a deployment specific header to route."
        )
    endpoint["calls"] += 1
    slot = endpoint["calls"] % 100
    for name, percent in live:
        if slot < percent:
            return name
        slot -= percent
    return live[-1][0]


def _collect(ctx: Ctx, ws_state: dict, endpoint_name: str, deployment: dict, collector_dir: Path) -> None:
    """Register what the data collector wrote as a data asset version (Azure does this itself)."""
    for collection, config in (deployment.get("collections") or {}).items():
        folder = collector_dir / collection
        if not folder.is_dir() or not any(folder.rglob("*.jsonl")):
            continue
        data = config.get("data") if isinstance(config, dict) else None
        asset = (
            data.get("name")
            if isinstance(data, dict)
            else f"{endpoint_name}-{deployment['name']}-{collection}"
        )
        versions = ws_state["data"].setdefault(asset, [])
        if not any(v.get("source") == str(folder) for v in versions):
            number = max((int(v["version"]) for v in versions), default=0) + 1
            versions.append(
                {
                    "version": number,
                    "type": "uri_folder",
                    "store": str(folder),
                    "uri": f"azureml:{asset}:{number}",
                    "source": str(folder),
                }
            )


@command(
    "ml online-endpoint invoke",
    {**WS, "name": 1, "deployment-name": 1, "request-file": 1},
    (*WS_REQUIRED, "name", "request-file"),
)
def online_endpoint_invoke(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-endpoint invoke", ws)
    name = ctx.args["name"]
    endpoint = _endpoint(state, name)
    target = ctx.args.get("deployment-name") or _route(endpoint)
    deployment = endpoint["deployments"].get(target)
    if deployment is None:
        raise AzError(f"(ResourceNotFound) deployment {target} not found in endpoint {name}")
    request = Path(ctx.args["request-file"])
    if not request.is_file():
        raise AzError(f"(UserError) request file {request} does not exist")
    if deployment.get("broken"):
        raise AzError(
            f"(ServiceUnavailable) deployment {target} of {name} answered 503: upstream request timeout"
        )
    ok, answer = _score(ctx.store, deployment, request.read_text())
    if not ok:
        tail = " | ".join(str(answer).strip().splitlines()[-3:])
        raise AzError(f"(InternalServerError) deployment {target} failed to score: {tail}")
    if deployment.get("collections"):
        _collect(ctx, state, name, deployment, Path(deployment["collector_dir"]))
    return answer


def _deployment_from_spec(ctx: Ctx, ws: Resource, state: dict, kind: str) -> tuple[str, dict, dict, dict]:
    spec, base = _load_spec(ctx.args["file"])
    _apply_sets(spec, ctx.args.get("set", []))
    name = ctx.args.get("name", spec.get("name"))
    endpoint_name = ctx.args.get("endpoint-name", spec.get("endpoint_name"))
    if not name or not endpoint_name:
        raise UsageError("the deployment needs --name and --endpoint-name (or both in its file)")
    endpoint = _endpoint(state, endpoint_name, kind)
    model = resolve_model_uri(ctx, str(spec.get("model", "")), state)
    config = spec.get("code_configuration") or {}
    code = base / str(config.get("code", "."))
    script = code / str(config.get("scoring_script", ""))
    if model["type"] != "mlflow_model" and not script.is_file():
        raise AzError(
            f"(UserError) scoring script {config.get('scoring_script')} does not exist in {config.get('code')}"
        )
    env_ref = str(spec.get("environment", ""))
    if env_ref.startswith("azureml:"):
        env_name, _, _ = _asset_ref(env_ref)
        if not state["environments"].get(env_name):
            raise AzError(f"(UserError) environment {env_name} does not exist in workspace {ws.name}")
    root = ctx.store.blob("deployments", ws.name, endpoint_name, f"{name}-{ctx.store.next_id()}")
    shutil.copytree(code, root / "code", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    deployment = {
        "name": name,
        "model": spec.get("model"),
        "model_store": model["store"],
        "code": str(root / "code"),
        "scoring_script": str(config.get("scoring_script", "")),
        "provisioning_state": "Creating",
        "source": f"{ws.id}/{kind[:-1]}s/{endpoint_name}/deployments/{name}",
        "collector_dir": str(root / "collected"),
        "collections": ((spec.get("data_collector") or {}).get("collections") or {}),
    }
    return name, endpoint, deployment, spec


@command(
    "ml online-deployment create",
    {**WS, "file": 1, "name": 1, "endpoint-name": 1, "set": "+", "all-traffic": 0},
    (*WS_REQUIRED, "file"),
)
def online_deployment_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-deployment create", ws)
    name, endpoint, deployment, spec = _deployment_from_spec(ctx, ws, state, "online_endpoints")
    if not spec.get("instance_type"):
        raise AzError("(UserError) a managed online deployment needs instance_type")
    # Azure starts the container and calls init(); a crash there fails the deployment.
    previous = endpoint["deployments"].get(name)
    if previous:
        stop_scorer(ctx.store, previous)
    ready, why = start_scorer(ctx.store, deployment)
    deployment["provisioning_state"] = "Succeeded" if ready else "Failed"
    endpoint["deployments"][name] = deployment
    endpoint["traffic"].setdefault(name, 0)
    if not ready:
        raise AzError(f"(ResourceNotReady) User container has crashed or terminated: {why}")
    return {"name": name, "provisioning_state": "Succeeded"}


def _deployment(state: dict, ctx: Ctx, kind: str = "online_endpoints") -> tuple[dict, dict]:
    endpoint = _endpoint(state, ctx.args["endpoint-name"], kind)
    deployment = endpoint["deployments"].get(ctx.args["name"])
    if deployment is None:
        raise AzError(
            f"(ResourceNotFound) deployment {ctx.args['name']} not found in endpoint {ctx.args['endpoint-name']}"
        )
    return endpoint, deployment


@command(
    "ml online-deployment show",
    {**WS, "name": 1, "endpoint-name": 1},
    (*WS_REQUIRED, "name", "endpoint-name"),
)
def online_deployment_show(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-deployment show", ws)
    _, deployment = _deployment(state, ctx)
    return {
        "name": deployment["name"],
        "model": deployment["model"],
        "provisioning_state": "Failed" if deployment.get("broken") else deployment["provisioning_state"],
    }


@command("ml online-deployment list", {**WS, "endpoint-name": 1}, (*WS_REQUIRED, "endpoint-name"))
def online_deployment_list(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml online-deployment list", ws)
    endpoint = _endpoint(state, ctx.args["endpoint-name"])
    return [
        {"name": d["name"], "model": d["model"], "provisioning_state": d["provisioning_state"]}
        for d in endpoint["deployments"].values()
    ]


@command(
    "ml online-deployment delete",
    {**WS, "name": 1, "endpoint-name": 1, "yes": 0, "no-wait": 0},
    (*WS_REQUIRED, "name", "endpoint-name"),
)
def online_deployment_delete(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    if not ctx.args.get("yes"):
        raise UsageError("this command needs confirmation: pass --yes when not on a terminal")
    ctx.authorize("az ml online-deployment delete", ws)
    endpoint, _ = _deployment(state, ctx)
    if endpoint["traffic"].get(ctx.args["name"], 0) > 0:
        raise AzError(
            f"(BadRequest) deployment {ctx.args['name']} still receives {endpoint['traffic'][ctx.args['name']]}% of the traffic; move it first"
        )
    stop_scorer(ctx.store, endpoint["deployments"].pop(ctx.args["name"]))
    endpoint["traffic"].pop(ctx.args["name"], None)
    return None


# ------------------------------------------------------------------------------------------------
# Batch endpoints
# ------------------------------------------------------------------------------------------------

BATCH_RUNNER = """
import sys
sys.path[:0] = [sys.argv[1]]
import importlib
entry = importlib.import_module(sys.argv[2])
entry.init()
files = sorted(str(p) for p in __import__("pathlib").Path(sys.argv[3]).rglob("*") if p.is_file())
result = entry.run(files)
result.to_csv(sys.argv[4], index=False)
print(f"scored {len(result)} rows from {len(files)} files")
"""


@command("ml batch-endpoint list", WS, WS_REQUIRED)
def batch_endpoint_list(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml batch-endpoint list", ws)
    return [{"name": n, "defaults": e["defaults"]} for n, e in state["batch_endpoints"].items()]


@command("ml batch-endpoint show", {**WS, "name": 1}, (*WS_REQUIRED, "name"))
def batch_endpoint_show(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml batch-endpoint show", ws)
    endpoint = _endpoint(state, ctx.args["name"], "batch_endpoints")
    return {"name": ctx.args["name"], "defaults": endpoint["defaults"]}


@command("ml batch-endpoint create", {**WS, "file": 1, "name": 1}, (*WS_REQUIRED, "file"))
def batch_endpoint_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec, _ = _load_spec(ctx.args["file"])
    name = ctx.args.get("name", spec.get("name"))
    if not name:
        raise UsageError("the following arguments are required: --name")
    ctx.authorize("az ml batch-endpoint create", ws)
    state["batch_endpoints"][name] = {"defaults": {"deployment_name": None}, "deployments": {}}
    return {"name": name}


@command("ml batch-endpoint update", {**WS, "name": 1, "set": "+"}, (*WS_REQUIRED, "name"))
def batch_endpoint_update(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml batch-endpoint update", ws)
    endpoint = _endpoint(state, ctx.args["name"], "batch_endpoints")
    for item in ctx.args.get("set", []):
        key, _, value = item.partition("=")
        if key != "defaults.deployment_name":
            raise AzError(f"(UserError) this double updates only defaults.deployment_name, not {key}")
        if value not in endpoint["deployments"]:
            raise AzError(
                f"(BadRequest) deployment {value} does not exist in batch endpoint {ctx.args['name']}"
            )
        endpoint["defaults"]["deployment_name"] = value
    return {"name": ctx.args["name"], "defaults": endpoint["defaults"]}


@command(
    "ml batch-deployment create",
    {**WS, "file": 1, "name": 1, "endpoint-name": 1, "set": "+"},
    (*WS_REQUIRED, "file"),
)
def batch_deployment_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml batch-deployment create", ws)
    name, endpoint, deployment, spec = _deployment_from_spec(ctx, ws, state, "batch_endpoints")
    compute = str(spec.get("compute", "")).removeprefix("azureml:")
    if compute not in {c.name for c in ctx.world.of_kind("compute", ws.environment)}:
        raise AzError(f"(UserError) compute {compute} does not exist in workspace {ws.name}")
    deployment["provisioning_state"] = "Succeeded"
    endpoint["deployments"][name] = deployment
    return {"name": name, "provisioning_state": "Succeeded"}


@command(
    "ml batch-endpoint invoke",
    {**WS, "name": 1, "deployment-name": 1, "input": 1, "input-type": 1},
    (*WS_REQUIRED, "name", "input"),
)
def batch_endpoint_invoke(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    ctx.authorize("az ml batch-endpoint invoke", ws)
    endpoint = _endpoint(state, ctx.args["name"], "batch_endpoints")
    target = ctx.args.get("deployment-name") or endpoint["defaults"]["deployment_name"]
    deployment = endpoint["deployments"].get(target or "")
    if deployment is None:
        raise AzError(f"(UserError) batch endpoint {ctx.args['name']} has no deployment {target}")
    local = Path(ctx.args["input"])
    if not local.exists():
        raise AzError(f"(UserError) input {local} does not exist")
    ctx.upload(ws)
    name = f"batchjob-{ctx.store.next_id():04d}"
    out = ctx.store.blob("jobs", name, "outputs", "score")
    log = ctx.store.blob("jobs", name) / "log.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "FORGE_DOUBLE"))}
    env["AZUREML_MODEL_DIR"] = deployment["model_store"]
    result = subprocess.run(
        [sys.executable, "-c", BATCH_RUNNER, deployment["code"], Path(deployment["scoring_script"]).stem, str(local), str(out / "predictions.csv")],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    log.write_text(result.stdout + result.stderr)
    status = "Completed" if result.returncode == 0 else "Failed"
    state["jobs"][name] = {
        "name": name,
        "status": status,
        "log": str(log),
        "outputs": {"score": str(out)},
        "output_types": {},
        "compute": "batch",
    }
    return {"name": name, "status": status}


# ------------------------------------------------------------------------------------------------
# Schedules
# ------------------------------------------------------------------------------------------------


@command("ml schedule create", {**WS, "file": 1, "name": 1}, (*WS_REQUIRED, "file"))
def schedule_create(ctx: Ctx) -> Any:
    ws, state = ctx.workspace()
    spec, _ = _load_spec(ctx.args["file"])
    name = ctx.args.get("name", spec.get("name"))
    if not name or "trigger" not in spec or not ({"create_monitor", "create_job"} & set(spec)):
        raise AzError("(UserError) a schedule needs a name, a trigger and create_monitor or create_job")
    ctx.authorize("az ml schedule create", ws)
    state["schedules"][name] = {"trigger": spec["trigger"], "created": time.time()}
    return {"name": name}


# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    home = os.environ.get("FORGE_DOUBLE_HOME")
    if not home or not (Path(home) / "world.json").is_file():
        print(
            "ERROR: az (mlops-forge test double): FORGE_DOUBLE_HOME does not name a prepared double",
            file=sys.stderr,
        )
        return 2
    try:
        cmd, args = parse(argv)
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    store = Store(Path(home))
    try:
        result = cmd.handler(Ctx(store, args, " ".join(cmd.path)))
        text = render(result, args)
        store.save()
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except (Refused, AzError) as exc:
        store.save()
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if text is not None:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
