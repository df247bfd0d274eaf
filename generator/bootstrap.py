"""`mlops-forge bootstrap`: the Pulumi state backend of a generated project, before the first `pulumi up`.

With `azblob` state it creates, as the signed-in `az` user, a resource group, a storage account
(shared keys off, TLS 1.2, no public blobs, blob versioning and soft delete), the state container
and `Storage Blob Data Contributor` on it for the caller and every CI identity that already
exists; then prints the one line to export. With `pulumi-cloud` it checks the Pulumi login.

Everything is checked before anything is created (GitHub names in the config, Azure rights, the
storage account name); each step is idempotent, so a second run changes nothing and a run that
stopped half-way is resumed by running it again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UserError
from generator.project_facts import ProjectFacts, read_project
from stacks.identity import GITHUB_ISSUER
from stacks.naming import Names
from stacks.state import StateStorage, state_storage

RETENTION_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class BootstrapSettings:
    project_dir: Path
    subscription: str | None
    accept_unguarded_prod: bool = False


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bootstrap",
        help="create the Pulumi state backend of a generated project (idempotent)",
        description="Create the azblob state storage (or check the Pulumi Cloud login) and print the "
        "line to export. Run it after `az login && gh auth login`, before the first `pulumi up`, "
        "and again after it to give the new CI identities access to the state.",
    )
    parser.add_argument("project_dir", nargs="?", default=".", metavar="PROJECT_DIR")
    parser.add_argument("--subscription", help="Azure subscription ID or name (default: az's current one)")
    parser.add_argument(
        "--accept-unguarded-prod",
        action="store_true",
        help="bootstrap although GitHub cannot make a second person approve prod (private repository on GitHub Free)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = BootstrapSettings(
        project_dir=Path(args.project_dir),
        subscription=args.subscription,
        accept_unguarded_prod=args.accept_unguarded_prod,
    )
    facts = read_project(settings.project_dir)
    check_github(facts, settings.accept_unguarded_prod)
    if facts.state_backend.value == "pulumi-cloud":
        user = pulumi_cloud_user()
        _say(f"Pulumi Cloud: logged in as {user}; state needs nothing else")
        return 0
    from generator.azure_session import AzureSession

    session = AzureSession(settings.subscription)
    storage = state_storage(facts.project.value, facts.repository.value)
    preflight(session, facts, storage)
    pending = StateBuilder(session, facts, storage).build()
    if pending:
        _say(
            f"no CI identities yet in {', '.join(pending)} (their stacks have not run): run "
            "`mlops-forge bootstrap` again after their first `pulumi up` to give them access to the state"
        )
    print(f"export PULUMI_BACKEND_URL='{storage.backend_url}'")
    return 0


def _say(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr)


def check_github(facts: ProjectFacts, accept_unguarded_prod: bool) -> None:
    """Exit 2 before anything is created when the config names an owner, repo or team that doesn't
    exist, or asks for protections the repository's plan does not have."""
    from generator.github_checks import (
        GitHubClient,
        github_token,
        input_errors,
        plan_report,
        unguarded_prod_error,
    )

    token = github_token()
    if token is None:
        raise UserError("no GitHub token: run `gh auth login` (or set GITHUB_TOKEN)", exit_code=1)
    client = GitHubClient(token)
    errors = input_errors(client, facts)
    if errors:
        raise UserError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    report = plan_report(client, facts)
    if report.errors:
        raise UserError(report.errors[0])
    _say(f"GitHub: {report.summary()}")
    for note in report.notes:
        _say(note)
    unguarded = unguarded_prod_error(report, facts)
    if unguarded and not accept_unguarded_prod:
        raise UserError(f"{unguarded}; or accept that explicitly with --accept-unguarded-prod")
    if unguarded:
        _say(f"accepted by --accept-unguarded-prod: {unguarded}")
    if report.capabilities.reviewers and facts.reviewers:
        from generator.github_checks import reviewer_ids

        for path in record_reviewer_ids(facts, reviewer_ids(client, facts)):
            _say(f"recorded reviewer IDs in {path}: commit it, so CI runs need no GitHub org lookups")


