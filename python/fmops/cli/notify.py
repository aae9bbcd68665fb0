"""`fmops notify`."""

from fmops.steps.notify import add_arguments, run  # noqa: F401
