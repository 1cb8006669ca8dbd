"""The one exception type that carries a user-facing message to the command line."""


class SummaeError(Exception):
    """A problem with the user's input or settings; the CLI prints it as one line and exits non-zero."""
