"""The settings schema: unknown keys, regions, versions, secrets, all problems at once, generated files."""

import json
from pathlib import Path

import pytest
import yaml

from stacks import ConfigError, settings_from_config
from stacks.config import check_config, settings_from_values
from stacks.settings_export import GENERATED_FILES, docs_with_table, settings_json_schema_text
from stacks.settings_schema import AZURE_ML_REGIONS, BY_KEY, SETTINGS

REPO = Path(__file__).resolve().parents[2]
BASE = {
    "azure-native:location": "westeurope",
    "forge:project": "churn-model",
    "forge:githubRepository": "contoso/churn",
    "forge:templateVersion": "1.2.3",
    "forge:alertEmails": '["a@b.io"]',
}


def problems(env="prod", secret_keys=(), **changes):
    values = {**BASE, **{k: v for k, v in changes.items()}}
    values = {k: v for k, v in values.items() if v is not None}
    return check_config(values, env, project_namespace="churn-model", secret_keys=secret_keys)[2]


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("forge:alertEmail", "forge:alertEmails"),
        ("forge:monthlyBudgetUSD", "forge:monthlyBudgetUsd"),
        ("forge:computeMaxNodez", None),
        ("forge:logRetentionDay", "forge:logRetentionDays"),
        ("forge:gpuVMSize", "forge:gpuVmSize"),
        ("churn-model:alertEmails", "forge:alertEmails"),  # forgotten forge: prefix
    ],
)
def test_unknown_keys_are_errors_with_a_suggestion(key, suggestion) -> None:
    found = problems(**{key: "1"})
    assert [p.key for p in found] == [key]
    if suggestion:
        assert found[0].message.endswith(f"did you mean {suggestion}?")
    else:
        assert "docs/stacks.md" in found[0].message or "did you mean" in found[0].message


def test_keys_of_other_namespaces_pass_through() -> None:
    assert (
        problems(
            **{
                "azure-native:subscriptionId": "x",
                "aws:region": "eu-west-1",
                "churn-model:myOwnSetting": "42",  # the program's own namespace, read by user code
            }
        )
        == []
    )


@pytest.mark.parametrize(
    ("region", "fragment"),
    [
        ("mars-north", "is not a region where Azure Machine Learning is offered"),
        ("West Europe", "did you mean westeurope?"),
        ("qatarcentral", "is not a region where Azure Machine Learning is offered"),
        (None, "is required but not set"),
    ],
)
def test_regions_outside_the_azure_ml_list_are_errors(region, fragment) -> None:
    (found,) = problems(**{"azure-native:location": region})
    assert found.key == "azure-native:location" and fragment in found.message


def test_a_near_miss_region_gets_a_suggestion() -> None:
    (found,) = problems(**{"azure-native:location": "westeuropa"})
    assert found.message == (
        "'westeuropa' is not a region where Azure Machine Learning is offered; did you mean westeurope?"
    )


@pytest.mark.parametrize("region", AZURE_ML_REGIONS)
def test_every_offered_region_is_accepted(region) -> None:
    assert problems(**{"azure-native:location": region}) == []


@pytest.mark.parametrize("version", ["banana", "1.2", "v1.2.3", "1.2.3 ", "1.x.3"])
def test_template_version_must_be_a_version(version) -> None:
    (found,) = problems(**{"forge:templateVersion": version})
    assert found.key == "forge:templateVersion" and "version such as 1.2.3" in found.message


@pytest.mark.parametrize("version", ["0.1.0", "1.2.3", "10.20.30rc1", "1.2.3.dev4+g1a2b3c"])
def test_release_versions_are_accepted(version) -> None:
    assert problems(**{"forge:templateVersion": version}) == []


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        **{
            "forge:alertEmail": '["x@y.io"]',
            "azure-native:location": "mars-north",
            "forge:gpu": "maybe",
            "forge:cpuMaxNodes": "0",
        }
    )
    assert {p.key for p in found} == {
        "forge:alertEmail",
        "azure-native:location",
        "forge:gpu",
        "forge:cpuMaxNodes",
    }
    with pytest.raises(ConfigError) as info:
        settings_from_values(
            {**BASE, "forge:alertEmail": "[]", "forge:gpu": "maybe"}, "dev", project_namespace="churn-model"
        )
    assert len(info.value.problems) == 2 and str(info.value).startswith("2 configuration errors: ")


def test_ranges_come_from_the_schema() -> None:
    (found,) = problems(**{"forge:keyVaultSoftDeleteDays": "120"})
    assert found.message == "must be at most 90, got 120"
    (found,) = problems(**{"forge:alertSeverity": "-1"})
    assert found.message == "must be at least 0, got -1"


