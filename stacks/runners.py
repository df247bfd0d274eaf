"""Ephemeral self-hosted GitHub runners inside a private environment's VNet.

The pattern Microsoft documents ("Tutorial: Deploy self-hosted CI/CD runners and agents with
Azure Container Apps jobs"): an event-triggered Container Apps job that KEDA's `github-runner`
scaler starts once per queued workflow job whose labels match, in a workload-profiles
environment on a subnet delegated to `Microsoft.App/environments`. Each execution registers
one ephemeral runner, runs one job and exits; with no queued jobs nothing runs (scale to zero).

The GitHub credential the scaler and the runner use is a Key Vault secret reference resolved by
the job's user-assigned identity through the vault's private endpoint (Container Apps is not a
Key Vault trusted service, and the value is never inline). The runner image is pulled from the
environment's own private registry with the same identity (AcrPull); docs/stacks.md says how it
gets there before the first runner exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app

from stacks import roles
from stacks.config import EnvironmentSettings
from stacks.diagnostics import send_logs
from stacks.identity import workload_identity

GITHUB_SECRET_NAME = "github-runner-pat"  # the Key Vault secret `bootstrap` stores
SCALER_TYPE = "github-runner"


def runner_labels(environment: str) -> list[str]:
    """What a workflow job's `runs-on` names to run on this environment's runners."""
    return ["self-hosted", f"forge-{environment}"]


@dataclass(frozen=True, kw_only=True)
class RunnerArgs:
    settings: EnvironmentSettings
    resource_group_name: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    key_vault_id: pulumi.Input[str]
    key_vault_name: pulumi.Input[str]
    container_registry_id: pulumi.Input[str]
    container_registry_server: pulumi.Input[str]
    log_analytics_id: pulumi.Input[str] | None = None  # where the runners' logs and metrics go
    depends_on: list[pulumi.Resource] | None = None  # the private endpoints the runner needs


class GitHubRunners(pulumi.ComponentResource):
    def __init__(self, name: str, args: RunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlopsforge:runners:GitHubRunners", name, None, opts)
        s, n = args.settings, args.settings.network
        names = s.names
        child = pulumi.ResourceOptions(parent=self)
        owner, repo = s.github_repository.split("/", 1)

        self.identity, grants = workload_identity(
            name,
            settings=s,
            purpose="runner",
            resource_group_name=args.resource_group_name,
            subscription_id=args.subscription_id,
            grants=(
                ("secrets", roles.KEY_VAULT_SECRETS_USER, args.key_vault_id),
                ("acr-pull", roles.ACR_PULL, args.container_registry_id),
            ),
            parent=self,
        )
        self.environment = app.ManagedEnvironment(
            f"{name}-environment",
            environment_name=names.runner_environment,
            resource_group_name=args.resource_group_name,
            location=s.location,
            # Workload profiles: the environment type that takes a delegated subnet of any size.
            workload_profiles=[
                app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption")
            ],
            vnet_configuration=app.VnetConfigurationArgs(
                infrastructure_subnet_id=args.subnet_id, internal=True
            ),
            tags=s.tags,
            opts=child,
        )
        identity_id = self.identity.id
        secret_url = pulumi.Output.concat(
            "https://", args.key_vault_name, f".vault.azure.net/secrets/{GITHUB_SECRET_NAME}"
        )
        labels = runner_labels(s.environment)
        self.labels = labels
        self.job = app.Job(
            f"{name}-job",
            job_name=names.runner_job,
            resource_group_name=args.resource_group_name,
            location=s.location,
            environment_id=self.environment.id,
            workload_profile_name="Consumption",
            identity=app.ManagedServiceIdentityArgs(
                type="UserAssigned", user_assigned_identities=[identity_id]
            ),
            configuration=app.JobConfigurationArgs(
                trigger_type="Event",
                # Seconds; longer than the longest CI job, or the runner is killed mid-job.
                replica_timeout=n.runner_timeout_minutes * 60,
                replica_retry_limit=0,
                secrets=[app.SecretArgs(name="github-pat", key_vault_url=secret_url, identity=identity_id)],
                registries=[
                    app.RegistryCredentialsArgs(server=args.container_registry_server, identity=identity_id)
                ],
                event_trigger_config=app.JobConfigurationEventTriggerConfigArgs(
                    parallelism=1,
                    replica_completion_count=1,
                    scale=app.JobScaleArgs(
                        min_executions=0,
                        max_executions=n.runner_max_executions,
                        polling_interval=30,
                        rules=[
                            app.JobScaleRuleArgs(
                                name="github-queue",
                                type=SCALER_TYPE,
                                metadata={
                                    "githubAPIURL": "https://api.github.com",
                                    "owner": owner,
                                    "runnerScope": "repo",
                                    "repos": repo,
                                    "labels": labels[-1],
                                    "targetWorkflowQueueLength": "1",
                                },
                                auth=[
                                    app.ScaleRuleAuthArgs(
                                        secret_ref="github-pat", trigger_parameter="personalAccessToken"
                                    )
                                ],
                            )
                        ],
                    ),
                ),
            ),
            template=app.JobTemplateArgs(
                containers=[
                    app.ContainerArgs(
                        name="runner",
                        image=pulumi.Output.concat(args.container_registry_server, "/", n.runner_image),
                        resources=app.ContainerResourcesArgs(cpu=2.0, memory="4Gi"),
                        env=[
                            app.EnvironmentVarArgs(name="GITHUB_PAT", secret_ref="github-pat"),
                            app.EnvironmentVarArgs(name="GH_URL", value=f"https://github.com/{owner}/{repo}"),
                            app.EnvironmentVarArgs(
                                name="REGISTRATION_TOKEN_API_URL",
                                value=f"https://api.github.com/repos/{owner}/{repo}/actions/runners/registration-token",
                            ),
                            app.EnvironmentVarArgs(name="RUNNER_LABELS", value=",".join(labels[1:])),
                        ],
                    )
                ]
            ),
            tags=s.tags,
            # The secret and image are fetched at start: the roles and private endpoints come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*grants, *(args.depends_on or [])]),
        )
        if args.log_analytics_id is not None:
            send_logs(
                f"{name}-environment-diagnostics",
                resource_id=self.environment.id,
                workspace_id=args.log_analytics_id,
                parent=self,
            )
        self.register_outputs({"runnerLabels": labels, "runnerJob": self.job.name})
