"""Azure ML environment for this project: one Pulumi stack per environment (dev, test, prod)."""

import pulumi

import stacks

settings = stacks.settings_from_config(pulumi.Config("forge"), environment=pulumi.get_stack())
environment = stacks.MlEnvironment("ml", settings)

pulumi.export("resourceGroup", environment.resource_group_name)
pulumi.export("workspace", environment.workspace_name)
pulumi.export("ciClientId", environment.ci_client_id)
pulumi.export("previewClientId", environment.preview_client_id)