def record_reviewer_ids(facts: ProjectFacts, ids: dict[str, int]) -> list[Path]:
    """Write `forge:githubReviewerIds` into the stack files that name reviewers; return those changed.

    The key is appended as the last lines of `config:` (the template's stack files hold nothing
    else), replacing an earlier value; a file whose layout differs is left alone.
    """
    import yaml

    from generator.project_facts import find_program
    from stacks.offline import stack_files

    changed = []
    for path in stack_files(find_program(facts.root)).values():
        text = path.read_text()
        config = (yaml.safe_load(text) or {}).get("config") or {}
        names = config.get("forge:githubReviewers") or []
        wanted = [f"{name}={ids[name]}" for name in names if name in ids]
        if (
            not wanted
            or config.get("forge:githubReviewerIds") == wanted
            or list(yaml.safe_load(text)) != ["config"]
        ):
            continue
        lines, skipping = [], False
        for line in text.splitlines():
            if line.startswith("  forge:githubReviewerIds:"):
                skipping = True
                continue
            if skipping and line.startswith("    "):
                continue
            skipping = False
            lines.append(line)
        lines.append("  forge:githubReviewerIds:")
        lines += [f"    - {item}" for item in wanted]
        path.write_text("\n".join(lines) + "\n")
        changed.append(path)
    return changed


