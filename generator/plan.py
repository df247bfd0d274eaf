"""`mlops-forge plan`: show offline what each stack would create, and check it against policy."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.errors import ExitCode, UserError
from generator.options import add_format, add_jobs

if TYPE_CHECKING:  # the SDK-heavy stacks package is imported only when a plan runs
    from stacks.offline import ProgramError

FORMATS = ("table", "json", "mermaid")


@dataclass(frozen=True)
class PlanSettings:
    program_dir: Path
    environments: tuple[str, ...]
    output_format: str
    check: bool
    jobs: int | None
    access: bool = False


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show what each stack would create (offline, no credentials) and check it against policy",
        description="Run a Pulumi program with the SDK's mock runtime once per Pulumi.<env>.yaml and list "
        "every resource `pulumi up` would create.",
    )
    parser.add_argument(
        "program_dir",
        nargs="?",
        metavar="PROGRAM_DIR",
        help="the Pulumi program (default: ./infra if it exists, else .)",
    )
    parser.add_argument("--env", default="all", metavar="NAME|all", help="one environment, or all (default)")
    add_format(parser, FORMATS)
    add_jobs(parser, "stacks planned in worker processes")
    parser.add_argument(
        "--check",
        action="store_true",
        help="evaluate the policy pack; exit 1 if a mandatory rule is violated",
    )
    parser.add_argument(
        "--access",
        action="store_true",
        help="show the access matrix (identity, operation, granting role, network path per workflow job); "
        "with --check, exit 1 on an ungranted or unreachable operation or an unused grant",
    )
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> PlanSettings:
    from stacks.offline import stack_files

    if args.program_dir is None:
        program_dir = Path("infra") if Path("infra").is_dir() else Path(".")
    else:
        program_dir = Path(args.program_dir)
    if not program_dir.is_dir():
        raise UserError(f"{program_dir}: no such directory (give the Pulumi program's directory)")
    if not (program_dir / "Pulumi.yaml").is_file():
        raise UserError(f"{program_dir / 'Pulumi.yaml'}: not found; {program_dir} is not a Pulumi program")
    stacks = stack_files(program_dir)
    if args.env == "all":
        if not stacks:
            raise UserError(f"{program_dir}: no stack files (Pulumi.<env>.yaml) found")
        environments = tuple(stacks)
    else:
        if args.env not in stacks:
            known = ", ".join(stacks) or "none"
            raise UserError(f"{program_dir / f'Pulumi.{args.env}.yaml'}: not found (stacks here: {known})")
        environments = (args.env,)
    if getattr(args, "access", False) and args.output_format == "mermaid":
        raise UserError("--access prints a table or JSON; --format mermaid does not apply")
    return PlanSettings(
        program_dir, environments, args.output_format, args.check, args.jobs, getattr(args, "access", False)
    )


def stack_profiles(program_dir: Path, environments: tuple[str, ...]) -> dict[str, str | None]:
    """Environment → the profile its stack file names with `forge:profile`, if any."""
    from stacks.offline import read_project, read_stack_file

    project, _ = read_project(program_dir)
    return {
        env: read_stack_file(project, program_dir / f"Pulumi.{env}.yaml").values.get("forge:profile")
        for env in environments
    }


def config_report(errors: list[ProgramError]) -> str:
    """One line for one error; a count and one indented line per error for several."""
    if len(errors) == 1:
        return str(errors[0])
    return f"{len(errors)} configuration errors:\n" + "\n".join(f"  {error}" for error in errors)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from generator import plan_render
    from stacks.offline import ProgramError, check_stacks, plan_programs

    try:
        # Every mistake of every stack file in one run, with file and line, before anything is planned.
        config_errors = check_stacks(settings.program_dir, list(settings.environments))
        if config_errors:
            raise UserError(config_report(config_errors))
        plans = plan_programs(settings.program_dir, list(settings.environments), settings.jobs)
        profiles = stack_profiles(settings.program_dir, settings.environments)
    except ProgramError as exc:
        raise UserError(str(exc)) from None
    if settings.access:
        from generator import plan_access

        return plan_access.run(plans, settings.program_dir, settings.output_format, settings.check)
    from stacks.policies import evaluate, is_strict

    # Strict or relaxed as the stack's profile says: `forge:profile: prod` makes a `live` stack strict.
    violations = {
        plan.environment: evaluate(plan, is_strict(plan.environment, profiles.get(plan.environment)))
        for plan in plans
    }

    if settings.output_format == "json":
        sys.stdout.write(plan_render.as_json(plans[0].project, plans, violations) + "\n")
    elif settings.output_format == "mermaid":
        sys.stdout.write(plan_render.as_mermaid(plans))
    else:
        sys.stdout.write(plan_render.as_table(plans, violations, show_violations=settings.check))

    if settings.check:
        mandatory = [(env, v) for env, found in violations.items() for v in found if v.level == "mandatory"]
        for env, v in mandatory:
            print(f"policy violation [{env}] {v.policy} on {v.resource}: {v.message}", file=sys.stderr)
        if mandatory:
            print(f"{len(mandatory)} mandatory policy violation(s)", file=sys.stderr)
            return ExitCode.NEEDS_ATTENTION
    return ExitCode.OK
