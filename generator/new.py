"""`mlops-forge new DEST`: scaffold an ML project from this installation's template (copier)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator import scaffold
from generator.errors import ExitCode


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new",
        help="scaffold a new ML project",
        description="Render the ml-project template into DEST. Prompts for answers on a terminal; "
        "otherwise, or with --defaults, uses the defaults for everything --data does not answer.",
    )
    parser.add_argument("dest", type=Path, metavar="DEST", help="directory to create the project in")
    parser.add_argument(
        "--template",
        metavar="SRC",
        help="template path or git URL (default: this mlops-forge installation's repository)",
    )
    parser.add_argument(
        "--vcs-ref",
        metavar="REF",
        help="template git ref (default: the tag of the installed version, else HEAD)",
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a question, e.g. --data project_name=churn --data serving=batch (repeatable)",
    )
    parser.add_argument("--defaults", action="store_true", help="use defaults instead of prompting")
    parser.add_argument("--force", action="store_true", help="render into a non-empty directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = scaffold.NewSettings(
        dest=args.dest,
        template=args.template,
        vcs_ref=args.vcs_ref,
        data=scaffold.parse_data(args.data),
        defaults=args.defaults,
        force=args.force,
    )
    rendered = scaffold.new_project(settings)
    print(f"Created {rendered.answers.get('project_name', rendered.dest.name)} in {rendered.dest}")
    print(f"Next: cd {rendered.dest} && make test && make plan", file=sys.stderr)
    return ExitCode.OK
