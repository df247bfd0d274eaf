"""Entry point: one sub-command per module, each with `add_parser(subparsers)` and `run(args) -> int`.

A new command is one more module in `COMMANDS`. Errors are mapped to exit codes here, once:
`UserError` -> its one-line message and `ExitCode.USAGE` (or the code it carries), Ctrl-C -> 130,
SIGTERM -> 143, anything else -> an internal error (traceback only with `--verbose`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Sequence
from types import FrameType

from generator import __version__, bootstrap, doctor, fleet, new, plan, rehearse
from generator.errors import ExitCode, UserError

COMMANDS = (
    new,
    plan,
    fleet,
    bootstrap,
    doctor,
    rehearse,
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `except KeyboardInterrupt` cleans up for it too."""

    exit_code = ExitCode.TERMINATED


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops-forge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mlops-forge {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks for unexpected errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (a test calling main from a thread): leave it
        previous = None
    try:
        return int(args.run(args))
    except UserError as exc:
        print(f"mlops-forge {args.command}: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        code = getattr(exc, "exit_code", ExitCode.INTERRUPTED)
        print(
            f"mlops-forge {args.command}: {'terminated' if code == 143 else 'interrupted'}", file=sys.stderr
        )
        return int(code)
    except Exception as exc:  # an unexpected failure is a bug: say so, trace only on request
        if args.verbose:
            traceback.print_exc()
        print(
            f"mlops-forge {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(run again with --verbose for the traceback)",
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
