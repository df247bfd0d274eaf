"""Flags more than one command takes, defined once: every command calls these."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


def add_jobs(parser: argparse.ArgumentParser, what: str, default: int | None = None) -> None:
    """`--jobs N` (N >= 1; argparse refuses anything else with exit 2); `default` None = CPUs."""
    parser.add_argument(
        "--jobs",
        type=_at_least_one,
        default=default if default is not None else (os.cpu_count() or 1),
        metavar="N",
        help=f"{what} at once (default: {default if default is not None else 'number of CPUs'})",
    )


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str], default: str = "table") -> None:
    """`--format` into `args.output_format` (`format` is a builtin)."""
    parser.add_argument(
        "--format",
        choices=tuple(choices),
        default=default,
        dest="output_format",
        help=f"output format (default: {default})",
    )
