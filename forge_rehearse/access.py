"""May this caller, on this runner, perform this operation on this resource?

Permissions come from `stacks.permissions` (the one table of Microsoft's built-in role
definitions and of what each operation needs), checked against the role assignments in the
environment's plan. A few read/delete operations the workflows use are not in that table yet;
`SUPPLEMENT` lists them in the same shape, with the same Microsoft source, until they move there.
Network: an operation on a private plane (workspace, storage, registry, endpoint data planes)
of a resource whose public network access is disabled is unreachable from a GitHub-hosted runner.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType

from .world import Resource, World


def _permissions() -> ModuleType:
    """`stacks.permissions` without running `stacks/__init__` (which imports Pulumi, ~0.4 s).

    The double runs once per `az` call, dozens of times per workflow; the table needs nothing
    but the standard library.
    """
    if "stacks.permissions" in sys.modules:
        return sys.modules["stacks.permissions"]
    package = importlib.util.find_spec("stacks")
    if package is None or not package.submodule_search_locations:
        raise ImportError("the stacks package (mlops-forge) is not installed")
    path = f"{package.submodule_search_locations[0]}/permissions.py"
    spec = importlib.util.spec_from_file_location("stacks.permissions", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["stacks.permissions"] = module
    spec.loader.exec_module(module)
    return module


permissions = _permissions()
Operation = permissions.Operation

_ML = "Microsoft.MachineLearningServices"
_WS_READ = f"{_ML}/workspaces/read"
_SOURCE = (
    "https://learn.microsoft.com/azure/role-based-access-control/permissions/"
    "ai-machine-learning#microsoftmachinelearningservices"
)


def _ml(name: str, *actions: str, plane: str = "arm") -> Operation:
    return Operation(name=name, actions=(_WS_READ, *actions), plane=plane, scope="workspace", source=_SOURCE)


SUPPLEMENT: dict[str, Operation] = {
    op.name: op
    for op in (
        _ml("az ml data list", f"{_ML}/workspaces/data/versions/read"),
        _ml("az ml data show", f"{_ML}/workspaces/data/versions/read"),
        _ml("az ml data download", f"{_ML}/workspaces/data/versions/read"),
        _ml("az ml model list", f"{_ML}/workspaces/models/versions/read"),
        _ml("az ml model download", f"{_ML}/workspaces/models/versions/read"),
        _ml("az ml online-endpoint show", f"{_ML}/workspaces/onlineEndpoints/read"),
        _ml("az ml online-endpoint list", f"{_ML}/workspaces/onlineEndpoints/read"),
        _ml("az ml online-endpoint update", f"{_ML}/workspaces/onlineEndpoints/write"),
        _ml("az ml online-deployment show", f"{_ML}/workspaces/onlineEndpoints/deployments/read"),
        _ml("az ml online-deployment list", f"{_ML}/workspaces/onlineEndpoints/deployments/read"),
        _ml("az ml online-deployment delete", f"{_ML}/workspaces/onlineEndpoints/deployments/delete"),
        _ml("az ml batch-endpoint show", f"{_ML}/workspaces/batchEndpoints/read"),
        _ml("az ml batch-endpoint list", f"{_ML}/workspaces/batchEndpoints/read"),
        _ml("az ml batch-endpoint update", f"{_ML}/workspaces/batchEndpoints/write"),
        _ml(
            "az ml batch-endpoint invoke",
            f"{_ML}/workspaces/batchEndpoints/read",
            f"{_ML}/workspaces/jobs/write",
        ),
        Operation(
            name="az ml model share",
            actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/write"),
            plane="registry",
            scope="registry",
            source="https://learn.microsoft.com/azure/machine-learning/how-to-manage-registries",
        ),
        Operation(
            name="az ml model list --registry-name",
            actions=(f"{_ML}/registries/read", f"{_ML}/registries/assets/read"),
            plane="registry",
            scope="registry",
            source="https://learn.microsoft.com/azure/machine-learning/how-to-manage-registries",
        ),
    )
}


def operation(name: str) -> Operation:
    found = permissions.OPERATIONS.get(name) or SUPPLEMENT.get(name)
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
    held = [
        permissions.ROLES_BY_GUID[g]
        for g in world.roles_of(caller.principal_id, target.id)
        if g in permissions.ROLES_BY_GUID
    ]
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
