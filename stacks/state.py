"""Where a project's Pulumi state lives with the `azblob` backend: names derived, never typed.

`mlops-forge bootstrap` creates these resources and the stacks publish the backend URL as the
repository variable `PULUMI_BACKEND_URL`, so both sides compute the same names from the same
inputs (project, `org/repo`) instead of a person copying them between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.naming import RULES, check_project, unique_suffix

CONTAINER = "pulumi-state"
BACKENDS = ("azblob", "pulumi-cloud")


@dataclass(frozen=True)
class StateStorage:
    resource_group: str
    account: str
    container: str = CONTAINER

    @property
    def backend_url(self) -> str:
        return f"azblob://{self.container}?storage_account={self.account}"


def state_storage(project: str, github_repository: str) -> StateStorage:
    """The state resource group and storage account of a project (globally unique account name)."""
    check_project(project)
    source = f"project {project!r}"
    suffix = unique_suffix(project, "pulumi-state", github_repository, length=8)
    # Storage account names are global: 24 characters at most, lowercase letters and digits.
    account = "st" + project.replace("-", "")[: 24 - 2 - len(suffix)] + suffix
    return StateStorage(
        resource_group=RULES["resource_group"].check(f"rg-{project}-state", source),
        account=RULES["storage_account"].check(account, source),
    )
