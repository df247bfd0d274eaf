"""`mlops-forge fleet status|update`: many generated projects, one template version change.

The command checks its flags (bad combinations are refused before any repository is touched),
turns them into frozen settings and hands them to the library modules of this package.
Summary on stdout, progress on stderr. See docs/fleet.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from pathlib import Path

from generator.errors import ExitCode, UserError
from generator.fleet.dispatch import DispatchSettings, dispatch_fleet
from generator.fleet.git import git_ok
from generator.fleet.github import DEFAULT_API_URL, GitHubSettings
from generator.fleet.progress import make_progress
from generator.fleet.rehearsal import check_available
from generator.fleet.report import status_json, status_table, update_summary, write_report
from generator.fleet.results import State
from generator.fleet.runner import status_fleet, update_fleet
from generator.fleet.targets import Target, read_targets
from generator.fleet.update import UpdateSettings
from generator.options import add_format, add_jobs

DEFAULT_BRANCH = "template-update/{version}"


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds (0 or more), not {value!r}")
    return seconds


def _key_value(value: str) -> tuple[str, str]:
    key, sep, answer = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"must be KEY=VALUE, not {value!r}")
    return key.strip(), answer


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="a project checkout (path) or git URL")
    parser.add_argument(
        "--from", dest="from_file", type=Path, metavar="FILE", help="read targets, one per line"
    )
    add_jobs(parser, "repositories")
    parser.add_argument(
        "--template", metavar="SRC", help="fetch the template from SRC instead of each _src_path"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep clones of URL targets here (default: a temporary dir)",
    )
    parser.add_argument(
        "--remote", default="origin", metavar="NAME", help="git remote to use (default: origin)"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="give up on a git fetch, clone or push after this long (default: 300)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fleet", help="status and template updates of many generated projects", description=__doc__
    )
    actions = parser.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")

    status = actions.add_parser("status", help="template version and state of each project")
    _add_common(status)
    add_format(status, ("table", "json"))
    status.set_defaults(action=run_status)

    update = actions.add_parser("update", help="update each project to a template version on a new branch")
    _add_common(update)
    update.add_argument("--to", metavar="REF", help="template version (tag) to update to (default: latest)")
    update.add_argument("--dry-run", action="store_true", help="show what would change; touch nothing")
    update.add_argument(
        "--branch", default=DEFAULT_BRANCH, metavar="NAME", help="update branch; {version} is the new version"
    )
    update.add_argument("--push", action="store_true", help="push the branch to the remote")
    update.add_argument(
        "--pr", action="store_true", help="open or update a GitHub pull request (needs --push)"
    )
    update.add_argument(
        "--github-api-url",
        default=os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
        metavar="URL",
        help="GitHub REST API base (default: $GITHUB_API_URL or api.github.com)",
    )
    update.add_argument(
        "--github-max-wait",
        type=_seconds,
        default=900.0,
        metavar="SECONDS",
        help="longest one API call may wait on rate limits and retries before it fails (default: 900)",
    )
    update.add_argument(
        "--github-pace",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="space pull-request writes this far apart across the run (default: 1, GitHub's advice)",
    )
    update.add_argument(
        "--data",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer to use instead of the recorded one (e.g. when the new version rejects it)",
    )
    update.add_argument(
        "--data-file",
        type=Path,
        metavar="FILE",
        help="YAML: target (as given) -> {question: answer}, answers per repository over --data",
    )
    update.add_argument(
        "--via",
        choices=("local", "actions"),
        default="local",
        help="local: update here; actions: dispatch each repository's own template-update.yml run "
        "and follow it (GitHub URL targets, needs --to)",
    )
    update.add_argument(
        "--poll",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="with --via actions: how often to look at the runs still going (default: 10)",
    )
    update.add_argument(
        "--rehearse",
        action="store_true",
        help="rehearse each updated branch's workflows offline (act, Azure test double) before pushing it; "
        "a failing one is reported rehearsal-failed, not pushed or proposed",
    )
    update.add_argument(
        "--rehearse-workflow",
        action="append",
        default=[],
        metavar="WORKFLOW",
        help="with --rehearse: a workflow file to rehearse, e.g. ci.yml (repeatable; default: those of "
        "mlops-forge rehearse)",
    )
    update.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report")
    update.add_argument("--trust", action="store_true", help="allow templates with tasks or migrations")
    update.set_defaults(action=run_update)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return args.action(args)


def _check_branch(template: str) -> None:
    try:
        sample = template.format(version="v1.0.0")
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(f"--branch {template!r}: the only placeholder is {{version}}") from exc
    if not git_ok(".", "check-ref-format", "--branch", sample):
        raise UserError(f"--branch {template!r} is not a valid git branch name")


def _token_hosts(api_url: str) -> tuple[str, ...]:
    """Hosts GITHUB_TOKEN is for: github.com, the Actions server, the API's host (Enterprise)."""
    hosts = ["github.com"]
    for url in (os.environ.get("GITHUB_SERVER_URL", ""), api_url):
        host = urllib.parse.urlsplit(url).netloc
        if host and host != "api.github.com":
            hosts.append(host)
    return tuple(dict.fromkeys(hosts))


