"""Private prod: endpoints, DNS, runners, public access off; IP allow-list mode; lifecycle."""

from __future__ import annotations

import inspect
import shutil

import pytest
import yaml

from stacks.network import PRIVATE_DNS_ZONES, subnet_prefixes
from stacks.runners import runner_labels

ENVS = ("dev", "test", "prod")
PRIVATE_TYPES = (
    "azure-native:network:PrivateEndpoint",
    "azure-native:privatedns:PrivateZone",
    "azure-native:app:Job",
    "azure-native:app:ManagedEnvironment",
)


def one(plan, token):
    found = plan.of_type(token)
    assert len(found) == 1, (token, len(found))
    return found[0].properties


@pytest.mark.parametrize("env", ENVS)
def test_only_prod_is_private(example_plans, env) -> None:
    plan = example_plans[env]
    private = env == "prod"
    for token in PRIVATE_TYPES:
        assert bool(plan.of_type(token)) is private, token
    expected = "Disabled" if private else "Enabled"
    assert one(plan, "azure-native:machinelearningservices:Workspace")["publicNetworkAccess"] == expected
    # Logs and telemetry: ingestion only through the Monitor private link scope when private.
    for token in ("azure-native:operationalinsights:Workspace", "azure-native:applicationinsights:Component"):
        assert one(plan, token)["publicNetworkAccessForIngestion"] == expected
        assert one(plan, token)["publicNetworkAccessForQuery"] == "Enabled"
    assert one(plan, "azure-native:storage:StorageAccount")["publicNetworkAccess"] == expected
    assert one(plan, "azure-native:keyvault:Vault")["properties"]["publicNetworkAccess"] == expected
    assert one(plan, "azure-native:containerregistry:Registry")["publicNetworkAccess"] == expected


def test_private_endpoints_cover_every_data_plane_with_microsofts_zones(example_plans) -> None:
    plan = example_plans["prod"]
    endpoints = {
        conn["groupIds"][0]: conn["privateLinkServiceId"]
        for e in plan.of_type("azure-native:network:PrivateEndpoint")
        for conn in e.properties["privateLinkServiceConnections"]
    }
    assert set(endpoints) == {
        "amlworkspace",
        "blob",
        "file",
        "vault",
        "registry",
        "azuremonitor",
        "amlregistry",
    }
    assert "/privateLinkScopes/ampls-churn-model-prod" in endpoints["azuremonitor"]
    assert "/Microsoft.MachineLearningServices/workspaces/" in endpoints["amlworkspace"]
    assert (
        endpoints["blob"] == endpoints["file"] and "/Microsoft.Storage/storageAccounts/" in endpoints["blob"]
    )
    assert "/Microsoft.KeyVault/vaults/" in endpoints["vault"]
    assert "/Microsoft.ContainerRegistry/registries/" in endpoints["registry"]
    # The zones Microsoft documents: the workspace needs both, ACR data endpoints share its zone.
    assert PRIVATE_DNS_ZONES["amlworkspace"] == (
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
    )
    assert PRIVATE_DNS_ZONES["registry"] == ("privatelink.azurecr.io",)
    zones = {
        z.properties["privateZoneName"]: z.properties
        for z in plan.of_type("azure-native:privatedns:PrivateZone")
    }
    assert set(zones) == {
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
        "privatelink.blob.core.windows.net",
        "privatelink.file.core.windows.net",
        "privatelink.vaultcore.azure.net",
        "privatelink.azurecr.io",
        "privatelink.monitor.azure.com",
        "privatelink.oms.opinsights.azure.com",
        "privatelink.ods.opinsights.azure.com",
        "privatelink.agentsvc.azure-automation.net",
    }
    assert all(z["location"] == "global" for z in zones.values())
    vnet = one(plan, "azure-native:network:VirtualNetwork")
    links = plan.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert {link.properties["privateZoneName"] for link in links} == set(zones)
    for link in links:
        assert link.properties["virtualNetwork"]["id"].endswith(
            f"/virtualNetworks/{vnet['virtualNetworkName']}"
        )
        assert link.properties["registrationEnabled"] is False
    groups = {
        g.properties["privateEndpointName"]: g.properties
        for g in plan.of_type("azure-native:network:PrivateDnsZoneGroup")
    }
    workspace_group = next(g for name, g in groups.items() if name.endswith("-workspace"))
    assert {c["privateDnsZoneId"].rsplit("/", 1)[-1] for c in workspace_group["privateDnsZoneConfigs"]} == {
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
    }


def test_container_registry_is_premium_where_it_has_a_private_endpoint(example_plans) -> None:
    for plan in example_plans.values():
        if plan.of_type("azure-native:network:PrivateEndpoint"):
            assert one(plan, "azure-native:containerregistry:Registry")["sku"]["name"] == "Premium"


