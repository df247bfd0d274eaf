"""The one error type the CLI turns into a clean message, and the exit codes every command uses."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What `mlops-forge` exits with; `main` and every command return one of these."""

    OK = 0
    NEEDS_ATTENTION = 1  # the command ran; something it found needs a person (a conflict, a violation)
    USAGE = 2  # bad flags or configuration: nothing was touched
    INTERNAL = 3  # a bug: an unexpected exception
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + SIGTERM)


class UserError(Exception):
    """Something the user can fix: bad flags, a missing file, an invalid answer.

    The message says what is wrong and, where it can, how to fix it. `main` prints it on one
    line to stderr, without a traceback, and exits with `exit_code`.
    """

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
