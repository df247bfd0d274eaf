import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacks.naming import RULES, Names, NamingError, check_environment, check_project, registry_names

projects = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4}){0,3}", fullmatch=True).filter(
    lambda p: 3 <= len(p) <= 20
)
environments = st.from_regex(r"[a-z][a-z0-9]{1,7}", fullmatch=True)


@given(projects, environments, st.text(max_size=30))
def test_every_derived_name_satisfies_azure_rules(project: str, environment: str, seed: str) -> None:
    names = Names(project, environment, seed)
    # Each property checks its own rule; reading them all must not raise.
    for attribute in (
        "resource_group",
        "ml_workspace",
        "log_analytics",
        "app_insights",
        "storage_account",
        "key_vault",
        "container_registry",
        "cpu_cluster",
        "gpu_cluster",
        "compute_instance",
        "ci_identity",
        "action_group_short",
    ):
        assert getattr(names, attribute)
    assert len(names.storage_account) <= 24 and names.storage_account.islower()
    assert "--" not in names.key_vault and names.key_vault[0].isalpha()


@given(projects, environments)
def test_unique_names_are_stable_and_differ_between_projects(project: str, environment: str) -> None:
    a, b = Names(project, environment, "org/a"), Names(project, environment, "org/a")
    other = Names(project, environment, "org/b")
    assert a.storage_account == b.storage_account
    assert a.suffix != other.suffix


def test_longest_project_and_environment_fit_the_workspace_limit() -> None:
    names = Names("a" * 20, "abcdefgh")
    assert len(names.ml_workspace) == 33  # the Azure ML workspace maximum, exactly


@pytest.mark.parametrize(
    "project", ["ab", "a" * 21, "Churn", "1churn", "churn-", "churn--model", "churn_model", ""]
)
def test_invalid_project_names_are_rejected_with_the_rule(project: str) -> None:
    with pytest.raises(NamingError, match="3-20 characters"):
        check_project(project)


@pytest.mark.parametrize("environment", ["d", "production", "Dev", "1st", "pre-prod"])
def test_invalid_environment_names_are_rejected(environment: str) -> None:
    with pytest.raises(NamingError, match=re.escape(repr(environment))):
        check_environment(environment)


def test_rule_error_names_input_resource_and_rule() -> None:
    with pytest.raises(NamingError) as info:
        RULES["storage_account"].check("Not-Valid", "project 'x'")
    message = str(info.value)
    assert "project 'x'" in message and "storage account" in message and "3-24 characters" in message


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ("key_vault", "kv-a-b", "kv--ab"),
        ("key_vault", "kva", "1kv"),
        ("compute_cluster", "cpu-cluster", "a-very-long-cluster-name"),
        ("compute_instance", "ci-dev-ab1", "ci-dev-1"),
        ("container_registry", "crabc", "cr-abc"),
        ("ml_workspace", "a" * 33, "a" * 34),
        ("storage_account", "a" * 24, "a" * 25),
    ],
)
def test_rules_at_their_boundaries(rule: str, good: str, bad: str) -> None:
    assert RULES[rule].check(good, "test") == good
    with pytest.raises(NamingError):
        RULES[rule].check(bad, "test")


def test_registry_names_are_shared_across_environments() -> None:
    assert registry_names("churn-model", "org/repo") == registry_names("churn-model", "org/repo")
    assert registry_names("churn-model", "org/repo")[1] != registry_names("churn-model", "org/other")[1]
