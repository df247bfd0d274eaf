"""Azure ML environment for this project: one Pulumi stack per environment."""

import pulumi

import stacks

settings = stacks.settings_from_config(pulumi.Config("forge"), environment=pulumi.get_stack())
environment = stacks.MlEnvironment("ml", settings)

# Stable names: the GitHub variables the workflows read are taken from them.
outputs = environment.outputs()
for output_name, value in outputs.items():
    pulumi.export(output_name, value)

# The GitHub side: environments, protection rules and every variable the workflows read.
github = stacks.GithubEnvironments(
    "github",
    stacks.GithubArgs(
        settings=settings,
        github=stacks.github_settings_from_config(pulumi.Config("forge"), settings),
        outputs=outputs,
    ),
)
for output, value in github.outputs.items():
    pulumi.export(output, value)
