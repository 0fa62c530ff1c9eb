"""The one exception type the workflow raises for problems a person must act on."""


class WorkflowError(Exception):
    """A failure whose message says what went wrong and what to do next.

    tasks.py turns it into `invoke.exceptions.Exit(message)`, so the message is the whole
    user interface: no traceback, one actionable sentence.
    """
