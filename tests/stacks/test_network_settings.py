"""Settings of issue #13 (network mode, VNet, runners, compute-instance user, generation)."""

import json

import pytest

from stacks import ConfigError, settings_from_config


class FakeConfig(dict):
    def get(self, key, default=None):  # the shape of pulumi.Config("forge").get
        return super().get(key, default)


BASE = {"project": "churn-model", "githubRepository": "contoso/churn", "alertEmails": '["a@b.io"]'}


def settings(env="dev", **overrides):
    return settings_from_config(FakeConfig({**BASE, **overrides}), env, location="westeurope")


def test_network_mode_follows_the_profile() -> None:
    assert settings("dev").network.mode == "public"
    assert settings("test").network.mode == "public"
    prod = settings("prod").network
    assert prod.private and prod.address_space == "10.40.0.0/16" and prod.runner_timeout_minutes > 180


def test_ip_allowlist_and_existing_vnet() -> None:
    s = settings("prod", networkMode="ip-allowlist", allowedIps='["16.17.18.7", "20.60.1.0/24"]')
    assert s.network.mode == "ip-allowlist" and s.network.allowed_ips == ("16.17.18.7", "20.60.1.0/24")
    # One address is one rule however written: storage refuses `/32` and wants the bare address.
    same = settings("prod", networkMode="ip-allowlist", allowedIps='["16.17.18.7/32", "16.17.18.7"]')
    assert same.network.allowed_ips == ("16.17.18.7",)
    vnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub"
    assert settings("prod", vnetId=vnet).network.vnet_id == vnet


def test_jobs_default_and_override() -> None:
    assert settings("dev").jobs == ("train", "promote", "deploy")
    assert settings("prod").jobs == ("train", "promote", "deploy", "drift")
    assert settings("test", jobs='["deploy"]').jobs == ("deploy",)


def test_compute_instance_user_and_generation() -> None:
    s = settings("dev", computeInstanceUser="3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", generation="3")
    assert s.compute_instance_user == "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"
    assert s.generation == 3 and s.names.ml_workspace == "mlw-churn-model-dev-g3"
    assert settings("dev").compute_instance_user is None


@pytest.mark.parametrize(
    ("env", "overrides", "key", "fragment"),
    [
        (
            "prod",
            {"networkMode": "vpn"},
            "forge:networkMode",
            "is not allowed (allowed: public, private, ip-allowlist)",
        ),
        ("prod", {"networkMode": "ip-allowlist"}, "forge:allowedIps", "needs at least one"),
        (
            "prod",
            {"networkMode": "ip-allowlist", "allowedIps": '["300.1.1.1"]'},
            "forge:allowedIps",
            "expected an IPv4 address or CIDR range",
        ),
        (
            "prod",
            {"networkMode": "ip-allowlist", "allowedIps": '["16.17.18.0/24", "10.1.0.0/16"]'},
            "forge:allowedIps",
            "10.1.0.0/16 is in or overlaps the reserved range 10.0.0.0/8",
        ),
        (
            "prod",
            {
                "networkMode": "ip-allowlist",
                "allowedIps": json.dumps([f"16.17.{i // 200}.{i % 200}" for i in range(201)]),
            },
            "forge:allowedIps",
            "at most 200",
        ),
        (
            "test",
            {
                "networkMode": "ip-allowlist",
                "allowedIps": '["16.17.18.0/24"]',
                "containerRegistrySku": "Premium",
                "computeInstanceUser": "00000000-0000-0000-0000-0000000000aa",
            },
            "forge:computeInstanceUser",
            "cannot reach an ip-allowlist workspace",
        ),
        (
            "prod",
            {"networkMode": "ip-allowlist", "allowedIps": '["16.17.18.6/31"]'},
            "forge:allowedIps",
            "list its two addresses",
        ),
        ("test", {"networkMode": "private"}, "forge:networkMode", "needs containerRegistrySku Premium"),
        ("prod", {"vnetId": "vnet-hub"}, "forge:vnetId", "virtualNetworks/<name>"),
        ("prod", {"vnetAddressSpace": "10.0.0.0/26"}, "forge:vnetAddressSpace", "/22 or larger"),
        ("prod", {"runnerTimeoutMinutes": "60"}, "forge:runnerTimeoutMinutes", "must be at least 190"),
        ("prod", {"runnerMaxExecutions": "0"}, "forge:runnerMaxExecutions", "must be at least 1"),
        ("dev", {"computeInstanceUser": "alice@contoso.com"}, "forge:computeInstanceUser", "Entra object ID"),
        ("dev", {"generation": "0"}, "forge:generation", "must be at least 1"),
        (
            "dev",
            {"jobs": '["train", "retrain"]'},
            "forge:jobs",
            "'retrain' is not valid: expected one of train",
        ),
    ],
)
def test_bad_values_name_the_key(env, overrides, key, fragment) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(env, **overrides)
    assert caught.value.key == key and fragment in str(caught.value)