def pulumi_cloud_user() -> str:
    """The Pulumi Cloud user of the current login (`pulumi login` or PULUMI_ACCESS_TOKEN)."""
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    try:
        credentials = json.loads((home / "credentials.json").read_text())
    except (OSError, ValueError):
        credentials = {}
    url = (
        os.environ.get("PULUMI_BACKEND_URL") or credentials.get("current") or "https://api.pulumi.com"
    ).rstrip("/")
    token = os.environ.get("PULUMI_ACCESS_TOKEN") or (credentials.get("accessTokens") or {}).get(url)
    if not token:
        raise UserError("not logged in to Pulumi Cloud: run `pulumi login`", exit_code=1)
    request = urllib.request.Request(f"{url}/api/user", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            user = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(
            f"Pulumi Cloud refused the token (HTTP {exc.code}): run `pulumi login`", exit_code=1
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UserError(f"cannot reach Pulumi Cloud at {url}: {exc}", exit_code=1) from None
    return str(user.get("githubLogin") or user.get("name") or "?")


def preflight(session, facts: ProjectFacts, storage: StateStorage) -> None:
    """Every reason the build would fail that can be known before it starts."""
    finding = session.rights_finding()
    if finding:
        raise UserError(finding, exit_code=1)
    missing = session.unregistered_providers(("Microsoft.Storage",))
    if missing:
        raise UserError(
            f"resource provider {missing[0]} is not registered on subscription "
            f"{session.account.subscription_id}: az provider register --namespace {missing[0]} --wait",
            exit_code=1,
        )
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.storage.models import StorageAccountCheckNameAvailabilityParameters

    client = session.client(StorageManagementClient)
    try:
        client.storage_accounts.get_properties(storage.resource_group, storage.account)
        return  # ours already: the build brings it to the wanted settings
    except ResourceNotFoundError:
        pass
    answer = client.storage_accounts.check_name_availability(
        StorageAccountCheckNameAvailabilityParameters(name=storage.account)
    )
    if not answer.name_available:
        raise UserError(
            f"storage account name {storage.account!r} (derived from {facts.project.source} and "
            f"{facts.repository.source}) is taken outside resource group {storage.resource_group}: "
            f"{answer.message or answer.reason}"
        )


class StateBuilder:
    """The state resources, one idempotent step each; a failure says how far it got."""

    def __init__(self, session, facts: ProjectFacts, storage: StateStorage) -> None:
        self.session = session
        self.facts = facts
        self.storage = storage
        self.tags = {
            "project": facts.project.value,
            "managed-by": "mlops-forge bootstrap",
            "purpose": "pulumi-state",
        }

    def build(self) -> list[str]:
        from azure.core.exceptions import HttpResponseError

        steps = [
            ("resource group", self.resource_group),
            ("storage account", self.account),
            ("versioning and soft delete", self.blob_service),
            ("container", self.container),
            ("your data access", self.caller_access),
        ]
        done = []
        try:
            for name, step in steps:
                step()
                done.append(name)
                _say(f"{name}: ok")
            return self.identity_access()
        except HttpResponseError as exc:
            reason = (exc.message or str(exc)).splitlines()[0]
            stopped = steps[len(done)][0] if len(done) < len(steps) else "CI identities' data access"
            raise UserError(
                f"stopped at {stopped} ({reason}); done: {', '.join(done) or 'nothing'}. Every step is "
                "idempotent: run `mlops-forge bootstrap` again to resume",
                exit_code=1,
            ) from None

    @property
    def container_scope(self) -> str:
        s = self.storage
        return (
            f"{self.session.subscription_scope}/resourceGroups/{s.resource_group}/providers/"
            f"Microsoft.Storage/storageAccounts/{s.account}/blobServices/default/containers/{s.container}"
        )

    def resource_group(self) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient

        client = self.session.client(ResourceManagementClient)
        client.resource_groups.create_or_update(
            self.storage.resource_group, {"location": self.facts.location.value, "tags": self.tags}
        )

    def account(self) -> None:
        from azure.mgmt.storage import StorageManagementClient
        from azure.mgmt.storage.models import Sku, StorageAccountCreateParameters

        client = self.session.client(StorageManagementClient)
        client.storage_accounts.begin_create(
            self.storage.resource_group,
            self.storage.account,
            StorageAccountCreateParameters(
                sku=Sku(name="Standard_ZRS"),
                kind="StorageV2",
                location=self.facts.location.value,
                tags=self.tags,
                # Entra ID only: no account keys that could leak, so every access is an identity's.
                allow_shared_key_access=False,
                default_to_o_auth_authentication=True,
                allow_blob_public_access=False,
                enable_https_traffic_only=True,
                minimum_tls_version="TLS1_2",
            ),
        ).result()

    def blob_service(self) -> None:
        from azure.mgmt.storage import StorageManagementClient
        from azure.mgmt.storage.models import BlobServiceProperties, DeleteRetentionPolicy

        client = self.session.client(StorageManagementClient)
        retention = DeleteRetentionPolicy(enabled=True, days=RETENTION_DAYS)
        client.blob_services.set_service_properties(
            self.storage.resource_group,
            self.storage.account,
            BlobServiceProperties(
                is_versioning_enabled=True,
                delete_retention_policy=retention,
                container_delete_retention_policy=retention,
            ),
        )

    def container(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.mgmt.storage import StorageManagementClient
        from azure.mgmt.storage.models import BlobContainer

        client = self.session.client(StorageManagementClient)
        s = self.storage
        try:
            client.blob_containers.get(s.resource_group, s.account, s.container)
        except ResourceNotFoundError:
            client.blob_containers.create(
                s.resource_group, s.account, s.container, BlobContainer(public_access="None")
            )

    def caller_access(self) -> None:
        account = self.session.account
        principal_type = "ServicePrincipal" if account.user_type == "servicePrincipal" else "User"
        self._grant(account.object_id, principal_type)

    def identity_access(self) -> list[str]:
        """Grant every identity that GitHub Actions of this repository can use; return the
        environments that have none yet (their stack has not run).

        Identities are found by what they trust (a federated credential for this repository),
        not by name, so a stack that adds or renames CI identities needs no change here.
        """
        from azure.core.exceptions import ResourceNotFoundError
        from azure.mgmt.msi import ManagedServiceIdentityClient

        client = self.session.client(ManagedServiceIdentityClient)
        repository = self.facts.repository.value
        pending = []
        for env in self.facts.environments:
            group = Names(self.facts.project.value, env, seed=repository).resource_group
            try:
                identities = list(client.user_assigned_identities.list_by_resource_group(group))
            except ResourceNotFoundError:
                identities = []
            trusted = [
                identity
                for identity in identities
                if any(
                    credential.issuer == GITHUB_ISSUER
                    and credential.subject.startswith(f"repo:{repository}:")
                    for credential in client.federated_identity_credentials.list(group, identity.name)
                )
            ]
            if not trusted:
                pending.append(env)
            for identity in trusted:
                self._grant(identity.principal_id, "ServicePrincipal")
                _say(f"data access of {identity.name} ({env}): ok")
        return pending

    def _grant(self, principal_id: str, principal_type: str) -> None:
        from azure.core.exceptions import ResourceExistsError
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

        from generator.azure_session import STORAGE_BLOB_DATA_CONTRIBUTOR

        client = self.session.client(AuthorizationManagementClient)
        scope = self.container_scope
        # A name derived from (scope, principal, role): the same grant always has the same name.
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}|{principal_id}|{STORAGE_BLOB_DATA_CONTRIBUTOR}"))
        # RoleAssignmentExists: granted before (perhaps under another name), which is what we want.
        with contextlib.suppress(ResourceExistsError):
            client.role_assignments.create(
                scope,
                name,
                RoleAssignmentCreateParameters(
                    role_definition_id=self.session.role_definition(STORAGE_BLOB_DATA_CONTRIBUTOR),
                    principal_id=principal_id,
                    principal_type=principal_type,
                ),
            )
