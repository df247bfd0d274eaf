"""Azure ML environment for this project: one Pulumi stack per environment."""

import pulumi

import stacks

settings = stacks.settings_from_config(pulumi.Config("forge"), environment=pulumi.get_stack())
environment = stacks.MlEnvironment("ml", settings)

# Stable names: `bootstrap` turns them into the GitHub variables the workflows read.
for output_name, value in environment.outputs().items():
    pulumi.export(output_name, value)
