"""One exception for bad input: the CLI prints its message as one line and exits 1."""


class UserError(Exception):
    """Bad input from the user (a path, a flag, a file's content); never a bug of ours."""
