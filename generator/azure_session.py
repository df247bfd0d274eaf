"""The signed-in Azure account (`az login`) and management clients for `bootstrap` and `doctor`.

Credentials come from the Azure CLI (`AzureCliCredential`): the admin who runs the first
`pulumi up` is logged in there anyway, and no secret is stored. `MLOPS_FORGE_ARM_URL` points the
clients at another Resource Manager endpoint (a sovereign cloud, or a local stand-in in tests).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from generator.errors import UserError

ARM_URL = "https://management.azure.com"
# Built-in role definition IDs (Microsoft Learn, "Azure built-in roles").
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


class NotLoggedIn(UserError):
    """No usable `az login`: a missing prerequisite, not bad input."""

    exit_code = 1


@dataclass(frozen=True)
class Account:
    subscription_id: str
    tenant_id: str
    user: str
    user_type: str  # "user" or "servicePrincipal", as `az account show` says
    object_id: str


def _az(*args: str) -> dict:
    if shutil.which("az") is None:
        raise NotLoggedIn(
            "the Azure CLI (az) is not installed: https://learn.microsoft.com/cli/azure/install-azure-cli"
        )
    result = subprocess.run(["az", *args, "--output", "json"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise NotLoggedIn(
            "not logged in to Azure: run `az login` (then `az account set --subscription <id>`)"
        )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise NotLoggedIn(f"`az {' '.join(args)}` gave no JSON: {result.stdout[:100]!r}") from None


def _claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token (not verified: only read to learn the caller's object ID)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def arm_url() -> str:
    return os.environ.get("MLOPS_FORGE_ARM_URL", ARM_URL).rstrip("/")


class AzureSession:
    """The account `az` is logged in to, one subscription, and clients bound to both."""

    def __init__(self, subscription: str | None = None) -> None:
        from azure.identity import AzureCliCredential

        args = ["account", "show"] + (["--subscription", subscription] if subscription else [])
        shown = _az(*args)
        self.credential = AzureCliCredential(process_timeout=60)
        try:
            token = self.credential.get_token(f"{ARM_URL}/.default").token
        except Exception as exc:  # the CLI says why (expired login, MFA, ...)
            raise NotLoggedIn(f"cannot get an Azure token: {exc}; run `az login`") from None
        user = shown.get("user") or {}
        self.account = Account(
            subscription_id=shown["id"],
            tenant_id=shown["tenantId"],
            user=str(user.get("name", "")),
            user_type=str(user.get("type", "user")),
            object_id=str(_claims(token).get("oid", "")),
        )

    def client(self, kind: type) -> Any:
        return kind(self.credential, self.account.subscription_id, base_url=arm_url())

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.account.subscription_id}"

    def role_definition(self, guid: str) -> str:
        return f"{self.subscription_scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"

    def subscription_roles(self) -> set[str]:
        """Role definition GUIDs assigned to the caller (directly or by group) at or above the subscription."""
        from azure.mgmt.authorization import AuthorizationManagementClient

        client = self.client(AuthorizationManagementClient)
        # atScope(): at the subscription or above it (management groups, root); assignedTo(): the
        # caller directly or through a group.
        assignments = client.role_assignments.list_for_subscription(
            filter=f"atScope() and assignedTo('{self.account.object_id}')"
        )
        return {
            a.role_definition_id.rsplit("/", 1)[-1]
            for a in assignments
            if "/resourceGroups/" not in (a.scope or "")  # below the subscription: not enough here
        }

    def rights_finding(self) -> str | None:
        """None when the caller can create resources and assign roles on the subscription."""
        roles = self.subscription_roles()
        if OWNER in roles or {USER_ACCESS_ADMINISTRATOR, CONTRIBUTOR} <= roles:
            return None
        return (
            f"{self.account.user or self.account.object_id} is neither Owner nor User Access Administrator "
            f"+ Contributor on subscription {self.account.subscription_id} (the stacks assign roles); an "
            f"Owner fixes it with: az role assignment create --assignee {self.account.object_id} "
            f"--role Owner --scope {self.subscription_scope}"
        )

    def unregistered_providers(self, namespaces: tuple[str, ...]) -> list[str]:
        from azure.mgmt.resource.resources import ResourceManagementClient

        client = self.client(ResourceManagementClient)
        return [ns for ns in namespaces if client.providers.get(ns).registration_state != "Registered"]
