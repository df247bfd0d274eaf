"""What a GitHub repository can have, by its visibility and its owner's plan.

From GitHub's documentation ("Managing environments for deployment", "About rulesets",
"About protected branches"):

- public repositories, every plan: environments, deployment branch restrictions, required
  reviewers and wait timers, rulesets;
- private or internal on GitHub Pro (users) or Team (organizations): environments with their
  variables and secrets, deployment branch restrictions, rulesets — but no required reviewers
  and no wait timers;
- private or internal on GitHub Enterprise: everything;
- private on GitHub Free: no environments, no rulesets, no branch protection.

The stacks ask GitHub only for what this table allows, so `pulumi up` never meets a 422 half-way.
"""

from __future__ import annotations

from dataclasses import dataclass

VISIBILITIES = ("public", "private", "internal")
PLANS = ("free", "pro", "team", "enterprise")
# Names GitHub's API reports in `plan.name` → the plan they are.
API_PLAN_NAMES = {
    "free": "free",
    "pro": "pro",
    "team": "team",
    "enterprise": "enterprise",
    "business_plus": "enterprise",
}


@dataclass(frozen=True)
class Capabilities:
    environments: bool
    branch_policies: bool
    reviewers: bool  # required reviewers and wait timers
    rulesets: bool

    @property
    def prod_guard(self) -> str:
        """How a second person guards prod: environment reviewers, a reviewed default branch, or nothing."""
        if self.reviewers:
            return "reviewers"
        if self.rulesets and self.branch_policies:
            return "ruleset"
        return "none"

    def describe(self) -> str:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        return (
            f"environments {yes(self.environments)}, deployment branch restrictions "
            f"{yes(self.branch_policies)}, required reviewers and wait timers {yes(self.reviewers)}, "
            f"rulesets {yes(self.rulesets)}"
        )


def capabilities(visibility: str, plan: str) -> Capabilities:
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    if plan not in PLANS:
        raise ValueError(f"plan must be one of {', '.join(PLANS)}, got {plan!r}")
    if visibility == "public" or plan == "enterprise":
        return Capabilities(environments=True, branch_policies=True, reviewers=True, rulesets=True)
    if plan in ("pro", "team"):
        return Capabilities(environments=True, branch_policies=True, reviewers=False, rulesets=True)
    return Capabilities(environments=False, branch_policies=False, reviewers=False, rulesets=False)
