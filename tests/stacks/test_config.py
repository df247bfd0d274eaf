import pytest

from stacks import ConfigError, register_profile, settings_from_config


class FakeConfig(dict):
    def get(self, key, default=None):  # the shape of pulumi.Config("forge").get
        return super().get(key, default)


BASE = {"project": "churn-model", "githubRepository": "contoso/churn", "alertEmails": '["a@b.io"]'}


def settings(env="dev", **overrides):
    return settings_from_config(FakeConfig({**BASE, **overrides}), env, location="westeurope")


def test_profile_defaults_and_overrides() -> None:
    assert settings("dev").profile.log_retention_days == 30
    assert settings("prod").profile.private_network is True
    tuned = settings("dev", logRetentionDays="45", cpuMaxNodes="6", computeInstance="false")
    assert (
        tuned.profile.log_retention_days,
        tuned.profile.cpu_max_nodes,
        tuned.profile.compute_instance,
    ) == (
        45,
        6,
        False,
    )


def test_declared_profile_for_another_environment() -> None:
    register_profile("staging", base="prod", cpu_max_nodes=3)
    s = settings("staging", profile="staging")
    assert s.profile.strict and s.profile.cpu_max_nodes == 3
    assert s.tags["security-baseline"] == "strict"


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"gpu": "yes"}, "forge:gpu", "true or false"),
        ({"logRetentionDays": "thirty"}, "forge:logRetentionDays", "whole number"),
        ({"monthlyBudgetUsd": "lots"}, "forge:monthlyBudgetUsd", "a number"),
        ({"monthlyBudgetUsd": "-5"}, "forge:monthlyBudgetUsd", "at least 1"),
        ({"alertEmails": '"a@b.io"'}, "forge:alertEmails", "list of strings"),
        ({"alertEmails": '["not-an-email"]'}, "forge:alertEmails", "not an e-mail"),
        ({"registry": "maybe"}, "forge:registry", "allowed: create, existing"),
        ({"registry": "existing"}, "forge:registryId", "resource ID"),
        ({"githubRepository": "no-slash"}, "forge:githubRepository", "org/repo"),
        ({"project": "Bad_Name"}, "forge:project", "3-20 characters"),
        ({"alertWebhook": "http://insecure"}, "forge:alertWebhook", "https://"),
        ({"profile": "nope"}, "forge:profile", "no profile named"),
    ],
)
def test_bad_values_name_the_key(overrides, key, fragment) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**overrides)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_missing_required_key() -> None:
    with pytest.raises(ConfigError, match="forge:project: is required"):
        settings_from_config(FakeConfig({"githubRepository": "a/b"}), "dev", location="westeurope")


def test_tags_carry_project_environment_and_template_version() -> None:
    tags = settings("test", templateVersion="1.2.3").tags
    assert tags == {
        "project": "churn-model",
        "environment": "test",
        "managed-by": "pulumi/mlops-forge",
        "template-version": "1.2.3",
        "security-baseline": "relaxed",
    }