def test_runner_subnet_is_delegated_and_sized_at_creation(example_plans) -> None:
    plan = example_plans["prod"]
    subnets = {s.properties["subnetName"]: s.properties for s in plan.of_type("azure-native:network:Subnet")}
    assert subnets["github-runners"]["delegations"] == [
        {"name": "container-apps", "serviceName": "Microsoft.App/environments"}
    ]
    assert (
        subnets["github-runners"]["addressPrefix"]
        == subnet_prefixes("10.40.0.0/16")["runners"]
        == "10.40.1.0/24"
    )
    assert subnets["private-endpoints"]["addressPrefix"] == "10.40.0.0/24"
    environment = one(plan, "azure-native:app:ManagedEnvironment")
    profiles = [(w["name"], w["workloadProfileType"]) for w in environment["workloadProfiles"]]
    assert profiles == [("Consumption", "Consumption")]
    assert environment["vnetConfiguration"]["internal"] is True
    assert environment["vnetConfiguration"]["infrastructureSubnetId"].endswith("/subnets/github-runners")


def test_runner_job_scales_on_github_queue_with_a_key_vault_credential(example_plans) -> None:
    job = one(example_plans["prod"], "azure-native:app:Job")
    config = job["configuration"]
    assert config["triggerType"] == "Event"
    assert config["replicaTimeout"] >= 180 * 60 + 1  # the longest CI job: train, 180 minutes
    secret = config["secrets"][0]
    assert "value" not in secret
    assert secret["keyVaultUrl"].startswith("https://kv-") and secret["keyVaultUrl"].endswith(
        ".vault.azure.net/secrets/github-runner-pat"
    )
    runner_identity = job["identity"]["userAssignedIdentities"][0]
    assert runner_identity.endswith("/id-churn-model-prod-runner") and secret["identity"] == runner_identity
    assert config["registries"][0]["identity"] == runner_identity
    assert config["registries"][0]["server"].endswith(".azurecr.io")
    scale = config["eventTriggerConfig"]["scale"]
    assert scale["minExecutions"] == 0  # scale to zero when idle
    rule = scale["rules"][0]
    assert rule["type"] == "github-runner"
    assert rule["metadata"]["owner"] == "contoso" and rule["metadata"]["repos"] == "churn-model"
    assert rule["metadata"]["labels"] == "forge-prod" == runner_labels("prod")[-1]
    assert rule["auth"] == [{"secretRef": "github-pat", "triggerParameter": "personalAccessToken"}]
    env = {e["name"]: e for e in job["template"]["containers"][0]["env"]}
    assert env["GITHUB_PAT"] == {"name": "GITHUB_PAT", "secretRef": "github-pat"}
    assert env["RUNNER_LABELS"]["value"] == "forge-prod"


def test_runner_identity_reads_the_secret_and_pulls_the_image(example_plans) -> None:
    from stacks import roles

    plan = example_plans["prod"]
    grants = {a.name: a.properties for a in plan.of_type("azure-native:authorization:RoleAssignment")}
    assert grants["ml-runners-secrets"]["roleDefinitionId"].endswith(roles.KEY_VAULT_SECRETS_USER)
    assert "/Microsoft.KeyVault/vaults/" in grants["ml-runners-secrets"]["scope"]
    assert grants["ml-runners-acr-pull"]["roleDefinitionId"].endswith(roles.ACR_PULL)


def test_managed_network_is_provisioned_with_the_workspace(example_plans) -> None:
    ws = one(example_plans["prod"], "azure-native:machinelearningservices:Workspace")
    assert ws["provisionNetworkNow"] is True
    assert ws["imageBuildCompute"] == "cpu-cluster"
    rule = ws["managedNetwork"]["outboundRules"]["shared-registry"]
    assert rule["type"] == "PrivateEndpoint" and rule["destination"]["subresourceTarget"] == "amlregistry"
    assert rule["destination"]["serviceResourceId"].endswith(
        "/registries/mlr-churn-model-" + rule["destination"]["serviceResourceId"].rsplit("-", 1)[-1]
    )
    # Images are built once and shared through the registry: no FQDN rules, no managed firewall.
    assert all(r["type"] != "FQDN" for r in ws["managedNetwork"]["outboundRules"].values())
    assert "firewallSku" not in ws["managedNetwork"]
    approvers = [
        a
        for a in example_plans["prod"].of_type("azure-native:authorization:RoleAssignment")
        if a.name.endswith("-approver")
    ]
    assert len(approvers) == 1 and approvers[0].properties["roleDefinitionId"].endswith(
        "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
    )


