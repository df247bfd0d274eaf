"""A Pulumi CrossGuard policy pack encoding the stacks' defaults, usable offline too.

- With the Pulumi CLI: `pulumi preview --policy-pack <path of stacks/policies/pack>`.
- Offline: `evaluate(plan)` runs the same pulumi-policy policies over a mock-runtime plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from stacks.policies.rules import RULES, STACK_RULES, Rule, StackResource, StackRule, enforcement
from stacks.profiles import get_profile


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    level: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "resource": self.resource,
            "level": self.level,
            "message": self.message,
        }


def _validator(rule: Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def _stack_validator(rule: StackRule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(r.resource_type, r.name, r.props, bool(getattr(r.opts, "protect", False)))
            for r in args.resources
        ]
        for name, message in rule.check(resources):
            report_violation(f"{name}: {message}", None)

    return validate


def build_policies(strict: bool) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The pulumi-policy policies for a strict (prod-like) or relaxed environment."""
    stack = [
        StackValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_stack_validator(rule),
            enforcement_level=EnforcementLevel(enforcement(rule, strict)),
        )
        for rule in STACK_RULES
    ]
    return stack + [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_validator(rule),
            enforcement_level=EnforcementLevel(enforcement(rule, strict)),
        )
        for rule in RULES
    ]


def is_strict(environment: str, profile: str | None = None) -> bool:
    try:
        return get_profile(profile or environment).strict
    except KeyError:
        return False


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def evaluate(plan, strict: bool | None = None) -> list[Violation]:
    """Run every policy over every resource of a `stacks.testing.Plan`."""
    if strict is None:
        strict = is_strict(plan.environment)
    violations: list[Violation] = []
    stack_resources = [
        StackResource(r.type, r.name, r.properties, r.protect) for r in plan.resources if r.custom
    ]
    for rule in STACK_RULES:
        level = enforcement(rule, strict)
        violations += [
            Violation(rule.name, name, level, message) for name, message in rule.check(stack_resources)
        ]
    for policy in build_policies(strict):
        if isinstance(policy, StackValidationPolicy):
            continue
        level = policy.enforcement_level.value
        for resource in plan.resources:
            if not resource.custom:
                continue

            def report(
                message: str,
                _urn: str | None = None,
                where: tuple[str, str, str] = (policy.name, resource.name, level),
            ) -> None:
                violations.append(Violation(*where, message))

            urn = f"urn:pulumi:{plan.environment}::{plan.project}::{resource.type}::{resource.name}"
            args = ResourceValidationArgs(
                resource.type, resource.properties, urn, resource.name, _options(resource.parent), None
            )
            policy.validate(args, report)
    return violations
