"""The Azure estate a rehearsal runs against, read from the offline plan of every stack.

Only facts the double needs: per environment, the workspace, storage account, key vault,
registries and compute clusters with their network access (public or not, and the IP rules of a
firewall that denies by default), each identity (client ID → principal ID) and every role
assignment. Client and principal IDs are the ones `stacks.testing`'s mocks give the
identities, so the IDs a stack would output are the IDs the double recognises.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
REGISTRY = "azure-native:machinelearningservices:Registry"
STORAGE = "azure-native:storage:StorageAccount"
COMPUTE = "azure-native:machinelearningservices:Compute"
KEY_VAULT = "azure-native:keyvault:Vault"
CONTAINER_REGISTRY = "azure-native:containerregistry:Registry"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"


@dataclass(frozen=True)
class Resource:
    kind: str  # workspace, storage, key-vault, registry, acr, compute
    name: str
    id: str
    environment: str
    public: bool  # public network access enabled
    principal_id: str | None = None  # its system-assigned identity, if any
    # What its public endpoint accepts when its firewall denies by default: the IPv4 addresses and
    # CIDR ranges of its IP rules (possibly none). None: no IP restriction. A workspace's rules are
    # not in the plan (the Workspace API of pulumi-azure-native takes none): the double keeps
    # them in its state, set by `az ml workspace network-rule add`.
    allowed_ips: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Identity:
    name: str
    client_id: str
    principal_id: str
    environment: str
    # The OIDC subjects its federated credentials trust (`repo:OWNER/REPO:environment:NAME`, ...).
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assignment:
    principal_id: str
    role_guid: str
    scope: str


@dataclass
class World:
    resources: list[Resource] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    # The GitHub variables the stacks create (stacks.github): GitHub environment → name → value,
    # "" for the repository's own. Workflows read exactly these, as they would on GitHub.
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    # Custom roles the stacks define: GUID → the RoleDefinition's inputs (stacks.permissions.held).
    role_definitions: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> World:
        raw = json.loads(text)
        return cls(
            resources=[_resource(r) for r in raw["resources"]],
            identities=[
                Identity(**{**i, "subjects": tuple(i.get("subjects", ()))}) for i in raw["identities"]
            ],
            assignments=[Assignment(**a) for a in raw["assignments"]],
            variables=raw.get("variables", {}),
            role_definitions=raw.get("role_definitions", {}),
        )

    def find(self, kind: str, name: str) -> Resource | None:
        return next((r for r in self.resources if r.kind == kind and r.name == name), None)

    def of_kind(self, kind: str, environment: str | None = None) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind and environment in (None, r.environment)]

    def identity(self, client_id: str) -> Identity | None:
        return next((i for i in self.identities if i.client_id.lower() == client_id.lower()), None)

    def roles_of(self, principal_id: str, target_id: str) -> list[str]:
        """GUIDs of the roles `principal_id` holds at `target_id` (assigned there or above)."""
        target = target_id.lower().rstrip("/")
        return [
            a.role_guid
            for a in self.assignments
            if a.principal_id == principal_id
            and (
                target == a.scope.lower().rstrip("/") or target.startswith(a.scope.lower().rstrip("/") + "/")
            )
        ]


def _resource(raw: dict[str, Any]) -> Resource:
    """A resource as `World.to_json` wrote it; JSON written before IP rules existed has none."""
    allowed = raw.get("allowed_ips")
    return Resource(**{**raw, "allowed_ips": None if allowed is None else tuple(allowed)})


def _public(properties: dict[str, Any]) -> bool:
    return str(properties.get("publicNetworkAccess", "Enabled")).lower() != "disabled"


def _allowed_ips(rules: Any, key: str) -> tuple[str, ...] | None:
    """The IP rules of a firewall (`networkRuleSet` of storage and ACR, `networkAcls` of Key
    Vault) that denies by default; None when it allows by default or there is none."""
    if not isinstance(rules, dict) or str(rules.get("defaultAction", "Allow")).lower() != "deny":
        return None
    return tuple(str(rule[key]) for rule in rules.get("ipRules") or () if rule.get(key))


def add_plan(world: World, plan: Any) -> None:
    """Add one environment's planned resources (a `stacks.offline.Plan`) to `world`."""
    from stacks.github import planned_variables
    from stacks.offline.mocks import _guid, arm_id

    for scope, values in planned_variables(plan.resources).items():
        world.variables.setdefault(scope or "", {}).update({k: str(v) for k, v in values.items()})
    env = plan.environment
    for r in plan.resources:
        if not r.custom:
            continue
        props = r.properties
        rid = arm_id(r.type, r.name, props)
        system = (
            _guid(rid, "principal")
            if isinstance(props.get("identity"), dict)
            and "SystemAssigned" in str(props["identity"].get("type"))
            else None
        )
        if r.type == "azure-native:resources:ResourceGroup" and "resourceGroupName" in props:
            world.resources.append(Resource("group", props["resourceGroupName"], rid, env, True))
        elif r.type == IDENTITY:
            world.identities.append(
                Identity(
                    props.get("resourceName", r.name), _guid(rid, "client"), _guid(rid, "principal"), env
                )
            )
        elif r.type == ROLE_DEFINITION:
            world.role_definitions[str(props["roleDefinitionId"]).lower()] = props
        elif r.type == ROLE_ASSIGNMENT:
            world.assignments.append(
                Assignment(props["principalId"], props["roleDefinitionId"].rsplit("/", 1)[-1], props["scope"])
            )
        elif r.type == WORKSPACE:
            world.resources.append(
                Resource("workspace", props["workspaceName"], rid, env, _public(props), system)
            )
        elif r.type == REGISTRY:
            world.resources.append(
                Resource("registry", props["registryName"], rid, env, _public(props), system)
            )
        elif r.type == STORAGE:
            allowed = _allowed_ips(props.get("networkRuleSet"), "iPAddressOrRange")
            world.resources.append(
                Resource("storage", props["accountName"], rid, env, _public(props), system, allowed)
            )
        elif r.type == CONTAINER_REGISTRY:
            allowed = _allowed_ips(props.get("networkRuleSet"), "iPAddressOrRange")
            world.resources.append(
                Resource("acr", props["registryName"], rid, env, _public(props), system, allowed)
            )
        elif r.type == KEY_VAULT:
            vault = props.get("properties") or {}
            allowed = _allowed_ips(vault.get("networkAcls"), "value")
            world.resources.append(
                Resource("key-vault", props["vaultName"], rid, env, _public(vault), system, allowed)
            )
        elif r.type == COMPUTE and props.get("properties", {}).get("computeType") == "AmlCompute":
            world.resources.append(Resource("compute", props["computeName"], rid, env, True, system))
    trusted: dict[str, list[str]] = {}
    for r in plan.of_type(FEDERATED_CREDENTIAL):
        trusted.setdefault(r.properties["resourceName"], []).append(r.properties["subject"])
    world.identities = [
        replace(i, subjects=tuple(trusted[i.name])) if i.environment == env and i.name in trusted else i
        for i in world.identities
    ]


def build(program_dir: Path, environments: list[str]) -> World:
    """The world of every environment of the Pulumi program in `program_dir` (offline plans)."""
    from stacks.testing import plan_program

    return from_plans([plan_program(program_dir, env) for env in environments])


def from_plans(plans: list[Any]) -> World:
    """The world of plans already computed (`stacks.offline.Plan`, one per environment): a test that
    also reads the plans' outputs plans each stack once."""
    world = World()
    for plan in plans:
        add_plan(world, plan)
    return world
