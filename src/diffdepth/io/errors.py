"""The one error type a user sees for bad input."""


class InputError(Exception):
    """Bad user input: the message names the file, what was expected and what was found.

    The command line prints it on one line (no traceback) and exits with status 2.
    """