@pytest.mark.parametrize("env", ENVS)
def test_locks_on_data_only_and_protect_on_the_workspace_in_prod(example_plans, env) -> None:
    plan = example_plans[env]
    locks = [lock.properties for lock in plan.of_type("azure-native:authorization:ManagementLockByScope")]
    scopes = {lock["scope"].split("/providers/")[1].split("/")[1] for lock in locks}
    if env == "prod":
        assert scopes == {"storageAccounts", "vaults", "registries"}
    elif env == "dev":
        # The registry host locks the shared Azure ML registry.
        assert [lock["scope"] for lock in locks] == [
            s for s in (lock["scope"] for lock in locks) if "MachineLearningServices/registries" in s
        ]
    else:
        assert locks == []
    assert all(lock["level"] == "CanNotDelete" for lock in locks)
    assert not any("/workspaces/" in lock["scope"] or "/providers/" not in lock["scope"] for lock in locks)
    workspace = plan.of_type("azure-native:machinelearningservices:Workspace")[0]
    assert workspace.protect is (env == "prod")


@pytest.fixture(scope="module")
def variant_plan(tmp_path_factory, example_dir):
    from stacks.testing import plan_program

    def plan(env: str, **config) -> object:
        target = tmp_path_factory.mktemp("program")
        for path in example_dir.iterdir():
            if path.is_file():
                shutil.copy(path, target / path.name)
        stack = target / f"Pulumi.{env}.yaml"
        data = yaml.safe_load(stack.read_text())
        data["config"].update({f"forge:{k}": v for k, v in config.items()})
        stack.write_text(yaml.safe_dump(data))
        return plan_program(target, env)

    return plan


def test_ip_allowlist_mode_keeps_endpoints_public_but_closed(variant_plan) -> None:
    plan = variant_plan("prod", networkMode="ip-allowlist", allowedIps=["16.17.18.0/24"])
    for token in PRIVATE_TYPES:
        assert not plan.of_type(token), token
    storage = one(plan, "azure-native:storage:StorageAccount")
    assert storage["publicNetworkAccess"] == "Enabled"
    assert storage["networkRuleSet"]["defaultAction"] == "Deny"
    assert storage["networkRuleSet"]["ipRules"] == [{"action": "Allow", "iPAddressOrRange": "16.17.18.0/24"}]
    vault = one(plan, "azure-native:keyvault:Vault")["properties"]
    assert vault["networkAcls"]["defaultAction"] == "Deny" and vault["networkAcls"]["ipRules"] == [
        {"value": "16.17.18.0/24"}
    ]
    acr = one(plan, "azure-native:containerregistry:Registry")
    assert acr["networkRuleSet"]["ipRules"] == [{"action": "Allow", "iPAddressOrRange": "16.17.18.0/24"}]
    assert plan.outputs["runnerLabels"] == []
    # Only inbound is public: the managed network (approved outbound only, provisioned with the
    # workspace, its private endpoint to the shared registry approved by the workspace identity)
    # stays, compute has no public IP, and the strict policies pass.
    ws = one(plan, "azure-native:machinelearningservices:Workspace")
    assert ws["publicNetworkAccess"] == "Enabled" and ws["provisionNetworkNow"] is True
    assert ws["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert ws["managedNetwork"]["outboundRules"]["shared-registry"]["destination"]["subresourceTarget"] == (
        "amlregistry"
    )
    clusters = [
        c.properties["properties"]["properties"]
        for c in plan.of_type("azure-native:machinelearningservices:Compute")
    ]
    assert clusters and all(c["enableNodePublicIp"] is False for c in clusters)
    approvers = [
        a for a in plan.of_type("azure-native:authorization:RoleAssignment") if a.name.endswith("-approver")
    ]
    assert [a.properties["roleDefinitionId"].rsplit("/", 1)[-1] for a in approvers] == [
        "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
    ]
    from stacks.policies import evaluate

    assert [v for v in evaluate(plan, strict=True) if v.level == "mandatory"] == []


def test_ip_allowlist_mode_exports_the_workspace_rules_for_the_infra_workflow(
    variant_plan, example_plans, capsys
) -> None:
    """The installed Workspace API takes no IP rules, so the stack exports them for the step after
    `pulumi up` (stacks.workspace_ip_rules); other modes export none and that step does nothing."""
    from pulumi_azure_native.machinelearningservices import Workspace

    # The fact behind the step, checked on the installed SDK: no IP-rule input on the Workspace.
    params = set(inspect.signature(Workspace._internal_init).parameters)
    assert "public_network_access" in params and not params & {"ip_allowlist", "network_acls"}
    plan = variant_plan("prod", networkMode="ip-allowlist", allowedIps=["16.17.18.0/24", "20.60.1.7"])
    assert plan.outputs["workspaceAllowedIps"] == ["16.17.18.0/24", "20.60.1.7"]
    assert one(plan, "azure-native:machinelearningservices:Workspace")["publicNetworkAccess"] == "Enabled"
    for other in example_plans.values():  # dev and test public, prod private
        assert other.outputs["workspaceAllowedIps"] == [], other.environment
    # `plan` shows them under the stack's resources, as the step that sets them.
    from generator.plan_render import as_table

    assert "workspace IP rules, set after `pulumi up` by the infra workflow: 16.17.18.0/24, 20.60.1.7" in (
        as_table([plan], {}, show_violations=False)
    )
    assert "workspace IP rules" not in as_table(list(example_plans.values()), {}, show_violations=False)