def _data_file(
    path: Path | None, targets: list[Target]
) -> tuple[tuple[str, tuple[tuple[str, object], ...]], ...]:
    """`--data-file`: answers per repository, keyed by the target as written on the command line."""
    if path is None:
        return ()
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UserError(f"cannot read --data-file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"--data-file {path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise UserError(f"--data-file {path}: expected target: {{question: answer}} mappings")
    known = {target.identity for target in targets}
    entries = []
    for spec, answers in loaded.items():
        identity = Target(str(spec)).identity
        if identity not in known:
            raise UserError(f"--data-file {path}: {spec} is not one of the targets")
        entries.append((identity, tuple((str(k), v) for k, v in answers.items())))
    return tuple(entries)


def update_settings(args: argparse.Namespace, targets: list[Target]) -> UpdateSettings:
    """Check the flags of `fleet update` together and turn them into settings."""
    if args.dry_run and (args.push or args.pr):
        raise UserError("--dry-run touches nothing: drop --push and --pr, or drop --dry-run")
    if args.pr and not args.push:
        raise UserError("--pr opens a pull request for a pushed branch: add --push")
    rehearse = _rehearse_settings(args, targets)
    github = None
    if args.pr:
        if not os.environ.get("GITHUB_TOKEN"):
            raise UserError("--pr needs a GitHub token in GITHUB_TOKEN")
        github = GitHubSettings(
            api_url=args.github_api_url,
            token=os.environ["GITHUB_TOKEN"],
            max_wait=args.github_max_wait,
            pace=args.github_pace,
        )
    _check_branch(args.branch)
    if args.report is not None and not args.report.resolve().parent.is_dir():
        raise UserError(f"--report {args.report}: directory {args.report.parent} does not exist")
    urls = [t.shown for t in targets if t.is_url]
    if urls and not (args.dry_run or args.push or args.workdir):
        raise UserError(
            f"{urls[0]} is a URL: its update branch would exist only in a temporary clone; "
            "add --push, --workdir DIR or --dry-run"
        )
    token = os.environ.get("GITHUB_TOKEN", "")
    return UpdateSettings(
        token=token,
        token_hosts=_token_hosts(args.github_api_url),
        to=args.to,
        template=args.template,
        branch=args.branch,
        dry_run=args.dry_run,
        push=args.push,
        github=github,
        remote=args.remote,
        trust=args.trust,
        data=tuple(args.data),
        data_by_target=_data_file(args.data_file, targets),
        network_timeout=args.timeout or None,
        rehearse=rehearse,
    )


def _rehearse_settings(args: argparse.Namespace, targets: list[Target]) -> tuple[str, ...] | None:
    """`--rehearse`, checked before anything is touched: the extra and act are there, and the
    rehearsed branch stays somewhere the user can look at it when it fails."""
    if args.rehearse_workflow and not args.rehearse:
        raise UserError("--rehearse-workflow names what --rehearse runs: add --rehearse")
    if not args.rehearse:
        return None
    if args.dry_run:
        raise UserError("--rehearse runs the branch an update makes; --dry-run makes none: drop one")
    urls = [t.shown for t in targets if t.is_url]
    if urls and not args.workdir:
        raise UserError(
            f"--rehearse: {urls[0]} is a URL; a branch that fails its rehearsal is kept, not pushed: "
            "add --workdir DIR to keep it there"
        )
    for name in args.rehearse_workflow:
        if Path(name).name != name or not name.endswith((".yml", ".yaml")):
            raise UserError(f"--rehearse-workflow {name!r}: give a workflow file name, e.g. ci.yml")
    check_available()
    return tuple(dict.fromkeys(args.rehearse_workflow))


def dispatch_settings(args: argparse.Namespace, targets: list[Target]) -> DispatchSettings:
    """Check the flags of `fleet update --via actions` together and turn them into settings."""
    local_only = [
        flag
        for flag, on in (
            ("--dry-run", args.dry_run),
            ("--push", args.push),
            ("--pr", args.pr),
            ("--rehearse", args.rehearse),
        )
        if on
    ]
    if local_only:
        raise UserError(
            f"--via actions: each repository's own run pushes and opens the PR; drop {local_only[0]}"
        )
    if not args.to:
        raise UserError("--via actions needs --to VERSION: the version each repository's run updates to")
    if not os.environ.get("GITHUB_TOKEN"):
        raise UserError("--via actions needs a GitHub token in GITHUB_TOKEN (actions: write)")
    local = [t.shown for t in targets if not t.is_url]
    if local:
        raise UserError(f"--via actions takes GitHub repository URLs, not {local[0]}")
    github = GitHubSettings(
        api_url=args.github_api_url,
        token=os.environ["GITHUB_TOKEN"],
        max_wait=args.github_max_wait,
        pace=args.github_pace,
        pace_file=None,
    )
    return DispatchSettings(to=args.to, github=github, poll=args.poll)


def run_update(args: argparse.Namespace) -> int:
    targets = read_targets(args.targets, args.from_file)
    if args.via == "actions":
        dispatch = dispatch_settings(args, targets)
        progress = make_progress(sys.stderr, len(targets), "fleet update --via actions")
        run = dispatch_fleet(targets, dispatch, progress)
        dry_run, template, to = False, args.template or "", dispatch.to
    else:
        settings = update_settings(args, targets)
        title = "fleet update (dry run)" if settings.dry_run else "fleet update"
        progress = make_progress(sys.stderr, len(targets), title)
        run = update_fleet(targets, settings, jobs=args.jobs, workdir=args.workdir, progress=progress)
        templates = sorted({r.template for r in run.results if r.template})
        versions = sorted({r.to_version for r in run.results if r.to_version})
        dry_run = settings.dry_run
        template = settings.template or ", ".join(templates)
        to = settings.to or ", ".join(versions) or "latest"
    summary = update_summary(run.results, dry_run=dry_run, elapsed=run.seconds)
    print(summary)
    _job_summary(summary)
    if args.report is not None:
        write_report(args.report, template, to, run.results, dry_run=dry_run)
    if run.stopped is not None:
        print("mlops-forge fleet update: stopped; run the same command again to finish", file=sys.stderr)
        return run.stopped
    return ExitCode.NEEDS_ATTENTION if any(r.needs_a_human for r in run.results) else ExitCode.OK


def _job_summary(summary: str) -> None:
    """In GitHub Actions, the summary table also becomes the job's summary page."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"### mlops-forge fleet update\n\n```\n{summary}\n```\n")


def run_status(args: argparse.Namespace) -> int:
    targets = read_targets(args.targets, args.from_file)
    progress = make_progress(sys.stderr, len(targets), "fleet status")
    run = status_fleet(
        targets,
        template=args.template,
        remote=args.remote,
        jobs=args.jobs,
        workdir=args.workdir,
        progress=progress,
        timeout=args.timeout or None,
    )
    print(status_json(run.results) if args.output_format == "json" else status_table(run.results))
    if run.stopped is not None:
        return run.stopped
    needs_a_look = any(r.state in {State.ERROR, State.NOT_A_PROJECT} for r in run.results)
    return ExitCode.NEEDS_ATTENTION if needs_a_look else ExitCode.OK
