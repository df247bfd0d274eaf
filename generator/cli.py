"""Entry point: one sub-command per module, each with `add_parser(subparsers)` and `run(args) -> int`."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from generator import __version__, fleet, new, plan, rehearse
from generator.errors import UserError

COMMANDS = (new, plan, fleet, rehearse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-forge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mlops-forge {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks for unexpected errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"mlops-forge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mlops-forge: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure is a bug: say so, trace only on request
        if args.verbose:
            traceback.print_exc()
        print(
            f"mlops-forge {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(run again with --verbose for the traceback)",
            file=sys.stderr,
        )
        return 3
