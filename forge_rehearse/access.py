"""May this caller, on this runner, perform this operation on this resource?

Permissions come from `stacks.permissions` (the one table of Microsoft's built-in role
definitions and of what each operation needs), checked against the role assignments in the
environment's plan; an operation the table lacks is refused, naming the table to add it to.
Network: an operation on a private plane (workspace, storage, registry, endpoint data planes)
of a resource whose public network access is disabled is unreachable from a GitHub-hosted runner;
one on a resource whose public endpoint accepts only its IP rules (`Resource.allowed_ips`) is
refused unless the runner's public egress address falls in one of them.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import sys
from dataclasses import dataclass
from types import ModuleType

from .world import Resource, World


def stacks_module(name: str) -> ModuleType:
    """`stacks.<name>` without running `stacks/__init__` (which imports Pulumi, ~0.4 s).

    The double runs once per `az` call, dozens of times per workflow; the tables it reads
    (`permissions`, `addresses`) need nothing but the standard library.
    """
    full = f"stacks.{name}"
    if full in sys.modules:
        return sys.modules[full]
    package = importlib.util.find_spec("stacks")
    if package is None or not package.submodule_search_locations:
        raise ImportError("the stacks package (mlops-forge) is not installed")
    path = f"{package.submodule_search_locations[0]}/{name}.py"
    spec = importlib.util.spec_from_file_location(full, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module


permissions = stacks_module("permissions")
Operation = permissions.Operation


def operation(name: str) -> Operation:
    found = permissions.OPERATIONS.get(name)
    if found is None:
        raise KeyError(f"no permission rule for {name!r}: add it to stacks/permissions.py")
    return found


class Refused(Exception):
    """Azure would refuse the call; the message is what the CLI would print."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Caller:
    client_id: str
    principal_id: str
    name: str
    hosted: bool  # a GitHub-hosted runner (outside every virtual network)
    # The runner's public egress address (FORGE_RUNNER_EGRESS_IP); None: a GitHub-hosted runner,
    # whose address is any of Azure's and matches no IP rule.
    egress_ip: str | None = None


def allows(rules: tuple[str, ...], address: str | None) -> bool:
    """Whether `address` falls in one of the IP rules (an address, or a CIDR range; an address is a /32)."""
    if address is None:
        return False
    ip = ipaddress.IPv4Address(address)
    return any(ip in ipaddress.IPv4Network(rule, strict=False) for rule in rules)


def check(world: World, caller: Caller, name: str, target: Resource) -> None:
    """Raise `Refused` unless `caller` may perform operation `name` on `target` from its runner."""
    op = operation(name)
    if op.plane not in permissions.PUBLIC_PLANES and not target.public and caller.hosted:
        raise Refused(
            f"(PublicNetworkAccessDisabled) {name}: {target.kind} {target.name} has public network access "
            "disabled and this job runs on a GitHub-hosted runner outside its virtual network; run it on "
            "the environment's VNet runners",
            "network",
        )
    # IP rules guard the public endpoint; a VNet runner reaching a private resource goes through
    # its private endpoint, where they do not apply.
    if (
        op.plane not in permissions.PUBLIC_PLANES
        and target.public
        and target.allowed_ips is not None
        and not allows(target.allowed_ips, caller.egress_ip)
    ):
        egress = caller.egress_ip or "a GitHub-hosted runner without a fixed address"
        raise Refused(
            f"(Forbidden) {name}: {target.kind} {target.name} accepts public traffic only from its IP rules "
            f"({', '.join(target.allowed_ips) or 'none'}) and this job's egress is {egress}; add the runner's "
            "address to forge:allowedIps or run the job on runners with a listed address",
            "network",
        )
    held = permissions.held(world.roles_of(caller.principal_id, target.id), world.role_definitions)
    for action, data in _required(op):
        if not any(permissions.grants(role, action, data=data) for role in held):
            roles = ", ".join(r.name for r in held) or "no role"
            raise Refused(
                f"(AuthorizationFailed) The client '{caller.client_id}' ({caller.name}) with object id "
                f"'{caller.principal_id}' does not have authorization to perform "
                f"{'data action' if data else 'action'} '{action}' over scope '{target.id}' "
                f"(it holds {roles} there); operation: {name}",
                "permission",
            )


def _required(op: Operation) -> tuple[tuple[str, bool], ...]:
    return tuple((a, False) for a in op.actions) + tuple((a, True) for a in op.data_actions)
