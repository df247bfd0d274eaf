"""mlops-forge policy pack: `pulumi preview --policy-pack <this folder>`.

Rules marked `strict` are mandatory when the stack's profile is strict (prod and profiles based
on it) and advisory elsewhere; the profile comes from the stack name or `forge:profile`.
"""

import pulumi
from pulumi_policy import PolicyPack

from stacks.policies import build_policies, is_strict

stack = pulumi.get_stack()
PolicyPack(
    name="mlops-forge",
    policies=build_policies(is_strict(stack, pulumi.Config("forge").get("profile"))),
)
