"""The one error type the CLI turns into a clean message and a non-zero exit."""


class UserError(Exception):
    """Something the user can fix: bad flags, a missing file, an invalid answer.

    The message says what is wrong and, where it can, how to fix it. `main` prints it on one
    line to stderr, without a traceback, and exits with `exit_code`.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
