"""Azure ML environment for this project: one Pulumi stack per environment."""

import pulumi

import stacks

settings = stacks.settings_from_config(pulumi.Config("forge"), environment=pulumi.get_stack())
environment = stacks.MlEnvironment("ml", settings)

pulumi.export("resourceGroup", environment.resource_group_name)
pulumi.export("workspace", environment.workspace_name)
pulumi.export("ciClientId", environment.ci_client_id)
pulumi.export("previewClientId", environment.preview_client_id)

# The GitHub side: environments, protection rules and every variable the workflows read.
github = stacks.GithubEnvironments(
    "github",
    stacks.GithubArgs(
        settings=settings,
        github=stacks.github_settings_from_config(pulumi.Config("forge"), settings),
        # The outputs exported above: the variables the workflows read are taken from them.
        outputs={
            "resourceGroup": environment.resource_group_name,
            "workspace": environment.workspace_name,
            "ciClientId": environment.ci_client_id,
            "previewClientId": environment.preview_client_id,
        },
    ),
)
for output, value in github.outputs.items():
    pulumi.export(output, value)