def test_an_existing_vnet_is_taken_by_resource_id(variant_plan) -> None:
    vnet_id = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-network"
        "/providers/Microsoft.Network/virtualNetworks/vnet-hub"
    )
    plan = variant_plan("prod", vnetId=vnet_id)
    assert not plan.of_type("azure-native:network:VirtualNetwork")
    for subnet in plan.of_type("azure-native:network:Subnet"):
        assert subnet.properties["virtualNetworkName"] == "vnet-hub"
        assert subnet.properties["resourceGroupName"] == "rg-network"
    for link in plan.of_type("azure-native:privatedns:VirtualNetworkLink"):
        assert link.properties["virtualNetwork"]["id"] == vnet_id


def test_a_new_generation_renames_the_key_vault_and_workspace(variant_plan, example_plans) -> None:
    plan = variant_plan("test", generation=2)
    before, after = example_plans["test"], plan
    names = lambda p, t, k: one(p, t)[k]  # noqa: E731
    assert (
        names(after, "azure-native:machinelearningservices:Workspace", "workspaceName")
        == "mlw-churn-model-test-g2"
    )
    vault = "azure-native:keyvault:Vault"
    assert names(after, vault, "vaultName") != names(before, vault, "vaultName")
    storage = "azure-native:storage:StorageAccount"
    assert names(after, storage, "accountName") == names(before, storage, "accountName")


def test_monitor_private_link_scope_covers_logs_and_insights(example_plans) -> None:
    plan = example_plans["prod"]
    scope = one(plan, "azure-native:monitor:PrivateLinkScope")
    assert scope["accessModeSettings"]["ingestionAccessMode"] == "PrivateOnly"
    linked = {
        r.properties["linkedResourceId"].split("/providers/")[1].split("/")[1]
        for r in plan.of_type("azure-native:monitor:PrivateLinkScopedResource")
    }
    assert linked == {"workspaces", "components"}


def test_prod_runners_reach_the_shared_registry_through_their_own_private_endpoint(example_plans) -> None:
    """Promote and deploy call the registry's API from prod's VNet runners: a private endpoint
    to the shared registry (hosted by dev, public) with Microsoft's zone for `amlregistry`."""
    plan = example_plans["prod"]
    registry = example_plans["dev"].of_type("azure-native:machinelearningservices:Registry")[0]
    (endpoint,) = [
        e
        for e in plan.of_type("azure-native:network:PrivateEndpoint")
        if e.properties["privateLinkServiceConnections"][0]["groupIds"] == ["amlregistry"]
    ]
    target = endpoint.properties["privateLinkServiceConnections"][0]["privateLinkServiceId"]
    assert target.endswith(f"/registries/{registry.properties['registryName']}")
    assert PRIVATE_DNS_ZONES["amlregistry"] == ("privatelink.api.azureml.ms",)
    (group,) = [
        g
        for g in plan.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.properties["privateEndpointName"] == endpoint.properties["privateEndpointName"]
    ]
    assert [c["privateDnsZoneId"].rsplit("/", 1)[-1] for c in group.properties["privateDnsZoneConfigs"]] == [
        "privatelink.api.azureml.ms"
    ]
    # The zone is linked to the runners' VNet (one link per zone).
    links = {
        link.properties["privateZoneName"]
        for link in plan.of_type("azure-native:privatedns:VirtualNetworkLink")
    }
    assert "privatelink.api.azureml.ms" in links
    # The workspace's managed network reaches it too, and its identity may approve that endpoint.
    rule = one(plan, "azure-native:machinelearningservices:Workspace")["managedNetwork"]["outboundRules"][
        "shared-registry"
    ]
    assert rule["destination"] == {"serviceResourceId": target, "subresourceTarget": "amlregistry"}
    # The host keeps the registry public (Entra ID only): dev's hosted runners reach it there.
    assert registry.properties["publicNetworkAccess"] == "Enabled"
    # Public environments have no endpoint of their own.
    for env in ("dev", "test"):
        assert not example_plans[env].of_type("azure-native:network:PrivateEndpoint")