def test_the_alert_webhook_must_be_a_secret() -> None:
    (found,) = problems(**{"forge:alertWebhook": "https://example.org/hook"})
    assert found.key == "forge:alertWebhook" and "pulumi config set --secret" in found.message
    secret = {"forge:alertWebhook": "https://example.org/hook"}
    assert problems(secret_keys={"forge:alertWebhook"}, **secret) == []
    # Offline the value is not readable: `[secret]` stands for it and is not format-checked.
    assert problems(secret_keys={"forge:alertWebhook"}, **{"forge:alertWebhook": "[secret]"}) == []
    (found,) = problems(secret_keys={"forge:alertWebhook"}, **{"forge:alertWebhook": "http://plain"})
    assert "https://" in found.message


def test_push_receivers_are_e_mail_addresses() -> None:
    (found,) = problems(**{"forge:alertPushEmails": '["not-mail"]'})
    assert found.key == "forge:alertPushEmails" and "not an e-mail address" in found.message
    settings = settings_from_values(
        {**BASE, "forge:alertPushEmails": '["oncall@contoso.com"]'}, "prod", project_namespace="churn-model"
    )
    assert settings.alert_push_emails == ("oncall@contoso.com",)


def test_defaults_come_from_the_schema() -> None:
    settings = settings_from_values(
        {k: v for k, v in BASE.items() if k != "forge:templateVersion"}, "dev", project_namespace="p"
    )
    assert settings.template_version == BY_KEY["forge:templateVersion"].default == "unversioned"
    assert settings.monthly_budget_usd == BY_KEY["forge:monthlyBudgetUsd"].default
    assert settings.gpu_vm_size == BY_KEY["forge:gpuVmSize"].default


def test_every_profile_field_is_a_setting() -> None:
    from dataclasses import fields

    from stacks.profiles import Profile

    overridable = {f.name for f in fields(Profile)} - {"name", "strict"}
    assert overridable == {s.profile_field for s in SETTINGS if s.profile_field}


def test_the_real_program_path_checks_the_whole_stack_before_creating_anything(
    example_dir, monkeypatch
) -> None:
    """`pulumi.Config("forge")` in a running program: the SDK's config of the stack is checked."""
    import contextvars

    from stacks.offline import engine

    monitors = []

    class Counting(engine.RecordingMonitor):
        def __init__(self, mocks) -> None:
            super().__init__(mocks)
            monitors.append(self)

    monkeypatch.setattr(engine, "RecordingMonitor", Counting)
    config = {f"{k}": v for k, v in BASE.items()} | {"forge:alertEmail": '["x@y.io"]'}
    with pytest.raises(ConfigError, match="did you mean forge:alertEmails"):
        contextvars.Context().run(engine._run, example_dir / "__main__.py", "churn-model", "prod", config, [])
    assert monitors and monitors[0].registrations == []


def test_a_fake_config_is_still_accepted() -> None:
    class FakeConfig(dict):
        def get(self, key, default=None):
            return super().get(key, default)

    fake = FakeConfig({"project": "churn-model", "githubRepository": "a/b", "alertEmail": "[]"})
    with pytest.raises(ConfigError, match=r"forge:alertEmail: .*did you mean forge:alertEmails"):
        settings_from_config(fake, "dev", location="westeurope")


def test_the_shipped_json_schema_is_generated_from_the_settings() -> None:
    shipped = (REPO / GENERATED_FILES["json"]).read_text(encoding="utf-8")
    assert shipped == settings_json_schema_text(), "run: python -m stacks.settings_export --write"
    schema = json.loads(shipped)["properties"]["config"]
    assert set(schema["properties"]) >= {s.full_key for s in SETTINGS}


def test_the_docs_table_is_generated_from_the_settings() -> None:
    docs = (REPO / GENERATED_FILES["docs"]).read_text(encoding="utf-8")
    assert docs == docs_with_table(docs), "run: python -m stacks.settings_export --write"
    for setting in SETTINGS:
        assert f"| `{setting.full_key}` |" in docs


def test_copier_offers_the_regions_the_stacks_accept() -> None:
    questions = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
    assert tuple(questions["azure_location"]["choices"]) == AZURE_ML_REGIONS
    assert questions["azure_location"]["default"] in AZURE_ML_REGIONS


def test_the_config_the_pulumi_cli_passes_in_the_environment_is_checked(monkeypatch) -> None:
    """`pulumi preview`/`up` hand the program its stack's config as PULUMI_CONFIG (JSON)."""
    import contextvars

    import pulumi

    config = {**BASE, "forge:alertEmail": '["x@y.io"]', "azure-native:subscriptionId": "s"}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")

    def read():
        return settings_from_config(pulumi.Config("forge"), "prod")

    with pytest.raises(ConfigError, match="did you mean forge:alertEmails") as info:
        contextvars.Context().run(read)
    assert [p.key for p in info.value.problems] == ["forge:alertEmail"]

    del config["forge:alertEmail"]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    assert contextvars.Context().run(read).alert_emails == ("a@b.io",)
