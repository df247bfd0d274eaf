"""Who an environment's alerts reach: e-mails, the secret webhook, Azure mobile app push."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from stacks.config import settings_from_values
from stacks.offline import plan_program

BASE = {
    "azure-native:location": "westeurope",
    "forge:project": "churn-model",
    "forge:githubRepository": "contoso/churn",
    "forge:alertEmails": '["team@contoso.com"]',
}


@pytest.fixture
def program(tmp_path: Path, example_dir: Path) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(example_dir, target)
    stack = target / "Pulumi.prod.yaml"
    stack.write_text(
        stack.read_text()
        + "  forge:alertWebhook:\n    secure: AAABAGV4YW1wbGU=\n"
        + "  forge:alertPushEmails:\n    - oncall@contoso.com\n"
    )
    return target


def test_every_receiver_kind_is_planned_with_the_common_alert_schema(program: Path) -> None:
    (group,) = plan_program(program, "prod").of_type("azure-native:monitor:ActionGroup")
    props = group.properties
    assert props["emailReceivers"] == [
        {"emailAddress": "ml-platform@contoso.com", "name": "email-1", "useCommonAlertSchema": True}
    ]
    assert props["azureAppPushReceivers"] == [{"emailAddress": "oncall@contoso.com", "name": "push-1"}]
    (webhook,) = props["webhookReceivers"]
    # Offline the secret stays the stack file's placeholder: the plan never shows a URL.
    assert webhook["serviceUri"] == "[secret]" and webhook["useCommonAlertSchema"] is True


def test_without_optional_receivers_only_e_mail_is_planned(example_dir: Path) -> None:
    (group,) = plan_program(example_dir, "dev").of_type("azure-native:monitor:ActionGroup")
    assert group.properties["emailReceivers"] and not group.properties.get("webhookReceivers")
    assert group.properties["azureAppPushReceivers"] == []


def test_the_webhook_url_is_a_secret_output() -> None:
    from stacks.monitoring import action_group_receivers

    settings = settings_from_values(
        {**BASE, "forge:alertWebhook": "https://prod-00.westeurope.logic.azure.com/workflows/x?sig=abc"},
        "prod",
        secret_keys={"forge:alertWebhook"},
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        (receiver,) = action_group_receivers(settings)["webhook_receivers"]
        uri = receiver.service_uri
        assert loop.run_until_complete(uri.is_secret()) is True
        assert loop.run_until_complete(uri.future()) == settings.alert_webhook
    finally:
        asyncio.set_event_loop(None)
        loop.close()
